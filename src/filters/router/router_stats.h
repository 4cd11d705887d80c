#pragma once
// What the router tells about each request: its metrics (declared here, counted by no one else)
// and its access-log fields.

#include <string>

#include "costgate/metrics/metrics.h"
#include "costgate/pipeline/request_context.h"

namespace costgate::filters::router {

// The tier a request was sent to and the rule that chose it ("complexity" when the score did,
// "approval" for a disallowed model rewritten); either may be empty.
struct RouteDecision {
  std::string tier;
  std::string rule;
};

class RouterStats {
 public:
  explicit RouterStats(metrics::Metrics& metrics);

  // Counts the decision (costgate_route_decisions_total) for a request that went on to a backend,
  // and each move of its cascade (costgate_escalations_total); writes the log fields
  // "route_decision" (tier:rule) and "escalated".
  void record(pipeline::RequestContext& ctx, const RouteDecision& decision) const;

 private:
  metrics::CounterFamily& decisions_;
  metrics::CounterFamily& escalations_;
};

}  // namespace costgate::filters::router
