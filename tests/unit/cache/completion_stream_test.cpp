#include "costgate/cache/completion_stream.h"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "costgate/openai/sse.h"

namespace costgate::cache {
namespace {

using nlohmann::json;

std::string chunk(const std::string& choice, const std::string& head = R"("id":"c1","created":1)") {
  return "{" + head + R"(,"object":"chat.completion.chunk","model":"m","choices":[)" + choice +
         "]}";
}

std::optional<std::string> assembled(const std::vector<std::string>& data) {
  StreamAssembler assembler;
  for (const auto& each : data) assembler.add(each);
  return assembler.completion();
}

// What a client reading the replay would assemble.
std::optional<std::string> reassembled(const std::string& completion) {
  std::optional<std::string> replay = replayAsStream(completion, true);
  if (!replay) return std::nullopt;
  openai::SseParser parser;
  std::vector<std::string> data;
  for (const auto& event : parser.feed(*replay)) data.push_back(event.data);
  return assembled(data);
}

TEST(StreamAssembler, AssemblesAStreamAndItsReplay) {
  auto completion =
      assembled({chunk(R"({"index":0,"delta":{"role":"assistant","content":"Hel"}})"),
                 chunk(R"({"index":0,"delta":{"content":"lo"}})"),
                 chunk(R"({"index":0,"delta":{},"finish_reason":"stop"})"), "[DONE]"});
  ASSERT_TRUE(completion);
  json whole = json::parse(*completion);
  EXPECT_EQ(whole["id"], "c1");
  EXPECT_EQ(whole["created"], 1);
  EXPECT_EQ(whole["choices"][0]["message"]["content"], "Hello");
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "stop");
  auto again = reassembled(*completion);
  ASSERT_TRUE(again);
  EXPECT_EQ(json::parse(*again)["choices"][0]["message"]["content"], "Hello");
}

// A backend's chunk with a member of an unexpected type made json::value() throw out of the
// stream relay, which cut the client's stream and skipped every filter's onComplete (found by
// fuzz/sse_fuzzer; the input is fuzz/corpus/sse_fuzzer/regression-index-object).
TEST(StreamAssembler, OddlyTypedMembersDoNotThrow) {
  for (std::string index : {R"({"role":"assistant"})", R"("0")", "null", "[0]", "1"}) {
    SCOPED_TRACE(index);
    std::optional<std::string> completion;
    EXPECT_NO_THROW(
        completion =
            assembled({chunk(R"({"index":)" + index + R"(,"delta":{"content":"a"}})"), "[DONE]"}));
    EXPECT_FALSE(completion) << "a choice other than index 0 makes the stream unusable";
  }
  // Index 0 written as a float is still the first choice.
  EXPECT_TRUE(assembled({chunk(R"({"index":0.0,"delta":{"content":"a"}})"), "[DONE]"}));

  std::optional<std::string> completion;
  EXPECT_NO_THROW(completion = assembled(
                      {chunk(R"({"index":0,"delta":{"content":"a"}})", R"("id":5,"created":"now")"),
                       "[DONE]"}));
  ASSERT_TRUE(completion);
  json whole = json::parse(*completion);
  EXPECT_EQ(whole["id"], "");
  EXPECT_EQ(whole["created"], 0);
}

TEST(ReplayAsStream, OddlyTypedMembersDoNotThrow) {
  const std::string completions[] = {
      R"({"id":1,"created":"x","model":[],"choices":[{"index":0,"message":"text"}]})",
      R"({"choices":[{"message":{"role":5,"content":"hi","tool_calls":["a",{"id":"t"}]}}]})",
      R"({"choices":[{"message":null,"finish_reason":7}],"usage":"none"})",
  };
  for (const std::string& completion : completions) {
    SCOPED_TRACE(completion);
    std::optional<std::string> replay;
    EXPECT_NO_THROW(replay = replayAsStream(completion, true));
    ASSERT_TRUE(replay);
    EXPECT_NO_THROW(reassembled(completion));
  }
}

// The same, from the hostile-backend tests: a whole stream's fields of other types.
std::string chunkOf(const std::string& fields, const std::string& choice) {
  return R"({"object":"chat.completion.chunk",)" + fields + R"(,"choices":[)" + choice + "]}";
}

TEST(StreamAssembler, AssemblesTheCompletionAWholeRequestWouldHaveGot) {
  StreamAssembler stream;
  const std::string fields = R"("id":"c1","created":7,"model":"m")";
  stream.add(chunkOf(fields, R"({"index":0,"delta":{"role":"assistant","content":"Hel"}})"));
  stream.add(chunkOf(fields, R"({"index":0,"delta":{"content":"lo"},"finish_reason":"stop"})"));
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
  EXPECT_NO_THROW(typed_wrong.add(chunkOf(fields, R"({"delta":{"role":5,"content":"x"}})")));
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
    EXPECT_NO_THROW(odd.add(chunkOf(
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
