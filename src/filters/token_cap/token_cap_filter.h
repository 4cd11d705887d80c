#pragma once
// The token-capping filter: per policy, bounds what a request may cost in tokens. Output: clamps
// max_tokens / max_completion_tokens to a cap, and sets the cap when the client sent none; caps
// `n`. Input: a maximum in tokens (counted exactly with the model's encoding), over which the
// request is refused with 400 or pruned to fit (prompt_pruning/pruner.h).

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

namespace costgate::filters::token_cap {

// Which field carries the output cap when the client sent neither.
enum class OutputField {
  kAuto,  // max_completion_tokens for reasoning models (o-series, gpt-5), which refuse
          // max_tokens; max_tokens for the rest, which every OpenAI-compatible server knows
  kMaxTokens,
  kMaxCompletionTokens,
};

enum class OverInput { kReject, kPrune };

struct TokenCapPolicy {
  std::string name;
  pipeline::PolicyMatch match;
  std::optional<std::int64_t> max_output_tokens;
  bool set_when_absent = true;
  OutputField output_field = OutputField::kAuto;
  std::optional<std::int64_t> max_n;
  std::optional<std::int64_t> max_input_tokens;
  OverInput over_input = OverInput::kReject;
  prompt_pruning::PruneSteps prune;  // with over_input: prune
};

struct TokenCapConfig {
  std::vector<TokenCapPolicy> policies;
};

std::variant<TokenCapConfig, config::ConfigError> parseTokenCapConfig(
    const config::FilterSpec& spec);

class TokenCapFilter : public pipeline::Filter {
 public:
  explicit TokenCapFilter(TokenCapConfig config) : config_(std::move(config)) {}
  std::string_view name() const override { return "token_cap"; }
  // Edits the body through ctx.setMember/replaceBody; replies 400 when the input is over the
  // policy's maximum (and pruning, if asked for, could not bring it under).
  pipeline::FilterStatus onRequest(pipeline::RequestContext& ctx) const override;

 private:
  TokenCapConfig config_;
};

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeTokenCapFilter(
    const config::FilterSpec& spec);

}  // namespace costgate::filters::token_cap
