#pragma once
// The token-capping filter: per policy, bounds what a request may cost in tokens. Output: clamps
// max_tokens / max_completion_tokens to a cap, and sets the cap when the client sent none; caps
// `n`. Input: a maximum in tokens (counted exactly with the model's encoding), over which a chat
// request is pruned toward it (prompt_pruning/pruner.h) and sent on, or refused with 400.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "costgate/config/config.h"
#include "costgate/config/load.h"
#include "costgate/pipeline/filter.h"
#include "costgate/pipeline/policy.h"
#include "filters/prompt_pruning/pruner.h"
#include "filters/token_cap/token_cap_stats.h"

namespace costgate::filters::token_cap {

// Which field carries the output cap when the client sent neither.
enum class OutputField {
  kAuto,  // max_completion_tokens for reasoning models (o-series, gpt-5), which refuse
          // max_tokens; max_tokens for the rest, which every OpenAI-compatible server knows
  kMaxTokens,
  kMaxCompletionTokens,
};

// What a request over max_input_tokens gets. Only chat requests can be pruned: the others are
// refused whatever the setting.
enum class OverInput {
  kPrune,   // pruned toward the cap and sent on, even if still over (counted and logged)
  kReject,  // 400 input_tokens_exceeded
};

struct TokenCapPolicy {
  std::string name;
  pipeline::PolicyMatch match;
  std::optional<std::int64_t> max_output_tokens;
  bool set_when_absent = true;
  OutputField output_field = OutputField::kAuto;
  std::optional<std::int64_t> max_n;
  std::optional<std::int64_t> max_input_tokens;
  OverInput over_input = OverInput::kPrune;
  prompt_pruning::PruneSteps prune;  // with over_input: prune
};

struct TokenCapConfig {
  std::vector<TokenCapPolicy> policies;
};

std::variant<TokenCapConfig, config::ConfigError> parseTokenCapConfig(
    const config::FilterSpec& spec);

class TokenCapFilter : public pipeline::Filter {
 public:
  TokenCapFilter(TokenCapConfig config, metrics::Metrics& metrics)
      : config_(std::move(config)), stats_(metrics) {}
  std::string_view name() const override { return "token_cap"; }
  // Edits the body through ctx.setMember/replaceBody; replies 400 when the input is over the
  // policy's maximum and the policy (or the route, not chat) says reject.
  pipeline::FilterStatus onRequest(pipeline::RequestContext& ctx) const override;
  // Counts what became of the input of a request judged by an input cap (token_cap_stats.h).
  void onComplete(pipeline::RequestContext& ctx) const override;

 private:
  TokenCapConfig config_;
  TokenCapStats stats_;
};

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeTokenCapFilter(
    const config::FilterSpec& spec, pipeline::FilterEnvironment& environment);

}  // namespace costgate::filters::token_cap
