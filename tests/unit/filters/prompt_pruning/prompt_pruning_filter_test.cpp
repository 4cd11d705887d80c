#include "filters/prompt_pruning/prompt_pruning_filter.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../support/encodings.h"
#include "../../support/filter_settings.h"
#include "../../support/request.h"
#include "costgate/config/load.h"
#include "costgate/jsonview/document.h"
#include "costgate/openai/prompt_tokens.h"
#include "costgate/text/base64.h"

namespace costgate::filters::prompt_pruning {
namespace {

using nlohmann::json;
using pipeline::FilterStatus;
using pipeline::Route;

using test_data::o200k;
using test_data::Request;
using test_data::specFrom;

// --- Configuration
// --------------------------------------------------------------------------------

PruningConfig configOk(const std::string& filters_yaml) {
  return test_data::configOk(parsePruningConfig, "prompt_pruning", filters_yaml);
}

config::ConfigError configError(const std::string& filters_yaml) {
  return test_data::configError(parsePruningConfig, "prompt_pruning", filters_yaml);
}

TEST(PromptPruningConfig, ReadsEveryKey) {
  const PruningConfig config = configOk(R"(filters:
  - prompt_pruning:
      policies:
        - name: chat
          match: {feature: [chat], env: [prod]}
          collapse_whitespace: false
          drop_duplicates: false
          max_input_tokens: 6000
          drop_old_turns: false
          keep_last_turns: 2
          compact_step: 0.25
          truncate_longest: false
          max_message_tokens: 1200
          marker: "[...]"
        - name: default
)");
  ASSERT_EQ(config.policies.size(), 2u);
  const PruningPolicy& chat = config.policies[0];
  EXPECT_EQ(chat.name, "chat");
  EXPECT_EQ(chat.match.features, (std::vector<std::string>{"chat"}));
  EXPECT_EQ(chat.match.envs, (std::vector<std::string>{"prod"}));
  EXPECT_FALSE(chat.steps.collapse_whitespace);
  EXPECT_FALSE(chat.steps.drop_duplicates);
  EXPECT_EQ(chat.max_input_tokens, 6000);
  EXPECT_FALSE(chat.steps.drop_old_turns);
  EXPECT_EQ(chat.steps.keep_last_turns, 2u);
  EXPECT_EQ(chat.steps.compact_step, 0.25);
  EXPECT_FALSE(chat.steps.truncate_longest);
  EXPECT_EQ(chat.steps.max_message_tokens, 1200);
  EXPECT_EQ(chat.steps.marker, "[...]");

  const PruningPolicy& fallback = config.policies[1];
  const PruneSteps defaults;
  EXPECT_EQ(fallback.name, "default");
  EXPECT_FALSE(fallback.max_input_tokens) << "no budget unless one is written";
  EXPECT_EQ(fallback.steps.collapse_whitespace, defaults.collapse_whitespace);
  EXPECT_EQ(fallback.steps.drop_duplicates, defaults.drop_duplicates);
  EXPECT_EQ(fallback.steps.drop_old_turns, defaults.drop_old_turns);
  EXPECT_EQ(fallback.steps.keep_last_turns, defaults.keep_last_turns);
  EXPECT_EQ(fallback.steps.compact_step, 0.5);
  EXPECT_EQ(fallback.steps.truncate_longest, defaults.truncate_longest);
  EXPECT_FALSE(fallback.steps.max_message_tokens) << "a quarter of the budget, when it runs";
  EXPECT_EQ(fallback.steps.marker, defaults.marker);
}

TEST(PromptPruningConfig, ErrorsPointAtTheValueOrKey) {
  struct Case {
    const char* yaml;
    int line;
    int column;
    const char* says;
  };
  const Case cases[] = {
      {"filters:\n  - prompt_pruning: {}\n", 2, 5, "policies"},
      {"filters:\n  - prompt_pruning:\n      policies:\n        - collapse_whitespace: true\n", 4,
       11, "name"},
      {"filters:\n  - prompt_pruning:\n      policies:\n        - name: p\n"
       "          keep_last_turn: 2\n",
       5, 11, "keep_last_turns"},
      {"filters:\n  - prompt_pruning:\n      policies:\n        - name: p\n"
       "          over_input: prune\n",
       5, 11, "over_input"},
      {"filters:\n  - prompt_pruning:\n      policies:\n        - name: p\n"
       "          keep_last_turns: 0\n",
       5, 28, "keep_last_turns"},
      {"filters:\n  - prompt_pruning:\n      policies:\n        - name: p\n"
       "          max_input_tokens: 0\n",
       5, 29, "max_input_tokens"},
      {"filters:\n  - prompt_pruning:\n      policies:\n        - name: p\n"
       "          compact_step: 0.001\n",
       5, 25, "compact_step"},
      {"filters:\n  - prompt_pruning:\n      policies:\n        - name: p\n"
       "          compact_step: 1.5\n",
       5, 25, "compact_step"},
      {"filters:\n  - prompt_pruning:\n      policies:\n        - name: p\n"
       "          max_message_tokens: 0\n",
       5, 31, "max_message_tokens"},
      {"filters:\n  - prompt_pruning:\n      policies:\n        - name: p\n"
       "          collapse_whitespace: yes\n",
       5, 32, "collapse_whitespace"},
      {"filters:\n  - prompt_pruning:\n      policies:\n        - name: p\n"
       "          marker: [a, b]\n",
       5, 19, "marker"},
      {"filters:\n  - prompt_pruning:\n      policies:\n        - name: p\n"
       "          match: {model: []}\n",
       5, 26, "empty list"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    test_data::expectErrorAt(configError(c.yaml), "prompt_pruning", c.line, c.column, c.says);
  }
}

TEST(PromptPruningConfig, MakeBuildsAFilterThatReadsOnlyTheIndex) {
  auto made = makePromptPruningFilter(
      specFrom("filters:\n  - prompt_pruning: {policies: [{name: p}]}\n", "prompt_pruning"));
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<pipeline::Filter>>(made));
  const auto& filter = std::get<std::unique_ptr<pipeline::Filter>>(made);
  EXPECT_EQ(filter->name(), "prompt_pruning");
  EXPECT_TRUE(std::holds_alternative<config::ConfigError>(makePromptPruningFilter(specFrom(
      "filters:\n  - prompt_pruning: {policies: [{name: p, budget: 1}]}\n", "prompt_pruning"))));
}

// --- Requests
// -------------------------------------------------------------------------------------

PromptPruningFilter filterFrom(const std::string& policies_yaml) {
  return PromptPruningFilter(
      configOk("filters:\n  - prompt_pruning:\n      policies:\n" + policies_yaml));
}

pipeline::Tags feature(std::string name) {
  return {.feature = std::move(name), .team = "", .env = "", .user = ""};
}

json message(const char* role, const std::string& content) {
  return {{"role", role}, {"content", content}};
}

// Pasted text with runs of spaces and blank lines, which collapse_whitespace takes out.
const std::string kSpacious =
    "Here    is   my     question:\n\n\n\n\nwhy    does    the     build      fail?    \n\n\n";

json conversation(int turns) {
  json messages = json::array({message("system", "You are a build assistant.")});
  for (int i = 0; i < turns; ++i) {
    messages.push_back(message("user", "Question " + std::to_string(i) +
                                           ": why does the nightly build of service " +
                                           std::to_string(200 + i) + " fail on ARM runners?"));
    messages.push_back(message("assistant", "Answer " + std::to_string(i) +
                                                ": the cache key ignores the architecture, so "
                                                "x86 objects are restored; add it to the key."));
  }
  return messages;
}

TEST(PromptPruningFilter, PrunesAndRecordsTheSavingUnderItsPolicy) {
  const PromptPruningFilter filter = filterFrom("        - {name: tidy}\n");
  Request request(
      json{{"model", "gpt-4o"}, {"messages", json::array({message("user", kSpacious)})}});
  const std::int64_t before = request.countedNow();
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  ASSERT_FALSE(request.ctx.replaced_body.empty());
  const std::string content = request.forwarded()["messages"][0]["content"];
  EXPECT_EQ(content.find("  "), std::string::npos) << content;
  ASSERT_EQ(request.ctx.savings.size(), 1u);
  EXPECT_EQ(request.ctx.savings[0].filter, "prompt_pruning");
  EXPECT_EQ(request.ctx.savings[0].policy, "tidy");
  EXPECT_GT(request.ctx.savings[0].tokens, 0);
  EXPECT_EQ(request.ctx.savings[0].tokens, before - request.countedNow());
  ASSERT_TRUE(request.ctx.prompt_tokens);
  EXPECT_EQ(request.ctx.prompt_tokens->tokens, request.countedNow())
      << "the count left for later filters is that of the pruned body";
}

// Only the messages are re-written; every other member goes out as the client wrote it.
TEST(PromptPruningFilter, TheReplacedBodyKeepsEveryOtherMemberByteIdentical) {
  const std::string tools =
      R"([ {"type": "function", "function": {"name": "run_build", "description": "Runs a build.",)"
      R"( "parameters": {"type": "object", "properties": {}}}} ])";
  const std::string body =
      "{\"model\": \"gpt-4o\", \"temperature\": 0.70, \"top_p\": 1.0,"
      " \"messages\": [{\"role\": \"user\", \"content\": " +
      json(kSpacious).dump() + "}], \"tools\": " + tools +
      ", \"metadata\": {\"ticket\": \"caf\\u00e9\"}, \"seed\": 42}";
  const PromptPruningFilter filter = filterFrom("        - {name: tidy}\n");
  Request request(body);
  filter.onRequest(request.ctx);
  ASSERT_FALSE(request.ctx.replaced_body.empty());

  auto members = [](const jsonview::Value& object) {
    std::map<std::string, std::string> raw;
    object.forEachMember([&](const jsonview::Value& key, const jsonview::Value& value) {
      raw[key.string()] = std::string(value.raw());
    });
    return raw;
  };
  auto original = members(jsonview::Document::parse(body)->root());
  auto replaced = members(*request.ctx.request_index);
  EXPECT_EQ(replaced.size(), original.size());
  for (const auto& [key, raw] : original) {
    if (key == "messages") {
      EXPECT_NE(replaced[key], raw);
    } else {
      EXPECT_EQ(replaced[key], raw) << key;
    }
  }
  EXPECT_EQ(replaced["temperature"], "0.70");
  EXPECT_EQ(replaced["tools"], tools);
}

TEST(PromptPruningFilter, NoChangeLeavesTheBodyAndSavingsAlone) {
  const PromptPruningFilter filter = filterFrom("        - {name: tidy}\n");
  Request request(json{{"model", "gpt-4o"}, {"messages", conversation(2)}});
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  EXPECT_TRUE(request.ctx.replaced_body.empty());
  EXPECT_FALSE(request.ctx.replaced_index);
  EXPECT_TRUE(request.ctx.savings.empty());
  EXPECT_EQ(request.forwarded(), json::parse(request.sent()));
  ASSERT_TRUE(request.ctx.prompt_tokens) << "the request was counted anyway";
  EXPECT_EQ(request.ctx.prompt_tokens->tokens, request.countedNow());
}

TEST(PromptPruningFilter, TheFirstMatchingPolicyIsUsed) {
  const PromptPruningFilter filter = filterFrom(R"(        - name: search
          match: {feature: [search]}
          collapse_whitespace: false
          drop_duplicates: false
        - name: chat
          match: {feature: [chat, support]}
        - name: chat-too
)");
  json body = {{"model", "gpt-4o"}, {"messages", json::array({message("user", kSpacious)})}};

  Request search(body, Route::kChatCompletions, &o200k(), feature("search"));
  filter.onRequest(search.ctx);
  EXPECT_TRUE(search.ctx.replaced_body.empty()) << "its policy turns every step off";
  EXPECT_TRUE(search.ctx.savings.empty());

  Request support(body, Route::kChatCompletions, &o200k(), feature("support"));
  filter.onRequest(support.ctx);
  ASSERT_EQ(support.ctx.savings.size(), 1u);
  EXPECT_EQ(support.ctx.savings[0].policy, "chat");

  Request other(body, Route::kChatCompletions, &o200k(), feature("summarize"));
  filter.onRequest(other.ctx);
  ASSERT_EQ(other.ctx.savings.size(), 1u);
  EXPECT_EQ(other.ctx.savings[0].policy, "chat-too");
}

TEST(PromptPruningFilter, NoMatchingPolicyLeavesTheRequestUncounted) {
  const PromptPruningFilter filter =
      filterFrom("        - {name: chat, match: {feature: [chat]}}\n");
  Request request(
      json{{"model", "gpt-4o"}, {"messages", json::array({message("user", kSpacious)})}},
      Route::kChatCompletions, &o200k(), feature("search"));
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  EXPECT_TRUE(request.ctx.replaced_body.empty());
  EXPECT_TRUE(request.ctx.savings.empty());
  EXPECT_FALSE(request.ctx.prompt_tokens);
}

// Completions prompts and embeddings inputs are text the caller chose to the byte: whitespace in
// them may be meaning (code, poetry, a document to embed as it is).
TEST(PromptPruningFilter, NonChatRoutesAreUntouched) {
  const PromptPruningFilter filter = filterFrom("        - {name: tidy, max_input_tokens: 5}\n");
  Request completions(json{{"model", "gpt-3.5-turbo-instruct"}, {"prompt", kSpacious}},
                      Route::kCompletions);
  EXPECT_EQ(filter.onRequest(completions.ctx), FilterStatus::kContinue);
  Request embeddings(json{{"model", "text-embedding-3-small"}, {"input", {kSpacious, kSpacious}}},
                     Route::kEmbeddings);
  EXPECT_EQ(filter.onRequest(embeddings.ctx), FilterStatus::kContinue);
  for (const Request* request : {&completions, &embeddings}) {
    EXPECT_TRUE(request->ctx.replaced_body.empty());
    EXPECT_TRUE(request->ctx.savings.empty());
    EXPECT_FALSE(request->ctx.prompt_tokens);
    EXPECT_EQ(request->forwarded(), json::parse(request->sent()));
  }
}

TEST(PromptPruningFilter, WithoutAnEncodingNothingIsPruned) {
  const PromptPruningFilter filter = filterFrom("        - {name: tidy}\n");
  Request request(json{{"model", "local"}, {"messages", json::array({message("user", kSpacious)})}},
                  Route::kChatCompletions, nullptr);
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  EXPECT_TRUE(request.ctx.replaced_body.empty());
  EXPECT_TRUE(request.ctx.savings.empty());
}

// The budget covers the whole input: tools and reply priming are taken out of what the messages
// may keep.
TEST(PromptPruningFilter, ABudgetDropsOldTurnsToFitToolsIncluded) {
  const PromptPruningFilter filter =
      filterFrom("        - {name: budget, max_input_tokens: 250, keep_last_turns: 1}\n");
  json tools = json::parse(R"([{"type":"function","function":{"name":"read_build_log",
    "description":"Reads the log of a build job.","parameters":{"type":"object","properties":{
    "job_id":{"type":"string","description":"The id of the job."},
    "lines":{"type":"integer","description":"How many lines from the end."}}}}}])");
  json body = {{"model", "gpt-4o"}, {"messages", conversation(12)}, {"tools", tools}};
  Request request(body);
  const std::int64_t before = request.countedNow();
  ASSERT_GT(before, 250);
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  EXPECT_LE(request.countedNow(), 250);
  EXPECT_EQ(request.ctx.prompt_tokens->tokens, request.countedNow());
  EXPECT_EQ(request.forwarded()["tools"], tools);
  ASSERT_EQ(request.ctx.savings.size(), 1u);
  EXPECT_EQ(request.ctx.savings[0].tokens, before - request.countedNow());
}

// Over a budget it cannot reach the request still goes on: refusing is token_cap's job.
TEST(PromptPruningFilter, NeverRepliesEvenWhenTheBudgetCannotBeMet) {
  const PromptPruningFilter filter = filterFrom("        - {name: budget, max_input_tokens: 1}\n");
  Request request(json{{"model", "gpt-4o"}, {"messages", conversation(3)}});
  EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  EXPECT_FALSE(request.ctx.local_reply);
  ASSERT_TRUE(request.ctx.prompt_tokens);
  EXPECT_GT(request.ctx.prompt_tokens->tokens, 1);
  EXPECT_EQ(request.ctx.prompt_tokens->tokens, request.countedNow());
}

// Edits an earlier filter made with setMember still apply on top of the pruned body.
TEST(PromptPruningFilter, EarlierMemberEditsStillApply) {
  const PromptPruningFilter filter = filterFrom("        - {name: tidy}\n");
  Request request(json{{"model", "gpt-4o"},
                       {"max_tokens", 9000},
                       {"messages", json::array({message("user", kSpacious)})}});
  request.ctx.setMember("max_tokens", "256");
  filter.onRequest(request.ctx);
  ASSERT_FALSE(request.ctx.replaced_body.empty());
  const json forwarded = request.forwarded();
  EXPECT_EQ(forwarded["max_tokens"], 256);
  EXPECT_EQ(forwarded["messages"][0]["content"].get<std::string>().find("  "), std::string::npos);
}

// A filter after this one reads the pruned body through the index.
TEST(PromptPruningFilter, TheIndexShowsTheReplacedBodyToLaterFilters) {
  const PromptPruningFilter filter = filterFrom("        - {name: tidy}\n");
  Request request(
      json{{"model", "gpt-4o"}, {"messages", json::array({message("user", kSpacious)})}});
  filter.onRequest(request.ctx);
  ASSERT_FALSE(request.ctx.replaced_body.empty());
  EXPECT_EQ(json::parse(request.ctx.request_index->raw()), json::parse(request.ctx.replaced_body));
  EXPECT_NE(json::parse(request.ctx.request_index->raw()), json::parse(request.sent()));
}

// An image of unknown size is counted as an estimate; pruning the text around it must not make
// the count look exact.
TEST(PromptPruningFilter, AnEstimatedCountStaysEstimatedAfterPruning) {
  const PromptPruningFilter filter = filterFrom("        - {name: tidy}\n");
  json content = json::array(
      {{{"type", "text"}, {"text", kSpacious}},
       {{"type", "image_url"}, {"image_url", {{"url", "https://example.com/build-graph.png"}}}}});
  json body = {{"model", "gpt-4o"},
               {"messages", json::array({{{"role", "user"}, {"content", content}}})}};

  Request uncounted(body);
  filter.onRequest(uncounted.ctx);
  ASSERT_FALSE(uncounted.ctx.replaced_body.empty());
  ASSERT_TRUE(uncounted.ctx.prompt_tokens);
  EXPECT_EQ(uncounted.ctx.prompt_tokens->tokens, uncounted.countedNow());
  EXPECT_TRUE(uncounted.ctx.prompt_tokens->estimated);

  Request counted(body);
  counted.ctx.prompt_tokens =
      openai::countPrompt(Route::kChatCompletions, *counted.ctx.request_index, o200k());
  ASSERT_TRUE(counted.ctx.prompt_tokens->estimated);
  filter.onRequest(counted.ctx);
  EXPECT_TRUE(counted.ctx.prompt_tokens->estimated);

  Request text_only(
      json{{"model", "gpt-4o"}, {"messages", json::array({message("user", kSpacious)})}});
  filter.onRequest(text_only.ctx);
  EXPECT_FALSE(text_only.ctx.prompt_tokens->estimated) << "plain text is counted exactly";
}

}  // namespace
}  // namespace costgate::filters::prompt_pruning
