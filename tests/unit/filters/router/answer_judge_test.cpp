#include "filters/router/answer_judge.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../support/request.h"

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
      {completion("I'm not sure, but I think it is Lyon."), kText, "uncertainty", false},
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
  // Unconfident (0.5) and uncertain late in the answer (0.5): nothing left.
  auto both = judgeAnswer(completion("The answer is 42, but I'm not sure.", "stop", {-1.5, -1.0}),
                          kText, kDefaults);
  EXPECT_FALSE(both.accept);
  EXPECT_NEAR(both.score, 0.0, 1e-9);
  EXPECT_NEAR(both.margin, -0.6, 1e-9);
  EXPECT_EQ(both.reason, "uncertainty,mean_logprob") << "equal weights: in the order they fired";

  JudgeConfig lenient;
  lenient.mean_logprob = 0;  // off
  lenient.uncertainty = 0.2;
  lenient.uncertainty_phrases = {"maybe"};
  // Opening the answer, the hedge weighs 1.5 x 0.2.
  auto verdict = judgeAnswer(completion("Maybe 42.", "stop", {-3.0}), kText, lenient);
  EXPECT_TRUE(verdict.accept);
  EXPECT_NEAR(verdict.score, 0.7, 1e-9);
  EXPECT_NEAR(verdict.margin, 0.1, 1e-9);
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
  test_data::Request schema(std::string(
      R"({"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","required":["a","b"]}}}})"));
  Expected expected = expectedOf(schema.ctx);
  EXPECT_TRUE(expected.json);
  EXPECT_EQ(expected.required, (std::vector<std::string>{"a", "b"}));
  test_data::Request text(std::string(R"({"response_format":{"type":"text"}})"));
  EXPECT_FALSE(expectedOf(text.ctx).json);
}

TEST(AnswerJudge, TheOutputLimitIsTheRequestAsTheBackendGetsIt) {
  test_data::Request none(std::string(R"({"model":"m","messages":[]})"));
  EXPECT_FALSE(expectedOf(none.ctx).output_limited);
  test_data::Request client(
      std::string(R"({"model":"m","messages":[],"max_completion_tokens":700})"));
  EXPECT_TRUE(expectedOf(client.ctx).output_limited);
  // A cap the token_cap filter set, and a client's null limit.
  test_data::Request capped(std::string(R"({"model":"m","messages":[],"max_tokens":null})"));
  EXPECT_FALSE(expectedOf(capped.ctx).output_limited);
  capped.ctx.setMember("max_tokens", "600");
  EXPECT_TRUE(expectedOf(capped.ctx).output_limited);
}

TEST(AnswerJudge, AnAnswerCutAtTheRequestsOwnLimitHasItsOwnWeight) {
  Expected limited;
  limited.output_limited = true;
  auto escalated = judgeAnswer(completion("def main():", "length"), limited, kDefaults);
  EXPECT_FALSE(escalated.accept);
  EXPECT_EQ(escalated.reason, "finish_reason");
  // Off: the next model would stop at the same limit, so the cut answer is served.
  JudgeConfig lenient;
  lenient.length_at_limit = 0;
  auto cut = judgeAnswer(completion("def main():", "length"), limited, lenient);
  EXPECT_TRUE(cut.accept);
  EXPECT_EQ(cut.reason, "");
  // With no limit the model stopped at its own maximum, which a stronger one may not reach.
  EXPECT_FALSE(judgeAnswer(completion("def main():", "length"), kText, lenient).accept);
  // A content filter is never the limit's doing.
  EXPECT_FALSE(judgeAnswer(completion("", "content_filter"), limited, lenient).accept);
}

TEST(AnswerJudge, AHedgeAloneEscalatesUnderTheDefaults) {
  for (const std::string answer :
       {"I believe the capital of Australia is Sydney.", "It's probably Sydney.",
        "Sydney, if I recall correctly.", "The capital might be Sydney; it seems likely.",
        "Sydney. This may not be accurate, though.", "I'm guessing Sydney.",
        "I\u2019m not sure: Sydney?", "Perhaps Sydney.", "Maybe it is Sydney.",
        "I suspect it is Sydney."}) {
    auto verdict = judgeAnswer(completion(answer, "stop", {-0.1}), kText, kDefaults);
    EXPECT_FALSE(verdict.accept) << answer;
    EXPECT_EQ(verdict.reason, "uncertainty") << answer;
    EXPECT_LT(verdict.margin, 0) << answer;
  }
  auto sure = judgeAnswer(completion("Canberra is the capital of Australia."), kText, kDefaults);
  EXPECT_TRUE(sure.accept);
  EXPECT_NEAR(sure.margin, 0.4, 1e-9);
}

TEST(AnswerJudge, PhrasesMatchAtWordBoundariesOnly) {
  EXPECT_EQ(findPhrase("i think so", "i think"), 0u);
  EXPECT_EQ(findPhrase("well, i think.", "i think"), 6u);
  EXPECT_EQ(findPhrase("hawaii thinks", "i think"), std::string_view::npos);
  EXPECT_EQ(findPhrase("i thinker", "i think"), std::string_view::npos);
  EXPECT_EQ(findPhrase("improbably good", "probably"), std::string_view::npos);
  // "Improbably" and "I thinker" are no hedges: accepted.
  EXPECT_TRUE(judgeAnswer(completion("An improbably good result."), kText, kDefaults).accept);
}

TEST(AnswerJudge, AHedgeOpeningTheAnswerWeighsMore) {
  JudgeConfig config;
  config.uncertainty = 0.3;
  const auto opening = judgeAnswer(completion("Probably 42."), kText, config);
  const auto later =
      judgeAnswer(completion("The result of the long computation you asked for is 42, probably."),
                  kText, config);
  EXPECT_NEAR(opening.score, 1 - 0.45, 1e-9);
  EXPECT_NEAR(later.score, 1 - 0.3, 1e-9);
  EXPECT_FALSE(opening.accept);
  EXPECT_TRUE(later.accept);
}

}  // namespace
}  // namespace costgate::filters::router
