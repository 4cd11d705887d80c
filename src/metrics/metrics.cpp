#include "costgate/metrics/metrics.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace costgate::metrics {

namespace {

struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};

const prometheus::Histogram::BucketBoundaries& latencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
  return buckets;
}

}  // namespace

// The families of every request (a filter's are in its own folder).
struct Metrics::Families {
  explicit Families(Metrics& m)
      : requests(m.counter("costgate_requests_total",
                           "Requests answered, by route, model and HTTP status",
                           {"route", "model", "status", "feature", "team", "env"})),
        request_duration(
            m.histogram("costgate_request_duration_seconds",
                        "Time from the request's arrival to the last byte of its reply", {"route"},
                        latencyBuckets())),
        upstream_duration(m.histogram("costgate_upstream_duration_seconds",
                                      "Time from sending a call to a backend to its last byte",
                                      {"backend"}, latencyBuckets())),
        upstream_failures(m.counter("costgate_upstream_failures_total",
                                    "Backend calls that failed before an answer, by kind",
                                    {"backend", "kind"})),
        streams(m.counter("costgate_streams_total",
                          "Streamed responses by outcome (completed, client_gone, upstream_failed)",
                          {"outcome"})),
        // From tens of microseconds (a proxied call) to a tenth of a second (a stalled filter).
        overhead(m.histogram(
            "costgate_overhead_seconds",
            "Time the gateway itself added to a proxied request (its whole time "
            "less the backend's)",
            {"route"}, {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1})),
        time_to_first_token(m.histogram("costgate_time_to_first_token_seconds",
                                        "Streams: the request's arrival to the first text relayed",
                                        {"model"}, latencyBuckets())),
        tokens(m.counter("costgate_tokens_total",
                         "Tokens used, by type (input, cached_input, output, reasoning: disjoint), "
                         "feature, team, env and model",
                         {"type", "feature", "team", "env", "model"})),
        provider_cached_tokens(m.counter(
            "costgate_provider_cached_tokens_total",
            "Input tokens the provider billed as cached (a prompt prefix it had seen), by "
            "feature, team, env and model; their share of the input is the cache's warmth",
            {"feature", "team", "env", "model"})),
        finish_reasons(m.counter("costgate_finish_reasons_total",
                                 "Answers served by why they ended (stop, length, tool_calls, "
                                 "content_filter, other); a high length share means a cap cuts",
                                 {"reason", "feature", "team", "env", "model"})),
        cost(m.counter("costgate_cost_usd_total",
                       "What calls cost in USD, by feature, team, env and model",
                       {"feature", "team", "env", "model"})),
        tokens_saved(m.counter("costgate_tokens_saved_total",
                               "Input tokens filters took out of requests before the backend "
                               "call, by filter, policy, feature, team and env",
                               {"filter", "policy", "feature", "team", "env"})),
        fallbacks(m.counter("costgate_fallbacks_total",
                            "Calls moved to a fallback model after every deployment of one "
                            "failed, by model from and to and the last fault",
                            {"from", "to", "reason"})),
        backend_up(m.gauge("costgate_backend_up",
                           "1 while a model's deployment serves, 0 while it is ejected after "
                           "failures (passive health check)",
                           {"model", "backend"})),
        backend_outstanding(m.gauge("costgate_backend_outstanding",
                                    "Calls in flight to a model's deployment",
                                    {"model", "backend"})),
        config_reloads(m.counter("costgate_config_reloads_total",
                                 "Configuration reloads (SIGHUP or a changed file), by result: "
                                 "applied, or rejected (the file was invalid; the old "
                                 "configuration kept serving)",
                                 {"result"})),
        config_last_reload_ok(m.gauge("costgate_config_last_reload_successful",
                                      "1 when the last reload was applied (or none was tried), "
                                      "0 when it was rejected",
                                      {})),
        build_info(m.gauge("costgate_build_info", "Always 1; labelled with the running version",
                           {"version"})) {
    build_info.with({COSTGATE_VERSION}).Set(1);
    config_last_reload_ok.with({}).Set(1);
  }

  CounterFamily& requests;
  HistogramFamily& request_duration;
  HistogramFamily& upstream_duration;
  CounterFamily& upstream_failures;
  CounterFamily& streams;
  HistogramFamily& overhead;
  HistogramFamily& time_to_first_token;
  CounterFamily& tokens;
  CounterFamily& provider_cached_tokens;
  CounterFamily& finish_reasons;
  CounterFamily& cost;
  CounterFamily& tokens_saved;
  CounterFamily& fallbacks;
  GaugeFamily& backend_up;
  GaugeFamily& backend_outstanding;
  CounterFamily& config_reloads;
  GaugeFamily& config_last_reload_ok;
  GaugeFamily& build_info;
};

// The bounded label values of the tags. Values once admitted stay admitted, so each thread keeps
// the ones it has seen and takes the lock only for a value new to it. Values the configuration
// declares (reserve()) are admitted apart from the clients' free-form ones, so clients cannot use
// up their slots.
class Metrics::TagLabels {
 public:
  // The label values of a (feature, team, env) combination: see Attribution.
  std::array<std::string_view, 3> admit(const Attribution& who) {
    // Each call is admitted twice (its request, its usage), and most calls are tagged like the
    // one before: that answer is kept per thread, until a reservation changes what it would be.
    struct Last {
      std::uint64_t owner = 0;
      std::uint64_t generation = 0;
      std::string feature, team, env;
      std::array<std::string_view, 3> labels;
    };
    thread_local Last last;
    const std::uint64_t generation = generation_.load(std::memory_order_acquire);
    if (last.owner == id_ && last.generation == generation && last.feature == who.feature &&
        last.team == who.team && last.env == who.env) {
      return last.labels;
    }
    last.owner = 0;  // until the answer below is known
    last.labels = admitUncached(who, generation);
    last.feature.assign(who.feature);
    last.team.assign(who.team);
    last.env.assign(who.env);
    last.generation = generation;
    last.owner = id_;
    return last.labels;
  }

  // Keeps a slot for each declared value, and for combinations of declared values.
  void reserve(const DeclaredTags& declared) {
    const std::vector<std::string>* lists[] = {&declared.feature, &declared.team, &declared.env};
    std::lock_guard lock(mutex_);
    bool added = false;
    for (std::size_t tag = 0; tag < 3; ++tag) {
      for (const std::string& value : *lists[tag]) {
        if (value.empty() || reserved_[tag].size() >= kMaxReservedTagValues) continue;
        added = reserved_[tag].emplace(value).second || added;
      }
    }
    // Threads forget what they knew: a value they admitted as free-form may be reserved now.
    if (added) generation_.fetch_add(1, std::memory_order_release);
  }

 private:
  // What one thread knows of this object's labels, as of one generation.
  struct Known {
    std::uint64_t generation = 0;
    // Per tag: admitted values and whether each is reserved.
    std::array<std::unordered_map<std::string, bool, KeyHash, std::equal_to<>>, 3> values;
    std::unordered_set<std::string, KeyHash, std::equal_to<>> combinations;
  };

  Known& known(std::uint64_t generation) {
    thread_local std::unordered_map<std::uint64_t, Known> by_owner;
    Known& mine = by_owner[id_];
    if (mine.generation != generation) {
      mine = Known();
      mine.generation = generation;
    }
    return mine;
  }

  std::array<std::string_view, 3> admitUncached(const Attribution& who, std::uint64_t generation) {
    Known& mine = known(generation);
    const Admitted feature = admit(mine, 0, who.feature);
    const Admitted team = admit(mine, 1, who.team);
    const Admitted env = admit(mine, 2, who.env);
    std::array<std::string_view, 3> labels = {feature.label, team.label, env.label};
    // Each label value bounded alone would still allow kMaxTagValues^3 series.
    thread_local std::string key;
    key.clear();
    for (std::string_view label : labels) {  // length-prefixed: no value can fake a boundary
      key.append(std::to_string(label.size())).append(":").append(label);
    }
    if (mine.combinations.contains(std::string_view(key))) return labels;
    std::lock_guard lock(mutex_);
    // Combinations of declared values (the declared values and "none"/"other") are bounded by the
    // configuration, not by kMaxTagCombinations, which only clients' values use up.
    if (!(feature.reserved && team.reserved && env.reserved) &&
        !combinations_.contains(std::string_view(key))) {
      // Full: the clients' values become "other" and the declared ones stay, a combination of
      // the reserved kind (not cached: it is decided under the lock each time).
      if (combinations_.size() >= kMaxTagCombinations) {
        return {feature.reserved ? feature.label : "other", team.reserved ? team.label : "other",
                env.reserved ? env.label : "other"};
      }
      combinations_.emplace(key);
    }
    mine.combinations.emplace(key);
    return labels;
  }

  struct Admitted {
    std::string_view label;
    bool reserved;  // declared by the configuration, or one of the fixed labels
  };

  // `value` (reserved, or one of kMaxTagValues free-form values), "none" when empty, or "other".
  Admitted admit(Known& mine, std::size_t tag, std::string_view value) {
    if (value.empty()) return {"none", true};
    if (value == "other") return {"other", true};
    auto& values = mine.values[tag];
    if (auto it = values.find(value); it != values.end()) return {it->first, it->second};
    std::lock_guard lock(mutex_);
    const bool reserved = reserved_[tag].contains(value);
    if (!reserved) {
      auto& all = admitted_[tag];
      if (!all.contains(value)) {
        if (all.size() >= kMaxTagValues) return {"other", true};
        all.emplace(value);
      }
    }
    return {values.emplace(std::string(value), reserved).first->first, reserved};
  }

  std::mutex mutex_;
  std::array<std::unordered_set<std::string, KeyHash, std::equal_to<>>, 3> admitted_;
  std::array<std::unordered_set<std::string, KeyHash, std::equal_to<>>, 3> reserved_;
  std::unordered_set<std::string, KeyHash, std::equal_to<>> combinations_;
  std::atomic<std::uint64_t> generation_{1};
  const std::uint64_t id_ = next_id_++;
  static inline std::atomic<std::uint64_t> next_id_{1};
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      tag_labels_(std::make_unique<TagLabels>()) {
  families_ = std::make_unique<Families>(*this);
}

Metrics::~Metrics() = default;

namespace {

// The family named `name` in `declared`, made with `make` the first time.
template <class FamilyType, class Make>
FamilyType& declare(std::map<std::string, std::unique_ptr<FamilyType>, std::less<>>& declared,
                    const std::string& name, Make&& make) {
  auto found = declared.find(name);
  if (found == declared.end()) found = declared.emplace(name, make()).first;
  return *found->second;
}

}  // namespace

CounterFamily& Metrics::counter(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names) {
  std::lock_guard lock(declared_mutex_);
  return declare(counters_, name, [&] {
    auto& family = prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
    return std::make_unique<CounterFamily>(family, std::move(label_names));
  });
}

GaugeFamily& Metrics::gauge(const std::string& name, const std::string& help,
                            std::vector<std::string> label_names) {
  std::lock_guard lock(declared_mutex_);
  return declare(gauges_, name, [&] {
    auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
    return std::make_unique<GaugeFamily>(family, std::move(label_names));
  });
}

HistogramFamily& Metrics::histogram(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names,
                                    prometheus::Histogram::BucketBoundaries buckets) {
  std::lock_guard lock(declared_mutex_);
  return declare(histograms_, name, [&] {
    auto& family = prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
    return std::make_unique<HistogramFamily>(family, std::move(label_names), std::move(buckets));
  });
}

std::array<std::string_view, 3> Metrics::tagLabels(const Attribution& who) {
  return tag_labels_->admit(who);
}

void Metrics::reserveTagLabels(const DeclaredTags& declared) { tag_labels_->reserve(declared); }

void Metrics::countRequest(const Attribution& who, std::string_view route, int status,
                           double seconds) {
  const auto [feature, team, env] = tag_labels_->admit(who);
  char status_text[8];
  const std::string_view code(
      status_text,
      std::to_chars(status_text, status_text + sizeof(status_text), status).ptr - status_text);
  families_->requests.with({route, who.model, code, feature, team, env}).Increment();
  families_->request_duration.with({route}).Observe(seconds);
}

void Metrics::observeUpstream(std::string_view backend, double seconds) {
  families_->upstream_duration.with({backend}).Observe(seconds);
}

void Metrics::countUpstreamFailure(std::string_view backend, std::string_view kind) {
  families_->upstream_failures.with({backend, kind}).Increment();
}

void Metrics::countStream(std::string_view outcome) {
  families_->streams.with({outcome}).Increment();
}

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

void Metrics::observeOverhead(std::string_view route, double seconds) {
  families_->overhead.with({route}).Observe(seconds);
}

void Metrics::observeTimeToFirstToken(std::string_view model, double seconds) {
  families_->time_to_first_token.with({model}).Observe(seconds);
}

void Metrics::countUsage(const Attribution& who, const pricing::Usage& usage,
                         std::optional<pricing::Nanos> cost) {
  const auto [feature, team, env] = tag_labels_->admit(who);
  std::uint64_t cached = std::min(usage.cached_tokens, usage.prompt_tokens);
  std::uint64_t reasoning = std::min(usage.reasoning_tokens, usage.completion_tokens);
  const std::pair<std::string_view, std::uint64_t> counts[] = {
      {"input", usage.prompt_tokens - cached},
      {"cached_input", cached},
      {"output", usage.completion_tokens - reasoning},
      {"reasoning", reasoning}};
  for (const auto& [type, count] : counts) {
    if (count == 0) continue;
    families_->tokens.with({type, feature, team, env, who.model})
        .Increment(static_cast<double>(count));
  }
  if (cached > 0) {
    families_->provider_cached_tokens.with({feature, team, env, who.model})
        .Increment(static_cast<double>(cached));
  }
  if (!cost) return;
  families_->cost.with({feature, team, env, who.model}).Increment(pricing::usdOf(*cost));
}

void Metrics::countFinishReason(const Attribution& who, std::string_view reason) {
  const auto [feature, team, env] = tag_labels_->admit(who);
  families_->finish_reasons.with({reason, feature, team, env, who.model}).Increment();
}

void Metrics::countTokensSaved(const Attribution& who, std::string_view filter,
                               std::string_view policy, std::int64_t tokens) {
  if (tokens <= 0) return;
  const auto [feature, team, env] = tag_labels_->admit(who);
  families_->tokens_saved.with({filter, policy, feature, team, env})
      .Increment(static_cast<double>(tokens));
}

void Metrics::countConfigReload(bool applied) {
  families_->config_reloads.with({applied ? "applied" : "rejected"}).Increment();
  families_->config_last_reload_ok.with({}).Set(applied ? 1 : 0);
}

void Metrics::countFallback(std::string_view from, std::string_view to, std::string_view reason) {
  families_->fallbacks.with({from, to, reason}).Increment();
}

void Metrics::setBackendHealth(std::string_view model, std::string_view backend, bool up,
                               int outstanding) {
  families_->backend_up.with({model, backend}).Set(up ? 1 : 0);
  families_->backend_outstanding.with({model, backend}).Set(outstanding);
}

}  // namespace costgate::metrics
