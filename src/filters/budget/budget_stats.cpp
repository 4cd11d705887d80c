#include "filters/budget/budget_stats.h"

#include <spdlog/spdlog.h>

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
      reserved_(metrics.gauge("costgate_budget_reserved_usd",
                              "A budget's reservations in its current window (calls in flight, at "
                              "their worst case), in USD",
                              {"budget"})),
      settles_failed_(metrics.counter(
          "costgate_budget_settles_failed_total",
          "Settles (and reconciliations) the shared ledger did not take at once: kept and sent "
          "again until it does",
          {})),
      settles_retried_(metrics.counter(
          "costgate_budget_settles_retried_total",
          "Settles (and reconciliations) the shared ledger took on a later attempt", {})),
      reconciled_(metrics.counter("costgate_budget_reconciled_usd_total",
                                  "Spend a replica charged on its own ledger while the shared "
                                  "ledger was down, written to it since, in USD",
                                  {})),
      pending_(metrics.gauge("costgate_budget_pending_settles",
                             "Settles and reconciliations not yet taken by the shared ledger", {})),
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

namespace {

void setGauges(metrics::GaugeFamily& spent, metrics::GaugeFamily& reserved,
               const std::vector<std::string>& names,
               const std::vector<costgate::budget::LineState>& after) {
  for (std::size_t i = 0; i < names.size() && i < after.size(); ++i) {
    if (names[i].empty()) continue;
    spent.with({names[i]}).Set(pricing::usdOf(after[i].spent));
    reserved.with({names[i]}).Set(pricing::usdOf(after[i].reserved));
  }
}

}  // namespace

void BudgetStats::settled(const std::vector<std::string>& names,
                          const std::vector<costgate::budget::LineState>& after) const {
  setGauges(spent_, reserved_, names, after);
}

// The events outlive this filter (a reload keeps the ledger's charges): they hold the families,
// which live as long as the Metrics, not `this`.
costgate::budget::OwedCharges::Events BudgetStats::ledgerEvents() const {
  using costgate::budget::Owed;
  auto describe = [](const Owed& charge) {
    return std::string(charge.kind == Owed::Kind::kSettle ? "settle of reservation "
                                                          : "charge made during an outage, ") +
           charge.reservation.id + " ($" + pricing::formatUsd(charge.amount) + ")";
  };
  return {
      .owed =
          [&failed = settles_failed_, describe](const Owed& charge) {
            failed.with({}).Increment();
            spdlog::warn(
                "budget: the shared ledger did not take the {}; kept, and sent again "
                "until it does",
                describe(charge));
          },
      .landed =
          [&spent = spent_, &reserved = reserved_, &reconciled = reconciled_,
           &retried = settles_retried_,
           describe](const Owed& charge, const std::vector<costgate::budget::LineState>& after,
                     bool late) {
            if (charge.kind == Owed::Kind::kSettle)
              setGauges(spent, reserved, charge.labels, after);
            if (charge.kind == Owed::Kind::kCharge) {
              reconciled.with({}).Increment(pricing::usdOf(charge.amount));
            }
            if (!late) return;
            retried.with({}).Increment();
            spdlog::warn("budget: the shared ledger took the {} on a later attempt",
                         describe(charge));
          },
      .pending = [&pending = pending_](
                     std::size_t count) { pending.with({}).Set(static_cast<double>(count)); },
  };
}

void BudgetStats::record(pipeline::RequestContext& ctx, const BudgetOutcome& outcome) const {
  for (const auto& budget : outcome.budgets) {
    spent_.with({budget.name}).Set(pricing::usdOf(budget.spent));
    limit_.with({budget.name}).Set(pricing::usdOf(budget.limit));
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
