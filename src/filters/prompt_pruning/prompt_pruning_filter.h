#pragma once
// The prompt-pruning filter: per policy, takes out of a chat request what costs tokens and adds
// nothing (pruner.h: runs of whitespace, duplicates, and over a token budget the middle of long
// older texts, then the oldest turns in large steps), keeping what earlier turns sent so provider
// prompt caches stay warm. Reports the tokens saved.

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "costgate/config/config.h"
#include "costgate/config/load.h"
#include "costgate/config/yaml_reader.h"
#include "costgate/pipeline/filter.h"
#include "costgate/pipeline/policy.h"
#include "filters/prompt_pruning/pruner.h"

namespace costgate::filters::prompt_pruning {

struct PruningPolicy {
  std::string name;
  pipeline::PolicyMatch match;
  PruneSteps steps;
  // The most input tokens (messages, tools and reply priming) a request may keep; none: only the
  // steps that need no budget run.
  std::optional<std::int64_t> max_input_tokens;
};

struct PruningConfig {
  std::vector<PruningPolicy> policies;
};

// The steps of a `prune` block or a policy: collapse_whitespace, drop_duplicates,
// drop_old_turns, keep_last_turns, compact_step, truncate_longest, max_message_tokens, marker.
// Shared with token_cap.
void readPruneSteps(const config::Section& section, PruneSteps* steps);
// The keys readPruneSteps reads.
inline constexpr std::string_view kPruneStepKeys[] = {
    "collapse_whitespace", "drop_duplicates",  "drop_old_turns",     "keep_last_turns",
    "compact_step",        "truncate_longest", "max_message_tokens", "marker"};

std::variant<PruningConfig, config::ConfigError> parsePruningConfig(const config::FilterSpec& spec);

// Prunes ctx's messages (chat requests with a tokenizer only) to `budget` input tokens, or
// without a budget, and records what it saved as (filter, policy). Returns whether the input is
// within the budget afterwards; ctx.prompt_tokens is left counted.
bool pruneRequest(pipeline::RequestContext& ctx, const PruneSteps& steps,
                  std::optional<std::int64_t> budget, std::string_view filter,
                  const std::string& policy);

class PromptPruningFilter : public pipeline::Filter {
 public:
  explicit PromptPruningFilter(PruningConfig config) : config_(std::move(config)) {}
  std::string_view name() const override { return "prompt_pruning"; }
  // Never replies: a request still over its budget goes on (token_cap is what rejects).
  pipeline::FilterStatus onRequest(pipeline::RequestContext& ctx) const override;

 private:
  PruningConfig config_;
};

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makePromptPruningFilter(
    const config::FilterSpec& spec);

}  // namespace costgate::filters::prompt_pruning
