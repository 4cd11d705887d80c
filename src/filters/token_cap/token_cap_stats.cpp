#include "filters/token_cap/token_cap_stats.h"

namespace costgate::filters::token_cap {

std::string_view toString(InputResult result) {
  switch (result) {
    case InputResult::kWithin:
      return "within";
    case InputResult::kPruned:
      return "pruned";
    case InputResult::kOver:
      return "over";
    case InputResult::kRejected:
      return "rejected";
  }
  return "within";
}

TokenCapStats::TokenCapStats(metrics::Metrics& metrics)
    : metrics_(metrics),
      inputs_(metrics.counter("costgate_token_cap_inputs_total",
                              "Requests judged by a token_cap input cap, by what became of their "
                              "input: within, pruned (to fit), over (sent on over the cap), "
                              "rejected",
                              {"feature", "result"})) {}

void TokenCapStats::record(pipeline::RequestContext& ctx, const InputJudgement& judgement) const {
  const auto [feature, team, env] = metrics_.tagLabels({.feature = ctx.tag_labels.feature,
                                                        .team = ctx.tag_labels.team,
                                                        .env = ctx.tag_labels.env,
                                                        .model = ctx.model});
  const std::string_view result = toString(judgement.result);
  inputs_.with({feature, result}).Increment();
  ctx.log.text("input_cap", result);
  // Over the cap and sent on: the count says by how much, to tune the cap or the budget.
  if (judgement.result == InputResult::kOver) ctx.log.number("input_cap_tokens", judgement.tokens);
}

}  // namespace costgate::filters::token_cap
