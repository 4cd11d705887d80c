#include "filters/semantic_cache/answer_worth_storing.h"

#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "filters/semantic_cache/semantic_cache_filter.h"

namespace costgate::filters::semantic_cache {
namespace {

using nlohmann::json;

std::string completion(const json& message, const json& finish = "stop") {
  return json{{"object", "chat.completion"},
              {"choices", {{{"index", 0}, {"message", message}, {"finish_reason", finish}}}}}
      .dump();
}
std::string text(const std::string& content, const json& finish = "stop") {
  return completion({{"role", "assistant"}, {"content", content}}, finish);
}

const CachePolicy kPolicy;
const router::Expected kText;

std::optional<std::string> why(const std::string& answer, const router::Expected& expected = kText,
                               const CachePolicy& policy = kPolicy) {
  auto reason = whyNotStored(answer, expected, policy);
  return reason ? std::optional<std::string>(*reason) : std::nullopt;
}

TEST(AnswerWorthStoring, AGoodAnswerIsStored) {
  EXPECT_EQ(why(text("Go to Settings, then Security, and choose Reset password.")), std::nullopt);
}

TEST(AnswerWorthStoring, AnswersThatFailedTheirAskerAreNotStoredAndSayWhy) {
  EXPECT_EQ(why(text("I'm sorry, but I can't help with that.")), "refusal");
  EXPECT_EQ(why(completion({{"role", "assistant"}, {"content", nullptr}, {"refusal", "No."}})),
            "refusal");
  EXPECT_EQ(why(text("   ")), "empty");
  EXPECT_EQ(why(text("I'm not sure, but I think it is 400 mg.")), "uncertainty");
  EXPECT_EQ(why(text("Take two tablets every", "length")), "truncated");
  EXPECT_EQ(why(text("", "content_filter")), "unfinished");
  EXPECT_EQ(why(text("Paris", nullptr)), "unfinished");
  EXPECT_EQ(why("{\"choices\": []}"), "unreadable");
  EXPECT_EQ(why("not json"), "unreadable");
  router::Expected json_object;
  json_object.json = true;
  EXPECT_EQ(why(text("{\"priority\": \"high\"", "stop"), json_object), "invalid_json");
  EXPECT_EQ(why(text("{\"priority\": \"high\"}"), json_object), std::nullopt);
}

TEST(AnswerWorthStoring, LowConfidenceIsNotStored) {
  json message = {{"role", "assistant"}, {"content", "Lyon"}};
  json choice = {
      {"index", 0},
      {"message", message},
      {"finish_reason", "stop"},
      {"logprobs",
       {{"content",
         {{{"token", "Ly"}, {"logprob", -2.5}}, {{"token", "on"}, {"logprob", -1.9}}}}}}};
  EXPECT_EQ(why(json{{"object", "chat.completion"}, {"choices", {choice}}}.dump()), "mean_logprob");
}

TEST(AnswerWorthStoring, ThePolicyMayKeepCutAnswersAndToolCallsButStillJudgesThem) {
  json call = {{"role", "assistant"},
               {"content", nullptr},
               {"tool_calls", {{{"id", "c1"}, {"type", "function"}}}}};
  EXPECT_EQ(why(completion(call, "tool_calls")), "tool_calls");
  CachePolicy lenient;
  lenient.cache_truncated = true;
  lenient.cache_tool_calls = true;
  EXPECT_EQ(why(completion(call, "tool_calls"), kText, lenient), std::nullopt);
  EXPECT_EQ(why(text("The steps are: first", "length"), kText, lenient), std::nullopt);
  EXPECT_EQ(why(text("I'm sorry, but I can't", "length"), kText, lenient), "refusal");
}

}  // namespace
}  // namespace costgate::filters::semantic_cache
