#pragma once
// What the budget filter tells about each request: its metrics (declared here, counted by no one
// else) and its access-log fields.

#include <string>
#include <vector>

#include "costgate/budget/owed_charges.h"
#include "costgate/metrics/metrics.h"
#include "costgate/pipeline/request_context.h"
#include "costgate/pricing/price.h"

namespace costgate::filters::budget {

// What the budget filter did with one request.
struct BudgetOutcome {
  struct State {
    std::string name;
    pricing::Nanos spent = 0;
    pricing::Nanos limit = 0;
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

  // A request settled: the budgets' spent and reserved gauges as the ledger has them now. `names`
  // are the budgets of the lines in `after` (empty for a line that is no budget's).
  void settled(const std::vector<std::string>& names,
               const std::vector<costgate::budget::LineState>& after) const;

  // What happens to settles and reconciliations on their way to Redis, as metrics
  // (costgate_budget_settles_failed_total, costgate_budget_settles_retried_total,
  // costgate_budget_reconciled_usd_total, costgate_budget_pending_settles, and the gauges as for
  // settled()) and a warning in the log for each that fails or lands late. Safe to call from any
  // thread, as long as the Metrics live.
  costgate::budget::OwedCharges::Events ledgerEvents() const;

 private:
  metrics::GaugeFamily& spent_;
  metrics::GaugeFamily& reserved_;
  metrics::CounterFamily& settles_failed_;
  metrics::CounterFamily& settles_retried_;
  metrics::CounterFamily& reconciled_;
  metrics::GaugeFamily& pending_;
  metrics::GaugeFamily& limit_;
  metrics::GaugeFamily& state_;
  metrics::CounterFamily& rejections_;
  metrics::CounterFamily& degradations_;
  metrics::CounterFamily& rate_limited_;
  metrics::CounterFamily& ledger_errors_;
};

}  // namespace costgate::filters::budget
