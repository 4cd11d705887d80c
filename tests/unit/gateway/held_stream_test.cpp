// What a cascade shows its judge of a held stream, event by event.

#include "costgate/gateway/held_stream.h"

#include <gtest/gtest.h>

namespace costgate::gateway {
namespace {

openai::SseEvent chunk(const std::string& content, const std::string& logprobs = "null",
                       const std::string& finish = "null") {
  return {"", R"({"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":")" +
                  content + R"("},"logprobs":)" + logprobs + R"(,"finish_reason":)" + finish +
                  "}]}"};
}

std::string logprobsOf(std::initializer_list<double> values) {
  std::string out = R"({"content":[)";
  for (double value : values) {
    if (out.back() != '[') out += ",";
    out += R"({"token":"x","logprob":)" + std::to_string(value) + "}";
  }
  return out + "]}";
}

TEST(HeldStream, CountsTokensByTheirLogprobsAndDecidesAtTheHold) {
  HeldStream held(4);
  EXPECT_TRUE(held.add(chunk("I am", logprobsOf({-0.1, -0.2}))));
  auto partial = held.partial();
  EXPECT_EQ(partial.text, "I am");
  EXPECT_EQ(partial.tokens, 2u);
  ASSERT_NE(partial.logprobs, nullptr);
  EXPECT_DOUBLE_EQ(partial.logprobs->at(1), -0.2);
  EXPECT_FALSE(partial.last);
  EXPECT_TRUE(held.add(chunk(" quite sure", logprobsOf({-0.3, -0.4}))));
  EXPECT_TRUE(held.partial().last) << "four tokens held: the judge must decide";
  EXPECT_EQ(held.takeEvents().size(), 2u);
}

TEST(HeldStream, WithoutLogprobsEstimatesTokensFromTheText) {
  HeldStream held(100);
  held.add(chunk(std::string(40, 'a')));
  EXPECT_EQ(held.partial().tokens, 10u);
  EXPECT_EQ(held.partial().logprobs, nullptr);
}

TEST(HeldStream, AStreamThatEndsWithinTheHoldIsDecidedWithItsFinishReason) {
  HeldStream held(100);
  held.add(chunk("Short.", "null", R"("length")"));
  EXPECT_TRUE(held.partial().last);
  EXPECT_EQ(held.partial().finish_reason, "length");
  openai::SseEvent usage{"", R"({"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}})"};
  EXPECT_FALSE(held.add(std::move(usage))) << "a usage chunk tells the judge nothing new";
  ASSERT_TRUE(held.usage());
  EXPECT_EQ(held.usage()->prompt_tokens, 9u);
  EXPECT_TRUE(held.add({"", "[DONE]"}));
  EXPECT_TRUE(held.ended());
}

TEST(HeldStream, AToolCallIsNews) {
  HeldStream held(100);
  EXPECT_TRUE(held.add({"", R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,)"
                            R"("function":{"name":"f","arguments":""}}]}}]})"}));
  EXPECT_TRUE(held.partial().has_tool_calls);
}

}  // namespace
}  // namespace costgate::gateway
