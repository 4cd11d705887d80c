#include "costgate/metrics/metrics.h"

#include <array>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace costgate::metrics {

namespace {

// Family::Add hashes and locks on every call; the hot path looks its series up here instead, in a
// map owned by the calling thread.
// Looked up by string_view, so a hit allocates nothing.
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};

template <class Metric>
class SeriesCache {
  struct Series {
    std::unordered_map<std::string, Metric*, KeyHash, std::equal_to<>> by_key;
    // Most requests name the same series as the one before: checked before hashing.
    std::string last_key;
    Metric* last = nullptr;
  };

 public:
  explicit SeriesCache(prometheus::Family<Metric>& family) : family_(family) {}

  // `make_labels` runs only when this thread has not seen `key` before.
  template <class MakeLabels, class... Args>
  Metric& get(std::string_view key, MakeLabels&& make_labels, Args&&... args) {
    thread_local std::unordered_map<std::uint64_t, Series> caches;
    auto& cache = caches[id_];
    if (cache.last && cache.last_key == key) return *cache.last;
    auto it = cache.by_key.find(key);
    Metric* metric;
    if (it != cache.by_key.end()) {
      metric = it->second;
    } else {
      metric = &family_.Add(make_labels(), std::forward<Args>(args)...);
      cache.by_key.emplace(std::string(key), metric);
    }
    cache.last_key.assign(key);
    cache.last = metric;
    return *metric;
  }

 private:
  prometheus::Family<Metric>& family_;
  // Unique per cache for the process lifetime, unlike `this`, which a later cache may reuse.
  const std::uint64_t id_ = next_id_++;
  static inline std::atomic<std::uint64_t> next_id_{1};
};

const prometheus::Histogram::BucketBoundaries& latencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
  return buckets;
}

// Lookups take microseconds to a millisecond.
const prometheus::Histogram::BucketBoundaries& cacheLookupBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05};
  return buckets;
}

}  // namespace

struct Metrics::Families {
  explicit Families(prometheus::Registry& registry)
      : requests(prometheus::BuildCounter()
                     .Name("costgate_requests_total")
                     .Help("Requests answered, by route, model and HTTP status")
                     .Register(registry)),
        request_duration(prometheus::BuildHistogram()
                             .Name("costgate_request_duration_seconds")
                             .Help("Time from the request's arrival to the last byte of its reply")
                             .Register(registry)),
        upstream_duration(prometheus::BuildHistogram()
                              .Name("costgate_upstream_duration_seconds")
                              .Help("Time from sending a call to a backend to its last byte")
                              .Register(registry)),
        upstream_failures(prometheus::BuildCounter()
                              .Name("costgate_upstream_failures_total")
                              .Help("Backend calls that failed before an answer, by kind")
                              .Register(registry)),
        streams(prometheus::BuildCounter()
                    .Name("costgate_streams_total")
                    .Help("Streamed responses by outcome (completed, client_gone, upstream_failed)")
                    .Register(registry)),
        overhead(prometheus::BuildHistogram()
                     .Name("costgate_overhead_seconds")
                     .Help("Time the gateway itself added to a proxied request (its whole time "
                           "less the backend's)")
                     .Register(registry)),
        time_to_first_token(prometheus::BuildHistogram()
                                .Name("costgate_time_to_first_token_seconds")
                                .Help("Streams: the request's arrival to the first text relayed")
                                .Register(registry)),
        tokens(prometheus::BuildCounter()
                   .Name("costgate_tokens_total")
                   .Help("Tokens used, by type (input, cached_input, output, reasoning: disjoint), "
                         "feature, team, env and model")
                   .Register(registry)),
        cost(prometheus::BuildCounter()
                 .Name("costgate_cost_usd_total")
                 .Help("What calls cost in USD, by feature, team, env and model")
                 .Register(registry)),
        tokens_saved(prometheus::BuildCounter()
                         .Name("costgate_tokens_saved_total")
                         .Help("Input tokens filters took out of requests before the backend "
                               "call, by filter, policy, feature, team and env")
                         .Register(registry)),
        cache_requests(prometheus::BuildCounter()
                           .Name("costgate_cache_requests_total")
                           .Help("Requests a cache looked at, by result (hit-exact, hit-semantic, "
                                 "miss, bypass), feature, team and env")
                           .Register(registry)),
        cache_lookup(prometheus::BuildHistogram()
                         .Name("costgate_cache_lookup_seconds")
                         .Help("Time of a cache lookup (exact, then semantic)")
                         .Register(registry)),
        cache_saved(prometheus::BuildCounter()
                        .Name("costgate_cache_saved_usd_total")
                        .Help("What the calls answered from the cache would have cost, in USD")
                        .Register(registry)),
        cache_size(prometheus::BuildGauge()
                       .Name("costgate_cache_entries")
                       .Help("Entries in a cache policy's store (a Redis store: its local copy)")
                       .Register(registry)),
        cache_bytes(prometheus::BuildGauge()
                        .Name("costgate_cache_bytes")
                        .Help("Bytes the entries of a cache policy's store take")
                        .Register(registry)),
        cache_store_up(prometheus::BuildGauge()
                           .Name("costgate_cache_shared_store_up")
                           .Help("1 while a cache policy's Redis store is in sync with Redis; 0 "
                                 "while Redis is unreachable (lookups miss)")
                           .Register(registry)),
        route_decisions(prometheus::BuildCounter()
                            .Name("costgate_route_decisions_total")
                            .Help("Requests a router sent to a tier, by the rule that chose it "
                                  "(complexity when the score did)")
                            .Register(registry)),
        escalations(prometheus::BuildCounter()
                        .Name("costgate_escalations_total")
                        .Help("Cascade answers judged too weak (or failed), by the model "
                              "escalated from and to and the reason")
                        .Register(registry)),
        fallbacks(prometheus::BuildCounter()
                      .Name("costgate_fallbacks_total")
                      .Help("Calls moved to a fallback model after every deployment of one "
                            "failed, by model from and to and the last fault")
                      .Register(registry)),
        backend_up(prometheus::BuildGauge()
                       .Name("costgate_backend_up")
                       .Help("1 while a model's deployment serves, 0 while it is ejected after "
                             "failures (passive health check)")
                       .Register(registry)),
        backend_outstanding(prometheus::BuildGauge()
                                .Name("costgate_backend_outstanding")
                                .Help("Calls in flight to a model's deployment")
                                .Register(registry)),
        budget_spent(prometheus::BuildGauge()
                         .Name("costgate_budget_spent_usd")
                         .Help("A budget's spend in its current window (settled calls), in USD")
                         .Register(registry)),
        budget_limit(prometheus::BuildGauge()
                         .Name("costgate_budget_limit_usd")
                         .Help("A budget's amount per window, in USD")
                         .Register(registry)),
        budget_state(prometheus::BuildGauge()
                         .Name("costgate_budget_state")
                         .Help("A budget's state: 0 ok, 1 warn, 2 degrade, 3 open (rejecting)")
                         .Register(registry)),
        budget_rejections(prometheus::BuildCounter()
                              .Name("costgate_budget_rejections_total")
                              .Help("Requests refused with 429 budget_exceeded, by budget")
                              .Register(registry)),
        budget_degradations(prometheus::BuildCounter()
                                .Name("costgate_budget_degradations_total")
                                .Help("Requests degraded (cheaper model, tighter cap) by budget")
                                .Register(registry)),
        rate_limited(prometheus::BuildCounter()
                         .Name("costgate_rate_limited_total")
                         .Help("Requests refused with 429 rate_limit_exceeded, by rate limit")
                         .Register(registry)),
        budget_ledger_errors(prometheus::BuildCounter()
                                 .Name("costgate_budget_ledger_errors_total")
                                 .Help("Requests for which the budget ledger (Redis) could not be "
                                       "reached: served by the local ledger (fail-open) or refused "
                                       "(fail-closed)")
                                 .Register(registry)),
        config_reloads(prometheus::BuildCounter()
                           .Name("costgate_config_reloads_total")
                           .Help("Configuration reloads (SIGHUP or a changed file), by result: "
                                 "applied, or rejected (the file was invalid; the old "
                                 "configuration kept serving)")
                           .Register(registry)),
        config_last_reload_ok(prometheus::BuildGauge()
                                  .Name("costgate_config_last_reload_successful")
                                  .Help("1 when the last reload was applied (or none was tried), "
                                        "0 when it was rejected")
                                  .Register(registry)),
        build_info(prometheus::BuildGauge()
                       .Name("costgate_build_info")
                       .Help("Always 1; labelled with the running version")
                       .Register(registry)),
        request_cache(requests),
        request_duration_cache(request_duration),
        upstream_duration_cache(upstream_duration),
        upstream_failure_cache(upstream_failures),
        stream_cache(streams),
        overhead_cache(overhead),
        time_to_first_token_cache(time_to_first_token),
        token_cache(tokens),
        cost_cache(cost),
        tokens_saved_cache(tokens_saved),
        cache_request_cache(cache_requests),
        cache_saved_cache(cache_saved),
        cache_lookup_histogram(cache_lookup.Add({}, cacheLookupBuckets())),
        cache_size_cache(cache_size),
        cache_bytes_cache(cache_bytes),
        cache_store_up_cache(cache_store_up),
        route_decision_cache(route_decisions),
        escalation_cache(escalations),
        fallback_cache(fallbacks),
        backend_up_cache(backend_up),
        backend_outstanding_cache(backend_outstanding),
        budget_spent_cache(budget_spent),
        budget_limit_cache(budget_limit),
        budget_state_cache(budget_state),
        budget_rejection_cache(budget_rejections),
        budget_degradation_cache(budget_degradations),
        rate_limited_cache(rate_limited),
        budget_ledger_error_counter(budget_ledger_errors.Add({})) {
    build_info.Add({{"version", COSTGATE_VERSION}}).Set(1);
    config_last_reload_ok.Add({}).Set(1);
  }

  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& request_duration;
  prometheus::Family<prometheus::Histogram>& upstream_duration;
  prometheus::Family<prometheus::Counter>& upstream_failures;
  prometheus::Family<prometheus::Counter>& streams;
  prometheus::Family<prometheus::Histogram>& overhead;
  prometheus::Family<prometheus::Histogram>& time_to_first_token;
  prometheus::Family<prometheus::Counter>& tokens;
  prometheus::Family<prometheus::Counter>& cost;
  prometheus::Family<prometheus::Counter>& tokens_saved;
  prometheus::Family<prometheus::Counter>& cache_requests;
  prometheus::Family<prometheus::Histogram>& cache_lookup;
  prometheus::Family<prometheus::Counter>& cache_saved;
  prometheus::Family<prometheus::Gauge>& cache_size;
  prometheus::Family<prometheus::Gauge>& cache_bytes;
  prometheus::Family<prometheus::Gauge>& cache_store_up;
  prometheus::Family<prometheus::Counter>& route_decisions;
  prometheus::Family<prometheus::Counter>& escalations;
  prometheus::Family<prometheus::Counter>& fallbacks;
  prometheus::Family<prometheus::Gauge>& backend_up;
  prometheus::Family<prometheus::Gauge>& backend_outstanding;
  prometheus::Family<prometheus::Gauge>& budget_spent;
  prometheus::Family<prometheus::Gauge>& budget_limit;
  prometheus::Family<prometheus::Gauge>& budget_state;
  prometheus::Family<prometheus::Counter>& budget_rejections;
  prometheus::Family<prometheus::Counter>& budget_degradations;
  prometheus::Family<prometheus::Counter>& rate_limited;
  prometheus::Family<prometheus::Counter>& budget_ledger_errors;
  prometheus::Family<prometheus::Counter>& config_reloads;
  prometheus::Family<prometheus::Gauge>& config_last_reload_ok;
  prometheus::Family<prometheus::Gauge>& build_info;
  SeriesCache<prometheus::Counter> request_cache;
  SeriesCache<prometheus::Histogram> request_duration_cache;
  SeriesCache<prometheus::Histogram> upstream_duration_cache;
  SeriesCache<prometheus::Counter> upstream_failure_cache;
  SeriesCache<prometheus::Counter> stream_cache;
  SeriesCache<prometheus::Histogram> overhead_cache;
  SeriesCache<prometheus::Histogram> time_to_first_token_cache;
  SeriesCache<prometheus::Counter> token_cache;
  SeriesCache<prometheus::Counter> cost_cache;
  SeriesCache<prometheus::Counter> tokens_saved_cache;
  SeriesCache<prometheus::Counter> cache_request_cache;
  SeriesCache<prometheus::Counter> cache_saved_cache;
  prometheus::Histogram& cache_lookup_histogram;
  SeriesCache<prometheus::Gauge> cache_size_cache;
  SeriesCache<prometheus::Gauge> cache_bytes_cache;
  SeriesCache<prometheus::Gauge> cache_store_up_cache;
  SeriesCache<prometheus::Counter> route_decision_cache;
  SeriesCache<prometheus::Counter> escalation_cache;
  SeriesCache<prometheus::Counter> fallback_cache;
  SeriesCache<prometheus::Gauge> backend_up_cache;
  SeriesCache<prometheus::Gauge> backend_outstanding_cache;
  SeriesCache<prometheus::Gauge> budget_spent_cache;
  SeriesCache<prometheus::Gauge> budget_limit_cache;
  SeriesCache<prometheus::Gauge> budget_state_cache;
  SeriesCache<prometheus::Counter> budget_rejection_cache;
  SeriesCache<prometheus::Counter> budget_degradation_cache;
  SeriesCache<prometheus::Counter> rate_limited_cache;
  prometheus::Counter& budget_ledger_error_counter;
};

// The bounded label values of one tag. Values once admitted stay admitted, so each thread keeps
// the ones it has seen and takes the lock only for a value new to it.
class Metrics::TagLabels {
 public:
  // The label values of a (feature, team, env) combination: see Attribution.
  std::array<std::string_view, 3> admit(const Attribution& who) {
    // Each call is admitted twice (its request, its usage), and most calls are tagged like the
    // one before: that answer is kept per thread.
    struct Last {
      std::uint64_t owner = 0;
      std::string feature, team, env;
      std::array<std::string_view, 3> labels;
    };
    thread_local Last last;
    if (last.owner == id_ && last.feature == who.feature && last.team == who.team &&
        last.env == who.env) {
      return last.labels;
    }
    last.owner = 0;  // until the answer below is known
    last.labels = admitUncached(who);
    last.feature.assign(who.feature);
    last.team.assign(who.team);
    last.env.assign(who.env);
    last.owner = id_;
    return last.labels;
  }

 private:
  std::array<std::string_view, 3> admitUncached(const Attribution& who) {
    std::array<std::string_view, 3> labels = {admit(0, who.feature), admit(1, who.team),
                                              admit(2, who.env)};
    // Each label value bounded alone would still allow kMaxTagValues^3 series.
    thread_local std::unordered_map<std::uint64_t,
                                    std::unordered_set<std::string, KeyHash, std::equal_to<>>>
        known;
    thread_local std::string key;
    key.clear();
    for (std::string_view label : labels) {  // length-prefixed: no value can fake a boundary
      key.append(std::to_string(label.size())).append(":").append(label);
    }
    auto& mine = known[id_];
    if (mine.contains(std::string_view(key))) return labels;
    std::lock_guard lock(mutex_);
    if (!combinations_.contains(std::string_view(key))) {
      if (combinations_.size() >= kMaxTagCombinations) return {"other", "other", "other"};
      combinations_.emplace(key);
    }
    mine.emplace(key);
    return labels;
  }

  // `value`, or "none" when empty, or "other" once kMaxTagValues others were admitted.
  std::string_view admit(std::size_t tag, std::string_view value) {
    if (value.empty()) return "none";
    thread_local std::unordered_map<std::uint64_t,
                                    std::unordered_set<std::string, KeyHash, std::equal_to<>>>
        known;
    auto& mine = known[id_ * 4 + tag];
    if (auto it = mine.find(value); it != mine.end()) return *it;
    std::lock_guard lock(mutex_);
    auto& all = admitted_[tag];
    if (!all.contains(value)) {
      if (all.size() >= kMaxTagValues) return "other";
      all.emplace(value);
    }
    return *mine.emplace(value).first;
  }

  std::mutex mutex_;
  std::array<std::unordered_set<std::string, KeyHash, std::equal_to<>>, 3> admitted_;
  std::unordered_set<std::string, KeyHash, std::equal_to<>> combinations_;
  const std::uint64_t id_ = next_id_++;
  static inline std::atomic<std::uint64_t> next_id_{1};
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(*registry_)),
      tag_labels_(std::make_unique<TagLabels>()) {}

Metrics::~Metrics() = default;

void Metrics::countRequest(const Attribution& who, std::string_view route, int status,
                           double seconds) {
  // Named values, not a structured binding: clang before 16 cannot capture those in lambdas.
  const std::array<std::string_view, 3> admitted = tag_labels_->admit(who);
  const std::string_view feature = admitted[0], team = admitted[1], env = admitted[2];
  // Reused per thread: building the lookup key then allocates nothing once warm.
  thread_local std::string key;
  key.assign(route).append("\n").append(who.model).append("\n");
  char status_text[8];
  key.append(status_text,
             std::to_chars(status_text, status_text + sizeof(status_text), status).ptr);
  key.append("\n").append(feature).append("\n").append(team).append("\n").append(env);
  families_->request_cache
      .get(key,
           [&] {
             return prometheus::Labels{
                 {"route", std::string(route)},      {"model", std::string(who.model)},
                 {"status", std::to_string(status)}, {"feature", std::string(feature)},
                 {"team", std::string(team)},        {"env", std::string(env)}};
           })
      .Increment();
  families_->request_duration_cache
      .get(
          route,
          [&] {
            return prometheus::Labels{{"route", std::string(route)}};
          },
          latencyBuckets())
      .Observe(seconds);
}

void Metrics::observeUpstream(std::string_view backend, double seconds) {
  families_->upstream_duration_cache
      .get(
          backend,
          [&] {
            return prometheus::Labels{{"backend", std::string(backend)}};
          },
          latencyBuckets())
      .Observe(seconds);
}

void Metrics::countUpstreamFailure(std::string_view backend, std::string_view kind) {
  std::string key = std::string(backend) + '\n' + std::string(kind);
  families_->upstream_failure_cache
      .get(key,
           [&] {
             return prometheus::Labels{{"backend", std::string(backend)},
                                       {"kind", std::string(kind)}};
           })
      .Increment();
}

void Metrics::countStream(std::string_view outcome) {
  families_->stream_cache
      .get(outcome,
           [&] {
             return prometheus::Labels{{"outcome", std::string(outcome)}};
           })
      .Increment();
}

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

void Metrics::observeOverhead(std::string_view route, double seconds) {
  // From tens of microseconds (a proxied call) to a tenth of a second (a stalled filter).
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1};
  families_->overhead_cache
      .get(
          route,
          [&] {
            return prometheus::Labels{{"route", std::string(route)}};
          },
          buckets)
      .Observe(seconds);
}

void Metrics::observeTimeToFirstToken(std::string_view model, double seconds) {
  families_->time_to_first_token_cache
      .get(
          model,
          [&] {
            return prometheus::Labels{{"model", std::string(model)}};
          },
          latencyBuckets())
      .Observe(seconds);
}

void Metrics::countUsage(const Attribution& who, const pricing::Usage& usage,
                         std::optional<pricing::Micros> cost) {
  // Named values, not a structured binding: clang before 16 cannot capture those in lambdas.
  const std::array<std::string_view, 3> admitted = tag_labels_->admit(who);
  const std::string_view feature = admitted[0], team = admitted[1], env = admitted[2];
  thread_local std::string key;
  auto labels = [&](std::string_view type) {
    prometheus::Labels result{{"feature", std::string(feature)},
                              {"team", std::string(team)},
                              {"env", std::string(env)},
                              {"model", std::string(who.model)}};
    if (!type.empty()) result.emplace("type", std::string(type));
    return result;
  };
  std::uint64_t cached = std::min(usage.cached_tokens, usage.prompt_tokens);
  std::uint64_t reasoning = std::min(usage.reasoning_tokens, usage.completion_tokens);
  const std::pair<std::string_view, std::uint64_t> counts[] = {
      {"input", usage.prompt_tokens - cached},
      {"cached_input", cached},
      {"output", usage.completion_tokens - reasoning},
      {"reasoning", reasoning}};
  for (const auto& entry : counts) {
    const std::string_view type = entry.first;
    const std::uint64_t count = entry.second;
    if (count == 0) continue;
    key.assign(type).append("\n").append(feature).append("\n").append(team).append("\n");
    key.append(env).append("\n").append(who.model);
    families_->token_cache.get(key, [&] { return labels(type); })
        .Increment(static_cast<double>(count));
  }
  if (!cost) return;
  key.assign(feature).append("\n").append(team).append("\n").append(env).append("\n");
  key.append(who.model);
  families_->cost_cache.get(key, [&] { return labels({}); })
      .Increment(static_cast<double>(*cost) / 1e6);
}

void Metrics::countTokensSaved(const Attribution& who, std::string_view filter,
                               std::string_view policy, std::int64_t tokens) {
  if (tokens <= 0) return;
  // Named values, not a structured binding: clang before 16 cannot capture those in lambdas.
  const std::array<std::string_view, 3> admitted = tag_labels_->admit(who);
  const std::string_view feature = admitted[0], team = admitted[1], env = admitted[2];
  thread_local std::string key;
  key.assign(filter).append("\n").append(policy).append("\n").append(feature).append("\n");
  key.append(team).append("\n").append(env);
  families_->tokens_saved_cache
      .get(key,
           [&] {
             return prometheus::Labels{{"filter", std::string(filter)},
                                       {"policy", std::string(policy)},
                                       {"feature", std::string(feature)},
                                       {"team", std::string(team)},
                                       {"env", std::string(env)}};
           })
      .Increment(static_cast<double>(tokens));
}

void Metrics::countCacheLookup(const Attribution& who, const CacheLookup& lookup) {
  const std::string_view result = lookup.result;
  const std::optional<pricing::Micros>& saved = lookup.saved;
  // Named values, not a structured binding: clang before 16 cannot capture those in lambdas.
  const std::array<std::string_view, 3> admitted = tag_labels_->admit(who);
  const std::string_view feature = admitted[0], team = admitted[1], env = admitted[2];
  thread_local std::string key;
  key.assign(result).append("\n").append(feature).append("\n").append(team).append("\n");
  key.append(env);
  families_->cache_request_cache
      .get(key,
           [&] {
             return prometheus::Labels{{"result", std::string(result)},
                                       {"feature", std::string(feature)},
                                       {"team", std::string(team)},
                                       {"env", std::string(env)}};
           })
      .Increment();
  if (lookup.lookup_seconds > 0) families_->cache_lookup_histogram.Observe(lookup.lookup_seconds);
  if (saved) {
    key.assign(feature).append("\n").append(team).append("\n").append(env).append("\n");
    key.append(who.model);
    families_->cache_saved_cache
        .get(key,
             [&] {
               return prometheus::Labels{{"feature", std::string(feature)},
                                         {"team", std::string(team)},
                                         {"env", std::string(env)},
                                         {"model", std::string(who.model)}};
             })
        .Increment(static_cast<double>(*saved) / 1e6);
  }
  auto policy = [&] { return prometheus::Labels{{"policy", std::string(lookup.policy)}}; };
  families_->cache_size_cache.get(lookup.policy, policy).Set(static_cast<double>(lookup.entries));
  families_->cache_bytes_cache.get(lookup.policy, policy).Set(static_cast<double>(lookup.bytes));
  if (lookup.shared_store_up) {
    families_->cache_store_up_cache.get(lookup.policy, policy).Set(*lookup.shared_store_up ? 1 : 0);
  }
}

void Metrics::countRouteDecision(std::string_view tier, std::string_view rule) {
  std::string key = std::string(tier) + '\n' + std::string(rule);
  families_->route_decision_cache
      .get(key,
           [&] {
             return prometheus::Labels{{"tier", std::string(tier)}, {"rule", std::string(rule)}};
           })
      .Increment();
}

namespace {

// A from/to/reason counter: escalations and fallbacks.
void countMove(SeriesCache<prometheus::Counter>& cache, std::string_view from, std::string_view to,
               std::string_view reason) {
  std::string key = std::string(from) + '\n' + std::string(to) + '\n' + std::string(reason);
  cache
      .get(key,
           [&] {
             return prometheus::Labels{{"from", std::string(from)},
                                       {"to", std::string(to)},
                                       {"reason", std::string(reason)}};
           })
      .Increment();
}

}  // namespace

void Metrics::countEscalation(std::string_view from, std::string_view to, std::string_view reason) {
  countMove(families_->escalation_cache, from, to, reason);
}

void Metrics::countConfigReload(bool applied) {
  families_->config_reloads.Add({{"result", applied ? "applied" : "rejected"}}).Increment();
  families_->config_last_reload_ok.Add({}).Set(applied ? 1 : 0);
}

void Metrics::countFallback(std::string_view from, std::string_view to, std::string_view reason) {
  countMove(families_->fallback_cache, from, to, reason);
}

void Metrics::setBackendHealth(std::string_view model, std::string_view backend, bool up,
                               int outstanding) {
  std::string key = std::string(model) + '\n' + std::string(backend);
  auto labels = [&] {
    return prometheus::Labels{{"model", std::string(model)}, {"backend", std::string(backend)}};
  };
  families_->backend_up_cache.get(key, labels).Set(up ? 1 : 0);
  families_->backend_outstanding_cache.get(key, labels).Set(outstanding);
}

void Metrics::observeBudgets(const server::ExchangeRecord& record) {
  for (const auto& budget : record.budgets) {
    auto labels = [&] { return prometheus::Labels{{"budget", budget.name}}; };
    families_->budget_spent_cache.get(budget.name, labels)
        .Set(static_cast<double>(budget.spent) / 1e6);
    families_->budget_limit_cache.get(budget.name, labels)
        .Set(static_cast<double>(budget.limit) / 1e6);
    families_->budget_state_cache.get(budget.name, labels).Set(budget.state);
  }
  if (!record.budget_rejected.empty()) {
    const std::string& name = record.budget_rejected;
    if (record.budget_rate_limited) {
      families_->rate_limited_cache.get(name,
                                        [&] {
                                          return prometheus::Labels{{"limit", name}};
                                        })
          .Increment();
    } else {
      families_->budget_rejection_cache
          .get(name,
               [&] {
                 return prometheus::Labels{{"budget", name}};
               })
          .Increment();
    }
  }
  if (!record.budget_degraded.empty()) {
    const std::string& name = record.budget_degraded;
    families_->budget_degradation_cache
        .get(name,
             [&] {
               return prometheus::Labels{{"budget", name}};
             })
        .Increment();
  }
  if (record.budget_ledger_error) families_->budget_ledger_error_counter.Increment();
}

}  // namespace costgate::metrics
