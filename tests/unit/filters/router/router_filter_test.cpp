#include "filters/router/router_filter.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../support/filter_settings.h"
#include "../../support/request.h"
#include "../../support/test_metrics.h"
#include "costgate/pipeline/kept_state.h"
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

TEST(RouterFilter, AStreamInACascadingTierIsHeldAndJudgedUnlessThePolicySaysOtherwise) {
  const std::string tiers =
      std::string("{name: p, ") + kTiers + ", rules: [{name: all, when: {}, tier: cascade}]";
  RouterFilter hold = routerWith(configOk(tiers + "}"));
  Request held(chat("m", "hello", {{"stream", true}}));
  held.ctx.stream = true;
  hold.onRequest(held.ctx);
  ASSERT_TRUE(held.ctx.cascade);
  EXPECT_EQ(held.ctx.cascade->stream_hold_tokens, 24u);
  ASSERT_TRUE(held.ctx.cascade->judge_partial);
  pipeline::PartialAnswer refusal;
  refusal.text = "I'm sorry, but I can't";
  auto verdict = held.ctx.cascade->judge_partial(refusal);
  ASSERT_TRUE(verdict);
  EXPECT_FALSE(verdict->accept);

  RouterFilter longer = routerWith(configOk(tiers + ", cascade: {stream_hold_tokens: 40}}"));
  Request held_longer(chat("m", "hello", {{"stream", true}}));
  held_longer.ctx.stream = true;
  longer.onRequest(held_longer.ctx);
  ASSERT_TRUE(held_longer.ctx.cascade);
  EXPECT_EQ(held_longer.ctx.cascade->stream_hold_tokens, 40u);

  RouterFilter pre_route = routerWith(configOk(tiers + ", cascade: {streams: pre_route}}"));
  Request stream(chat("m", "hello", {{"stream", true}}));
  stream.ctx.stream = true;
  pre_route.onRequest(stream.ctx);
  EXPECT_FALSE(stream.ctx.cascade);
  EXPECT_EQ(routedModel(stream), "small");

  RouterFilter buffer = routerWith(configOk(tiers + ", cascade: {streams: buffer}}"));
  Request buffered(chat("m", "hello", {{"stream", true}}));
  buffered.ctx.stream = true;
  buffer.onRequest(buffered.ctx);
  ASSERT_TRUE(buffered.ctx.cascade);
  EXPECT_EQ(buffered.ctx.cascade->stream_hold_tokens, 0u);
  EXPECT_FALSE(buffered.ctx.cascade->judge_partial);
  // A request that does not stream is never held.
  Request whole(chat("m", "hello"));
  hold.onRequest(whole.ctx);
  ASSERT_TRUE(whole.ctx.cascade);
  EXPECT_EQ(whole.ctx.cascade->stream_hold_tokens, 0u);
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
  EXPECT_DOUBLE_EQ(complexityOf(features), 0.25 * (features.question_tokens / 300.0) +
                                               0.10 * (features.prompt_tokens / 8000.0));
  Request rich(
      chat("m", "Step by step, analyze this:\n```\nx = 1\n```",
           {{"tools", {{{"type", "function"}}}}, {"response_format", {{"type", "json_object"}}}}),
      pipeline::Route::kChatCompletions, nullptr);
  features = featuresOf(rich.ctx);
  EXPECT_TRUE(features.question_reasoning);
  EXPECT_TRUE(features.question_code);
  EXPECT_TRUE(features.has_tools);
  EXPECT_TRUE(features.json_response);
  const ComplexityParts parts = complexityPartsOf(features);
  EXPECT_NEAR(parts.score(),
              0.25 * (features.question_tokens / 300.0) + 0.10 * (features.prompt_tokens / 8000.0) +
                  0.30 + 0.10 + 0.10 + 0.05,
              1e-9);
  EXPECT_TRUE(
      parts.describe().starts_with("question:0.01,reasoning:0.30,context:0.00,code:0.10,"
                                   "tools:0.10,images:0.00,json:0.05,turns:0.00"))
      << parts.describe();
}

TEST(RequestFeatures, ALongPasteWithAnEasyQuestionScoresLow) {
  // Earlier turns pasted a big log and code; the question now is short and plain.
  std::string log;
  for (int i = 0; i < 400; ++i) log += "2026-12-07 ERROR worker-3 connection refused (retrying)\n";
  json body = {{"model", "m"},
               {"messages",
                {{{"role", "user"}, {"content", "Debug this:\n```\n" + log + "```"}},
                 {{"role", "assistant"}, {"content", "The worker cannot reach the database."}},
                 {{"role", "user"}, {"content", "What port does it use by default?"}}}}};
  Request easy(body, pipeline::Route::kChatCompletions, nullptr);
  const RequestFeatures features = featuresOf(easy.ctx);
  EXPECT_GT(features.prompt_tokens, 4000);
  EXPECT_FALSE(features.question_reasoning);
  EXPECT_FALSE(features.question_code);
  EXPECT_TRUE(features.reasoning_words) << "an earlier message has one";
  const double easy_score = complexityOf(features);
  EXPECT_LT(easy_score, 0.25);

  // The same conversation asking a hard question now scores well above.
  body["messages"][2]["content"] =
      "Why does the retry loop deadlock when two workers reconnect at once? Walk me through the "
      "race condition and how to fix it without losing queued jobs.";
  Request hard(body, pipeline::Route::kChatCompletions, nullptr);
  EXPECT_GT(complexityOf(featuresOf(hard.ctx)), easy_score + 0.2);
}

// What the gateway leaves for onComplete after a request's cascade: escalated to the last model,
// or accepted on the first.
void servedAfterCascade(Request& request, bool escalated, std::uint64_t prompt_tokens = 100) {
  pipeline::Cascade& cascade = *request.ctx.cascade;
  if (escalated) {
    cascade.escalations.push_back({cascade.models.front(), cascade.models.back(), "mean_logprob"});
    cascade.served_index = cascade.models.size() - 1;
  } else {
    cascade.served_index = 0;
    cascade.served_verdict = pipeline::Judgement{true, 1, "", 0.4};
  }
  request.ctx.served_model = cascade.models[*cascade.served_index];
  request.ctx.upstream_status = 200;
  request.ctx.served_usage = pricing::Usage{prompt_tokens, 20, 0, 0};
}

const char kLearning[] =
    "{name: learner, tiers: [{name: cascade, models: [small, large]}], rules: [{name: all, "
    "when: {}, tier: cascade}], learning: {min_samples: 5, explore: 0.25}}";

TEST(RouterLearning, ABucketThatKeepsEscalatingStartsStrongAndStillExplores) {
  RouterFilter filter = routerWith(configOk(kLearning));
  for (int i = 0; i < 5; ++i) {
    Request request(chat("m", "Is this hard?"));
    request.ctx.tag_labels.feature = "learning-hard";
    filter.onRequest(request.ctx);
    ASSERT_TRUE(request.ctx.cascade) << "too few samples yet: the cascade as before";
    EXPECT_EQ(routedModel(request), "small");
    servedAfterCascade(request, true);
    filter.onComplete(request.ctx);
    EXPECT_EQ(request.ctx.log.textOf("learned_start"), "cheap");
  }
  int strong = 0;
  int explored = 0;
  for (int i = 0; i < 8; ++i) {
    Request request(chat("m", "Is this hard?"));
    request.ctx.tag_labels.feature = "learning-hard";
    filter.onRequest(request.ctx);
    if (request.ctx.cascade) {
      ++explored;
      EXPECT_EQ(routedModel(request), "small");
      servedAfterCascade(request, true);
    } else {
      ++strong;
      EXPECT_EQ(routedModel(request), "large") << "the tier's last model, never outside it";
      request.ctx.served_model = "large";
    }
    filter.onComplete(request.ctx);
    EXPECT_EQ(request.ctx.log.textOf("learned_start"), request.ctx.cascade ? "explore" : "strong");
  }
  EXPECT_EQ(strong, 6);
  EXPECT_EQ(explored, 2);

  // Another feature is another bucket: still cheap first.
  Request other(chat("m", "Is this hard?"));
  other.ctx.tag_labels.feature = "learning-easy";
  filter.onRequest(other.ctx);
  EXPECT_TRUE(other.ctx.cascade);

  const std::string metrics = test_data::testMetrics().serialize();
  EXPECT_NE(metrics.find("costgate_router_escalation_rate{bucket=\"0.0\",feature=\"learning-hard\","
                         "policy=\"learner\",rule=\"all\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("costgate_router_learned_starts_total{feature=\"learning-hard\",policy="
                         "\"learner\",rule=\"all\",start=\"strong\"} 6"),
            std::string::npos);
}

TEST(RouterLearning, ABucketThatRarelyEscalatesKeepsStartingCheapAndLearningCanBeOff) {
  RouterFilter filter = routerWith(configOk(kLearning));
  for (int i = 0; i < 20; ++i) {
    Request request(chat("m", "Easy?"));
    filter.onRequest(request.ctx);
    ASSERT_TRUE(request.ctx.cascade);
    servedAfterCascade(request, i % 4 == 0);  // a quarter escalate: under 0.5
    filter.onComplete(request.ctx);
  }
  RouterFilter off = routerWith(configOk(
      "{name: off, tiers: [{name: cascade, models: [small, large]}], rules: [{name: all, when: "
      "{}, tier: cascade}], learning: {enabled: false, min_samples: 1}}"));
  for (int i = 0; i < 3; ++i) {
    Request request(chat("m", "Hard?"));
    off.onRequest(request.ctx);
    ASSERT_TRUE(request.ctx.cascade);
    servedAfterCascade(request, true);
    off.onComplete(request.ctx);
    EXPECT_EQ(request.ctx.log.textOf("learned_start"), "");
  }
}

TEST(RouterLearning, TheLearnedStateOutlivesTheFilter) {
  auto rates = std::make_shared<EscalationRates>();
  {
    RouterFilter first(configOk(kLearning), test_data::testMetrics(), rates);
    for (int i = 0; i < 5; ++i) {
      Request request(chat("m", "Reloaded?"));
      first.onRequest(request.ctx);
      servedAfterCascade(request, true);
      first.onComplete(request.ctx);
    }
  }
  RouterFilter reloaded(configOk(kLearning), test_data::testMetrics(), rates);
  Request request(chat("m", "Reloaded?"));
  reloaded.onRequest(request.ctx);
  EXPECT_FALSE(request.ctx.cascade);
  EXPECT_EQ(routedModel(request), "large");
}

TEST(RouterLearning, TheServedModelsNameStandsInForAServedIndexNotGiven) {
  RouterFilter filter = routerWith(configOk(kLearning));
  for (int i = 0; i < 5; ++i) {
    Request request(chat("m", "Which served?"));
    filter.onRequest(request.ctx);
    ASSERT_TRUE(request.ctx.cascade);
    request.ctx.cascade->escalations.push_back({"small", "large", "refusal"});
    request.ctx.served_model = "large";  // a gateway that sets no served_index
    filter.onComplete(request.ctx);
  }
  Request request(chat("m", "Which served?"));
  filter.onRequest(request.ctx);
  EXPECT_EQ(routedModel(request), "large");
}

TEST(RouterLearning, FailedCallsTeachNothing) {
  RouterFilter filter = routerWith(configOk(kLearning));
  for (int i = 0; i < 10; ++i) {
    Request request(chat("m", "Failing?"));
    filter.onRequest(request.ctx);
    ASSERT_TRUE(request.ctx.cascade);
    request.ctx.cascade->escalations.push_back({"small", "large", "error"});
    request.ctx.cascade->served_index = 1;
    request.ctx.served_model = "large";
    filter.onComplete(request.ctx);
  }
  Request request(chat("m", "Failing?"));
  filter.onRequest(request.ctx);
  EXPECT_TRUE(request.ctx.cascade) << "an outage of the cheap model is no sign of hard requests";
}

TEST(RouterStats, VerdictsAreCountedFromWhatTheGatewayLeftAndTheScoreIsLogged) {
  RouterFilter filter = routerWith(configOk(
      "{name: verdicts, tiers: [{name: cascade, models: [small, large]}], rules: [{name: all, "
      "when: {}, tier: cascade}], learning: {enabled: false}}"));
  Request accepted(chat("m", "Why does this deadlock?"));
  filter.onRequest(accepted.ctx);
  servedAfterCascade(accepted, false);
  filter.onComplete(accepted.ctx);
  ASSERT_NE(accepted.ctx.log.find("complexity"), nullptr);
  EXPECT_GT(std::stod(*accepted.ctx.log.find("complexity")), 0.3);
  EXPECT_TRUE(accepted.ctx.log.textOf("complexity_parts").starts_with("question:"));
  Request escalated(chat("m", "Why does this deadlock?"));
  filter.onRequest(escalated.ctx);
  servedAfterCascade(escalated, true);
  escalated.ctx.cascade->escalations.front().reason = "uncertainty";
  filter.onComplete(escalated.ctx);

  const std::string metrics = test_data::testMetrics().serialize();
  EXPECT_NE(metrics.find("costgate_judge_decisions_total{decision=\"accept\",model=\"small\","
                         "policy=\"verdicts\",reason=\"none\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("costgate_judge_decisions_total{decision=\"escalate\",model=\"small\","
                         "policy=\"verdicts\",reason=\"uncertainty\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("costgate_judge_margin_sum{model=\"small\",policy=\"verdicts\"} 0.4"),
            std::string::npos);
}

TEST(RouterLearning, AReloadedConfigurationKeepsWhatWasLearned) {
  pipeline::KeptState kept;
  pipeline::FilterEnvironment environment{kept, test_data::testMetrics(), {}};
  auto built = makeRouterFilter(specOf(kLearning), environment);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<pipeline::Filter>>(built));
  auto old_chain = std::get<std::unique_ptr<pipeline::Filter>>(std::move(built));
  for (int i = 0; i < 5; ++i) {
    Request request(chat("m", "Kept across reloads?"));
    old_chain->onRequest(request.ctx);
    servedAfterCascade(request, true);
    old_chain->onComplete(request.ctx);
  }
  // The next configuration is built while the old one still serves, then replaces it.
  auto rebuilt = makeRouterFilter(specOf(kLearning), environment);
  auto new_chain = std::get<std::unique_ptr<pipeline::Filter>>(std::move(rebuilt));
  old_chain.reset();
  Request request(chat("m", "Kept across reloads?"));
  new_chain->onRequest(request.ctx);
  EXPECT_EQ(routedModel(request), "large");
}

// A router whose gateway prices small and large as given (nano-dollars per million tokens).
RouterFilter pricedRouter(const std::string& policy_yaml, pricing::Nanos small_input,
                          pricing::Nanos large_input, pricing::Nanos large_cached) {
  auto spec = specOf(policy_yaml);
  spec.models = {
      {"m", std::nullopt},
      {"small", pricing::Price{small_input, small_input / 2, small_input * 4, std::nullopt}},
      {"large", pricing::Price{large_input, large_cached, large_input * 4, std::nullopt}}};
  auto parsed = parseRouterConfig(spec);
  EXPECT_TRUE(std::holds_alternative<RouterConfig>(parsed));
  return routerWith(std::get<RouterConfig>(std::move(parsed)));
}

// The second turn of a conversation whose first was escalated to large: where it starts, and
// the access log's `affinity`.
std::pair<std::string, std::string> secondTurn(const RouterFilter& filter) {
  json first = chat("m", "Here is my project, let us talk about it.");
  Request one(first);
  one.ctx.prompt_tokens = pipeline::TokenCount{5000, false};
  filter.onRequest(one.ctx);
  EXPECT_TRUE(one.ctx.cascade);
  servedAfterCascade(one, true, 5000);
  filter.onComplete(one.ctx);

  json second = first;
  second["messages"].push_back({{"role", "assistant"}, {"content", "Sure."}});
  second["messages"].push_back({{"role", "user"}, {"content", "What next?"}});
  Request two(second);
  two.ctx.prompt_tokens = pipeline::TokenCount{6000, false};
  filter.onRequest(two.ctx);
  const std::string model = routedModel(two);
  EXPECT_EQ(model == "small", two.ctx.cascade.has_value());
  two.ctx.served_model = model;
  filter.onComplete(two.ctx);
  return {model, std::string(two.ctx.log.textOf("affinity"))};
}

const char kWarm[] =
    "{name: warm, tiers: [{name: cascade, models: [small, large]}], rules: [{name: all, when: "
    "{}, tier: cascade}], learning: {enabled: false}}";

TEST(RouterAffinity, AWarmConversationStaysWhereItsInputIsCheaper) {
  // gpt-4o-mini against gpt-4o: the cheap model's whole input beats gpt-4o's cached one.
  EXPECT_EQ(secondTurn(pricedRouter(kWarm, 150'000'000, 2'500'000'000, 1'250'000'000)),
            (std::pair<std::string, std::string>{"small", "moved"}));
  // A strong model whose cached input is far cheaper than the cheap model's input: stay.
  EXPECT_EQ(secondTurn(pricedRouter(kWarm, 1'000'000'000, 2'500'000'000, 100'000'000)),
            (std::pair<std::string, std::string>{"large", "kept"}));
  // Affinity off: the tier's order, nothing weighed.
  const std::string off =
      std::string(kWarm).insert(std::string(kWarm).size() - 1, ", affinity: {enabled: false}");
  EXPECT_EQ(secondTurn(pricedRouter(off, 1'000'000'000, 2'500'000'000, 100'000'000)),
            (std::pair<std::string, std::string>{"small", ""}));
}

TEST(RouterPromptCacheKey, SetOnlyWhenTheClientSentNone) {
  RouterFilter off = routerWith(configOk("{name: p}"));
  Request plain(chat("m", "hi"));
  off.onRequest(plain.ctx);
  EXPECT_EQ(plain.ctx.editedMember("prompt_cache_key"), nullptr);

  RouterFilter feature = routerWith(configOk("{name: p, prompt_cache_key: feature}"));
  Request tagged(chat("m", "hi"));
  tagged.ctx.tag_labels.feature = "support";
  feature.onRequest(tagged.ctx);
  EXPECT_EQ(tagged.forwarded()["prompt_cache_key"], "costgate-support");
  Request own(chat("m", "hi", {{"prompt_cache_key", "mine"}}));
  feature.onRequest(own.ctx);
  EXPECT_EQ(own.ctx.editedMember("prompt_cache_key"), nullptr);
  EXPECT_EQ(own.forwarded()["prompt_cache_key"], "mine");

  RouterFilter conversation = routerWith(configOk("{name: p, prompt_cache_key: conversation}"));
  json first = chat("m", "Plan my trip.");
  json later = first;
  later["messages"].push_back({{"role", "assistant"}, {"content", "Where to?"}});
  later["messages"].push_back({{"role", "user"}, {"content", "Rome."}});
  Request a(first), b(later), c(chat("m", "Something else."));
  for (Request* request : {&a, &b, &c}) conversation.onRequest(request->ctx);
  const std::string key = a.forwarded()["prompt_cache_key"];
  EXPECT_EQ(key.size(), std::string("costgate-").size() + 16);
  EXPECT_EQ(b.forwarded()["prompt_cache_key"], key) << "the same conversation, the same key";
  EXPECT_NE(c.forwarded()["prompt_cache_key"], key);
}

TEST(RouterConfig, ConfiguredPhrasesExtendTheBuiltInsUnlessTheyReplaceThem) {
  // The cascade's judge views its filter's settings: the filter lives as long as the judge.
  auto judgeOf = [](const std::string& cascade_yaml) {
    auto filter = std::make_shared<RouterFilter>(
        configOk(std::string("{name: p, ") + kTiers +
                 ", rules: [{name: all, when: {}, tier: cascade}], cascade: " + cascade_yaml + "}"),
        test_data::testMetrics());
    Request request(chat("m", "hi"));
    filter->onRequest(request.ctx);
    return [filter, judge = request.ctx.cascade->judge](const std::string& answer) {
      return judge(answer);
    };
  };
  auto answer = [](const std::string& content) {
    return json{
        {"choices",
         {{{"message", {{"role", "assistant"}, {"content", content}}}, {"finish_reason", "stop"}}}}}
        .dump();
  };
  auto extended = judgeOf("{uncertainty_phrases: [No Idea]}");
  EXPECT_FALSE(extended(answer("No idea, sorry.")).accept);
  EXPECT_FALSE(extended(answer("I believe it is 4.")).accept) << "the built-ins still apply";
  auto replaced = judgeOf("{uncertainty_phrases: [no idea], replace_builtin_phrases: true}");
  EXPECT_FALSE(replaced(answer("No idea, sorry.")).accept);
  EXPECT_TRUE(replaced(answer("I believe it is 4.")).accept);
  EXPECT_FALSE(replaced(answer("I'm sorry, but I can't do that.")).accept)
      << "a list not given keeps its built-ins";
}

TEST(RouterConfig, NewSettingsAreCheckedAtTheirPlace) {
  auto errorOf = [](const std::string& policy_yaml) {
    auto parsed = parseRouterConfig(specOf(policy_yaml));
    auto* error = std::get_if<config::ConfigError>(&parsed);
    EXPECT_TRUE(error) << policy_yaml;
    return error ? *error : config::ConfigError{};
  };
  // "filters:\n  - router:\n      policies:\n        - " puts the policy on line 4 from column
  // 11: each error points at the value (or the unknown key) at fault.
  test_data::expectErrorAt(errorOf("{name: p, learning: {explore: 2}}"), "router", 4, 41,
                           "explore");
  test_data::expectErrorAt(errorOf("{name: p, learning: {half_lif: 2}}"), "router", 4, 32,
                           "half_lif");
  test_data::expectErrorAt(errorOf("{name: p, affinity: {ttl_seconds: 0}}"), "router", 4, 45,
                           "ttl_seconds");
  test_data::expectErrorAt(errorOf("{name: p, prompt_cache_key: always}"), "router", 4, 39,
                           "prompt_cache_key");
  test_data::expectErrorAt(errorOf("{name: p, cascade: {streams: trickle}}"), "router", 4, 40,
                           "streams");
  test_data::expectErrorAt(errorOf("{name: p, cascade: {stream_hold_tokens: 0}}"), "router", 4, 51,
                           "stream_hold_tokens");
}

}  // namespace
}  // namespace costgate::filters::router
