// Metrics::summaryJson: the registry's series added up into the dashboard's headline numbers.
// It reads the same Collect() snapshot /metrics serializes, so the two never disagree.

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "costgate/metrics/metrics.h"
#include "costgate/pricing/price.h"

namespace costgate::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
// Members in the order written: the endpoint reads top-down like the dashboard.
using Json = nlohmann::ordered_json;

std::string_view labelOf(const ClientMetric& series, std::string_view name) {
  for (const auto& label : series.label) {
    if (label.name == name) return label.value;
  }
  return {};
}

// A USD amount the registry holds as a double (pricing::usdOf), back to the nano-dollars it was
// made from (exact while the total is below 2^53 nano-dollars), then formatted as /costgate/spend
// formats money.
std::string usdText(double usd) {
  return pricing::formatUsd(static_cast<pricing::Nanos>(
      std::llround(usd * static_cast<double>(pricing::kNanosPerDollar))));
}

// Counters are doubles; the ones counted here only ever add whole events.
std::int64_t count(double value) { return std::llround(value); }

Json ratio(double part, double whole) { return whole > 0 ? Json(part / whole) : Json(nullptr); }

// Buckets as (upper bound, cumulative count), ascending, the last one +Inf.
using Buckets = std::vector<std::pair<double, std::uint64_t>>;

// The q-quantile of the observations in `buckets`, as Prometheus' histogram_quantile estimates
// it: the bucket the q-th observation falls in, and linear interpolation between its bounds (the
// first bucket's lower bound being 0). In the +Inf bucket, the largest finite bound. None when
// nothing was observed.
std::optional<double> estimateQuantile(double q, const Buckets& buckets) {
  if (buckets.empty() || buckets.back().second == 0) return std::nullopt;
  const double rank = q * static_cast<double>(buckets.back().second);
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    const auto [upper, cumulative] = buckets[i];
    if (static_cast<double>(cumulative) < rank) continue;
    const double lower = i == 0 ? 0 : buckets[i - 1].first;
    if (std::isinf(upper)) return lower;
    const double below = i == 0 ? 0 : static_cast<double>(buckets[i - 1].second);
    const double inside = static_cast<double>(cumulative) - below;
    if (inside <= 0) return upper;  // q = 0 in an empty first bucket
    return lower + (upper - lower) * (rank - below) / inside;
  }
  return std::nullopt;  // not reached: the last bucket holds every observation
}

// One Collect() snapshot, with the sums the summary is made of.
class Snapshot {
 public:
  explicit Snapshot(std::vector<MetricFamily> families) : families_(std::move(families)) {}

  // Every series of family `name`; none when the family is unknown.
  const std::vector<ClientMetric>& series(std::string_view name) const {
    static const std::vector<ClientMetric> kNone;
    const MetricFamily* family = find(name);
    return family ? family->metric : kNone;
  }

  // Which series a sum takes in.
  using Keep = bool (*)(const ClientMetric&);
  static bool everySeries(const ClientMetric&) { return true; }

  // A counter's or gauge's values added up over the series `keep` takes in, by the value of
  // label `by`.
  std::map<std::string, double> sumBy(std::string_view name, std::string_view by,
                                      Keep keep = everySeries) const {
    std::map<std::string, double> sums;
    const MetricFamily* family = find(name);
    if (!family) return sums;
    for (const auto& series : family->metric) {
      if (!keep(series)) continue;
      double value =
          family->type == prometheus::MetricType::Gauge ? series.gauge.value : series.counter.value;
      sums[std::string(labelOf(series, by))] += value;
    }
    return sums;
  }
  // The same, all in one.
  double sum(std::string_view name, Keep keep = everySeries) const {
    double total = 0;
    for (const auto& [label, value] : sumBy(name, {}, keep)) total += value;
    return total;
  }

  // A histogram's series merged into one. Every series of a family is made with the same bucket
  // boundaries (metrics.cpp), so cumulative counts add bound by bound.
  Buckets mergedBuckets(std::string_view name) const {
    std::map<double, std::uint64_t> by_bound;
    for (const auto& series : this->series(name)) {
      for (const auto& bucket : series.histogram.bucket) {
        by_bound[bucket.upper_bound] += bucket.cumulative_count;
      }
    }
    return {by_bound.begin(), by_bound.end()};
  }

 private:
  const MetricFamily* find(std::string_view name) const {
    for (const auto& family : families_) {
      if (family.name == name) return &family;
    }
    return nullptr;
  }

  std::vector<MetricFamily> families_;
};

// {"name":..., "cost_usd":...} for each group, most expensive first.
Json spendGroups(const std::map<std::string, double>& by_value) {
  std::vector<std::pair<std::string, double>> groups(by_value.begin(), by_value.end());
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  Json out = Json::array();
  for (const auto& [name, usd] : groups)
    out.push_back({{"name", name}, {"cost_usd", usdText(usd)}});
  return out;
}

// {"name":..., "count":...} for each group, in label order.
Json countGroups(const std::map<std::string, double>& by_value) {
  Json out = Json::array();
  for (const auto& [name, value] : by_value)
    out.push_back({{"name", name}, {"count", count(value)}});
  return out;
}

Json percentiles(const Buckets& buckets) {
  auto at = [&](double q) {
    auto value = estimateQuantile(q, buckets);
    return value ? Json(*value) : Json(nullptr);
  };
  return {{"count", buckets.empty() ? 0 : buckets.back().second},
          {"p50", at(0.5)},
          {"p95", at(0.95)},
          {"p99", at(0.99)}};
}

bool isApiRoute(std::string_view route) {
  return route == "chat_completions" || route == "completions" || route == "embeddings";
}

}  // namespace

std::string Metrics::summaryJson() const {
  const Snapshot snapshot(registry_->Collect());
  const auto now = std::chrono::system_clock::now();
  Json out;
  out["since"] =
      std::chrono::duration_cast<std::chrono::seconds>(started_.time_since_epoch()).count();
  out["uptime_seconds"] = std::chrono::duration<double>(now - started_).count();

  const double spent = snapshot.sum("costgate_cost_usd_total");
  out["spend"] = {{"total_usd", usdText(spent)},
                  {"by_feature", spendGroups(snapshot.sumBy("costgate_cost_usd_total", "feature"))},
                  {"by_team", spendGroups(snapshot.sumBy("costgate_cost_usd_total", "team"))},
                  {"by_env", spendGroups(snapshot.sumBy("costgate_cost_usd_total", "env"))},
                  {"by_model", spendGroups(snapshot.sumBy("costgate_cost_usd_total", "model"))}};

  const auto by_status = snapshot.sumBy("costgate_requests_total", "status");
  double client_errors = 0, server_errors = 0;
  for (const auto& [status, value] : by_status) {
    if (status.starts_with('4')) client_errors += value;
    if (status.starts_with('5')) server_errors += value;
  }
  // What the Grafana panel divides tokens by: API requests answered with a 2xx (cache hits too).
  const double api = snapshot.sum("costgate_requests_total", [](const ClientMetric& series) {
    return isApiRoute(labelOf(series, "route"));
  });
  const double api_ok = snapshot.sum("costgate_requests_total", [](const ClientMetric& series) {
    return isApiRoute(labelOf(series, "route")) && labelOf(series, "status").starts_with('2');
  });
  Json failures = Json::array();
  for (const auto& series : snapshot.series("costgate_upstream_failures_total")) {
    failures.push_back({{"backend", labelOf(series, "backend")},
                        {"kind", labelOf(series, "kind")},
                        {"count", count(series.counter.value)}});
  }
  out["requests"] = {{"total", count(snapshot.sum("costgate_requests_total"))},
                     {"api", count(api)},
                     {"api_ok", count(api_ok)},
                     {"client_errors", count(client_errors)},
                     {"server_errors", count(server_errors)},
                     {"by_route", countGroups(snapshot.sumBy("costgate_requests_total", "route"))},
                     {"by_status", countGroups(by_status)},
                     {"upstream_failures", std::move(failures)}};

  const auto tokens = snapshot.sumBy("costgate_tokens_total", "type");
  double all_tokens = 0;
  Json token_counts;
  for (std::string_view type : {"input", "cached_input", "output", "reasoning"}) {
    auto it = tokens.find(std::string(type));
    double value = it == tokens.end() ? 0 : it->second;
    all_tokens += value;
    token_counts[std::string(type)] = count(value);
  }
  token_counts["total"] = count(all_tokens);
  token_counts["per_call"] = ratio(all_tokens, api_ok);
  out["tokens"] = std::move(token_counts);

  const auto results = snapshot.sumBy("costgate_cache_requests_total", "result");
  auto result = [&](const char* name) {
    auto it = results.find(name);
    return it == results.end() ? 0.0 : it->second;
  };
  const double hits = result("hit-exact") + result("hit-semantic");
  out["cache"] = {{"hit_exact", count(result("hit-exact"))},
                  {"hit_semantic", count(result("hit-semantic"))},
                  {"miss", count(result("miss"))},
                  {"bypass", count(result("bypass"))},
                  // As the Grafana panel: bypassed requests were never candidates.
                  {"hit_rate", ratio(hits, hits + result("miss"))},
                  {"saved_usd", usdText(snapshot.sum("costgate_cache_saved_usd_total"))}};

  const double decisions = snapshot.sum("costgate_route_decisions_total");
  const double escalations = snapshot.sum("costgate_escalations_total");
  out["routing"] = {{"decisions", count(decisions)},
                    {"escalations", count(escalations)},
                    {"escalation_rate", ratio(escalations, decisions)},
                    {"fallbacks", count(snapshot.sum("costgate_fallbacks_total"))}};

  static constexpr std::string_view kStates[] = {"ok", "warn", "degrade", "open"};
  const auto budget_spent = snapshot.sumBy("costgate_budget_spent_usd", "budget");
  const auto budget_limit = snapshot.sumBy("costgate_budget_limit_usd", "budget");
  const auto budget_state = snapshot.sumBy("costgate_budget_state", "budget");
  Json budgets = Json::array();
  for (const auto& [name, spent_usd] : budget_spent) {
    const double limit = budget_limit.contains(name) ? budget_limit.at(name) : 0;
    const auto state = budget_state.contains(name) ? count(budget_state.at(name)) : 0;
    budgets.push_back(
        {{"name", name},
         {"spent_usd", usdText(spent_usd)},
         {"limit_usd", usdText(limit)},
         {"used", ratio(spent_usd, limit)},
         {"state", state >= 0 && state < 4 ? kStates[state] : std::string_view("unknown")}});
  }
  out["budgets"] = std::move(budgets);
  out["budget_actions"] = {
      {"rejections", count(snapshot.sum("costgate_budget_rejections_total"))},
      {"degradations", count(snapshot.sum("costgate_budget_degradations_total"))},
      {"rate_limited", count(snapshot.sum("costgate_rate_limited_total"))}};

  out["latency_seconds"] = {
      {"request", percentiles(snapshot.mergedBuckets("costgate_request_duration_seconds"))},
      {"overhead", percentiles(snapshot.mergedBuckets("costgate_overhead_seconds"))},
      {"upstream", percentiles(snapshot.mergedBuckets("costgate_upstream_duration_seconds"))}};
  return out.dump();
}

}  // namespace costgate::metrics
