#pragma once
// The gateway's Prometheus registry. The families of every request are declared here; each filter
// declares its own in its folder (its stats) through counter(), gauge() and histogram(). Label
// values are bounded: callers pass route names, configured model and backend names, status codes,
// fixed kinds, and tags bounded by tagLabels().

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "costgate/metrics/family.h"
#include "costgate/pricing/price.h"

namespace prometheus {
class Registry;
}

namespace costgate::metrics {

// Who a call is charged to. Tag values are the client's, so Metrics bounds them: each of feature,
// team and env gets at most kMaxTagValues distinct label values, and the three together at most
// kMaxTagCombinations, in the order first seen; later ones are labelled "other" (all three, for a
// combination), and empty ones "none". Values the configuration declares (reserveTagLabels())
// are outside those bounds: they always get their own label value, and a combination of only
// declared values (or "none"/"other") its own series. `model` must be a configured name.
struct Attribution {
  std::string_view feature;
  std::string_view team;
  std::string_view env;
  std::string_view model;
};

inline constexpr std::size_t kMaxTagValues = 100;
inline constexpr std::size_t kMaxTagCombinations = 1000;
// A bound on declared values too, per tag, though only an operator's file adds them.
inline constexpr std::size_t kMaxReservedTagValues = 10000;

// Tag values a configuration declares: gateway keys' tags, allow-lists, defaults, budget scopes.
struct DeclaredTags {
  std::vector<std::string> feature;
  std::vector<std::string> team;
  std::vector<std::string> env;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One finished request: `who.model` must be a configured model name, "unknown" or "none".
  void countRequest(const Attribution& who, std::string_view route, int status, double seconds);
  // The time the gateway itself added to a proxied request: its whole time less the backend's.
  void observeOverhead(std::string_view route, double seconds);
  // A stream's time from the request's arrival to the first text relayed.
  void observeTimeToFirstToken(std::string_view model, double seconds);
  // Time from sending a call to a backend until its last byte.
  void observeUpstream(std::string_view backend, double seconds);
  // A call that failed before the backend answered; `kind` names the failure.
  void countUpstreamFailure(std::string_view backend, std::string_view kind);
  // A streamed response relayed to its end (`completed`) or cut short.
  void countStream(std::string_view outcome);
  // The tokens a call used (costgate_tokens_total, by type: input, cached_input, output and
  // reasoning, which do not overlap) and, when priced, its cost (costgate_cost_usd_total).
  void countUsage(const Attribution& who, const pricing::Usage& usage,
                  std::optional<pricing::Nanos> cost);
  // An answer served, by its finish_reason (one of a fixed set: see finishReasonLabel).
  void countFinishReason(const Attribution& who, std::string_view reason);

  // Input tokens a filter took out of a request under one of its policies (a configured name).
  void countTokensSaved(const Attribution& who, std::string_view filter, std::string_view policy,
                        std::int64_t tokens);

  // A call moving to a fallback model after every deployment of one failed
  // (costgate_fallbacks_total); `reason` names the last fault.
  void countFallback(std::string_view from, std::string_view to, std::string_view reason);
  // A deployment's health after a call (costgate_backend_up: 1 serving, 0 ejected) and the
  // calls it has in flight (costgate_backend_outstanding).
  void setBackendHealth(std::string_view model, std::string_view backend, bool up, int outstanding);

  // A configuration reload, applied or rejected (costgate_config_reloads_total{result}, and
  // costgate_config_last_reload_successful).
  void countConfigReload(bool applied);

  // The registry in Prometheus' text exposition format.
  std::string serialize() const;

  // The headline numbers since start, as one JSON object, for GET /costgate/summary and the
  // built-in dashboard (the Grafana dashboard's panels, as totals instead of rates): spend in
  // total and by feature, team, env and model; requests by route and status with 4xx/5xx and
  // upstream failures; tokens by type and per successful API request; cache results, hit rate
  // and money saved; route decisions, escalations and fallbacks; each budget's spend, limit and
  // state; and p50/p95/p99 of the request, overhead and upstream durations, estimated from the
  // histograms' buckets as Prometheus' histogram_quantile does. USD amounts are decimal strings
  // with six decimals, as /costgate/spend gives them; a ratio or quantile with nothing to
  // compute it from is null. Described field by field in docs/metrics.md.
  std::string summaryJson() const;

  // A family of this registry, made on first use and the same one for every later call with the
  // same name (a filter's stats are declared again by each configuration that has the filter; the
  // series live on). The label names must be the same each time.
  CounterFamily& counter(const std::string& name, const std::string& help,
                         std::vector<std::string> label_names);
  GaugeFamily& gauge(const std::string& name, const std::string& help,
                     std::vector<std::string> label_names);
  HistogramFamily& histogram(const std::string& name, const std::string& help,
                             std::vector<std::string> label_names,
                             prometheus::Histogram::BucketBoundaries buckets);

  // The label values of who pays (feature, team, env), bounded as Attribution says.
  std::array<std::string_view, 3> tagLabels(const Attribution& who);
  // Keeps label slots for `declared`, whatever clients sent before or send later. Called when a
  // configuration is built (a reload adds its values; none is taken back, since their series
  // live on); safe while requests are counted.
  void reserveTagLabels(const DeclaredTags& declared);

  // When counting began (the process's start): the summary's and the spend report's "since".
  std::chrono::system_clock::time_point startedAt() const { return started_; }

 private:
  struct Families;
  class TagLabels;
  std::shared_ptr<prometheus::Registry> registry_;
  std::mutex declared_mutex_;  // filters declare their families while requests run
  std::map<std::string, std::unique_ptr<CounterFamily>, std::less<>> counters_;
  std::map<std::string, std::unique_ptr<GaugeFamily>, std::less<>> gauges_;
  std::map<std::string, std::unique_ptr<HistogramFamily>, std::less<>> histograms_;
  std::unique_ptr<Families> families_;
  std::unique_ptr<TagLabels> tag_labels_;
  // When counting began: the summary's "since".
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
};

}  // namespace costgate::metrics
