#pragma once
// What the budget filter tells about each request: its metrics (declared here, counted by no one
// else) and its access-log fields.

#include <string>
#include <vector>

#include "costgate/metrics/metrics.h"
#include "costgate/pipeline/request_context.h"
#include "costgate/pricing/price.h"

namespace costgate::filters::budget {

// What the budget filter did with one request.
struct BudgetOutcome {
  struct State {
    std::string name;
    pricing::Micros spent = 0;
    pricing::Micros limit = 0;
    std::string state;  // ok, warn, degrade or open
  };
  std::vector<State> budgets;  // the budgets that matched, as they stood
  std::string rejected;        // the budget or rate limit that refused the request
  bool rate_limited = false;   // rejected by a rate limit rather than a budget
  std::string degraded;        // the budget that degraded the request
  bool ledger_error = false;   // the ledger could not be reached
};

class BudgetStats {
 public:
  explicit BudgetStats(metrics::Metrics& metrics);

  // Sets each matched budget's gauges (costgate_budget_spent_usd, _limit_usd, _state: 0 ok,
  // 1 warn, 2 degrade, 3 open), counts what was done (costgate_budget_rejections_total,
  // costgate_rate_limited_total, costgate_budget_degradations_total,
  // costgate_budget_ledger_errors_total) and writes the log fields "refused_by", "degraded_by"
  // and "budget_ledger".
  void record(pipeline::RequestContext& ctx, const BudgetOutcome& outcome) const;

 private:
  metrics::GaugeFamily& spent_;
  metrics::GaugeFamily& limit_;
  metrics::GaugeFamily& state_;
  metrics::CounterFamily& rejections_;
  metrics::CounterFamily& degradations_;
  metrics::CounterFamily& rate_limited_;
  metrics::CounterFamily& ledger_errors_;
};

}  // namespace costgate::filters::budget
