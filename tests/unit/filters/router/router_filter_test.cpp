#include "filters/router/router_filter.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../support/filter_settings.h"
#include "../../support/request.h"
#include "../../support/test_metrics.h"
#include "filters/router/request_features.h"

namespace costgate::filters::router {
namespace {

using nlohmann::json;
using pipeline::FilterStatus;
using test_data::Request;

config::FilterSpec specOf(const std::string& policy_yaml) {
  auto spec = test_data::specFrom(
      "filters:\n  - router:\n      policies:\n        - " + policy_yaml + "\n", "router");
  spec.models = {{"m", std::nullopt}, {"small", std::nullopt}, {"large", std::nullopt}};
  return spec;
}

RouterConfig configOk(const std::string& policy_yaml) {
  auto parsed = parseRouterConfig(specOf(policy_yaml));
  if (auto* error = std::get_if<config::ConfigError>(&parsed)) {
    ADD_FAILURE() << error->describe();
    return {};
  }
  return std::get<RouterConfig>(std::move(parsed));
}

RouterFilter routerWith(RouterConfig config) {
  return RouterFilter(std::move(config), test_data::testMetrics());
}

// The routing decision as the request's log line tells it: "tier:rule".
std::string decisionOf(const RouterFilter& filter, Request& request) {
  filter.onComplete(request.ctx);
  return std::string(request.ctx.log.textOf("route_decision"));
}
std::string tierOf(const RouterFilter& filter, Request& request) {
  const std::string decision = decisionOf(filter, request);
  return decision.substr(0, decision.find(':'));
}
std::string ruleOf(const RouterFilter& filter, Request& request) {
  const std::string decision = decisionOf(filter, request);
  return decision.substr(decision.find(':') + 1);
}

std::string configError(const std::string& policy_yaml) {
  auto parsed = parseRouterConfig(specOf(policy_yaml));
  auto* error = std::get_if<config::ConfigError>(&parsed);
  return error ? error->describe() : "(no error)";
}

json chat(const std::string& model, const std::string& question, json extra = json::object()) {
  json body = {{"model", model}, {"messages", {{{"role", "user"}, {"content", question}}}}};
  body.update(extra);
  return body;
}

const char kTiers[] =
    "tiers: [{name: cheap, models: [small]}, {name: cascade, models: [small, large]}, "
    "{name: strong, models: [large]}]";

std::string routedModel(const Request& request) {
  const std::string* model = request.ctx.editedMember("model");
  return model ? json::parse(*model).get<std::string>() : request.ctx.model;
}

TEST(RouterConfig, ReportsWrongModelsTiersAndStepsAtTheirPlace) {
  EXPECT_NE(configError("{name: p, tiers: [{name: t, models: [gpt-9]}]}")
                .find("'gpt-9' is not a model of this gateway"),
            std::string::npos);
  EXPECT_NE(configError(std::string("{name: p, ") + kTiers +
                        ", rules: [{name: r, tier: nowhere, when: {has_tools: true}}]}")
                .find("no tier named 'nowhere'"),
            std::string::npos);
  EXPECT_NE(configError(std::string("{name: p, ") + kTiers +
                        ", complexity: [{below: 0.5, tier: cheap}, {below: 0.4, tier: strong}]}")
                .find("higher than the last"),
            std::string::npos);
  EXPECT_NE(configError("{name: p, allowed_models: [small], on_disallowed: rewrite}")
                .find("rewrite needs a default_model"),
            std::string::npos);
  EXPECT_NE(configError("{name: p, cascade: {signals: {refusal: 2}}}").find("refusal"),
            std::string::npos);
}

TEST(RouterFilter, TheApprovalGateRejectsWith403OrRewrites) {
  RouterFilter reject = routerWith(configOk("{name: p, allowed_models: [small, m*]}"));
  Request denied(chat("large", "hi"));
  ASSERT_EQ(reject.onRequest(denied.ctx), FilterStatus::kRespond);
  EXPECT_EQ(denied.ctx.local_reply->status, 403);
  json error = json::parse(denied.ctx.local_reply->body)["error"];
  EXPECT_EQ(error["code"], "model_not_allowed");
  EXPECT_EQ(error["param"], "model");
  Request allowed(chat("small", "hi"));
  EXPECT_EQ(reject.onRequest(allowed.ctx), FilterStatus::kContinue);

  RouterFilter rewrite = routerWith(
      configOk("{name: p, allowed_models: [small], on_disallowed: rewrite, default_model: small}"));
  Request rewritten(chat("large", "hi"));
  EXPECT_EQ(rewrite.onRequest(rewritten.ctx), FilterStatus::kContinue);
  EXPECT_EQ(routedModel(rewritten), "small");
  EXPECT_EQ(ruleOf(rewrite, rewritten), "approval");
}

TEST(RouterFilter, RulesPickATierInOrderAndTheComplexityScoreTheRest) {
  RouterFilter filter = routerWith(configOk(
      std::string("{name: p, ") + kTiers +
      ", rules: [{name: tools, when: {has_tools: true}, tier: strong}, {name: proofs, when: "
      "{keywords: [Prove]}, tier: cascade}], complexity: [{below: 0.2, tier: cheap}, {tier: "
      "strong}]}"));
  Request tools(chat("m", "hi", {{"tools", {{{"type", "function"}}}}}));
  filter.onRequest(tools.ctx);
  EXPECT_EQ(routedModel(tools), "large");
  EXPECT_EQ(tierOf(filter, tools), "strong");
  EXPECT_EQ(ruleOf(filter, tools), "tools");
  EXPECT_FALSE(tools.ctx.cascade);

  Request proof(chat("m", "Please prove that sqrt(2) is irrational."));
  filter.onRequest(proof.ctx);
  EXPECT_EQ(ruleOf(filter, proof), "proofs");
  ASSERT_TRUE(proof.ctx.cascade);
  EXPECT_EQ(proof.ctx.cascade->models, (std::vector<std::string>{"small", "large"}));
  EXPECT_TRUE(proof.ctx.cascade->ask_logprobs);
  EXPECT_EQ(routedModel(proof), "small") << "the cheapest model goes first";

  Request easy(chat("m", "What time is it?"));
  filter.onRequest(easy.ctx);
  EXPECT_EQ(ruleOf(filter, easy), "complexity");
  EXPECT_EQ(tierOf(filter, easy), "cheap");
  Request code(chat("m", "Why does this fail?\n```\nint main() { return 1 }\n```\nAnalyze it."));
  filter.onRequest(code.ctx);
  EXPECT_EQ(tierOf(filter, code), "strong");
}

TEST(RouterFilter, RulesMatchTagsAndTheRequestedModel) {
  RouterFilter filter =
      routerWith(configOk(std::string("{name: p, ") + kTiers +
                          ", rules: [{name: vip, when: {team: [sales], model: [m*]}, tier: "
                          "strong}, {name: rest, when: {}, tier: cheap}]}"));
  Request sales(chat("m", "hi"), pipeline::Route::kChatCompletions, nullptr,
                {"f", "sales", "", ""});
  filter.onRequest(sales.ctx);
  EXPECT_EQ(ruleOf(filter, sales), "vip");
  Request other(chat("m", "hi"), pipeline::Route::kChatCompletions, nullptr, {"f", "ops", "", ""});
  filter.onRequest(other.ctx);
  EXPECT_EQ(ruleOf(filter, other), "rest");
}

TEST(RouterFilter, AStreamInACascadingTierIsPreRoutedUnlessThePolicyBuffers) {
  const std::string tiers =
      std::string("{name: p, ") + kTiers + ", rules: [{name: all, when: {}, tier: cascade}]";
  RouterFilter pre_route = routerWith(configOk(tiers + "}"));
  Request stream(chat("m", "hello", {{"stream", true}}));
  stream.ctx.stream = true;
  pre_route.onRequest(stream.ctx);
  EXPECT_FALSE(stream.ctx.cascade);
  EXPECT_EQ(routedModel(stream), "small");

  RouterFilter buffer = routerWith(configOk(tiers + ", cascade: {streams: buffer}}"));
  Request buffered(chat("m", "hello", {{"stream", true}}));
  buffered.ctx.stream = true;
  buffer.onRequest(buffered.ctx);
  EXPECT_TRUE(buffered.ctx.cascade);
}

TEST(RouterFilter, TheCascadeJudgesWithThePolicysSignalsAndTheRequestsFormat) {
  RouterFilter filter =
      routerWith(configOk(std::string("{name: p, ") + kTiers +
                          ", rules: [{name: all, when: {}, tier: cascade}], cascade: "
                          "{threshold: 0.5, signals: {refusal: 0.4}}}"));
  Request request(chat("m", "Give me JSON", {{"response_format", {{"type", "json_object"}}}}));
  filter.onRequest(request.ctx);
  ASSERT_TRUE(request.ctx.cascade);
  auto answer = [](const std::string& content) {
    return json{
        {"choices",
         {{{"message", {{"role", "assistant"}, {"content", content}}}, {"finish_reason", "stop"}}}}}
        .dump();
  };
  EXPECT_TRUE(request.ctx.cascade->judge(answer(R"({"a": 1})")).accept);
  EXPECT_FALSE(request.ctx.cascade->judge(answer("not json")).accept);
  auto refused = request.ctx.cascade->judge(answer(R"({"a": "I'm sorry, but I can't"})"));
  EXPECT_TRUE(refused.accept) << "refusal weighs 0.4 here: 0.6 left, over 0.5";
  EXPECT_EQ(refused.reason, "refusal");
}

TEST(RequestFeatures, ComplexityFollowsTheDocumentedWeights) {
  Request plain(chat("m", "hello there"), pipeline::Route::kChatCompletions, nullptr);
  RequestFeatures features = featuresOf(plain.ctx);
  EXPECT_DOUBLE_EQ(complexityOf(features), 0.30 * (features.prompt_tokens / 3000.0));
  Request rich(
      chat("m", "Step by step, analyze this:\n```\nx = 1\n```",
           {{"tools", {{{"type", "function"}}}}, {"response_format", {{"type", "json_object"}}}}),
      pipeline::Route::kChatCompletions, nullptr);
  features = featuresOf(rich.ctx);
  EXPECT_TRUE(features.reasoning_words);
  EXPECT_TRUE(features.has_code);
  EXPECT_TRUE(features.has_tools);
  EXPECT_TRUE(features.json_response);
  EXPECT_NEAR(complexityOf(features),
              0.30 * (features.prompt_tokens / 3000.0) + 0.25 + 0.15 + 0.10 + 0.05, 1e-9);
}

}  // namespace
}  // namespace costgate::filters::router
