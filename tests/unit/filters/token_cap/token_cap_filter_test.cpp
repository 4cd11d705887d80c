#include "filters/token_cap/token_cap_filter.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../support/encodings.h"
#include "../../support/filter_settings.h"
#include "../../support/request.h"
#include "../../support/test_metrics.h"
#include "costgate/config/load.h"
#include "costgate/pipeline/kept_state.h"

namespace costgate::filters::token_cap {
namespace {

using nlohmann::json;
using pipeline::FilterStatus;
using pipeline::Route;
using test_data::o200k;
using test_data::Request;
using test_data::specFrom;

// --- Configuration
// --------------------------------------------------------------------------------

TokenCapConfig configOk(const std::string& filters_yaml) {
  return test_data::configOk(parseTokenCapConfig, "token_cap", filters_yaml);
}

config::ConfigError configError(const std::string& filters_yaml) {
  return test_data::configError(parseTokenCapConfig, "token_cap", filters_yaml);
}

void expectErrorAt(const config::ConfigError& error, int line, int column,
                   const std::string& says) {
  test_data::expectErrorAt(error, "token_cap", line, column, says);
}

TEST(TokenCapConfig, ReadsEveryKey) {
  const TokenCapConfig config = configOk(R"(filters:
  - token_cap:
      policies:
        - name: search
          match: {feature: [search], model: [gpt-4o*]}
          max_output_tokens: 1024
          set_when_absent: false
          output_field: max_completion_tokens
          max_n: 2
          max_input_tokens: 8000
          over_input: prune
          prune: {keep_last_turns: 2, truncate_longest: false, marker: "[cut]", compact_step: 0.25,
                  max_message_tokens: 900}
        - name: default
)");
  ASSERT_EQ(config.policies.size(), 2u);
  const TokenCapPolicy& search = config.policies[0];
  EXPECT_EQ(search.name, "search");
  EXPECT_EQ(search.match.features, (std::vector<std::string>{"search"}));
  EXPECT_EQ(search.match.models, (std::vector<std::string>{"gpt-4o*"}));
  EXPECT_EQ(search.max_output_tokens, 1024);
  EXPECT_FALSE(search.set_when_absent);
  EXPECT_EQ(search.output_field, OutputField::kMaxCompletionTokens);
  EXPECT_EQ(search.max_n, 2);
  EXPECT_EQ(search.max_input_tokens, 8000);
  EXPECT_EQ(search.over_input, OverInput::kPrune);
  EXPECT_EQ(search.prune.keep_last_turns, 2u);
  EXPECT_FALSE(search.prune.truncate_longest);
  EXPECT_EQ(search.prune.marker, "[cut]");
  EXPECT_EQ(search.prune.compact_step, 0.25);
  EXPECT_EQ(search.prune.max_message_tokens, 900);
  EXPECT_TRUE(search.prune.drop_old_turns) << "steps not written keep their defaults";

  const TokenCapPolicy& fallback = config.policies[1];
  EXPECT_EQ(fallback.name, "default");
  EXPECT_FALSE(fallback.max_output_tokens);
  EXPECT_TRUE(fallback.set_when_absent);
  EXPECT_EQ(fallback.output_field, OutputField::kAuto);
  EXPECT_FALSE(fallback.max_n);
  EXPECT_FALSE(fallback.max_input_tokens);
  EXPECT_EQ(fallback.over_input, OverInput::kPrune) << "a cap safe to copy: chat is never refused";
  EXPECT_TRUE(fallback.match.features.empty());
}

TEST(TokenCapConfig, PoliciesAndNamesAreRequired) {
  expectErrorAt(configError("filters:\n  - token_cap:\n      max_n: 1\n"), 3, 7, "max_n");
  const config::ConfigError no_policies = configError("filters:\n  - token_cap: {}\n");
  EXPECT_NE(no_policies.message.find("policies"), std::string::npos) << no_policies.describe();
  const config::ConfigError no_name = configError(R"(filters:
  - token_cap:
      policies:
        - max_n: 1
)");
  EXPECT_NE(no_name.message.find("name"), std::string::npos) << no_name.describe();
  EXPECT_EQ(no_name.where.line, 4) << no_name.describe();
}

TEST(TokenCapConfig, UnknownKeysAreErrorsAtTheKeyWithASuggestion) {
  expectErrorAt(configError(R"(filters:
  - token_cap:
      policies:
        - name: p
          max_output_token: 10
)"),
                5, 11, "max_output_tokens");
  expectErrorAt(configError(R"(filters:
  - token_cap:
      policies:
        - name: p
          over_input: prune
          prune: {keep_last_turn: 2}
)"),
                6, 19, "keep_last_turns");
}

TEST(TokenCapConfig, PruneWithOverInputRejectIsAnError) {
  expectErrorAt(configError(R"(filters:
  - token_cap:
      policies:
        - name: p
          max_input_tokens: 100
          over_input: reject
          prune: {keep_last_turns: 1}
)"),
                7, 18, "over_input: prune");
  // prune is the default, so a prune block alone is what it says.
  const TokenCapConfig config = configOk(R"(filters:
  - token_cap:
      policies:
        - name: p
          max_input_tokens: 100
          prune: {keep_last_turns: 1}
)");
  EXPECT_EQ(config.policies[0].over_input, OverInput::kPrune);
  EXPECT_EQ(config.policies[0].prune.keep_last_turns, 1u);
}

TEST(TokenCapConfig, OutOfRangeAndWrongValuesAreErrorsAtTheValue) {
  struct Case {
    const char* line;
    const char* says;
  };
  const Case cases[] = {
      {"max_output_tokens: 0", "max_output_tokens"},
      {"max_output_tokens: 100000001", "max_output_tokens"},
      {"max_output_tokens: -5", "max_output_tokens"},
      {"max_n: 0", "max_n"},
      {"max_n: 129", "max_n"},
      {"max_input_tokens: 0", "max_input_tokens"},
      {"max_input_tokens: 1.5", "max_input_tokens"},
      {"set_when_absent: yes", "set_when_absent"},
      {"output_field: max_output", "output_field"},
      {"over_input: truncate", "over_input"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    const std::string line = c.line;
    const int value_column = 11 + static_cast<int>(line.find(':')) + 2;
    expectErrorAt(configError(R"(filters:
  - token_cap:
      policies:
        - name: p
          )" + line + "\n"),
                  5, value_column, c.says);
  }
  expectErrorAt(configError(R"(filters:
  - token_cap:
      policies:
        - name: p
          over_input: prune
          prune: {keep_last_turns: 0}
)"),
                6, 36, "keep_last_turns");
  expectErrorAt(configError(R"(filters:
  - token_cap:
      policies:
        - name: p
          prune: {compact_step: 0}
)"),
                5, 33, "compact_step");
}

pipeline::FilterEnvironment& environment() {
  static pipeline::KeptState kept;
  static pipeline::FilterEnvironment environment{
      .kept = kept, .metrics = test_data::testMetrics(), .redis_on_loop = nullptr};
  return environment;
}

TEST(TokenCapConfig, MakeBuildsTheFilterOrReturnsTheError) {
  auto made = makeTokenCapFilter(specFrom(R"(filters:
  - token_cap:
      policies:
        - name: p
          max_n: 1
)",
                                          "token_cap"),
                                 environment());
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<pipeline::Filter>>(made));
  const auto& filter = std::get<std::unique_ptr<pipeline::Filter>>(made);
  EXPECT_EQ(filter->name(), "token_cap");

  auto failed = makeTokenCapFilter(
      specFrom("filters:\n  - token_cap: {policies: [{max_n: 1}]}\n", "token_cap"), environment());
  EXPECT_TRUE(std::holds_alternative<config::ConfigError>(failed));
}

// --- Requests
// -------------------------------------------------------------------------------------

TokenCapFilter filterFrom(const std::string& policies_yaml) {
  return TokenCapFilter(configOk("filters:\n  - token_cap:\n      policies:\n" + policies_yaml),
                        test_data::testMetrics());
}

json chat(const std::string& model, json extra = json::object()) {
  json body = {{"model", model},
               {"messages", json::array({{{"role", "user"}, {"content", "Hello there"}}})}};
  body.update(extra);
  return body;
}

TEST(TokenCapOutput, ClampsMaxTokensOnlyWhenAboveTheCap) {
  const TokenCapFilter filter = filterFrom("        - {name: p, max_output_tokens: 1024}\n");
  Request over(chat("gpt-4o", {{"max_tokens", 5000}}));
  EXPECT_EQ(filter.onRequest(over.ctx), FilterStatus::kContinue);
  EXPECT_EQ(over.forwarded()["max_tokens"], 1024);
  EXPECT_FALSE(over.forwarded().contains("max_completion_tokens"))
      << "the field the client used is the one capped";

  for (int asked : {1, 100, 1024}) {
    Request under(chat("gpt-4o", {{"max_tokens", asked}}));
    EXPECT_EQ(filter.onRequest(under.ctx), FilterStatus::kContinue);
    EXPECT_TRUE(under.ctx.member_edits.empty()) << asked << " is within the cap: sent as is";
    EXPECT_EQ(under.forwarded()["max_tokens"], asked);
  }
}

TEST(TokenCapOutput, ClampsMaxCompletionTokensAndBothFieldsWhenBothAreSent) {
  const TokenCapFilter filter = filterFrom("        - {name: p, max_output_tokens: 256}\n");
  Request reasoning(chat("o3-mini", {{"max_completion_tokens", 100000}}));
  filter.onRequest(reasoning.ctx);
  EXPECT_EQ(reasoning.forwarded()["max_completion_tokens"], 256);
  EXPECT_FALSE(reasoning.forwarded().contains("max_tokens"));

  Request both(chat("gpt-4o", {{"max_tokens", 300}, {"max_completion_tokens", 200}}));
  filter.onRequest(both.ctx);
  EXPECT_EQ(both.forwarded()["max_tokens"], 256);
  EXPECT_EQ(both.forwarded()["max_completion_tokens"], 200);
}

TEST(TokenCapOutput, SetsTheCapWhenTheClientSentNone) {
  const TokenCapFilter filter = filterFrom("        - {name: p, max_output_tokens: 512}\n");
  // auto: reasoning models refuse max_tokens, the rest may not know max_completion_tokens.
  for (const char* model : {"gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo", "llama-3-70b"}) {
    Request request(chat(model));
    filter.onRequest(request.ctx);
    EXPECT_EQ(request.forwarded()["max_tokens"], 512) << model;
    EXPECT_FALSE(request.forwarded().contains("max_completion_tokens")) << model;
  }
  for (const char* model : {"o1", "o1-mini", "o3", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini"}) {
    Request request(chat(model));
    filter.onRequest(request.ctx);
    EXPECT_EQ(request.forwarded()["max_completion_tokens"], 512) << model;
    EXPECT_FALSE(request.forwarded().contains("max_tokens")) << model;
  }
  // A gateway alias is judged by the model its backend is sent.
  Request alias(chat("smart"));
  alias.ctx.backend_model = "o3-mini";
  filter.onRequest(alias.ctx);
  EXPECT_EQ(alias.forwarded()["max_completion_tokens"], 512);
  EXPECT_FALSE(alias.forwarded().contains("max_tokens"));
  Request null_field(chat("gpt-4o", {{"max_tokens", nullptr}}));
  filter.onRequest(null_field.ctx);
  EXPECT_EQ(null_field.forwarded()["max_tokens"], 512) << "null is the same as absent";
}

TEST(TokenCapOutput, OutputFieldOverridesTheAutomaticChoice) {
  const TokenCapFilter completion = filterFrom(
      "        - {name: p, max_output_tokens: 64, output_field: max_completion_tokens}\n");
  Request gpt4o(chat("gpt-4o"));
  completion.onRequest(gpt4o.ctx);
  EXPECT_EQ(gpt4o.forwarded()["max_completion_tokens"], 64);

  const TokenCapFilter max_tokens =
      filterFrom("        - {name: p, max_output_tokens: 64, output_field: max_tokens}\n");
  Request o1(chat("o1"));
  max_tokens.onRequest(o1.ctx);
  EXPECT_EQ(o1.forwarded()["max_tokens"], 64);
  EXPECT_FALSE(o1.forwarded().contains("max_completion_tokens"));

  // The legacy completions endpoint has only max_tokens.
  Request legacy(json{{"model", "o1"}, {"prompt", "Say hi"}}, Route::kCompletions);
  completion.onRequest(legacy.ctx);
  EXPECT_EQ(legacy.forwarded()["max_tokens"], 64);
  EXPECT_FALSE(legacy.forwarded().contains("max_completion_tokens"));
}

TEST(TokenCapOutput, SetWhenAbsentFalseOnlyClamps) {
  const TokenCapFilter filter =
      filterFrom("        - {name: p, max_output_tokens: 64, set_when_absent: false}\n");
  Request absent(chat("gpt-4o"));
  filter.onRequest(absent.ctx);
  EXPECT_TRUE(absent.ctx.member_edits.empty());
  EXPECT_EQ(absent.forwarded(), json::parse(absent.sent()));
  Request over(chat("gpt-4o", {{"max_tokens", 65}}));
  filter.onRequest(over.ctx);
  EXPECT_EQ(over.forwarded()["max_tokens"], 64);
}

TEST(TokenCapOutput, CapsN) {
  const TokenCapFilter filter = filterFrom("        - {name: p, max_n: 2}\n");
  Request many(chat("gpt-4o", {{"n", 8}}));
  filter.onRequest(many.ctx);
  EXPECT_EQ(many.forwarded()["n"], 2);
  EXPECT_FALSE(many.forwarded().contains("max_tokens")) << "no output cap was configured";
  Request few(chat("gpt-4o", {{"n", 2}}));
  filter.onRequest(few.ctx);
  EXPECT_TRUE(few.ctx.member_edits.empty());
  Request absent(chat("gpt-4o"));
  filter.onRequest(absent.ctx);
  EXPECT_FALSE(absent.forwarded().contains("n")) << "n is never added";
}

TEST(TokenCapOutput, EmbeddingsAreNeverGivenOutputFields) {
  const TokenCapFilter filter =
      filterFrom("        - {name: p, max_output_tokens: 64, max_n: 1}\n");
  Request embeddings(json{{"model", "text-embedding-3-small"}, {"input", "hello"}},
                     Route::kEmbeddings);
  EXPECT_EQ(filter.onRequest(embeddings.ctx), FilterStatus::kContinue);
  EXPECT_TRUE(embeddings.ctx.member_edits.empty());
}

TEST(TokenCapOutput, OnlyTheFirstMatchingPolicyApplies) {
  const TokenCapFilter filter =
      filterFrom(R"(        - {name: search, match: {feature: [search]}, max_output_tokens: 10}
        - {name: default, max_output_tokens: 1000}
)");
  Request search(chat("gpt-4o", {{"max_tokens", 5000}}), Route::kChatCompletions, &o200k(),
                 {.feature = "search", .team = "", .env = "", .user = ""});
  filter.onRequest(search.ctx);
  EXPECT_EQ(search.forwarded()["max_tokens"], 10);
  Request other(chat("gpt-4o", {{"max_tokens", 5000}}), Route::kChatCompletions, &o200k(),
                {.feature = "chat", .team = "", .env = "", .user = ""});
  filter.onRequest(other.ctx);
  EXPECT_EQ(other.forwarded()["max_tokens"], 1000);

  const TokenCapFilter none_match =
      filterFrom("        - {name: p, match: {team: [growth]}, max_output_tokens: 1}\n");
  Request untouched(chat("gpt-4o", {{"max_tokens", 5000}}));
  EXPECT_EQ(none_match.onRequest(untouched.ctx), FilterStatus::kContinue);
  EXPECT_TRUE(untouched.ctx.member_edits.empty());
  EXPECT_FALSE(untouched.ctx.prompt_tokens);
}

// --- Input limit
// ----------------------------------------------------------------------------------

json errorOf(const pipeline::RequestContext& ctx) {
  EXPECT_TRUE(ctx.local_reply.has_value());
  if (!ctx.local_reply) return {};
  EXPECT_EQ(ctx.local_reply->status, 400);
  EXPECT_EQ(ctx.local_reply->content_type, "application/json");
  json body = json::parse(ctx.local_reply->body);
  EXPECT_EQ(body.size(), 1u);
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["code"], "input_tokens_exceeded");
  return body["error"];
}

TEST(TokenCapInput, UnderTheLimitGoesOnWithTheCountKept) {
  const TokenCapFilter filter = filterFrom("        - {name: p, max_input_tokens: 1000}\n");
  Request request(chat("gpt-4o"));
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  ASSERT_TRUE(request.ctx.prompt_tokens);
  EXPECT_EQ(request.ctx.prompt_tokens->tokens, request.countedNow());
  EXPECT_FALSE(request.ctx.prompt_tokens->estimated);
  EXPECT_FALSE(request.ctx.local_reply);
}

TEST(TokenCapInput, OverTheLimitIsRefusedWithTheCountAndTheLimit) {
  const TokenCapFilter filter =
      filterFrom("        - {name: strict, max_input_tokens: 20, over_input: reject}\n");
  json body = chat("gpt-4o");
  body["messages"][0]["content"] =
      "Please summarize the following quarterly report in three bullet points for the board.";
  Request request(body);
  const std::int64_t tokens = request.countedNow();
  ASSERT_GT(tokens, 20);
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kRespond);
  json error = errorOf(request.ctx);
  const std::string message = error["message"];
  EXPECT_NE(message.find(" " + std::to_string(tokens) + " tokens"), std::string::npos) << message;
  EXPECT_NE(message.find("the 20 "), std::string::npos) << message;
  EXPECT_NE(message.find("'strict'"), std::string::npos) << message;
  EXPECT_EQ(message.find("about"), std::string::npos) << "an exact count: " << message;
  EXPECT_EQ(message.find("after pruning"), std::string::npos) << message;
  EXPECT_EQ(error["param"], "messages");
  EXPECT_TRUE(request.ctx.savings.empty());
}

TEST(TokenCapInput, TheErrorNamesEachRoutesInputField) {
  const TokenCapFilter filter = filterFrom("        - {name: p, max_input_tokens: 3}\n");
  const std::string text = "A sentence that is certainly longer than three tokens.";
  Request completions(json{{"model", "gpt-3.5-turbo-instruct"}, {"prompt", text}},
                      Route::kCompletions);
  EXPECT_EQ(filter.onRequest(completions.ctx), FilterStatus::kRespond);
  EXPECT_EQ(errorOf(completions.ctx)["param"], "prompt");
  Request embeddings(json{{"model", "text-embedding-3-small"}, {"input", {text, text}}},
                     Route::kEmbeddings);
  EXPECT_EQ(filter.onRequest(embeddings.ctx), FilterStatus::kRespond);
  json error = errorOf(embeddings.ctx);
  EXPECT_EQ(error["param"], "input");
  EXPECT_NE(error["message"].get<std::string>().find(std::to_string(embeddings.countedNow())),
            std::string::npos);
}

// Models without an encoding (`encoding: none`, unknown names) are held to the limit by an
// estimate of about four characters a token, and the message says so.
TEST(TokenCapInput, WithoutAnEncodingTheCountIsAnEstimate) {
  const TokenCapFilter filter =
      filterFrom("        - {name: p, max_input_tokens: 10, over_input: reject}\n");
  json body = chat("local-llama");
  body["messages"][0]["content"] = std::string(100, 'x');
  Request request(body, Route::kChatCompletions, nullptr);
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kRespond);
  const std::string message = errorOf(request.ctx)["message"];
  EXPECT_NE(message.find("about 25 tokens"), std::string::npos) << message;
  ASSERT_TRUE(request.ctx.prompt_tokens);
  EXPECT_TRUE(request.ctx.prompt_tokens->estimated);

  Request small(chat("local-llama"), Route::kChatCompletions, nullptr);
  EXPECT_EQ(filter.onRequest(small.ctx), FilterStatus::kContinue);
}

// An embeddings input has no `messages` or `prompt`: it must still be estimated, or every
// embeddings request to a model without an encoding would pass any limit.
TEST(TokenCapInput, EmbeddingsWithoutAnEncodingAreEstimatedToo) {
  const TokenCapFilter filter = filterFrom("        - {name: p, max_input_tokens: 10}\n");
  Request long_input(json{{"model", "local-embed"}, {"input", {std::string(200, 'y'), "z"}}},
                     Route::kEmbeddings, nullptr);
  EXPECT_EQ(filter.onRequest(long_input.ctx), FilterStatus::kRespond);
  EXPECT_NE(errorOf(long_input.ctx)["message"].get<std::string>().find("about 51 tokens"),
            std::string::npos);
  Request token_ids(json{{"model", "local-embed"},
                         {"input", json::array({json::array({1, 2, 3}), json::array({4})})}},
                    Route::kEmbeddings, nullptr);
  EXPECT_EQ(filter.onRequest(token_ids.ctx), FilterStatus::kContinue);
  EXPECT_EQ(token_ids.ctx.prompt_tokens->tokens, 4) << "a token id is one token";
  Request prompt_ids(
      json{{"model", "local"}, {"prompt", json::array({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})}},
      Route::kCompletions, nullptr);
  EXPECT_EQ(filter.onRequest(prompt_ids.ctx), FilterStatus::kRespond);
}

// prompt_pruning (earlier in the chain) leaves the count of what it kept; it is not redone.
TEST(TokenCapInput, ACountLeftByAnEarlierFilterIsUsed) {
  const TokenCapFilter filter =
      filterFrom("        - {name: p, max_input_tokens: 100, over_input: reject}\n");
  Request request(chat("gpt-4o"));
  request.ctx.prompt_tokens = pipeline::TokenCount{101, false};
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kRespond);
  EXPECT_NE(errorOf(request.ctx)["message"].get<std::string>().find("101 tokens"),
            std::string::npos);
}

// --- Pruning to fit
// -------------------------------------------------------------------------------

json message(const char* role, const std::string& content) {
  return {{"role", role}, {"content", content}};
}

// A long support conversation: a system prompt, then `turns` question/answer pairs.
json conversation(int turns, const std::string& system = "You are a support assistant.") {
  json messages = json::array({message("system", system)});
  for (int i = 0; i < turns; ++i) {
    messages.push_back(message("user", "Question " + std::to_string(i) +
                                           ": how do I rotate the API key of project " +
                                           std::to_string(1000 + i) + " without downtime?"));
    messages.push_back(message("assistant", "Answer " + std::to_string(i) +
                                                ": create a second key, deploy it, then revoke "
                                                "the first one from the dashboard."));
  }
  return messages;
}

json tools() {
  return json::parse(R"([{"type":"function","function":{"name":"lookup_key",
    "description":"Looks up a key.","parameters":{"type":"object","properties":{
    "project":{"type":"string","description":"The project id."}}}}}])");
}

TEST(TokenCapPrune, OverTheLimitIsPrunedToFit) {
  const TokenCapFilter filter = filterFrom(R"(        - name: fit
          max_output_tokens: 200
          max_input_tokens: 300
          over_input: prune
          prune: {keep_last_turns: 2}
)");
  json body = {{"model", "gpt-4o"},
               {"messages", conversation(20)},
               {"tools", tools()},
               {"temperature", 0.25},
               {"max_tokens", 4000}};
  Request request(body);
  const std::int64_t before = request.countedNow();
  ASSERT_GT(before, 300);

  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  EXPECT_FALSE(request.ctx.local_reply);
  // The body was replaced and the index views the replacement.
  ASSERT_FALSE(request.ctx.replaced_body.empty());
  EXPECT_EQ(request.ctx.request_index->raw(), request.ctx.replaced_body);
  const json forwarded = request.forwarded();
  const json& messages = forwarded["messages"];
  EXPECT_LT(messages.size(), body["messages"].size());
  EXPECT_EQ(messages.front(), body["messages"].front()) << "the system prompt stays";
  EXPECT_EQ(messages.back(), body["messages"].back()) << "the last turn stays";
  EXPECT_EQ(request.ctx.request_index->find("messages")->size(), messages.size());
  // Everything else goes out as the client sent it, with the output cap applied on top.
  EXPECT_EQ(forwarded["tools"], body["tools"]);
  EXPECT_EQ(forwarded["temperature"], 0.25);
  EXPECT_EQ(forwarded["model"], "gpt-4o");
  EXPECT_EQ(forwarded["max_tokens"], 200);

  ASSERT_TRUE(request.ctx.prompt_tokens);
  EXPECT_LE(request.ctx.prompt_tokens->tokens, 300);
  EXPECT_EQ(request.ctx.prompt_tokens->tokens, request.countedNow())
      << "the count is of what is sent";
  ASSERT_EQ(request.ctx.savings.size(), 1u);
  EXPECT_EQ(request.ctx.savings[0].filter, "token_cap");
  EXPECT_EQ(request.ctx.savings[0].policy, "fit");
  EXPECT_GT(request.ctx.savings[0].tokens, 0);
  EXPECT_EQ(request.ctx.savings[0].tokens, before - request.countedNow());
  EXPECT_EQ(request.ctx.tokensSaved(), request.ctx.savings[0].tokens);
}

// The system prompt is never pruned: when it alone is over the limit, what pruning could take
// goes, and the request is sent on over the cap (a chat is never refused under prune).
TEST(TokenCapPrune, WhatCannotFitIsSentOnOverTheCap) {
  const TokenCapFilter filter = filterFrom(R"(        - name: fit
          max_input_tokens: 200
)");
  std::string handbook;
  for (int i = 0; i < 80; ++i) {
    handbook += "Rule " + std::to_string(i) + ": always answer politely and cite the handbook. ";
  }
  const json body = {{"model", "gpt-4o"}, {"messages", conversation(10, handbook)}};
  Request request(body);
  const std::int64_t before = request.countedNow();
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  EXPECT_FALSE(request.ctx.local_reply);
  const json forwarded = request.forwarded();
  EXPECT_EQ(forwarded["messages"].front(), body["messages"].front());
  EXPECT_EQ(forwarded["messages"].back(), body["messages"].back());
  ASSERT_TRUE(request.ctx.prompt_tokens);
  EXPECT_GT(request.ctx.prompt_tokens->tokens, 200);
  EXPECT_EQ(request.ctx.prompt_tokens->tokens, request.countedNow());
  EXPECT_LT(request.countedNow(), before);
  ASSERT_EQ(request.ctx.savings.size(), 1u) << "what pruning took is not sent: it is saved";
  EXPECT_EQ(request.ctx.savings[0].tokens, before - request.countedNow());
}

// Pruning needs the exact count of an encoding; without one the request goes on as sent.
TEST(TokenCapPrune, WithoutAnEncodingNothingIsPrunedAndTheRequestGoesOn) {
  const TokenCapFilter filter = filterFrom(R"(        - name: fit
          max_input_tokens: 50
          over_input: prune
)");
  Request request(json{{"model", "local"}, {"messages", conversation(20)}}, Route::kChatCompletions,
                  nullptr);
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  EXPECT_FALSE(request.ctx.local_reply);
  EXPECT_TRUE(request.ctx.replaced_body.empty());
  EXPECT_TRUE(request.ctx.prompt_tokens->estimated);
}

TEST(TokenCapPrune, ARequestWithinTheLimitIsNotPruned) {
  const TokenCapFilter filter = filterFrom(R"(        - name: fit
          max_input_tokens: 100000
          over_input: prune
)");
  json messages = conversation(3);
  messages[1]["content"] = "Lots   of    spaces    that     pruning     would      collapse";
  Request request(json{{"model", "gpt-4o"}, {"messages", messages}});
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  EXPECT_TRUE(request.ctx.replaced_body.empty());
  EXPECT_TRUE(request.ctx.savings.empty());
  EXPECT_EQ(request.forwarded(), json::parse(request.sent()));
}

// --- What the input caps did ---------------------------------------------------------------------

// costgate_token_cap_inputs_total's value for (feature, result), 0 when it has no series yet.
double inputsCounted(const std::string& feature, const std::string& result) {
  const std::string series =
      "costgate_token_cap_inputs_total{feature=\"" + feature + "\",result=\"" + result + "\"} ";
  const std::string text = test_data::testMetrics().serialize();
  const std::size_t at = text.find(series);
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + series.size(), text.find('\n', at) - at - series.size()));
}

TEST(TokenCapStats, CountsAndLogsWhatBecameOfEachInput) {
  const TokenCapFilter filter = filterFrom(R"(        - name: reject
          match: {feature: [cap-stats-reject]}
          max_input_tokens: 300
          over_input: reject
        - name: fit
          max_input_tokens: 300
          prune: {keep_last_turns: 2}
)");
  auto judged = [&](const json& body, const std::string& feature) {
    auto request = std::make_unique<Request>(
        body, Route::kChatCompletions, &o200k(),
        pipeline::Tags{.feature = feature, .team = "", .env = "", .user = ""});
    request->ctx.tag_labels = request->ctx.tags;
    filter.onRequest(request->ctx);
    filter.onComplete(request->ctx);
    return request;
  };
  std::string handbook;
  for (int i = 0; i < 80; ++i) handbook += "Rule " + std::to_string(i) + ": cite the handbook. ";
  const std::string feature = "cap-stats";
  const double within = inputsCounted(feature, "within");
  const double pruned = inputsCounted(feature, "pruned");
  const double over = inputsCounted(feature, "over");
  const double rejected = inputsCounted("cap-stats-reject", "rejected");

  auto small = judged(chat("gpt-4o"), feature);
  EXPECT_EQ(small->ctx.log.textOf("input_cap"), "within");
  auto long_chat = judged(json{{"model", "gpt-4o"}, {"messages", conversation(20)}}, feature);
  EXPECT_EQ(long_chat->ctx.log.textOf("input_cap"), "pruned");
  EXPECT_FALSE(long_chat->ctx.log.find("input_cap_tokens"));
  auto long_system =
      judged(json{{"model", "gpt-4o"}, {"messages", conversation(10, handbook)}}, feature);
  EXPECT_EQ(long_system->ctx.log.textOf("input_cap"), "over");
  ASSERT_TRUE(long_system->ctx.log.find("input_cap_tokens"));
  EXPECT_EQ(*long_system->ctx.log.find("input_cap_tokens"),
            std::to_string(long_system->countedNow()));
  auto refused =
      judged(json{{"model", "gpt-4o"}, {"messages", conversation(20)}}, "cap-stats-reject");
  EXPECT_EQ(refused->ctx.log.textOf("input_cap"), "rejected");
  EXPECT_TRUE(refused->ctx.local_reply);

  EXPECT_EQ(inputsCounted(feature, "within"), within + 1);
  EXPECT_EQ(inputsCounted(feature, "pruned"), pruned + 1);
  EXPECT_EQ(inputsCounted(feature, "over"), over + 1);
  EXPECT_EQ(inputsCounted("cap-stats-reject", "rejected"), rejected + 1);
}

TEST(TokenCapStats, RequestsWithoutAnInputCapAreNotCounted) {
  const TokenCapFilter filter = filterFrom("        - {name: p, max_output_tokens: 10}\n");
  Request request(chat("gpt-4o"));
  filter.onRequest(request.ctx);
  filter.onComplete(request.ctx);
  EXPECT_FALSE(request.ctx.log.find("input_cap"));
}

// Later filters (the budget's reservation) and the backend see the capped max_tokens: it is a
// member edit of the forwarded body, not only of a count.
TEST(TokenCapOutput, TheCapIsWhatIsForwardedAndWhatLaterFiltersRead) {
  const TokenCapFilter filter = filterFrom("        - {name: p, max_output_tokens: 700}\n");
  Request over(chat("gpt-4o", {{"max_tokens", 16000}}));
  filter.onRequest(over.ctx);
  ASSERT_TRUE(over.ctx.editedMember("max_tokens"));
  EXPECT_EQ(*over.ctx.editedMember("max_tokens"), "700");
  EXPECT_EQ(over.forwarded()["max_tokens"], 700);
  Request absent(chat("gpt-4o"));
  filter.onRequest(absent.ctx);
  ASSERT_TRUE(absent.ctx.editedMember("max_tokens"));
  EXPECT_EQ(*absent.ctx.editedMember("max_tokens"), "700");
}

}  // namespace
}  // namespace costgate::filters::token_cap
