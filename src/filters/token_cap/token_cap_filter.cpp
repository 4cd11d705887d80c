// The token_cap filter's settings:
//
//   - token_cap:
//       policies:                     # the first whose `match` applies is used (pipeline/policy.h)
//         - name: default
//           match: {feature: [search]}
//           max_output_tokens: 1024   # clamp max_tokens / max_completion_tokens
//           set_when_absent: true     # and send the cap when the client sent none
//           output_field: auto        # the field then set: auto, max_tokens, max_completion_tokens
//           max_n: 1                  # clamp n
//           max_input_tokens: 8000    # messages + tools, exactly counted
//           over_input: prune         # the default: chat input is pruned toward the cap and sent
//                                     # on even if still over (counted, logged); reject: 400.
//                                     # Other routes are refused over the cap either way
//           prune: {keep_last_turns: 4}   # prompt_pruning's steps, for over_input: prune
//
// Output caps apply to requests that asked for more than the cap or for nothing; set them per
// feature (a whole-file rewrite needs more than a chat answer), and watch finish_reason "length".
// costgate_token_cap_inputs_total{feature,result} counts what the input caps did.

#include "filters/token_cap/token_cap_filter.h"

#include <array>

#include "costgate/openai/error.h"
#include "costgate/openai/prompt_tokens.h"
#include "costgate/openai/usage.h"
#include "filters/prompt_pruning/prompt_pruning_filter.h"

namespace costgate::filters::token_cap {
namespace {

constexpr std::string_view kPolicyKeys[] = {
    "name",         "match", "max_output_tokens", "set_when_absent",
    "output_field", "max_n", "max_input_tokens",  "over_input",
    "prune"};
constexpr std::string_view kOutputFields[] = {"auto", "max_tokens", "max_completion_tokens"};
constexpr std::string_view kOverInput[] = {"reject", "prune"};
constexpr std::uint64_t kMaxTokens = 100'000'000;
constexpr std::uint64_t kMaxN = 128;

bool isReasoningModel(std::string_view model) {
  for (std::string_view prefix : {"o1", "o3", "o4", "gpt-5"}) {
    if (model.starts_with(prefix)) return true;
  }
  return false;
}

// Clamps the integer member `key` to `cap`; returns whether the member is there (as a number).
bool clampMember(pipeline::RequestContext& ctx, const jsonview::Value& body, std::string_view key,
                 std::int64_t cap) {
  auto value = body.find(key);
  if (!value || value->isNull()) return false;
  if (auto number = value->integer(); number && *number > cap) {
    ctx.setMember(std::string(key), std::to_string(cap));
  }
  return true;
}

void capOutput(pipeline::RequestContext& ctx, const TokenCapPolicy& policy,
               const jsonview::Value& body) {
  if (policy.max_output_tokens) {
    std::int64_t cap = *policy.max_output_tokens;
    bool present = clampMember(ctx, body, "max_tokens", cap);
    if (ctx.route == pipeline::Route::kChatCompletions) {
      present = clampMember(ctx, body, "max_completion_tokens", cap) || present;
    }
    if (!present && policy.set_when_absent) {
      bool completion_field =
          ctx.route == pipeline::Route::kChatCompletions &&
          (policy.output_field == OutputField::kMaxCompletionTokens ||
           (policy.output_field == OutputField::kAuto &&
            isReasoningModel(ctx.backend_model.empty() ? ctx.model : ctx.backend_model)));
      ctx.setMember(completion_field ? "max_completion_tokens" : "max_tokens", std::to_string(cap));
    }
  }
  if (policy.max_n) clampMember(ctx, body, "n", *policy.max_n);
}

pipeline::TokenCount countInput(const pipeline::RequestContext& ctx, const jsonview::Value& body) {
  if (ctx.encoding) return openai::countPrompt(ctx.route, body, *ctx.encoding);
  // No encoding for this model: about four characters a token.
  return {static_cast<std::int64_t>(openai::estimateTokens(openai::promptCharacters(body))), true};
}

pipeline::LocalReply tooLong(const TokenCapPolicy& policy, pipeline::Route route,
                             const pipeline::TokenCount& count) {
  std::string message = "This request's input is " + std::string(count.estimated ? "about " : "") +
                        std::to_string(count.tokens) + " tokens" + ", more than the " +
                        std::to_string(*policy.max_input_tokens) +
                        " this gateway allows (token_cap policy '" + policy.name +
                        "'). Shorten the input.";
  std::string param = route == pipeline::Route::kChatCompletions ? "messages"
                      : route == pipeline::Route::kCompletions   ? "prompt"
                                                                 : "input";
  openai::ApiError error{400, "invalid_request_error", std::move(message), std::move(param),
                         "input_tokens_exceeded"};
  return pipeline::LocalReply{400, "application/json", error.body(), {}};
}

}  // namespace

std::variant<TokenCapConfig, config::ConfigError> parseTokenCapConfig(
    const config::FilterSpec& spec) {
  return pipeline::readPolicies<TokenCapConfig>(
      spec, kPolicyKeys,
      [](config::SettingsReader& reader, const config::Section& section, TokenCapPolicy& policy) {
        if (section.has("max_output_tokens")) {
          section.integer("max_output_tokens", 1, kMaxTokens, &policy.max_output_tokens.emplace());
        }
        section.boolean("set_when_absent", &policy.set_when_absent);
        std::string field = "auto";
        section.choice("output_field", kOutputFields, &field);
        policy.output_field = field == "max_tokens"              ? OutputField::kMaxTokens
                              : field == "max_completion_tokens" ? OutputField::kMaxCompletionTokens
                                                                 : OutputField::kAuto;
        if (section.has("max_n")) section.integer("max_n", 1, kMaxN, &policy.max_n.emplace());
        if (section.has("max_input_tokens")) {
          section.integer("max_input_tokens", 1, kMaxTokens, &policy.max_input_tokens.emplace());
        }
        std::string over = "prune";
        section.choice("over_input", kOverInput, &over);
        policy.over_input = over == "prune" ? OverInput::kPrune : OverInput::kReject;
        prompt_pruning::readPruneSteps(section.section("prune", prompt_pruning::kPruneStepKeys),
                                       &policy.prune);
        if (section.has("prune") && policy.over_input != OverInput::kPrune && !reader.failed()) {
          // A prune block with over_input: reject would look like it does something.
          reader.fail(section.find("prune")->error("is used only with over_input: prune"));
        }
      });
}

pipeline::FilterStatus TokenCapFilter::onRequest(pipeline::RequestContext& ctx) const {
  const TokenCapPolicy* policy = pipeline::firstMatching(config_.policies, ctx);
  if (!policy || !ctx.request_index || !ctx.request_index->isObject()) {
    return pipeline::FilterStatus::kContinue;
  }
  if (ctx.route != pipeline::Route::kEmbeddings) capOutput(ctx, *policy, *ctx.request_index);
  if (!policy->max_input_tokens) return pipeline::FilterStatus::kContinue;

  if (!ctx.prompt_tokens) ctx.prompt_tokens = countInput(ctx, *ctx.request_index);
  InputJudgement& judgement = ctx.state<InputJudgement>(this);
  judgement.tokens = ctx.prompt_tokens->tokens;
  if (ctx.prompt_tokens->tokens <= *policy->max_input_tokens) {
    return pipeline::FilterStatus::kContinue;
  }
  // A chat request is never refused under prune: it is sent on however far over it stays, since
  // refusing a conversation that grew past a cap breaks it for good.
  if (policy->over_input == OverInput::kPrune && ctx.route == pipeline::Route::kChatCompletions) {
    const bool fits =
        ctx.encoding && prompt_pruning::pruneRequest(ctx, policy->prune, *policy->max_input_tokens,
                                                     name(), policy->name);
    judgement.result = fits ? InputResult::kPruned : InputResult::kOver;
    judgement.tokens = ctx.prompt_tokens->tokens;
    return pipeline::FilterStatus::kContinue;
  }
  judgement.result = InputResult::kRejected;
  ctx.local_reply = tooLong(*policy, ctx.route, *ctx.prompt_tokens);
  return pipeline::FilterStatus::kRespond;
}

void TokenCapFilter::onComplete(pipeline::RequestContext& ctx) const {
  if (const auto* judgement = ctx.findState<InputJudgement>(this)) stats_.record(ctx, *judgement);
}

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeTokenCapFilter(
    const config::FilterSpec& spec, pipeline::FilterEnvironment& environment) {
  return pipeline::filterFrom<TokenCapFilter>(parseTokenCapConfig(spec), environment.metrics);
}

}  // namespace costgate::filters::token_cap
