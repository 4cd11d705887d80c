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

}  // namespace
}  // namespace costgate::cache
