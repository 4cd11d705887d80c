#include "filters/prompt_pruning/pruner.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../support/encodings.h"
#include "costgate/jsonview/document.h"
#include "costgate/openai/prompt_tokens.h"
#include "costgate/openai/request_validation.h"

namespace costgate::filters::prompt_pruning {
namespace {

using nlohmann::json;

const std::string kMarker = PruneSteps{}.marker;

// --- Building conversations ----------------------------------------------------------------------

json message(const char* role, const std::string& content) {
  return {{"role", role}, {"content", content}};
}
json system(const std::string& content) { return message("system", content); }
json user(const std::string& content) { return message("user", content); }
json assistant(const std::string& content) { return message("assistant", content); }

json toolCall(const std::string& id, const std::string& name, const std::string& arguments) {
  return {
      {"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", arguments}}}};
}
json assistantCalling(const json& calls) {
  return {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", calls}};
}
json toolResult(const std::string& id, const std::string& content) {
  return {{"role", "tool"}, {"tool_call_id", id}, {"content", content}};
}

json concat(std::initializer_list<json> parts) {
  json out = json::array();
  for (const json& part : parts) {
    for (const json& element : part) out.push_back(element);
  }
  return out;
}

// An application log as users paste it: ASCII mostly, some accented, CJK and emoji text. It
// has no whitespace to collapse, so only the steps a test is about change it.
std::string logPaste(std::size_t at_least_bytes) {
  std::string out;
  for (int i = 0; out.size() < at_least_bytes; ++i) {
    if (i > 0) out += '\n';
    out += "2024-05-" + std::to_string(10 + i % 20) + "T12:" + std::to_string(10 + i % 50) +
           ":07Z [" + (i % 9 == 0 ? "ERROR" : "INFO") + "] worker-" + std::to_string(i % 7) +
           " order #" + std::to_string(100000 + i * 37) + " for café «Zürich» — 東京 ✓ 🚀";
  }
  return out;
}

// One turn of small talk about a topic, a few dozen tokens.
json smallTalkTurn(int n) {
  return json::array({user("Question " + std::to_string(n) +
                           ": what does the retry policy do when "
                           "the upstream returns 429 with a Retry-After header?"),
                      assistant("Answer " + std::to_string(n) +
                                ": it waits for the advertised "
                                "delay, capped at 30 seconds, then retries once.")});
}

bool isValidUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80           ? 1
                               : (lead >> 5) == 0x6  ? 2
                               : (lead >> 4) == 0xE  ? 3
                               : (lead >> 3) == 0x1E ? 4
                                                     : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

// --- The fixture ---------------------------------------------------------------------------------

class Prune : public ::testing::Test {
 protected:
  static const tokenizer::Encoding& encoding() {
    return test_data::testEncoding(tokenizer::SplitRule::kO200k);
  }

  // The summed countChatMessage of a messages array written as JSON.
  static std::int64_t countMessages(const std::string& messages_json) {
    auto document = jsonview::Document::parse(messages_json);
    EXPECT_TRUE(document) << messages_json.substr(0, 200);
    if (!document) return -1;
    std::int64_t total = 0;
    for (const auto& element : document->root().elements()) {
      total += openai::countChatMessage(element, encoding()).tokens;
    }
    return total;
  }
  static std::int64_t countMessages(const json& messages) { return countMessages(messages.dump()); }

  // Prunes `input` (JSON text, as a client sent it) and checks what must hold for any input.
  PruneResult run(const std::string& input, std::optional<std::int64_t> budget,
                  const PruneSteps& steps = {}, bool input_is_a_valid_request = true) {
    input_ = input;
    auto document = jsonview::Document::parse(input_);
    EXPECT_TRUE(document) << "the test's input is not JSON";
    if (!document) return {};
    PruneResult result = prune(document->root(), steps, budget, encoding());
    checkInvariants(result, budget, input_is_a_valid_request);
    return result;
  }
  PruneResult run(const json& input, std::optional<std::int64_t> budget,
                  const PruneSteps& steps = {}) {
    return run(input.dump(), budget, steps);
  }

  // The messages a backend receives.
  json sent(const PruneResult& result) const {
    return json::parse(result.messages ? *result.messages : input_);
  }

  std::string input_;

 private:
  void checkInvariants(const PruneResult& result, std::optional<std::int64_t> budget,
                       bool input_is_a_valid_request) {
    const bool is_array = json::parse(input_).is_array();
    EXPECT_EQ(result.tokens_before, is_array ? countMessages(input_) : 0);
    EXPECT_EQ(result.saved_by_whitespace + result.saved_by_duplicates + result.saved_by_old_turns +
                  result.saved_by_truncation,
              result.tokens_before - result.tokens_after);
    EXPECT_EQ(result.within_budget, !budget || result.tokens_after <= *budget);
    if (!budget) {
      EXPECT_EQ(result.saved_by_old_turns, 0);
      EXPECT_EQ(result.saved_by_truncation, 0);
    }
    if (!result.messages) {
      EXPECT_EQ(result.tokens_after, result.tokens_before);
      return;
    }
    const std::string& out = *result.messages;
    ASSERT_TRUE(json::accept(out)) << out.substr(0, 500);
    ASSERT_TRUE(isValidUtf8(out));
    const json messages = json::parse(out);
    ASSERT_TRUE(messages.is_array());
    ASSERT_FALSE(messages.empty());
    EXPECT_EQ(countMessages(out), result.tokens_after);
    // System and developer messages all reach the backend, as they were sent.
    auto pinned = [](const json& array) {
      std::vector<json> found;
      for (const json& m : array) {
        const json* role = m.is_object() && m.contains("role") ? &m["role"] : nullptr;
        if (role && (*role == "system" || *role == "developer")) found.push_back(m);
      }
      return found;
    };
    EXPECT_EQ(pinned(json::parse(input_)), pinned(messages));
    if (!input_is_a_valid_request) return;
    // What OpenAI requires of each message, and the gateway's own request checks.
    std::set<std::string> call_ids;
    for (const json& m : messages) {
      ASSERT_TRUE(m.is_object());
      ASSERT_TRUE(m.contains("role") && m["role"].is_string()) << m.dump();
      const std::string role = m["role"];
      EXPECT_TRUE(m.contains("content") || m.contains("tool_calls")) << m.dump();
      if (m.contains("tool_calls")) {
        for (const json& call : m["tool_calls"]) call_ids.insert(call["id"].get<std::string>());
      }
      if (role == "tool") {
        ASSERT_TRUE(m.contains("tool_call_id")) << m.dump();
        EXPECT_TRUE(call_ids.count(m["tool_call_id"].get<std::string>()))
            << "a tool result without its call: " << m.dump();
      }
    }
    const std::string body = R"({"model":"gpt-4o","messages":)" + out + "}";
    auto document = jsonview::Document::parse(body);
    ASSERT_TRUE(document);
    auto problem = openai::validateRequest(pipeline::Route::kChatCompletions, document->root());
    EXPECT_FALSE(problem) << problem->message;
  }
};

// --- Nothing to do -------------------------------------------------------------------------------

TEST_F(Prune, CleanConversationIsLeftAsSent) {
  const json input = json::array(
      {system("You are a travel assistant."), user("What is the weather in Paris?"),
       assistantCalling(json::array({toolCall("call_1", "get_weather", R"({"city":"Paris"})")})),
       toolResult("call_1", R"({"temperature":21,"sky":"clear"})"),
       assistant("It is 21 °C and clear in Paris."), user("And tomorrow?")});
  const PruneResult result = run(input, 100000);
  EXPECT_FALSE(result.messages);
  EXPECT_EQ(result.tokens_after, result.tokens_before);
  EXPECT_GT(result.tokens_before, 0);
  EXPECT_TRUE(result.within_budget);
}

TEST_F(Prune, MessagesThatAreNotAnArrayAreLeftAlone) {
  for (const char* input :
       {"{}", R"({"role":"user","content":"a   b"})", R"("a   b")", "null", "42"}) {
    SCOPED_TRACE(input);
    const PruneResult result = run(std::string(input), 10, PruneSteps{}, false);
    EXPECT_FALSE(result.messages);
    EXPECT_EQ(result.tokens_before, 0);
  }
  const PruneResult empty = run(std::string("[]"), 10);
  EXPECT_FALSE(empty.messages);
  EXPECT_EQ(empty.tokens_before, 0);
}

TEST_F(Prune, ElementsThatAreNotMessagesStayWhereTheyAre) {
  const PruneResult result =
      run(std::string(R"([1, "x",{"role":"user","content":"a   b"}, null, {"content":"c   d"}])"),
          std::nullopt, PruneSteps{}, false);
  ASSERT_TRUE(result.messages);
  EXPECT_EQ(*result.messages,
            R"([1,"x",{"role":"user","content":"a b"},null,{"content":"c   d"}])");
}

TEST_F(Prune, OddShapesAreLeftAsTheyAre) {
  // Not what OpenAI accepts, but what a body can hold: pruning must neither crash nor guess.
  const std::string odd = R"([{"role":"user","content":{"text":"an   object"}},)"
                          R"({"role":5,"content":"a   number role"},)"
                          R"({"role":"assistant","tool_calls":"not   a list"},)"
                          R"({"role":"tool","content":"no   call id"},)"
                          R"({"role":"user","content":["a   bare string",{"type":"text","text":5},)"
                          R"({"type":"text"},{"type":"text","text":"   "}]},)"
                          R"({"role":"user","content":"a   b"}])";
  const PruneResult result = run(odd, 1, PruneSteps{.truncate_longest = false}, false);
  ASSERT_TRUE(result.messages);
  const json out = sent(result);
  const json in = json::parse(odd);
  EXPECT_EQ(out[0], in[0]);
  EXPECT_EQ(out[1], in[1]);
  EXPECT_EQ(out[2], in[2]);
  EXPECT_EQ(out[3], json({{"role", "tool"}, {"content", "no call id"}}));
  EXPECT_EQ(out[4]["content"],
            json::parse(R"(["a   bare string",{"type":"text","text":5},{"type":"text"},)"
                        R"({"type":"text","text":""}])"));
  EXPECT_EQ(out[5], user("a b"));
  EXPECT_FALSE(result.within_budget);
}

TEST_F(Prune, EveryStepOffChangesNothing) {
  const json input =
      json::array({user("Please   look\n\n\n\nat this. " + logPaste(20000)), assistant("Sure."),
                   user("Please   look\n\n\n\nat this. " + logPaste(20000)), assistant("Done."),
                   user("Thanks")});
  const PruneSteps off{.collapse_whitespace = false,
                       .drop_duplicates = false,
                       .drop_old_turns = false,
                       .truncate_longest = false};
  const PruneResult result = run(input, 100, off);
  EXPECT_FALSE(result.messages);
  EXPECT_FALSE(result.within_budget);
}

// --- Whitespace ----------------------------------------------------------------------------------

TEST_F(Prune, CollapsesWhitespaceOutsideCodeBlocks) {
  const std::string text =
      "  Please   review\tthis:\n\n\n\n   \nIt  fails\ton\n  Linux.\n\n"
      "```python\ndef f(x):\n    if x:\n\n\n\n        return  1\n```\n\n\n\nThanks!  \n";
  json message = user(text);
  message["name"] = "dana";
  const PruneResult result = run(json::array({message}), std::nullopt);
  ASSERT_TRUE(result.messages);
  // Indentation stays (it may be code pasted without a fence); runs inside a line and at its end
  // go.
  json expected = user(
      "  Please review this:\n\nIt fails on\n  Linux.\n\n"
      "```python\ndef f(x):\n    if x:\n\n\n\n        return  1\n```\n\nThanks!");
  expected["name"] = "dana";
  EXPECT_EQ(sent(result), json::array({expected}));
  EXPECT_GT(result.saved_by_whitespace, 0);
  EXPECT_EQ(result.saved_by_whitespace, result.tokens_before - result.tokens_after);
}

TEST_F(Prune, CodeFencesOfEveryShapeAreCopiedVerbatim) {
  const std::string tilde = "~~~~yaml\nkey:    value\n\n\n\nlist:\n  -   a\n~~~~";
  const std::string nested = "````md\n```\ninner   fence\n```\n\n\n\nstill   code\n````";
  const std::string in_list = "1.  Run:\n    ```sh\n    make   -j4\n\n\n\n    ```";
  const std::string unclosed = "```js\nconst  a = 1;\n\n\n\nconst  b = 2;";
  const PruneResult result =
      run(json::array({user("Config:   \n" + tilde + "\nNested:\n" + nested),
                       assistant("Steps:\n" + in_list + "\n\n\n\nInline ```not   a fence``` here."),
                       user("Last   one:\n" + unclosed)}),
          std::nullopt);
  ASSERT_TRUE(result.messages);
  EXPECT_EQ(sent(result), json::array({user("Config:\n" + tilde + "\nNested:\n" + nested),
                                       assistant("Steps:\n1. Run:\n    ```sh\n    make   -j4\n\n"
                                                 "\n\n    ```\n\nInline ```not a fence``` here."),
                                       user("Last one:\n" + unclosed)}));
}

TEST_F(Prune, SystemMessagesAndNonTextPartsAreNeverEdited) {
  // Written as a client might: spaces after colons, escapes; what is not edited keeps its bytes.
  const std::string system_message =
      R"({"role": "system", "content": "You  are   a \"careful\" reviewer.\n\n\n\nBe brief."})";
  const std::string developer_message =
      R"({"role": "developer", "content": [{"type": "text", "text": "Answer   in  caf\u00e9 French."}]})";
  const std::string image_part =
      R"({"type": "image_url", "image_url": {"url": "https://example.com/a%20b.png", "detail": "low"}})";
  const std::string audio_part =
      R"({"type":"input_audio","input_audio":{"data":"UklGRg==   ","format":"wav"}})";
  const std::string file_part =
      R"({"type":"file","file":{"filename":"notes   v2.txt","file_data":"data:text/plain;base64,YQ=="}})";
  const std::string input =
      "[" + system_message + "," + developer_message +
      R"(,{"role": "user", "content": [{"type": "text", "text": "What   is in)"
      R"( this\n\n\n\nimage?  "}, )" +
      image_part + ", " + audio_part + "," + file_part + "]}]";
  const PruneResult result = run(input, std::nullopt);
  ASSERT_TRUE(result.messages);
  const std::string& out = *result.messages;
  for (const std::string& verbatim :
       {system_message, developer_message, image_part, audio_part, file_part}) {
    EXPECT_NE(out.find(verbatim), std::string::npos) << verbatim << "\nnot in\n" << out;
  }
  EXPECT_EQ(sent(result)[2]["content"][0],
            json({{"type", "text"}, {"text", "What is in this\n\nimage?"}}));
  EXPECT_GT(result.saved_by_whitespace, 0);
}

// --- Duplicates ----------------------------------------------------------------------------------

TEST_F(Prune, DropsRepeatedMessagesAndTextParts) {
  const std::string paste = logPaste(3000);
  const json image = {{"type", "image_url"}, {"image_url", {{"url", "https://example.com/x.png"}}}};
  const json text_part = {{"type", "text"}, {"text", "Compare these."}};
  const json call_1 = assistantCalling(json::array({toolCall("call_1", "get_time", "{}")}));
  const json call_2 = assistantCalling(json::array({toolCall("call_2", "get_time", "{}")}));
  const json input = json::array({
      system("You are a support agent."),
      system("You are a support agent."),  // kept: system messages are never dropped
      user("Here is the log:\n" + paste),
      assistant("Looking at it."),
      user("Here is the log:\n" + paste),  // re-sent after an answer: kept, it may be the question
      assistant("Looking at it."),         // dropped
      call_1,
      toolResult("call_1", "12:00"),
      call_1,                         // the same call made again: kept, it is a new call
      toolResult("call_1", "12:00"),  // and its answer
      call_2,
      toolResult("call_2", "12:00"),  // an equal answer to another call: kept
      {{"role", "user"}, {"content", json::array({text_part, image, text_part, image})}},
      {{"role", "user"}, {"name", "bob"}, {"content", "Thanks"}},
      assistant("You're welcome."),
      {{"role", "user"}, {"content", "Thanks"}},  // no name: not equal to bob's message
      assistant("You're welcome."),               // dropped
      {{"role", "user"}, {"content", "Thanks"}},  // right after an equal kept question: dropped
  });
  const PruneResult result = run(input, std::nullopt);
  ASSERT_TRUE(result.messages);
  json expected = input;
  expected[12]["content"] = json::array({text_part, image, image});
  for (std::size_t dropped : {17, 16, 5}) expected.erase(dropped);
  EXPECT_EQ(sent(result), expected);
  EXPECT_EQ(result.saved_by_whitespace, 0);
  EXPECT_EQ(result.saved_by_duplicates, countMessages(input) - countMessages(expected));
  EXPECT_EQ(sent(result).back(), user("Thanks")) << "the request still ends with the question";
}

TEST_F(Prune, ADoubleSubmitIsDroppedAtOnceAndTheQuestionStays) {
  const std::string paste = logPaste(3000);
  const json asked = user("Why does this fail?\n" + paste);
  const json start = json::array({system("You are a support agent."), user("Hi"),
                                  assistant("Hello! What can I do?"), asked, asked});
  const PruneResult now = run(start, std::nullopt);
  json expected = start;
  expected.erase(4);
  EXPECT_EQ(sent(now), expected) << "the repeat goes while it is the newest message";
  EXPECT_GT(now.saved_by_duplicates, countMessages(json::array({asked})) - 10);
  // The next turn sends what this one sent, then the new messages.
  json next = start;
  next.push_back(assistant("The worker runs out of memory."));
  next.push_back(user("How much does it need?"));
  const PruneResult later = run(next, std::nullopt);
  json expected_later = expected;
  expected_later.push_back(next[5]);
  expected_later.push_back(next[6]);
  EXPECT_EQ(sent(later), expected_later);
}

// Whether a message is dropped depends only on the messages before it: pruned turn by turn, each
// request sends what the one before sent, then more.
TEST_F(Prune, DuplicatesKeepThePrefixEarlierTurnsSent) {
  const std::string paste = logPaste(2000);
  const json conversation = json::array(
      {system("You are a support agent."),
       user("Here is the log:\n" + paste),
       assistant("Looking at it."),
       user("Here is the log:\n" + paste),
       user("Here is the log:\n" + paste),
       assistant("Looking at it."),
       user("Anything?"),
       assistant("Looking at it."),
       user("Anything?"),
       user("Anything?"),
       {{"role", "user"},
        {"content",
         json::array({{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "a"}}})}},
       assistant("Done.")});
  json previous = json::array();
  for (std::size_t n = 2; n <= conversation.size(); ++n) {
    SCOPED_TRACE(n);
    const json request(conversation.begin(), conversation.begin() + static_cast<long>(n));
    const json out = sent(run(request, std::nullopt));
    ASSERT_GE(out.size(), previous.size());
    EXPECT_EQ(json(out.begin(), out.begin() + static_cast<long>(previous.size())), previous);
    previous = out;
  }
}

TEST_F(Prune, DuplicatesAreComparedAfterWhitespaceCollapse) {
  const PruneResult result =
      run(json::array({user("Summarize   this:\n\n\n\nthe quarterly numbers."),
                       user("Summarize this:\n\nthe quarterly numbers.  "), assistant("Done."),
                       user("And the trend?")}),
          std::nullopt);
  ASSERT_TRUE(result.messages);
  EXPECT_EQ(sent(result), json::array({user("Summarize this:\n\nthe quarterly numbers."),
                                       assistant("Done."), user("And the trend?")}));
  EXPECT_GT(result.saved_by_whitespace, 0);
  EXPECT_GT(result.saved_by_duplicates, 0);
}

TEST_F(Prune, AQuestionAskedAgainAfterAnAnswerIsKept) {
  // An agent loop: the user asks again and the model is still working on the answer. The repeated
  // question follows an answer, so it may be what the request asks: it stays. The repeated answer
  // goes, in the last turn as anywhere: the decision must not change when the turn is no longer
  // the last.
  const json input = json::array(
      {system("You are a build assistant."), user("Why is CI red?"), assistant("Let me check."),
       user("Why is CI red?"), assistant("Let me check."),
       assistantCalling(json::array({toolCall("call_ci", "ci_status", R"({"branch":"main"})")})),
       toolResult("call_ci", R"({"failed":"unit tests"})")});
  const PruneResult result = run(input, std::nullopt);
  json expected = input;
  expected.erase(4);
  EXPECT_EQ(sent(result), expected);
}

// --- Old turns -----------------------------------------------------------------------------------

TEST_F(Prune, DropsTheOldestTurnsUntilWithinBudget) {
  json input = json::array({system("You are an SRE assistant.")});
  std::vector<std::int64_t> turn_tokens;
  for (int n = 0; n < 8; ++n) {
    const json turn = smallTalkTurn(n);
    turn_tokens.push_back(countMessages(turn));
    for (const json& m : turn) input.push_back(m);
  }
  // Exactly enough to fit once the five oldest turns are gone.
  std::int64_t budget = countMessages(input);
  for (int n = 0; n < 5; ++n) budget -= turn_tokens[n];

  // A step of one token: the cut is the first turn boundary that fits (what steps round up).
  const PruneResult result =
      run(input, budget,
          PruneSteps{.keep_last_turns = 2, .compact_step = 1e-9, .truncate_longest = false});
  ASSERT_TRUE(result.messages);
  json expected = json::array({system("You are an SRE assistant.")});
  for (int n = 5; n < 8; ++n) {
    for (const json& m : smallTalkTurn(n)) expected.push_back(m);
  }
  EXPECT_EQ(sent(result), expected);
  EXPECT_TRUE(result.within_budget);
  EXPECT_EQ(result.tokens_after, budget);
  EXPECT_EQ(result.saved_by_old_turns,
            turn_tokens[0] + turn_tokens[1] + turn_tokens[2] + turn_tokens[3] + turn_tokens[4]);
  EXPECT_EQ(result.saved_by_truncation, 0);
}

TEST_F(Prune, KeepsTheLastTurnsEvenOverBudget) {
  json input = json::array({system("You are an SRE assistant."), assistant("Hi! How can I help?")});
  for (int n = 0; n < 6; ++n) {
    for (const json& m : smallTalkTurn(n)) input.push_back(m);
  }
  const PruneSteps no_truncation{.keep_last_turns = 2, .truncate_longest = false};
  const PruneResult result = run(input, 10, no_truncation);
  ASSERT_TRUE(result.messages);
  json expected = json::array({system("You are an SRE assistant.")});
  for (int n = 4; n < 6; ++n) {
    for (const json& m : smallTalkTurn(n)) expected.push_back(m);
  }
  EXPECT_EQ(sent(result), expected);
  EXPECT_FALSE(result.within_budget);

  // Keeping no turns would leave a request that asks nothing: the last turn always stays.
  const PruneSteps keep_none{.keep_last_turns = 0, .truncate_longest = false};
  const PruneResult none = run(input, 10, keep_none);
  EXPECT_EQ(sent(none),
            concat({json::array({system("You are an SRE assistant.")}), smallTalkTurn(5)}));
  json no_system = input;
  no_system.erase(0);
  const PruneResult bare = run(no_system, 0, keep_none);
  EXPECT_EQ(sent(bare), smallTalkTurn(5));
}

TEST_F(Prune, LaterSystemMessagesAreNeverDropped) {
  const json switch_language = system("From now on answer in German.");
  const json input = concat({json::array({system("You are an SRE assistant.")}), smallTalkTurn(0),
                             json::array({switch_language}), smallTalkTurn(1), smallTalkTurn(2)});
  const PruneResult result =
      run(input, 1, PruneSteps{.keep_last_turns = 1, .truncate_longest = false});
  EXPECT_EQ(sent(result), concat({json::array({system("You are an SRE assistant.")}),
                                  json::array({switch_language}), smallTalkTurn(2)}));
}

TEST_F(Prune, ToolCallsAndTheirResultsGoTogether) {
  const json system_message = system("You are a travel assistant with weather tools.");
  const json two_cities = json::array({
      user("Weather in Paris and Rome?"),
      assistantCalling(json::array({toolCall("call_p", "get_weather", R"({"city":"Paris"})"),
                                    toolCall("call_r", "get_weather", R"({"city":"Rome"})")})),
      toolResult("call_p", R"({"temperature":21,"sky":"clear"})"),
      toolResult("call_r", R"({"temperature":25,"sky":"rain"})"),
      assistant("Paris: 21 °C and clear. Rome: 25 °C with rain."),
  });
  // A client that lets the user type while a tool runs puts a user message between a call and
  // its result; the turn cannot end there, or the result would lose its call.
  const json interrupted = json::array({
      user("And Berlin?"),
      assistantCalling(json::array({toolCall("call_b", "get_weather", R"({"city":"Berlin"})")})),
      user("Hurry please, I am about to leave for the airport and need to know what to pack."),
      toolResult("call_b", R"({"temperature":15,"sky":"cloudy"})"),
      assistant("Berlin: 15 °C and cloudy; pack a jacket."),
  });
  const json last = json::array({user("Thanks! Anything else I should know?")});
  const json input = concat({json::array({system_message}), two_cities, interrupted, last});

  // Dropping the first turn and the interrupted one up to the interjection would fit; but the
  // interjection does not start a turn, so the whole interrupted turn goes.
  const std::int64_t budget = countMessages(input) - countMessages(two_cities) -
                              countMessages(json::array({interrupted[0], interrupted[1]}));
  const PruneSteps one_by_one{
      .keep_last_turns = 1, .compact_step = 1e-9, .truncate_longest = false};
  const PruneResult result = run(input, budget, one_by_one);
  EXPECT_EQ(sent(result), concat({json::array({system_message}), last}));
  EXPECT_EQ(result.saved_by_old_turns, countMessages(two_cities) + countMessages(interrupted));

  // With room for the interrupted turn, it stays whole.
  const PruneResult roomier =
      run(input, countMessages(input) - countMessages(two_cities), one_by_one);
  EXPECT_EQ(sent(roomier), concat({json::array({system_message}), interrupted, last}));
  EXPECT_TRUE(roomier.within_budget);
}

// --- Truncation ----------------------------------------------------------------------------------

// The head and tail of `original` that `cut` keeps around the marker; fails the test when `cut` is
// not such a cut.
std::pair<std::string, std::string> headAndTailOf(const std::string& original,
                                                  const std::string& cut) {
  const std::size_t marker = cut.find(kMarker);
  EXPECT_NE(marker, std::string::npos) << cut.substr(0, 200);
  if (marker == std::string::npos) return {};
  EXPECT_EQ(cut.find(kMarker, marker + 1), std::string::npos);
  const std::string head = cut.substr(0, marker);
  const std::string tail = cut.substr(marker + kMarker.size());
  EXPECT_EQ(original.compare(0, head.size(), head), 0) << "the head is not the text's start";
  EXPECT_EQ(original.compare(original.size() - tail.size(), tail.size(), tail), 0)
      << "the tail is not the text's end";
  return {head, tail};
}

TEST_F(Prune, CutsOlderLongPastesInTheMiddleButNeverTheQuestion) {
  const std::string paste = logPaste(50000);
  ASSERT_GE(paste.size(), 50000u);
  const json code_answer = assistant(
      "Try this:\n\n```cpp\nint main() {\n    return  run(argc,   argv);\n}\n```\n\nIt retries.");
  const std::string question = "It crashed again, here is the whole log:\n\n";
  const json input = json::array({system("You are a senior C++ engineer."), user(question + paste),
                                  code_answer, user("Why does my worker crash on start?")});
  const std::int64_t budget = 3000;
  const PruneResult result = run(input, budget);
  ASSERT_TRUE(result.messages);
  EXPECT_TRUE(result.within_budget);
  EXPECT_GT(result.saved_by_truncation, 10000);
  EXPECT_EQ(result.saved_by_old_turns, 0);

  const json out = sent(result);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[2], code_answer);
  EXPECT_EQ(out[3], input[3]);
  const std::string text = out[1]["content"];
  // Cut to max_message_tokens, a quarter of the budget by default, whatever else is sent.
  const auto cut_tokens = static_cast<std::int64_t>(encoding().count(text));
  EXPECT_LE(cut_tokens, budget / 4 + 4);
  EXPECT_GE(cut_tokens, budget / 4 - 4);
  const auto [head, tail] = headAndTailOf(question + paste, text);
  // Both ends of the paste are there: what the user asked and how the log ended.
  EXPECT_GT(head.size(), 500u);
  EXPECT_GT(tail.size(), 500u);
  EXPECT_TRUE(head.starts_with(question));

  // The same paste as the question is sent whole, even over the budget.
  const json asked_now = json::array({system("You are a senior C++ engineer."),
                                      user("Why does my worker crash on start?"), code_answer,
                                      user(question + paste)});
  const PruneResult over = run(asked_now, budget);
  EXPECT_EQ(sent(over).back(), asked_now.back());
  EXPECT_FALSE(over.within_budget);
  EXPECT_EQ(over.saved_by_truncation, 0);
}

TEST_F(Prune, TruncationNeverSplitsACharacter) {
  // Emoji and CJK are several tokens per character in places, so token cuts fall inside them.
  std::string text;
  while (text.size() < 6000)
    text += "東京の天気🌧️👩‍👩‍👧‍👦 naïve façade, ";
  text += "fin.";
  const json input = json::array({user(text), assistant("Seen."), user("Translate it?")});
  const auto full = static_cast<std::int64_t>(encoding().count(text));
  for (std::int64_t max_tokens = 30; max_tokens < full; max_tokens += 37) {
    SCOPED_TRACE(max_tokens);
    const PruneResult result =
        run(input, 1, PruneSteps{.drop_old_turns = false, .max_message_tokens = max_tokens});
    ASSERT_TRUE(result.messages);
    const std::string out = sent(result)[0]["content"];
    ASSERT_TRUE(isValidUtf8(out));
    headAndTailOf(text, out);
    EXPECT_LE(static_cast<std::int64_t>(encoding().count(out)), max_tokens + 4);
  }
}

TEST_F(Prune, CutsEveryOlderTextOverTheLimitTheSameWayEachTurn) {
  const std::string first = logPaste(20000);
  const std::string second = logPaste(12000);
  const json image = {{"type", "image_url"},
                      {"image_url", {{"url", "https://example.com/chart.png"}, {"detail", "low"}}}};
  const json input = json::array(
      {system("You compare logs."),
       {{"role", "user"},
        {"content", json::array({{{"type", "text"}, {"text", "Old log:\n" + first}}, image})}},
       assistant("Noted."),
       user("New log:\n" + second),
       assistant("Noted too."),
       user("Compare them.")});
  const PruneSteps steps{.drop_old_turns = false, .max_message_tokens = 300};
  const PruneResult result = run(input, 400, steps);
  ASSERT_TRUE(result.messages);
  const json out = sent(result);
  EXPECT_EQ(out[0], input[0]);
  EXPECT_EQ(out[1]["content"][1], image);
  headAndTailOf("Old log:\n" + first, out[1]["content"][0]["text"]);
  headAndTailOf("New log:\n" + second, out[3]["content"]);
  EXPECT_EQ(result.saved_by_truncation, result.tokens_before - result.tokens_after);
  EXPECT_FALSE(result.within_budget) << "two cut texts of 300 tokens are over 400";

  // The next turn cuts them the same way: what this one sent is sent again.
  json next = input;
  next.push_back(assistant("The new one has fewer errors."));
  next.push_back(user("By how many?"));
  const json out_next = sent(run(next, 400, steps));
  EXPECT_EQ(json(out_next.begin(), out_next.begin() + static_cast<long>(out.size())), out);
}

TEST_F(Prune, NeverTruncatesSystemText) {
  const json input = json::array({system("Policy:\n" + logPaste(20000)), user("Hi")});
  const PruneResult result = run(input, 500);
  EXPECT_FALSE(result.messages);
  EXPECT_FALSE(result.within_budget);
  EXPECT_EQ(result.tokens_after, result.tokens_before);
}

TEST_F(Prune, WithoutABudgetOnlyWhitespaceAndDuplicatesArePruned) {
  const std::string paste = logPaste(50000);
  json input = json::array({system("You are an SRE assistant.")});
  for (int n = 0; n < 10; ++n) {
    for (const json& m : smallTalkTurn(n)) input.push_back(m);
  }
  input.push_back(user("Here:\t\t  \n\n\n\n\n" + paste));
  input.push_back(user("Here:  \n\n\n" + paste));  // sent twice
  input.push_back(assistant("Reading."));
  input.push_back(user("What is wrong?"));
  const PruneResult result = run(input, std::nullopt, PruneSteps{.keep_last_turns = 1});
  ASSERT_TRUE(result.messages);
  json expected = input;
  expected[input.size() - 4] = user("Here:\n\n" + paste);
  expected.erase(input.size() - 3);
  EXPECT_EQ(sent(result), expected);
  EXPECT_EQ(result.messages->find(kMarker), std::string::npos);
  EXPECT_GT(result.saved_by_whitespace, 0);
  EXPECT_GT(result.saved_by_duplicates, 10000);
  EXPECT_TRUE(result.within_budget);
}

// --- Compaction in steps -------------------------------------------------------------------------

// The index of the first message that is not a system message.
std::size_t startOf(const json& messages) {
  std::size_t at = 0;
  while (at < messages.size() && messages[at]["role"] == "system") ++at;
  return at;
}

TEST_F(Prune, DropsOldTurnsInStepsThatHoldAsTheConversationGrows) {
  json conversation = json::array({system("You are an SRE assistant.")});
  const std::int64_t budget = 600;
  const PruneSteps steps{.keep_last_turns = 2, .truncate_longest = false};
  const PruneSteps sliding{.keep_last_turns = 2, .compact_step = 1e-9, .truncate_longest = false};
  int moves = 0;
  int sliding_moves = 0;
  json previous;
  json previous_sliding;
  for (int n = 0; n < 40; ++n) {
    SCOPED_TRACE(n);
    for (const json& m : smallTalkTurn(n)) conversation.push_back(m);
    const PruneResult result = run(conversation, budget, steps);
    EXPECT_TRUE(result.within_budget);
    const json out = sent(result);
    const json out_sliding = sent(run(conversation, budget, sliding));
    if (n > 0) {
      moves += out[startOf(out)] != previous[startOf(previous)];
      sliding_moves +=
          out_sliding[startOf(out_sliding)] != previous_sliding[startOf(previous_sliding)];
      // Between moves, each request sends what the one before sent, then more.
      if (out[startOf(out)] == previous[startOf(previous)]) {
        EXPECT_EQ(json(out.begin(), out.begin() + static_cast<long>(previous.size())), previous);
      }
    }
    // The cut is at or past the excess, rounded up to the next step, and at the first turn
    // boundary there: keeping one more turn would be under that.
    if (result.saved_by_old_turns > 0) {
      const std::int64_t step = budget / 2;
      const std::int64_t excess = result.tokens_before - budget;
      const std::int64_t target = (excess + step - 1) / step * step;
      const std::int64_t turn = countMessages(smallTalkTurn(0));
      EXPECT_GE(result.saved_by_old_turns, std::min(target, result.tokens_before - 2 * turn - 10));
      EXPECT_LT(result.saved_by_old_turns - turn - 2, target);
    }
    previous = out;
    previous_sliding = out_sliding;
  }
  const std::int64_t total = countMessages(conversation);
  EXPECT_LE(moves, total / (budget / 2) + 1);
  EXPECT_GT(sliding_moves, 2 * moves) << "dropping one turn at a time moves the start every turn";
  std::printf(
      "[ figures  ] 40 small turns, budget %lld: the start moved %d times in steps, "
      "%d times one turn at a time\n",
      static_cast<long long>(budget), moves, sliding_moves);
}

// --- A coding session, turn by turn --------------------------------------------------------------

// A source file as pasted: indented code, single blank lines, nothing for whitespace collapsing.
std::string sourceFile(int seed, std::size_t at_least_bytes) {
  std::string out = "// file_" + std::to_string(seed) + ".cpp\n#include <vector>\n";
  for (int i = 0; out.size() < at_least_bytes; ++i) {
    out += "\nint handler" + std::to_string(seed) + "_" + std::to_string(i) +
           "(std::vector<int>& values) {\n    int total = " + std::to_string(i * seed % 97) +
           ";\n    for (int v : values) total += v * " + std::to_string(i % 13 + 1) +
           ";\n    return total;\n}\n";
  }
  return out;
}

struct Turn {
  std::vector<json> asked;  // the user messages (two: a double submit)
  json answer;
};

// 40 turns of a coding assistant: file pastes of 4 to 20 KB every fourth turn, logs now and then,
// a question sent twice (turn 15) and a 54,675-byte paste as the last question.
std::vector<Turn> codingSession() {
  std::vector<Turn> turns;
  for (int n = 1; n <= 40; ++n) {
    std::string question = "Turn " + std::to_string(n) + ": what should change here?";
    if (n % 4 == 1) {
      question += "\n```cpp\n" + sourceFile(n, 4000 + (n * 1733) % 16000) + "```";
    }
    if (n % 7 == 3) question += "\nThe log:\n" + logPaste(3000 + n * 200);
    if (n == 40) question = "Here is the whole log, why does it fail?\n" + logPaste(54675);
    Turn turn{.asked = {user(question)},
              .answer = assistant("For turn " + std::to_string(n) + ", change this:\n```cpp\n" +
                                  sourceFile(n + 100, 800 + (n * 379) % 2400) + "```")};
    if (n == 15) turn.asked.push_back(turn.asked[0]);
    turns.push_back(std::move(turn));
  }
  return turns;
}

// What a provider that caches prompt prefixes bills at the cached price: the longest prefix in
// messages shared with any earlier request, if 1024 tokens or more, in blocks of 128.
std::int64_t cachedTokens(const std::vector<json>& earlier, const json& now,
                          const std::function<std::int64_t(const json&)>& count) {
  std::size_t longest = 0;
  for (const json& before : earlier) {
    std::size_t same = 0;
    while (same < before.size() && same < now.size() && before[same] == now[same]) ++same;
    longest = std::max(longest, same);
  }
  const std::int64_t tokens = count(json(now.begin(), now.begin() + static_cast<long>(longest)));
  return tokens < 1024 ? 0 : 1024 + (tokens - 1024) / 128 * 128;
}

struct Session {
  int compactions = 0;      // the conversation's start moved
  int cuts = 0;             // a message sent whole before was sent cut
  int other_changes = 0;    // anything else that changed a prefix an earlier turn sent
  std::int64_t before = 0;  // tokens, summed over the turns
  std::int64_t sent = 0;
  std::int64_t cached = 0;
  std::int64_t final_total = 0;  // the last turn's, before pruning
};

// Whether `now` is `before` cut in the middle (head, marker, tail).
bool isCutOf(const json& before, const json& now) {
  if (!before.contains("content") || !before["content"].is_string()) return false;
  if (!now.contains("content") || !now["content"].is_string()) return false;
  const std::string original = before["content"];
  const std::string cut = now["content"];
  const std::size_t marker = cut.find(kMarker);
  if (marker == std::string::npos || original.find(kMarker) != std::string::npos) return false;
  const std::size_t tail = cut.size() - marker - kMarker.size();
  return original.compare(0, marker, cut, 0, marker) == 0 &&
         original.compare(original.size() - tail, tail, cut, marker + kMarker.size(), tail) == 0;
}

TEST_F(Prune, AGrowingConversationKeepsThePrefixesEarlierTurnsSent) {
  const std::int64_t budget = 16000;
  const std::vector<Turn> turns = codingSession();
  auto replay = [&](const PruneSteps& steps) {
    Session session;
    json conversation = json::array({system("You are a senior C++ engineer. Answer with code.")});
    std::vector<json> sent_before;
    for (std::size_t n = 0; n < turns.size(); ++n) {
      SCOPED_TRACE(n + 1);
      for (const json& m : turns[n].asked) conversation.push_back(m);
      const PruneResult result = run(conversation, budget, steps);
      const json out = sent(result);
      session.before += result.tokens_before;
      session.sent += result.tokens_after;
      session.final_total = result.tokens_before;
      if (n + 1 < turns.size()) {
        EXPECT_TRUE(result.within_budget);
      }
      // The question reaches the backend as asked, whatever else goes.
      EXPECT_EQ(out.back(), turns[n].asked.back());
      if (!sent_before.empty()) {
        const json& previous = sent_before.back();
        std::size_t same = 0;
        while (same < previous.size() && same < out.size() && previous[same] == out[same]) ++same;
        if (same < previous.size()) {
          if (same < out.size() && isCutOf(previous[same], out[same])) {
            ++session.cuts;
          } else if (same == startOf(out)) {
            ++session.compactions;
          } else {
            ++session.other_changes;
            ADD_FAILURE() << "message " << same << " changed: " << out[same].dump().substr(0, 300);
          }
        }
        session.cached += cachedTokens(
            sent_before, out, [](const json& m) { return m.empty() ? 0 : countMessages(m); });
      }
      sent_before.push_back(out);
      conversation.push_back(turns[n].answer);
    }
    return session;
  };
  const PruneSteps steps{.keep_last_turns = 2};
  const Session stable = replay(steps);
  const Session sliding = replay(PruneSteps{.keep_last_turns = 2, .compact_step = 1e-9});

  const std::int64_t step = budget / 2;
  EXPECT_EQ(stable.other_changes, 0);
  EXPECT_LE(stable.compactions, stable.final_total / step + 2);
  // Each question over max_message_tokens is cut the turn after it was asked; and once, when the
  // conversation first went over the budget, the older ones.
  int long_questions = 0;
  for (const Turn& turn : turns) {
    long_questions += encoding().count(turn.asked[0]["content"].get<std::string>()) >
                      static_cast<std::size_t>(budget / 4);
  }
  EXPECT_LE(stable.cuts, long_questions + 1);
  auto share = [](std::int64_t part, std::int64_t whole) {
    return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  };
  // What the input is billed, in tokens at the full price, with cached tokens at half of it.
  auto billed = [](const Session& session) {
    return session.sent - session.cached + session.cached / 2;
  };
  EXPECT_LT(stable.compactions, sliding.compactions);
  EXPECT_GT(share(stable.cached, stable.sent), share(sliding.cached, sliding.sent));
  EXPECT_LT(billed(stable), billed(sliding));
  EXPECT_GT(stable.before - stable.sent, stable.before / 4) << "it still saves tokens";

  for (const auto& [name, session] :
       {std::pair<const char*, const Session&>{"steps", stable}, {"one turn at a time", sliding}}) {
    std::printf(
        "[ figures  ] 40 turns, budget %lld, %s: %lld of %lld input tokens sent "
        "(%.1f%% saved), %.1f%% of them at the cached price, billed as %lld at full price "
        "(cached at half); %d compactions, %d cuts\n",
        static_cast<long long>(budget), name, static_cast<long long>(session.sent),
        static_cast<long long>(session.before),
        share(session.before - session.sent, session.before), share(session.cached, session.sent),
        static_cast<long long>(billed(session)), session.compactions, session.cuts);
  }
}

}  // namespace
}  // namespace costgate::filters::prompt_pruning
