#include "filters/router/router_stats.h"

#include <cstdio>

namespace costgate::filters::router {
namespace {

// The weightiest signal of a verdict's reason ("mean_logprob,refusal" -> "mean_logprob").
std::string_view weightiest(std::string_view reason) {
  if (reason.empty()) return "none";
  return reason.substr(0, reason.find(','));
}

}  // namespace

RouterStats::RouterStats(metrics::Metrics& metrics)
    : metrics_(metrics),
      decisions_(metrics.counter("costgate_route_decisions_total",
                                 "Requests a router sent to a tier, by the rule that chose it "
                                 "(complexity when the score did)",
                                 {"tier", "rule"})),
      escalations_(metrics.counter("costgate_escalations_total",
                                   "Cascade answers judged too weak (or failed), by the model "
                                   "escalated from and to and the reason",
                                   {"from", "to", "reason"})),
      judge_decisions_(metrics.counter(
          "costgate_judge_decisions_total",
          "Cascade answers the judge accepted or escalated, by policy, model and the weightiest "
          "signal that fired (none)",
          {"policy", "model", "decision", "reason"})),
      // Margins run from -1 (all signals fired) to 1 - threshold; near 0 is the interesting part.
      judge_margin_(metrics.histogram(
          "costgate_judge_margin",
          "How far above the threshold the accepted cascade answers scored (score - threshold)",
          {"policy", "model"}, {-0.5, -0.2, -0.1, 0, 0.05, 0.1, 0.2, 0.3, 0.4})),
      escalation_rate_(metrics.gauge(
          "costgate_router_escalation_rate",
          "The learned (decayed) rate at which a bucket's cascades escalated, by policy, rule, "
          "feature and complexity bucket (its lower bound)",
          {"policy", "rule", "feature", "bucket"})),
      learned_starts_(metrics.counter(
          "costgate_router_learned_starts_total",
          "Requests of a tier of several models by where learning started them: cheap (the "
          "cascade), strong (the tier's last model) or explore (cascaded to keep measuring)",
          {"policy", "rule", "feature", "start"})) {}

std::string RouterStats::featureLabel(const pipeline::RequestContext& ctx) const {
  const auto [feature, team, env] = metrics_.tagLabels({.feature = ctx.tag_labels.feature,
                                                        .team = ctx.tag_labels.team,
                                                        .env = ctx.tag_labels.env,
                                                        .model = ctx.model});
  return std::string(feature);
}

void RouterStats::showRate(const BucketKey& key, double rate) const {
  escalation_rate_.with({key.policy, key.rule, key.feature, bucketLabel(key.bucket)}).Set(rate);
}

void RouterStats::record(pipeline::RequestContext& ctx, const RouteDecision& decision,
                         const RouteDetails& details) const {
  // Not "route": the line has one (the API route), and a line must not repeat a key.
  ctx.log.text("route_decision", decision.tier + ":" + decision.rule);
  if (details.complexity) {
    ctx.log.decimal("complexity",
                    details.complexity_parts.empty() ? "0" : std::to_string(*details.complexity));
    ctx.log.text("complexity_parts", details.complexity_parts);
  }
  if (!details.affinity.empty()) ctx.log.text("affinity", details.affinity);
  if (!details.final_model_for.empty()) ctx.log.text("final_model_for", details.final_model_for);
  // A request a filter answered or refused was not routed anywhere.
  const bool went_on = !ctx.local_reply || !ctx.served_model.empty();
  if (went_on) {
    decisions_.with({decision.tier.empty() ? "none" : decision.tier, decision.rule}).Increment();
  }
  if (went_on && details.start && details.bucket) {
    const std::string_view start = startName(*details.start);
    ctx.log.text("learned_start", start);
    learned_starts_.with({details.policy, details.bucket->rule, details.bucket->feature, start})
        .Increment();
  }
  if (!ctx.cascade) return;
  recordVerdicts(*ctx.cascade, details.policy);
  if (ctx.cascade->escalations.empty()) return;
  for (const auto& move : ctx.cascade->escalations) {
    escalations_.with({move.from, move.to, move.reason}).Increment();
  }
  ctx.log.text("escalated", pipeline::describe(ctx.cascade->escalations));
}

void RouterStats::recordVerdicts(const pipeline::Cascade& cascade,
                                 const std::string& policy) const {
  for (const auto& move : cascade.escalations) {
    // A failed call is no verdict of the judge.
    if (move.reason == "error") continue;
    judge_decisions_.with({policy, move.from, "escalate", weightiest(move.reason)}).Increment();
  }
  if (!cascade.served_verdict || !cascade.served_index ||
      *cascade.served_index >= cascade.models.size()) {
    return;
  }
  const std::string& model = cascade.models[*cascade.served_index];
  const pipeline::Judgement& verdict = *cascade.served_verdict;
  judge_decisions_.with({policy, model, "accept", weightiest(verdict.reason)}).Increment();
  judge_margin_.with({policy, model}).Observe(verdict.margin);
}

}  // namespace costgate::filters::router
