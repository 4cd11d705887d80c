#pragma once
// Every Prometheus family the gateway exports is declared here, with bounded label values only:
// callers pass route names, configured model and backend names, status codes and fixed kinds.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "costgate/pricing/price.h"
#include "costgate/server/exchange_record.h"

namespace prometheus {
class Registry;
}

namespace costgate::metrics {

// Who a call is charged to. Tag values are the client's, so Metrics bounds them: each of feature,
// team and env gets at most kMaxTagValues distinct label values, and the three together at most
// kMaxTagCombinations, in the order first seen; later ones are labelled "other" (all three, for a
// combination), and empty ones "none". `model` must be a configured name.
struct Attribution {
  std::string_view feature;
  std::string_view team;
  std::string_view env;
  std::string_view model;
};

inline constexpr std::size_t kMaxTagValues = 100;
inline constexpr std::size_t kMaxTagCombinations = 1000;

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
                  std::optional<pricing::Micros> cost);

  // Input tokens a filter took out of a request under one of its policies (a configured name).
  void countTokensSaved(const Attribution& who, std::string_view filter, std::string_view policy,
                        std::int64_t tokens);

  // One request a cache looked at: `result` is hit-exact, hit-semantic, miss or bypass
  // (costgate_cache_requests_total), a lookup's time (costgate_cache_lookup_seconds), a hit's
  // saving (costgate_cache_saved_usd_total), and the policy's cache after (gauges by policy: its
  // size, and for a Redis store whether it is in sync).
  struct CacheLookup {
    std::string_view result;
    std::string_view policy;
    double lookup_seconds = 0;
    std::optional<pricing::Micros> saved;
    std::size_t entries = 0;
    std::size_t bytes = 0;
    std::optional<bool> shared_store_up;  // a Redis store's; none for a memory store
  };
  void countCacheLookup(const Attribution& who, const CacheLookup& lookup);

  // A router's choice of tier, by the rule that made it (costgate_route_decisions_total).
  void countRouteDecision(std::string_view tier, std::string_view rule);
  // A cascade moving from a judged-weak (or failed) answer to the next model
  // (costgate_escalations_total), and a call moving to a fallback model after every deployment
  // of one failed (costgate_fallbacks_total); `reason` names the signal or the fault.
  void countEscalation(std::string_view from, std::string_view to, std::string_view reason);
  void countFallback(std::string_view from, std::string_view to, std::string_view reason);
  // A deployment's health after a call (costgate_backend_up: 1 serving, 0 ejected) and the
  // calls it has in flight (costgate_backend_outstanding).
  void setBackendHealth(std::string_view model, std::string_view backend, bool up, int outstanding);

  // A budget filter's view of a request: each matching budget's spend, limit and state (gauges
  // costgate_budget_spent_usd, _limit_usd, _state: 0 ok, 1 warn, 2 degrade, 3 open), and what it
  // did (costgate_budget_rejections_total, costgate_rate_limited_total,
  // costgate_budget_degradations_total, costgate_budget_ledger_errors_total).
  void observeBudgets(const server::ExchangeRecord& record);

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

  // When counting began (the process's start): the summary's and the spend report's "since".
  std::chrono::system_clock::time_point startedAt() const { return started_; }

 private:
  struct Families;
  class TagLabels;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
  std::unique_ptr<TagLabels> tag_labels_;
  // When counting began: the summary's "since".
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
};

}  // namespace costgate::metrics
