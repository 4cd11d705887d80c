// The router filter's settings:
//
//   - router:
//       policies:                      # the first whose `match` applies is used
//         - name: support
//           match: {feature: [support]}
//           allowed_models: [gpt-4o-mini, gpt-4o]  # the approval gate (absent: any model)
//           on_disallowed: reject       # 403 model_not_allowed, or rewrite to default_model
//           default_model: gpt-4o-mini
//           tiers:                      # ordered lists of models, cheapest first
//             - {name: cheap, models: [gpt-4o-mini]}
//             - {name: cascade, models: [gpt-4o-mini, gpt-4o]}
//             - {name: strong, models: [gpt-4o]}
//           rules:                      # the first that matches picks the tier
//             - {name: tools, when: {has_tools: true}, tier: strong}
//             - {name: long, when: {min_prompt_tokens: 6000}, tier: strong}
//             - {name: proofs, when: {keywords: [prove, derive]}, tier: cascade}
//             - {name: vip, when: {team: [sales], model: [gpt-4o*]}, tier: strong}
//           # when: feature, team, env, model (lists, trailing * patterns), min_prompt_tokens,
//           # max_prompt_tokens, has_tools, has_images, has_code, json_response, keywords
//           complexity:                 # otherwise, by the complexity score (0 to 1)
//             - {below: 0.25, tier: cheap}
//             - {below: 0.6, tier: cascade}
//             - {tier: strong}
//           cascade:                    # how a cheap answer is judged (answer_judge.h)
//             threshold: 0.6
//             streams: pre_route        # or buffer
//             signals: {finish_reason: 1.0, empty: 1.0, invalid_json: 1.0, refusal: 0.6,
//                       uncertainty: 0.3, mean_logprob: 0.5, min_logprob: 0.2}
//             mean_logprob_below: -0.7
//             min_logprob_below: -6.0
//             refusal_phrases: [...]    # lower-case; replace the built-in lists
//             uncertainty_phrases: [...]

#include "filters/router/router_filter.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "costgate/config/yaml_reader.h"
#include "costgate/openai/error.h"
#include "costgate/pipeline/filter_settings.h"
#include "costgate/text/ascii_case.h"
#include "filters/router/request_features.h"

namespace costgate::filters::router {
namespace {

constexpr std::string_view kPolicyKeys[] = {"name",          "match",         "allowed_models",
                                            "on_disallowed", "default_model", "tiers",
                                            "rules",         "complexity",    "cascade"};
constexpr std::string_view kTierKeys[] = {"name", "models"};
constexpr std::string_view kRuleKeys[] = {"name", "when", "tier"};
constexpr std::string_view kConditionKeys[] = {
    "feature",           "team",      "env",        "model",    "min_prompt_tokens",
    "max_prompt_tokens", "has_tools", "has_images", "has_code", "json_response",
    "keywords"};
constexpr std::string_view kStepKeys[] = {"below", "tier"};
constexpr std::string_view kCascadeKeys[] = {
    "threshold",          "streams",           "signals",
    "mean_logprob_below", "min_logprob_below", "refusal_phrases",
    "uncertainty_phrases"};
constexpr std::string_view kSignalKeys[] = {"finish_reason", "empty",       "invalid_json",
                                            "refusal",       "uncertainty", "mean_logprob",
                                            "min_logprob"};
constexpr std::string_view kOnDisallowed[] = {"reject", "rewrite"};
constexpr std::string_view kStreams[] = {"pre_route", "buffer"};
constexpr std::uint64_t kMaxTokens = 100'000'000;

bool optionalFlag(const config::Section& section, std::string_view key, std::optional<bool>* out) {
  if (!section.has(key)) return false;
  bool value = false;
  section.boolean(key, &value);
  *out = value;
  return true;
}

bool ruleMatches(const RuleCondition& when, const pipeline::RequestContext& ctx,
                 const RequestFeatures& features) {
  if (!when.tags_and_model.matches(ctx)) return false;
  if (when.min_prompt_tokens && features.prompt_tokens < *when.min_prompt_tokens) return false;
  if (when.max_prompt_tokens && features.prompt_tokens > *when.max_prompt_tokens) return false;
  if (when.has_tools && *when.has_tools != features.has_tools) return false;
  if (when.has_images && *when.has_images != features.has_images) return false;
  if (when.has_code && *when.has_code != features.has_code) return false;
  if (when.json_response && *when.json_response != features.json_response) return false;
  if (!when.keywords.empty() &&
      std::none_of(when.keywords.begin(), when.keywords.end(), [&](const std::string& keyword) {
        return features.user_text.find(keyword) != std::string::npos;
      })) {
    return false;
  }
  return true;
}

pipeline::LocalReply disallowed(const pipeline::RequestContext& ctx, const RouterPolicy& policy) {
  auto error = openai::permissionDenied("The model '" + ctx.model +
                                            "' is not approved for this feature (policy '" +
                                            policy.name + "')",
                                        "model", "model_not_allowed");
  return {error.status, "application/json", error.body(), {}};
}

}  // namespace

std::variant<RouterConfig, config::ConfigError> parseRouterConfig(const config::FilterSpec& spec) {
  return pipeline::readPolicies<RouterConfig>(
      spec, kPolicyKeys,
      [&spec](config::SettingsReader& reader, const config::Section& section,
              RouterPolicy& policy) {
        section.strings("allowed_models", &policy.allowed_models);
        std::string on_disallowed = "reject";
        section.choice("on_disallowed", kOnDisallowed, &on_disallowed);
        policy.on_disallowed =
            on_disallowed == "rewrite" ? OnDisallowed::kRewrite : OnDisallowed::kReject;
        pipeline::readModelName(spec, section, "default_model", &policy.default_model);
        if (policy.on_disallowed == OnDisallowed::kRewrite && policy.default_model.empty() &&
            !reader.failed()) {
          reader.fail(section.find("on_disallowed")->error("rewrite needs a default_model"));
        }

        for (const config::Section& tier : section.sectionList("tiers", kTierKeys)) {
          tier.require("name");
          tier.require("models");
          Tier read;
          tier.nonEmptyString("name", &read.name);
          tier.strings("models", &read.models);
          const config::Field* models = tier.find("models");
          if (models && read.models.empty() && !reader.failed()) {
            reader.fail(models->error("a tier needs at least one model"));
          }
          for (const auto& model : read.models) {
            if (reader.failed()) break;
            if (auto error = pipeline::unknownModel(spec, *models, model)) reader.fail(*error);
          }
          policy.tiers.push_back(std::move(read));
        }
        auto checkTier = [&](const config::Field& field,
                             const std::string& name) -> std::optional<config::ConfigError> {
          if (std::none_of(policy.tiers.begin(), policy.tiers.end(),
                           [&](const Tier& tier) { return tier.name == name; })) {
            return field.error("no tier named '" + name + "' in this policy's tiers");
          }
          return std::nullopt;
        };

        for (const config::Section& rule : section.sectionList("rules", kRuleKeys)) {
          rule.require("name");
          rule.require("tier");
          Rule read;
          rule.nonEmptyString("name", &read.name);
          rule.parsed("tier", [&](const config::Field& field, const std::string& tier) {
            read.tier = tier;
            return checkTier(field, tier);
          });
          const config::Section when = rule.section("when", kConditionKeys);
          when.strings("feature", &read.when.tags_and_model.features);
          when.strings("team", &read.when.tags_and_model.teams);
          when.strings("env", &read.when.tags_and_model.envs);
          when.strings("model", &read.when.tags_and_model.models);
          std::int64_t tokens = 0;
          if (when.has("min_prompt_tokens")) {
            when.integer("min_prompt_tokens", 0, kMaxTokens, &tokens);
            read.when.min_prompt_tokens = tokens;
          }
          if (when.has("max_prompt_tokens")) {
            when.integer("max_prompt_tokens", 0, kMaxTokens, &tokens);
            read.when.max_prompt_tokens = tokens;
          }
          optionalFlag(when, "has_tools", &read.when.has_tools);
          optionalFlag(when, "has_images", &read.when.has_images);
          optionalFlag(when, "has_code", &read.when.has_code);
          optionalFlag(when, "json_response", &read.when.json_response);
          when.strings("keywords", &read.when.keywords);
          for (auto& keyword : read.when.keywords) keyword = text::lowerAscii(keyword);
          policy.rules.push_back(std::move(read));
        }

        const std::vector<config::Section> steps = section.sectionList("complexity", kStepKeys);
        for (std::size_t i = 0; i < steps.size(); ++i) {
          const config::Section& step = steps[i];
          step.require("tier");
          ComplexityStep read;
          step.parsed("tier", [&](const config::Field& field, const std::string& tier) {
            read.tier = tier;
            return checkTier(field, tier);
          });
          const bool last = i + 1 == steps.size();
          if (step.has("below")) {
            double below = 0;
            step.number("below", 0, 1, &below);
            read.below = below;
            if (!reader.failed() && !policy.complexity.empty() &&
                below <= *policy.complexity.back().below) {
              reader.fail(
                  step.find("below")->error("each step's below must be higher than the last"));
            }
          } else if (!last && !reader.failed()) {
            reader.fail(step.find("tier")->error("only the last step may leave out below"));
          }
          if (last && read.below && !reader.failed()) {
            reader.fail(step.find("below")->error(
                "the last step takes every request left: leave out its below"));
          }
          policy.complexity.push_back(std::move(read));
        }

        const config::Section cascade = section.section("cascade", kCascadeKeys);
        JudgeConfig& judge = policy.judge;
        cascade.number("threshold", 0, 1, &judge.threshold);
        std::string streams = "pre_route";
        cascade.choice("streams", kStreams, &streams);
        policy.streams = streams == "buffer" ? StreamCascade::kBuffer : StreamCascade::kPreRoute;
        const config::Section signals = cascade.section("signals", kSignalKeys);
        signals.number("finish_reason", 0, 1, &judge.finish_reason);
        signals.number("empty", 0, 1, &judge.empty);
        signals.number("invalid_json", 0, 1, &judge.invalid_json);
        signals.number("refusal", 0, 1, &judge.refusal);
        signals.number("uncertainty", 0, 1, &judge.uncertainty);
        signals.number("mean_logprob", 0, 1, &judge.mean_logprob);
        signals.number("min_logprob", 0, 1, &judge.min_logprob);
        cascade.number("mean_logprob_below", -100, 0, &judge.mean_logprob_below);
        cascade.number("min_logprob_below", -100, 0, &judge.min_logprob_below);
        cascade.strings("refusal_phrases", &judge.refusal_phrases);
        cascade.strings("uncertainty_phrases", &judge.uncertainty_phrases);
        for (auto* phrases : {&judge.refusal_phrases, &judge.uncertainty_phrases}) {
          for (auto& phrase : *phrases) phrase = text::lowerAscii(phrase);
        }
      });
}

pipeline::FilterStatus RouterFilter::onRequest(pipeline::RequestContext& ctx) const {
  if (ctx.route != pipeline::Route::kChatCompletions || !ctx.request_index) {
    return pipeline::FilterStatus::kContinue;
  }
  const RouterPolicy* policy = pipeline::firstMatching(config_.policies, ctx);
  if (!policy) return pipeline::FilterStatus::kContinue;

  RouteDecision decision;
  std::string model = ctx.model;
  if (!policy->allowed_models.empty() &&
      std::none_of(policy->allowed_models.begin(), policy->allowed_models.end(),
                   [&](const std::string& p) { return pipeline::matchesPattern(p, ctx.model); })) {
    if (policy->on_disallowed == OnDisallowed::kReject) {
      ctx.local_reply = disallowed(ctx, *policy);
      return pipeline::FilterStatus::kRespond;
    }
    model = policy->default_model;
    decision.rule = "approval";
  }

  const Tier* tier = nullptr;
  if (!policy->rules.empty() || !policy->complexity.empty()) {
    const RequestFeatures features = featuresOf(ctx);
    auto tierNamed = [&](const std::string& name) -> const Tier* {
      for (const Tier& candidate : policy->tiers) {
        if (candidate.name == name) return &candidate;
      }
      return nullptr;
    };
    for (const Rule& rule : policy->rules) {
      if (!ruleMatches(rule.when, ctx, features)) continue;
      tier = tierNamed(rule.tier);
      decision.rule = rule.name;
      break;
    }
    if (!tier && !policy->complexity.empty()) {
      const double complexity = complexityOf(features);
      for (const ComplexityStep& step : policy->complexity) {
        if (step.below && complexity >= *step.below) continue;
        tier = tierNamed(step.tier);
        decision.rule = "complexity";
        break;
      }
    }
  }
  if (tier) {
    decision.tier = tier->name;
    model = tier->models.front();
    const bool cascades =
        tier->models.size() > 1 && (!ctx.stream || policy->streams == StreamCascade::kBuffer);
    if (cascades) {
      const JudgeConfig* judge = &policy->judge;
      ctx.cascade = pipeline::Cascade{
          .models = tier->models,
          .judge = [judge, expected = expectedOf(*ctx.request_index)](
                       std::string_view answer) { return judgeAnswer(answer, expected, *judge); },
          .ask_logprobs = judge->mean_logprob > 0 || judge->min_logprob > 0,
          .tier = tier->name,
          .stream_hold_tokens = 0,
          .judge_partial = {},
          .escalations = {},
          .served_index = std::nullopt,
          .served_verdict = std::nullopt};
    }
  }
  if (model != ctx.model) ctx.setMember("model", nlohmann::json(model).dump());
  if (!decision.tier.empty() || !decision.rule.empty()) {
    ctx.state<RouteDecision>(this) = std::move(decision);
  }
  return pipeline::FilterStatus::kContinue;
}

void RouterFilter::onComplete(pipeline::RequestContext& ctx) const {
  if (const auto* decision = ctx.findState<RouteDecision>(this)) stats_.record(ctx, *decision);
}

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeRouterFilter(
    const config::FilterSpec& spec, pipeline::FilterEnvironment& environment) {
  return pipeline::filterFrom<RouterFilter>(parseRouterConfig(spec), environment.metrics);
}

}  // namespace costgate::filters::router
