#include "filters/budget/budget_stats.h"

namespace costgate::filters::budget {

namespace {

int stateLevel(std::string_view state) {
  if (state == "warn") return 1;
  if (state == "degrade") return 2;
  if (state == "open") return 3;
  return 0;
}

}  // namespace

BudgetStats::BudgetStats(metrics::Metrics& metrics)
    : spent_(metrics.gauge("costgate_budget_spent_usd",
                           "A budget's spend in its current window (settled calls), in USD",
                           {"budget"})),
      limit_(metrics.gauge("costgate_budget_limit_usd", "A budget's amount per window, in USD",
                           {"budget"})),
      state_(metrics.gauge("costgate_budget_state",
                           "A budget's state: 0 ok, 1 warn, 2 degrade, 3 open (rejecting)",
                           {"budget"})),
      rejections_(metrics.counter("costgate_budget_rejections_total",
                                  "Requests refused with 429 budget_exceeded, by budget",
                                  {"budget"})),
      degradations_(metrics.counter("costgate_budget_degradations_total",
                                    "Requests degraded (cheaper model, tighter cap) by budget",
                                    {"budget"})),
      rate_limited_(metrics.counter("costgate_rate_limited_total",
                                    "Requests refused with 429 rate_limit_exceeded, by rate limit",
                                    {"limit"})),
      ledger_errors_(metrics.counter("costgate_budget_ledger_errors_total",
                                     "Requests for which the budget ledger (Redis) could not be "
                                     "reached: served by the local ledger (fail-open) or refused "
                                     "(fail-closed)",
                                     {})) {}

void BudgetStats::record(pipeline::RequestContext& ctx, const BudgetOutcome& outcome) const {
  for (const auto& budget : outcome.budgets) {
    spent_.with({budget.name}).Set(static_cast<double>(budget.spent) / 1e6);
    limit_.with({budget.name}).Set(static_cast<double>(budget.limit) / 1e6);
    state_.with({budget.name}).Set(stateLevel(budget.state));
  }
  if (!outcome.rejected.empty()) {
    (outcome.rate_limited ? rate_limited_ : rejections_).with({outcome.rejected}).Increment();
    ctx.log.text("refused_by", outcome.rejected);
  }
  if (!outcome.degraded.empty()) {
    degradations_.with({outcome.degraded}).Increment();
    ctx.log.text("degraded_by", outcome.degraded);
  }
  if (outcome.ledger_error) {
    ledger_errors_.with({}).Increment();
    ctx.log.text("budget_ledger", "unavailable");
  }
}

}  // namespace costgate::filters::budget
