#include "filters/router/answer_judge.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace costgate::filters::router {
namespace {

using nlohmann::json;

// A chat.completion whose first choice says `content`, finished with `finish`, with one logprob
// per value of `logprobs` (none when empty).
std::string completion(const std::string& content, const std::string& finish = "stop",
                       const std::vector<double>& logprobs = {}) {
  json choice = {{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", content}}},
                 {"finish_reason", finish}};
  if (!logprobs.empty()) {
    json tokens = json::array();
    for (double value : logprobs) tokens.push_back({{"token", "x"}, {"logprob", value}});
    choice["logprobs"] = {{"content", tokens}};
  }
  return json{{"object", "chat.completion"}, {"choices", {choice}}}.dump();
}

const JudgeConfig kDefaults;
const Expected kText;

TEST(AnswerJudge, AConfidentPlainAnswerIsAccepted) {
  auto verdict = judgeAnswer(completion("Paris is the capital of France.", "stop", {-0.1, -0.02}),
                             kText, kDefaults);
  EXPECT_TRUE(verdict.accept);
  EXPECT_DOUBLE_EQ(verdict.score, 1.0);
  EXPECT_EQ(verdict.reason, "");
}

TEST(AnswerJudge, EachSignalFiresOnItsOwn) {
  struct Case {
    std::string answer;
    Expected expected;
    std::string reason;
    bool accept;
  };
  std::vector<double> one_unlikely_token(20, -0.05);
  one_unlikely_token.push_back(-7.0);
  Expected json_object{true, {}};
  Expected schema{true, {"city", "country"}};
  const Case cases[] = {
      {completion("Paris is", "length"), kText, "finish_reason", false},
      {completion("", "content_filter"), kText, "finish_reason,empty", false},
      {completion("   "), kText, "empty", false},
      {completion("I'm sorry, but I can't help with that."), kText, "refusal", false},
      {completion("I'm not sure, but I think it is Lyon."), kText, "uncertainty", true},
      {completion("Paris", "stop", {-2.0, -2.5, -1.5}), kText, "mean_logprob", false},
      {completion("Paris", "stop", one_unlikely_token), kText, "min_logprob", true},
      {completion("{\"answer\": \"Paris\""), json_object, "invalid_json", false},
      {completion("[1, 2]"), json_object, "invalid_json", false},
      {completion("{\"city\": \"Paris\"}"), schema, "invalid_json", false},
      {completion("{\"city\": \"Paris\", \"country\": \"France\"}"), schema, "", true},
  };
  for (const Case& c : cases) {
    auto verdict = judgeAnswer(c.answer, c.expected, kDefaults);
    EXPECT_EQ(verdict.reason, c.reason) << c.answer;
    EXPECT_EQ(verdict.accept, c.accept) << c.answer << " score " << verdict.score;
  }
}

TEST(AnswerJudge, SignalsAddUpAndWeightsAreConfigurable) {
  // Uncertain (0.3) and unconfident (0.5): 0.2 left, under the 0.6 threshold.
  auto both =
      judgeAnswer(completion("I'm not sure. Maybe 42.", "stop", {-1.5, -1.0}), kText, kDefaults);
  EXPECT_FALSE(both.accept);
  EXPECT_NEAR(both.score, 0.2, 1e-9);
  EXPECT_EQ(both.reason, "mean_logprob,uncertainty");

  JudgeConfig lenient;
  lenient.mean_logprob = 0;  // off
  lenient.uncertainty_phrases = {"maybe"};
  auto verdict = judgeAnswer(completion("Maybe 42.", "stop", {-3.0}), kText, lenient);
  EXPECT_TRUE(verdict.accept);
  EXPECT_EQ(verdict.reason, "uncertainty");
}

TEST(AnswerJudge, AToolCallIsNotEmptyAndGarbageIsNotAccepted) {
  json call = {{"object", "chat.completion"},
               {"choices",
                {{{"index", 0},
                  {"message",
                   {{"role", "assistant"},
                    {"content", nullptr},
                    {"tool_calls", {{{"id", "c1"}, {"type", "function"}}}}}},
                  {"finish_reason", "tool_calls"}}}}};
  EXPECT_TRUE(judgeAnswer(call.dump(), Expected{true, {}}, kDefaults).accept);
  EXPECT_FALSE(judgeAnswer("not json", kText, kDefaults).accept);
  EXPECT_FALSE(judgeAnswer(R"({"choices":[]})", kText, kDefaults).accept);
}

TEST(AnswerJudge, ExpectedFormatIsReadFromTheRequest) {
  auto schema = jsonview::Document::parse(
      R"({"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","required":["a","b"]}}}})");
  Expected expected = expectedOf(schema->root());
  EXPECT_TRUE(expected.json);
  EXPECT_EQ(expected.required, (std::vector<std::string>{"a", "b"}));
  auto text = jsonview::Document::parse(R"({"response_format":{"type":"text"}})");
  EXPECT_FALSE(expectedOf(text->root()).json);
}

}  // namespace
}  // namespace costgate::filters::router
