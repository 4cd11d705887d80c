// The prompt_pruning filter's settings:
//
//   - prompt_pruning:
//       policies:                   # the first whose `match` applies is used (pipeline/policy.h)
//         - name: chat
//           match: {feature: [chat]}
//           collapse_whitespace: true   # runs of spaces and blank lines, outside ``` blocks
//           drop_duplicates: true       # messages and content parts seen earlier
//           max_input_tokens: 6000      # the budget of the steps below (none: they never run)
//           truncate_longest: true      # over budget: cut the middle of every text over...
//           max_message_tokens: 1500    # ...this (default: budget / 4) but the last user message's
//           marker: "[...]"             # what replaces the cut middle
//           drop_old_turns: true        # still over: oldest turns first, after the system
//           prompt... compact_step: 0.5           # ...in steps of this x the budget (the cut holds
//           meanwhile) keep_last_turns: 4          # ...keeping the last turns
//
// Every step keeps what earlier turns of the conversation sent (pruner.h, docs/tokens.md).

#include "filters/prompt_pruning/prompt_pruning_filter.h"

#include "costgate/jsonview/splice.h"
#include "costgate/openai/prompt_tokens.h"

namespace costgate::filters::prompt_pruning {
namespace {

constexpr std::uint64_t kMaxTokens = 100'000'000;
constexpr std::uint64_t kMaxTurns = 100'000;
// Smaller steps move the cut nearly every turn, which is what the steps are there to avoid.
constexpr double kMinCompactStep = 0.01;

}  // namespace

void readPruneSteps(const config::Section& section, PruneSteps* steps) {
  section.boolean("collapse_whitespace", &steps->collapse_whitespace);
  section.boolean("drop_duplicates", &steps->drop_duplicates);
  section.boolean("drop_old_turns", &steps->drop_old_turns);
  section.integer("keep_last_turns", 1, kMaxTurns, &steps->keep_last_turns);
  section.number("compact_step", kMinCompactStep, 1.0, &steps->compact_step);
  section.boolean("truncate_longest", &steps->truncate_longest);
  if (section.has("max_message_tokens")) {
    section.integer("max_message_tokens", 1, kMaxTokens, &steps->max_message_tokens.emplace());
  }
  section.string("marker", &steps->marker);
}

std::variant<PruningConfig, config::ConfigError> parsePruningConfig(
    const config::FilterSpec& spec) {
  static constexpr auto kPolicyKeys = [] {
    std::array<std::string_view, std::size(kPruneStepKeys) + 3> keys{};
    std::size_t i = 0;
    for (std::string_view key : {"name", "match", "max_input_tokens"}) keys[i++] = key;
    for (std::string_view key : kPruneStepKeys) keys[i++] = key;
    return keys;
  }();
  return pipeline::readPolicies<PruningConfig>(
      spec, kPolicyKeys,
      [](config::SettingsReader&, const config::Section& section, PruningPolicy& policy) {
        readPruneSteps(section, &policy.steps);
        if (section.has("max_input_tokens")) {
          section.integer("max_input_tokens", 1, kMaxTokens, &policy.max_input_tokens.emplace());
        }
      });
}

bool pruneRequest(pipeline::RequestContext& ctx, const PruneSteps& steps,
                  std::optional<std::int64_t> budget, std::string_view filter,
                  const std::string& policy) {
  if (!ctx.encoding || !ctx.request_index || !ctx.request_index->isObject()) return false;
  const jsonview::Value body = *ctx.request_index;
  auto messages = body.find("messages");
  if (!messages || !messages->isArray()) return false;
  openai::PromptTokens overhead = openai::countChatOverhead(body, *ctx.encoding);
  std::optional<std::int64_t> messages_budget;
  if (budget) messages_budget = std::max<std::int64_t>(*budget - overhead.tokens, 0);
  PruneResult result = prune(*messages, steps, messages_budget, *ctx.encoding);
  if (result.messages) {
    std::pair<std::string, std::string> edit{"messages", std::move(*result.messages)};
    if (ctx.replaceBody(jsonview::withMembers(body, std::span(&edit, 1)))) {
      if (std::int64_t saved = result.tokens_before - result.tokens_after; saved > 0) {
        ctx.savings.push_back({filter, policy, saved});
      }
    } else {  // the request goes on as sent, judged by its whole count
      result.tokens_after = result.tokens_before;
      result.within_budget = !messages_budget || result.tokens_before <= *messages_budget;
    }
  }
  ctx.prompt_tokens = pipeline::TokenCount{overhead.tokens + result.tokens_after,
                                           overhead.estimated || result.estimated};
  return result.within_budget;
}

pipeline::FilterStatus PromptPruningFilter::onRequest(pipeline::RequestContext& ctx) const {
  if (ctx.route != pipeline::Route::kChatCompletions) return pipeline::FilterStatus::kContinue;
  if (const PruningPolicy* policy = pipeline::firstMatching(config_.policies, ctx)) {
    pruneRequest(ctx, policy->steps, policy->max_input_tokens, name(), policy->name);
  }
  return pipeline::FilterStatus::kContinue;
}

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makePromptPruningFilter(
    const config::FilterSpec& spec) {
  return pipeline::filterFrom<PromptPruningFilter>(parsePruningConfig(spec));
}

}  // namespace costgate::filters::prompt_pruning
