#pragma once
// The router filter: per policy, approves the model a request asks for (or rewrites or refuses
// it), picks a tier (an ordered list of models) by pre-routing rules or the complexity score, and
// for a tier of several models asks the gateway for a cascade: the cheapest first, escalating
// only when its answer is judged weak (answer_judge.h). Every routing decision is reported.

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
enum class StreamCascade { kPreRoute, kBuffer };

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
  // Streaming requests in a tier of several models: served by its first model (kPreRoute), or
  // cascaded like the others, each attempt buffered and the accepted answer replayed as a stream.
  StreamCascade streams = StreamCascade::kPreRoute;
};

struct RouterConfig {
  std::vector<RouterPolicy> policies;
};

std::variant<RouterConfig, config::ConfigError> parseRouterConfig(const config::FilterSpec& spec);

class RouterFilter : public pipeline::Filter {
 public:
  RouterFilter(RouterConfig config, metrics::Metrics& metrics)
      : config_(std::move(config)), stats_(metrics) {}
  std::string_view name() const override { return "router"; }
  // Refuses a disallowed model with 403 (or rewrites it), sets the model of the chosen tier
  // (ctx.setMember), and ctx.cascade for a tier of several models.
  pipeline::FilterStatus onRequest(pipeline::RequestContext& ctx) const override;
  // Counts the decision and the cascade's escalations.
  void onComplete(pipeline::RequestContext& ctx) const override;

 private:
  RouterConfig config_;
  RouterStats stats_;
};

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeRouterFilter(
    const config::FilterSpec& spec, pipeline::FilterEnvironment& environment);

}  // namespace costgate::filters::router
