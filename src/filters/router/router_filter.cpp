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
//             streams: hold             # or pre_route, buffer
//             stream_hold_tokens: 24    # hold: content tokens judged before any is sent
//             signals: {finish_reason: 1.0, length_at_limit: 1.0, empty: 1.0, invalid_json: 1.0,
//                       refusal: 0.6, uncertainty: 0.5, mean_logprob: 0.5, min_logprob: 0.2}
//             mean_logprob_below: -0.7
//             min_logprob_below: -6.0
//             refusal_phrases: [...]    # lower-case; extend the built-in lists...
//             uncertainty_phrases: [...]
//             replace_builtin_phrases: false  # ...or, true, replace them
//           learning: {enabled: true, strong_above: 0.5, min_samples: 20, explore: 0.1,
//                      half_life: 200}  # escalation_rates.h
//           affinity: {enabled: true, ttl_seconds: 300}  # cache_affinity.h
//           prompt_cache_key: off       # or feature, conversation: set when the client sent none

#include "filters/router/router_filter.h"

#include <algorithm>
#include <chrono>
#include <cstddef>

#include <nlohmann/json.hpp>

#include "costgate/config/yaml_reader.h"
#include "costgate/openai/error.h"
#include "costgate/pipeline/filter_settings.h"
#include "costgate/text/ascii_case.h"
#include "filters/router/request_features.h"

namespace costgate::filters::router {
namespace {

constexpr std::string_view kPolicyKeys[] = {
    "name",  "match",      "allowed_models", "on_disallowed", "default_model", "tiers",
    "rules", "complexity", "cascade",        "learning",      "affinity",      "prompt_cache_key"};
constexpr std::string_view kTierKeys[] = {"name", "models"};
constexpr std::string_view kRuleKeys[] = {"name", "when", "tier"};
constexpr std::string_view kConditionKeys[] = {
    "feature",           "team",      "env",        "model",    "min_prompt_tokens",
    "max_prompt_tokens", "has_tools", "has_images", "has_code", "json_response",
    "keywords"};
constexpr std::string_view kStepKeys[] = {"below", "tier"};
constexpr std::string_view kCascadeKeys[] = {"threshold",
                                             "streams",
                                             "stream_hold_tokens",
                                             "signals",
                                             "mean_logprob_below",
                                             "min_logprob_below",
                                             "refusal_phrases",
                                             "uncertainty_phrases",
                                             "replace_builtin_phrases"};
constexpr std::string_view kLearningKeys[] = {"enabled", "strong_above", "min_samples", "explore",
                                              "half_life"};
constexpr std::string_view kAffinityKeys[] = {"enabled", "ttl_seconds"};
constexpr std::string_view kPromptCacheKeys[] = {"off", "feature", "conversation"};
constexpr std::string_view kSignalKeys[] = {"finish_reason", "length_at_limit", "empty",
                                            "invalid_json",  "refusal",         "uncertainty",
                                            "mean_logprob",  "min_logprob"};
constexpr std::string_view kOnDisallowed[] = {"reject", "rewrite"};
constexpr std::string_view kStreams[] = {"hold", "pre_route", "buffer"};
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

StreamCascade streamsNamed(const std::string& name) {
  if (name == "pre_route") return StreamCascade::kPreRoute;
  if (name == "buffer") return StreamCascade::kBuffer;
  return StreamCascade::kHold;
}

PromptCacheKey promptCacheKeyNamed(const std::string& name) {
  if (name == "feature") return PromptCacheKey::kFeature;
  if (name == "conversation") return PromptCacheKey::kConversation;
  return PromptCacheKey::kOff;
}

// The configured phrases (lower-cased) added to the built-in ones in `phrases`, or, with
// `replace`, in their place (a list not configured keeps the built-ins).
void readPhrases(const config::Section& cascade, std::string_view key, bool replace,
                 std::vector<std::string>* phrases) {
  if (!cascade.has(key)) return;
  std::vector<std::string> configured;
  cascade.strings(key, &configured);
  for (auto& phrase : configured) phrase = text::lowerAscii(phrase);
  if (replace) phrases->clear();
  phrases->insert(phrases->end(), configured.begin(), configured.end());
}

void readCascade(const config::Section& section, RouterPolicy& policy) {
  const config::Section cascade = section.section("cascade", kCascadeKeys);
  JudgeConfig& judge = policy.judge;
  cascade.number("threshold", 0, 1, &judge.threshold);
  std::string streams = "hold";
  cascade.choice("streams", kStreams, &streams);
  policy.streams = streamsNamed(streams);
  cascade.integer("stream_hold_tokens", 1, 4096, &policy.stream_hold_tokens);
  const config::Section signals = cascade.section("signals", kSignalKeys);
  signals.number("finish_reason", 0, 1, &judge.finish_reason);
  signals.number("length_at_limit", 0, 1, &judge.length_at_limit);
  signals.number("empty", 0, 1, &judge.empty);
  signals.number("invalid_json", 0, 1, &judge.invalid_json);
  signals.number("refusal", 0, 1, &judge.refusal);
  signals.number("uncertainty", 0, 1, &judge.uncertainty);
  signals.number("mean_logprob", 0, 1, &judge.mean_logprob);
  signals.number("min_logprob", 0, 1, &judge.min_logprob);
  cascade.number("mean_logprob_below", -100, 0, &judge.mean_logprob_below);
  cascade.number("min_logprob_below", -100, 0, &judge.min_logprob_below);
  bool replace = false;
  cascade.boolean("replace_builtin_phrases", &replace);
  readPhrases(cascade, "refusal_phrases", replace, &judge.refusal_phrases);
  readPhrases(cascade, "uncertainty_phrases", replace, &judge.uncertainty_phrases);
}

void readLearningAndAffinity(const config::Section& section, RouterPolicy& policy) {
  const config::Section learning = section.section("learning", kLearningKeys);
  learning.boolean("enabled", &policy.learning.enabled);
  learning.number("strong_above", 0, 1, &policy.learning.strong_above);
  learning.integer("min_samples", 1, 1'000'000, &policy.learning.min_samples);
  learning.number("explore", 0, 1, &policy.learning.explore);
  learning.number("half_life", 1, 1'000'000, &policy.learning.half_life);
  const config::Section affinity = section.section("affinity", kAffinityKeys);
  affinity.boolean("enabled", &policy.affinity.enabled);
  std::int64_t ttl = policy.affinity.ttl.count();
  affinity.integer("ttl_seconds", 1, 86'400, &ttl);
  policy.affinity.ttl = std::chrono::seconds(ttl);
  std::string cache_key = "off";
  section.choice("prompt_cache_key", kPromptCacheKeys, &cache_key);
  policy.prompt_cache_key = promptCacheKeyNamed(cache_key);
}

// Sets prompt_cache_key as the policy asks, unless the client (or an earlier filter) set one.
void setPromptCacheKey(pipeline::RequestContext& ctx, const RouterPolicy& policy) {
  if (policy.prompt_cache_key == PromptCacheKey::kOff ||
      ctx.request_index->find("prompt_cache_key") || ctx.editedMember("prompt_cache_key")) {
    return;
  }
  std::string key = "costgate-";
  if (policy.prompt_cache_key == PromptCacheKey::kConversation) {
    key += conversationHex(conversationOf(ctx));
  } else {
    key += ctx.tag_labels.feature.empty() ? "none" : ctx.tag_labels.feature;
  }
  ctx.setMember("prompt_cache_key", nlohmann::json(key).dump());
}

// Which of the cascade's models served: as the gateway says, or found by the served model's name.
std::optional<std::size_t> servedIndexOf(const pipeline::Cascade& cascade,
                                         const std::string& served_model) {
  if (cascade.served_index) return cascade.served_index;
  const auto found = std::find(cascade.models.begin(), cascade.models.end(), served_model);
  if (served_model.empty() || found == cascade.models.end()) return std::nullopt;
  return static_cast<std::size_t>(found - cascade.models.begin());
}

// Whether the cascade's judge found the cheaper answer weak (a failed call is no such finding).
bool judgedWeak(const pipeline::Cascade& cascade) {
  return std::any_of(cascade.escalations.begin(), cascade.escalations.end(),
                     [](const pipeline::Escalation& move) { return move.reason != "error"; });
}

// The request's complexity score, computed once and kept (with its parts) in `details`.
double scoreOnce(const RequestFeatures& features, RouteDetails& details) {
  if (!details.complexity) {
    const ComplexityParts parts = complexityPartsOf(features);
    details.complexity = parts.score();
    details.complexity_parts = parts.describe();
  }
  return *details.complexity;
}

const Tier* tierNamed(const RouterPolicy& policy, const std::string& name) {
  for (const Tier& candidate : policy.tiers) {
    if (candidate.name == name) return &candidate;
  }
  return nullptr;
}

// The tier of the first rule that matches, else of the complexity step the score falls in (null:
// none), with the rule that chose it in `state`.
const Tier* pickTier(const pipeline::RequestContext& ctx, const RouterPolicy& policy,
                     const RequestFeatures& features, RouteState& state) {
  for (const Rule& rule : policy.rules) {
    if (!ruleMatches(rule.when, ctx, features)) continue;
    state.decision.rule = rule.name;
    return tierNamed(policy, rule.tier);
  }
  if (policy.complexity.empty()) return nullptr;
  const double complexity = scoreOnce(features, state.details);
  for (const ComplexityStep& step : policy.complexity) {
    if (step.below && complexity >= *step.below) continue;
    state.decision.rule = "complexity";
    return tierNamed(policy, step.tier);
  }
  return nullptr;
}

pipeline::LocalReply disallowed(const pipeline::RequestContext& ctx, const RouterPolicy& policy) {
  auto error = openai::permissionDenied("The model '" + ctx.model +
                                            "' is not approved for this feature (policy '" +
                                            policy.name + "')",
                                        "model", "model_not_allowed");
  return {error.status, "application/json", error.body(), {}};
}

}  // namespace

namespace {

std::variant<RouterConfig, config::ConfigError> readRouterPolicies(const config::FilterSpec& spec) {
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

        readCascade(section, policy);
        readLearningAndAffinity(section, policy);
      });
}

}  // namespace

std::variant<RouterConfig, config::ConfigError> parseRouterConfig(const config::FilterSpec& spec) {
  auto parsed = readRouterPolicies(spec);
  if (auto* config = std::get_if<RouterConfig>(&parsed)) config->prices = spec.models;
  return parsed;
}

RouterFilter::RouterFilter(RouterConfig config, metrics::Metrics& metrics,
                           std::shared_ptr<EscalationRates> rates,
                           std::shared_ptr<ConversationAffinity> affinity)
    : config_(std::move(config)),
      stats_(metrics),
      rates_(rates ? std::move(rates) : std::make_shared<EscalationRates>()),
      affinity_(affinity ? std::move(affinity) : std::make_shared<ConversationAffinity>()) {}

pipeline::Cascade cascadeOver(const pipeline::RequestContext& ctx, const RouterPolicy& policy,
                              const Tier& tier, std::vector<std::string> models) {
  const JudgeConfig* judge = &policy.judge;
  const Expected expected = expectedOf(ctx);
  const bool held = ctx.stream && policy.streams == StreamCascade::kHold;
  pipeline::Cascade cascade{
      .models = std::move(models),
      .judge = [judge, expected](
                   std::string_view answer) { return judgeAnswer(answer, expected, *judge); },
      .ask_logprobs = judge->mean_logprob > 0 || judge->min_logprob > 0,
      .tier = tier.name,
      .stream_hold_tokens = held ? policy.stream_hold_tokens : 0,
      .judge_partial = {},
      .escalations = {},
      .served_index = std::nullopt,
      .served_verdict = std::nullopt};
  if (held) {
    cascade.judge_partial = [judge, expected](const pipeline::PartialAnswer& partial) {
      return judgePartial(partial, expected, *judge);
    };
  }
  return cascade;
}

const pricing::Price* RouterFilter::priceOf(const std::string& model) const {
  auto found = config_.prices.find(model);
  return found != config_.prices.end() && found->second ? &*found->second : nullptr;
}

std::size_t RouterFilter::startOf(pipeline::RequestContext& ctx, const RouterPolicy& policy,
                                  const Tier& tier, const RequestFeatures& features,
                                  RouteState& state) const {
  // A repeat of a question the cache holds only an unverified answer to: one verified answer
  // serves every repeat after it. Not counted by learning: its start was not learning's choice.
  if (!ctx.wants_final_model.empty()) {
    state.details.final_model_for = ctx.wants_final_model;
    return tier.models.size() - 1;
  }
  std::size_t start = 0;
  std::optional<EscalationRate> rate;
  if (policy.learning.enabled) {
    BucketKey key{policy.name, state.decision.rule, stats_.featureLabel(ctx),
                  bucketOf(state.details.complexity.value_or(0))};
    rate = rates_->rateOf(key);
    const LearnedStart learned = rates_->startFor(rate, policy.learning);
    if (learned == LearnedStart::kStrong) start = tier.models.size() - 1;
    state.details.start = learned;
    state.details.bucket = std::move(key);
  }
  if (policy.affinity.enabled) {
    start = warmStart(ctx, policy, tier, features, rate, start, state);
  }
  return start;
}

std::size_t RouterFilter::warmStart(const pipeline::RequestContext& ctx, const RouterPolicy& policy,
                                    const Tier& tier, const RequestFeatures& features,
                                    const std::optional<EscalationRate>& rate, std::size_t start,
                                    RouteState& state) const {
  const std::uint64_t conversation = conversationOf(ctx);
  state.details.conversation = conversation;
  state.details.prompt_tokens =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, features.prompt_tokens));
  const auto warm =
      affinity_->warm(conversation, std::chrono::steady_clock::now(), policy.affinity.ttl);
  if (!warm) return start;
  const auto at = std::find(tier.models.begin(), tier.models.end(), warm->model);
  const std::uint64_t prompt_tokens = state.details.prompt_tokens;
  const std::uint64_t cached = cachedPrefixTokens(prompt_tokens, warm->prompt_tokens);
  // Learning never leaves the tier, and a prefix too short to be cached keeps nothing warm.
  if (at == tier.models.end() || cached == 0) return start;
  const auto warm_index = static_cast<std::size_t>(at - tier.models.begin());
  // A warm cheaper model never takes back a request learning sent higher: a wrong answer costs
  // more than re-reading a prompt.
  if (warm_index < start) {
    state.details.affinity = "moved";
    return start;
  }
  if (warm_index == start) {
    state.details.affinity = "kept";
    return start;
  }
  const pricing::Price* start_price = priceOf(tier.models[start]);
  const pricing::Price* warm_price = priceOf(warm->model);
  if (!start_price || !warm_price) return start;
  const bool stay =
      warmModelIsCheaper(*start_price, *warm_price, prompt_tokens, cached, rate ? rate->rate : 0.0);
  state.details.affinity = stay ? "kept" : "moved";
  return stay ? warm_index : start;
}

std::string RouterFilter::routeTo(pipeline::RequestContext& ctx, const RouterPolicy& policy,
                                  const Tier& tier, const RequestFeatures& features,
                                  RouteState& state) const {
  state.decision.tier = tier.name;
  if (tier.models.size() == 1) return tier.models.front();
  scoreOnce(features, state.details);  // learning buckets every such request by its score
  const std::size_t start = startOf(ctx, policy, tier, features, state);
  const bool cascades =
      start + 1 < tier.models.size() && (!ctx.stream || policy.streams != StreamCascade::kPreRoute);
  if (!cascades && start + 1 < tier.models.size()) ctx.downgraded = "pre_route";
  if (cascades) {
    ctx.cascade = cascadeOver(
        ctx, policy, tier,
        std::vector<std::string>(tier.models.begin() + static_cast<std::ptrdiff_t>(start),
                                 tier.models.end()));
  }
  return tier.models[start];
}

pipeline::FilterStatus RouterFilter::onRequest(pipeline::RequestContext& ctx) const {
  if (ctx.route != pipeline::Route::kChatCompletions || !ctx.request_index) {
    return pipeline::FilterStatus::kContinue;
  }
  const RouterPolicy* policy = pipeline::firstMatching(config_.policies, ctx);
  if (!policy) return pipeline::FilterStatus::kContinue;

  RouteState state;
  state.details.policy = policy->name;
  state.policy = policy;
  std::string model = ctx.model;
  if (!policy->allowed_models.empty() &&
      std::none_of(policy->allowed_models.begin(), policy->allowed_models.end(),
                   [&](const std::string& p) { return pipeline::matchesPattern(p, ctx.model); })) {
    if (policy->on_disallowed == OnDisallowed::kReject) {
      ctx.local_reply = disallowed(ctx, *policy);
      return pipeline::FilterStatus::kRespond;
    }
    model = policy->default_model;
    state.decision.rule = "approval";
  }

  if (!policy->rules.empty() || !policy->complexity.empty()) {
    const RequestFeatures features = featuresOf(ctx);
    if (const Tier* tier = pickTier(ctx, *policy, features, state)) {
      model = routeTo(ctx, *policy, *tier, features, state);
    }
  }
  if (model != ctx.model) ctx.setMember("model", nlohmann::json(model).dump());
  setPromptCacheKey(ctx, *policy);
  if (!state.decision.tier.empty() || !state.decision.rule.empty()) {
    ctx.state<RouteState>(this) = std::move(state);
  }
  return pipeline::FilterStatus::kContinue;
}

void RouterFilter::learn(const pipeline::RequestContext& ctx, const RouterPolicy& policy,
                         const RouteState& state) const {
  if (state.details.conversation && !ctx.served_model.empty()) {
    const std::uint64_t prompt_tokens =
        ctx.served_usage ? ctx.served_usage->prompt_tokens : state.details.prompt_tokens;
    affinity_->remember(*state.details.conversation,
                        {.model = ctx.served_model,
                         .prompt_tokens = prompt_tokens,
                         .served_at = std::chrono::steady_clock::now()});
  }
  // Only a cascade from the tier's first model says how often that model's answers fall short.
  const pipeline::Cascade* cascade = ctx.cascade ? &*ctx.cascade : nullptr;
  if (!state.details.bucket || !cascade || !servedIndexOf(*cascade, ctx.served_model) ||
      state.decision.tier.empty()) {
    return;
  }
  const auto tier = std::find_if(policy.tiers.begin(), policy.tiers.end(),
                                 [&](const Tier& t) { return t.name == state.decision.tier; });
  if (tier == policy.tiers.end() || cascade->models.size() != tier->models.size()) return;
  // A cheaper model that only failed (429s, timeouts) says nothing of its answers.
  if (!cascade->escalations.empty() && !judgedWeak(*cascade)) return;
  if (auto rate =
          rates_->record(*state.details.bucket, judgedWeak(*cascade), policy.learning.half_life)) {
    stats_.showRate(*state.details.bucket, rate->rate);
  }
}

void RouterFilter::onComplete(pipeline::RequestContext& ctx) const {
  const auto* state = ctx.findState<RouteState>(this);
  if (!state) return;
  stats_.record(ctx, state->decision, state->details);
  learn(ctx, *state->policy, *state);
}

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeRouterFilter(
    const config::FilterSpec& spec, pipeline::FilterEnvironment& environment) {
  auto rates = environment.kept.obtain<EscalationRates>(
      "router/escalation-rates", [] { return std::make_shared<EscalationRates>(); });
  auto affinity = environment.kept.obtain<ConversationAffinity>(
      "router/conversation-affinity", [] { return std::make_shared<ConversationAffinity>(); });
  return pipeline::filterFrom<RouterFilter>(parseRouterConfig(spec), environment.metrics,
                                            std::move(rates), std::move(affinity));
}

}  // namespace costgate::filters::router
