#include "filters/router/router_stats.h"

namespace costgate::filters::router {

RouterStats::RouterStats(metrics::Metrics& metrics)
    : decisions_(metrics.counter("costgate_route_decisions_total",
                                 "Requests a router sent to a tier, by the rule that chose it "
                                 "(complexity when the score did)",
                                 {"tier", "rule"})),
      escalations_(metrics.counter("costgate_escalations_total",
                                   "Cascade answers judged too weak (or failed), by the model "
                                   "escalated from and to and the reason",
                                   {"from", "to", "reason"})) {}

void RouterStats::record(pipeline::RequestContext& ctx, const RouteDecision& decision) const {
  // Not "route": the line has one (the API route), and a line must not repeat a key.
  ctx.log.text("route_decision", decision.tier + ":" + decision.rule);
  // A request a filter answered or refused was not routed anywhere.
  const bool went_on = !ctx.local_reply || !ctx.served_model.empty();
  if (went_on) {
    decisions_.with({decision.tier.empty() ? "none" : decision.tier, decision.rule}).Increment();
  }
  if (!ctx.cascade || ctx.cascade->escalations.empty()) return;
  for (const auto& move : ctx.cascade->escalations) {
    escalations_.with({move.from, move.to, move.reason}).Increment();
  }
  ctx.log.text("escalated", pipeline::describe(ctx.cascade->escalations));
}

}  // namespace costgate::filters::router
