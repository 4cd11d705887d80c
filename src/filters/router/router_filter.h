#pragma once
// The router filter: per policy, approves the model a request asks for (or rewrites or refuses
// it), picks a tier (an ordered list of models) by pre-routing rules or the complexity score, and
// for a tier of several models asks the gateway for a cascade: the cheapest first, escalating
// only when its answer is judged weak (answer_judge.h). Every routing decision is reported.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "costgate/config/config.h"
#include "costgate/config/load.h"
#include "costgate/pipeline/filter.h"
#include "costgate/pipeline/policy.h"
#include "filters/router/answer_judge.h"
#include "filters/router/cache_affinity.h"
#include "filters/router/escalation_rates.h"
#include "filters/router/request_features.h"
#include "filters/router/router_stats.h"

namespace costgate::filters::router {

// Conditions of a pre-routing rule; every one given must hold.
struct RuleCondition {
  // The request's tags and the model it asked for (patterns with a trailing *), as a policy's
  // match reads them.
  pipeline::PolicyMatch tags_and_model;
  std::optional<std::int64_t> min_prompt_tokens;
  std::optional<std::int64_t> max_prompt_tokens;
  std::optional<bool> has_tools;
  std::optional<bool> has_images;
  std::optional<bool> has_code;
  std::optional<bool> json_response;
  std::vector<std::string> keywords;  // any of them in the user text (case-insensitive)
};

struct Rule {
  std::string name;
  RuleCondition when;
  std::string tier;
};

// The tier of requests whose complexity is below `below` (the last has none: the rest).
struct ComplexityStep {
  std::optional<double> below;
  std::string tier;
};

enum class OnDisallowed { kRewrite, kReject };
enum class StreamCascade { kHold, kPreRoute, kBuffer };
// What a request is given as OpenAI's prompt_cache_key when it has none.
enum class PromptCacheKey { kOff, kFeature, kConversation };

struct Tier {
  std::string name;
  std::vector<std::string> models;  // gateway models, cheapest first
};

struct RouterPolicy {
  std::string name;
  pipeline::PolicyMatch match;
  // The approval gate: the models requests may ask for (patterns); empty approves any.
  std::vector<std::string> allowed_models;
  OnDisallowed on_disallowed = OnDisallowed::kReject;
  std::string default_model;  // what a disallowed request is rewritten to
  std::vector<Tier> tiers;
  std::vector<Rule> rules;
  std::vector<ComplexityStep> complexity;  // empty: requests no rule matches keep their model
  JudgeConfig judge;
  // Streaming requests in a tier of several models: cascaded with each cheaper attempt's first
  // stream_hold_tokens held and judged as they come (kHold), served by its first model
  // (kPreRoute), or cascaded with each attempt buffered and the accepted answer replayed as a
  // stream (kBuffer).
  StreamCascade streams = StreamCascade::kHold;
  std::size_t stream_hold_tokens = 24;
  LearningConfig learning;
  AffinityConfig affinity;
  PromptCacheKey prompt_cache_key = PromptCacheKey::kOff;
};

struct RouterConfig {
  std::vector<RouterPolicy> policies;
  // Every gateway model's price (none: unpriced), for cache affinity.
  std::map<std::string, std::optional<pricing::Price>> prices;
};

std::variant<RouterConfig, config::ConfigError> parseRouterConfig(const config::FilterSpec& spec);

// What the router keeps of a request from onRequest to onComplete.
struct RouteState {
  RouteDecision decision;
  RouteDetails details;
  const RouterPolicy* policy = nullptr;  // the filter's, which outlives the request
};

class RouterFilter : public pipeline::Filter {
 public:
  // `rates` and `affinity` are the process's (kept across reloads); null: this filter's own.
  RouterFilter(RouterConfig config, metrics::Metrics& metrics,
               std::shared_ptr<EscalationRates> rates = nullptr,
               std::shared_ptr<ConversationAffinity> affinity = nullptr);
  std::string_view name() const override { return "router"; }
  // Refuses a disallowed model with 403 (or rewrites it), sets the model the chosen tier starts
  // on (ctx.setMember: its first, or where learning and cache affinity say), ctx.cascade when
  // that leaves several models to try, and prompt_cache_key when the policy asks. Reads the
  // learned rates and warm conversations (shared, locked briefly); writes nothing shared.
  pipeline::FilterStatus onRequest(pipeline::RequestContext& ctx) const override;
  // Counts the decision, the cascade's escalations and verdicts, and learns from the outcome:
  // the bucket's escalation rate and the conversation's warm model.
  void onComplete(pipeline::RequestContext& ctx) const override;

 private:
  // The model a request of `tier` starts on; sets ctx.cascade when that leaves several to try.
  std::string routeTo(pipeline::RequestContext& ctx, const RouterPolicy& policy, const Tier& tier,
                      const RequestFeatures& features, RouteState& state) const;
  // The index in `tier` a request starts at, with the decision's learning and affinity parts.
  std::size_t startOf(pipeline::RequestContext& ctx, const RouterPolicy& policy, const Tier& tier,
                      const RequestFeatures& features, RouteState& state) const;
  // `start` or the index of the conversation's warm model, whichever is expected to cost less.
  std::size_t warmStart(const pipeline::RequestContext& ctx, const RouterPolicy& policy,
                        const Tier& tier, const RequestFeatures& features,
                        const std::optional<EscalationRate>& rate, std::size_t start,
                        RouteState& state) const;
  const pricing::Price* priceOf(const std::string& model) const;
  void learn(const pipeline::RequestContext& ctx, const RouterPolicy& policy,
             const RouteState& state) const;

  RouterConfig config_;
  RouterStats stats_;
  std::shared_ptr<EscalationRates> rates_;
  std::shared_ptr<ConversationAffinity> affinity_;
};

// The cascade over `models` for this request, judged by the policy (streams held per policy).
pipeline::Cascade cascadeOver(const pipeline::RequestContext& ctx, const RouterPolicy& policy,
                              const Tier& tier, std::vector<std::string> models);

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeRouterFilter(
    const config::FilterSpec& spec, pipeline::FilterEnvironment& environment);

}  // namespace costgate::filters::router
