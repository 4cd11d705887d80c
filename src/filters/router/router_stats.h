#pragma once
// What the router tells about each request: its metrics (declared here, counted by no one else)
// and its access-log fields.

#include <optional>
#include <string>

#include "costgate/metrics/metrics.h"
#include "costgate/pipeline/request_context.h"
#include "filters/router/escalation_rates.h"

namespace costgate::filters::router {

// The tier a request was sent to and the rule that chose it ("complexity" when the score did,
// "approval" for a disallowed model rewritten); either may be empty.
struct RouteDecision {
  std::string tier;
  std::string rule;
};

// What else the router decided for a request, and learns from once it is served.
struct RouteDetails {
  std::string policy;
  std::optional<double> complexity;   // the score, when it was scored
  std::string complexity_parts;       // ComplexityParts::describe() of it
  std::optional<BucketKey> bucket;    // a tier of several models, with learning on
  std::optional<LearnedStart> start;  // where learning started it
  std::string affinity;               // "kept" or "moved" when a warm model was weighed
  std::string_view final_model_for;   // an earlier filter's wish (ctx.wants_final_model), obeyed
  std::optional<std::uint64_t> conversation;  // remembered for affinity once served
  std::uint64_t prompt_tokens = 0;  // as counted here: the prompt size remembered when the
                                    // gateway reports no usage
};

class RouterStats {
 public:
  explicit RouterStats(metrics::Metrics& metrics);

  // Counts the decision (costgate_route_decisions_total) for a request that went on to a backend,
  // each move of its cascade (costgate_escalations_total), the judge's verdicts
  // (costgate_judge_decisions_total, costgate_judge_margin) and the learned start
  // (costgate_router_learned_starts_total); writes the log fields "route_decision" (tier:rule),
  // "escalated", "complexity", "complexity_parts", "learned_start" and "affinity".
  void record(pipeline::RequestContext& ctx, const RouteDecision& decision,
              const RouteDetails& details = {}) const;
  // Shows a bucket's escalation rate (costgate_router_escalation_rate).
  void showRate(const BucketKey& key, double rate) const;
  // The metric label of the request's feature (bounded, as every tag label).
  std::string featureLabel(const pipeline::RequestContext& ctx) const;

 private:
  void recordVerdicts(const pipeline::Cascade& cascade, const std::string& policy) const;

  metrics::Metrics& metrics_;
  metrics::CounterFamily& decisions_;
  metrics::CounterFamily& escalations_;
  metrics::CounterFamily& judge_decisions_;
  metrics::HistogramFamily& judge_margin_;
  metrics::GaugeFamily& escalation_rate_;
  metrics::CounterFamily& learned_starts_;
};

}  // namespace costgate::filters::router
