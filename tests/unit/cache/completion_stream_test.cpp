#include "costgate/cache/completion_stream.h"

#include <gtest/gtest.h>

#include <string>

namespace costgate::cache {
namespace {

using nlohmann::json;

std::string chunk(const std::string& fields, const std::string& choice) {
  return R"({"object":"chat.completion.chunk",)" + fields + R"(,"choices":[)" + choice + "]}";
}

TEST(StreamAssembler, AssemblesTheCompletionAWholeRequestWouldHaveGot) {
  StreamAssembler stream;
  const std::string fields = R"("id":"c1","created":7,"model":"m")";
  stream.add(chunk(fields, R"({"index":0,"delta":{"role":"assistant","content":"Hel"}})"));
  stream.add(chunk(fields, R"({"index":0,"delta":{"content":"lo"},"finish_reason":"stop"})"));
  stream.add("[DONE]");
  auto completion = stream.completion();
  ASSERT_TRUE(completion);
  json whole = json::parse(*completion);
  EXPECT_EQ(whole["id"], "c1");
  EXPECT_EQ(whole["created"], 7);
  EXPECT_EQ(whole["choices"][0]["message"]["content"], "Hello");
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "stop");
}

// Chunks come from backends: a field of another type than OpenAI's is survived (json::value()
// used to throw from the middle of a relayed stream), and a choice index that is not 0 makes the
// stream one the cache does not keep.
TEST(StreamAssembler, SurvivesFieldsOfTheWrongType) {
  StreamAssembler typed_wrong;
  const std::string fields = R"("id":5,"created":"yesterday","model":["m"])";
  EXPECT_NO_THROW(typed_wrong.add(chunk(fields, R"({"delta":{"role":5,"content":"x"}})")));
  EXPECT_NO_THROW(typed_wrong.add("[DONE]"));
  std::optional<std::string> completion;
  EXPECT_NO_THROW(completion = typed_wrong.completion());
  ASSERT_TRUE(completion);
  json whole = json::parse(*completion);
  EXPECT_EQ(whole["id"], "");
  EXPECT_EQ(whole["created"], 0);
  EXPECT_EQ(whole["model"], "");
  EXPECT_EQ(whole["choices"][0]["message"]["role"], "assistant");

  for (const char* index : {R"("0")", "1", "null", "{}"}) {
    StreamAssembler odd;
    EXPECT_NO_THROW(odd.add(chunk(
        R"("id":"c")", std::string(R"({"index":)") + index + R"(,"delta":{"content":"x"}})")));
    odd.add("[DONE]");
    EXPECT_FALSE(odd.completion()) << index;
  }
}

TEST(ReplayAsStream, ReplaysACompletionAndSurvivesFieldsOfTheWrongType) {
  auto events = replayAsStream(
      R"({"id":"c1","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant",
      "content":"A whole answer"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3}})",
      true);
  ASSERT_TRUE(events);
  EXPECT_NE(events->find(R"("content":"A whole answer")"), std::string::npos);
  EXPECT_NE(events->find(R"("usage":{"prompt_tokens":3})"), std::string::npos);
  EXPECT_TRUE(events->ends_with("data: [DONE]\n\n"));

  std::optional<std::string> odd;
  EXPECT_NO_THROW(
      odd = replayAsStream(R"({"id":1,"created":"x","model":null,"choices":[{"message":"hi"}]})",
                           false));
  ASSERT_TRUE(odd);
  EXPECT_NE(odd->find(R"("role":"assistant")"), std::string::npos);
  EXPECT_NO_THROW(
      odd = replayAsStream(R"({"choices":[{"message":{"role":7,"content":["x"]}}]})", false));
  EXPECT_TRUE(odd);
  EXPECT_FALSE(replayAsStream(R"({"choices":[]})", false));
  EXPECT_FALSE(replayAsStream("not json", false));
}

}  // namespace
}  // namespace costgate::cache
