#include "costgate/openai/usage.h"

#include <gtest/gtest.h>

#include <string>

namespace costgate::openai {
namespace {

std::optional<pricing::Usage> usageIn(const std::string& body) {
  auto document = jsonview::Document::parse(body);
  EXPECT_TRUE(document.has_value()) << body;
  return document ? usageOf(document->root()) : std::nullopt;
}

TEST(UsageTest, ReadsAChatCompletionsUsage) {
  auto usage = usageIn(R"({"id":"x","usage":{"prompt_tokens":120,"completion_tokens":40,
    "total_tokens":160,"prompt_tokens_details":{"cached_tokens":100,"audio_tokens":0},
    "completion_tokens_details":{"reasoning_tokens":25,"audio_tokens":0}}})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 120u);
  EXPECT_EQ(usage->completion_tokens, 40u);
  EXPECT_EQ(usage->cached_tokens, 100u);
  EXPECT_EQ(usage->reasoning_tokens, 25u);
}

TEST(UsageTest, MissingCountsAreZero) {
  // Embeddings: prompt tokens only; details may be null.
  auto usage = usageIn(R"({"usage":{"prompt_tokens":8,"total_tokens":8,
    "prompt_tokens_details":null}})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 8u);
  EXPECT_EQ(usage->completion_tokens, 0u);
  EXPECT_EQ(usage->cached_tokens, 0u);
}

TEST(UsageTest, NoUsageOrABadOneIsNone) {
  EXPECT_FALSE(usageIn(R"({"id":"x"})").has_value());
  EXPECT_FALSE(usageIn(R"({"usage":null})").has_value());
  EXPECT_FALSE(usageIn(R"([1,2])").has_value());
  EXPECT_FALSE(usageIn(R"({"usage":{"prompt_tokens":-1}})").has_value());
  EXPECT_FALSE(usageIn(R"({"usage":{"prompt_tokens":"12"}})").has_value());
  EXPECT_FALSE(usageIn(R"({"usage":{"prompt_tokens":1.5}})").has_value());
  // No call uses 2^40 tokens: a broken backend, not a bill.
  EXPECT_FALSE(usageIn(R"({"usage":{"prompt_tokens":9000000000000000000}})").has_value());
  EXPECT_TRUE(usageIn(R"({"usage":{"prompt_tokens":1099511627776}})").has_value());
  EXPECT_FALSE(
      usageIn(R"({"usage":{"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":true}}})")
          .has_value());
  // Without a prompt count, or with an exponent, a usage is not trusted: the gateway counts.
  EXPECT_FALSE(usageIn(R"({"usage":{"completion_tokens":7}})").has_value());
  EXPECT_FALSE(usageIn(R"({"usage":{"prompt_tokens":null,"completion_tokens":7}})").has_value());
  EXPECT_FALSE(usageIn(R"({"usage":{"prompt_tokens":1e30,"completion_tokens":7}})").has_value());
  EXPECT_FALSE(usageIn(R"({"usage":{"prompt_tokens":12,"completion_tokens":-1}})").has_value());
}

TEST(UsageTest, CountsTheTextOfAWholeAnswer) {
  auto answerIn = [](const std::string& body) {
    auto document = jsonview::Document::parse(body);
    EXPECT_TRUE(document.has_value()) << body;
    return document ? answerCharacters(document->root()) : 0;
  };
  EXPECT_EQ(answerIn(R"({"choices":[{"message":{"role":"assistant","content":"Hello"}},
    {"message":{"content":null,"refusal":"No.","tool_calls":[{"function":{"name":"f",
    "arguments":"{}"}}]}}]})"),
            5u + 3u + 1u + 2u);
  EXPECT_EQ(answerIn(R"({"choices":[{"text":"legacy"}]})"), 6u);
  EXPECT_EQ(answerIn(R"({"choices":"broken"})"), 0u);
  EXPECT_EQ(answerIn(R"({"data":[{"embedding":[0.1]}]})"), 0u);
}

std::uint64_t promptIn(const std::string& body) {
  auto document = jsonview::Document::parse(body);
  EXPECT_TRUE(document.has_value()) << body;
  return document ? promptCharacters(document->root()) : 0;
}

std::uint64_t chunkIn(const std::string& body) {
  auto document = jsonview::Document::parse(body);
  EXPECT_TRUE(document.has_value()) << body;
  return document ? chunkCharacters(document->root()) : 0;
}

TEST(UsageTest, CountsPromptCharacters) {
  EXPECT_EQ(promptIn(R"({"messages":[{"role":"system","content":"abcd"},
    {"role":"user","content":[{"type":"text","text":"efgh"},{"type":"image_url","image_url":{}}]},
    {"role":"assistant","content":null}]})"),
            8u);
  EXPECT_EQ(promptIn(R"({"prompt":"twelve chars"})"), 12u);
  EXPECT_EQ(promptIn(R"({"prompt":["ab","cd"]})"), 4u);
  EXPECT_EQ(promptIn(R"({"model":"m"})"), 0u);
  // Embeddings input, and token ids counting as one token's characters each.
  EXPECT_EQ(promptIn(R"({"input":"embed me"})"), 8u);
  EXPECT_EQ(promptIn(R"({"input":["ab",[1,2,3]]})"), 2u + 12u);
  EXPECT_EQ(promptIn(R"({"prompt":[15339,1917]})"), 8u);
  EXPECT_EQ(estimateTokens(promptIn(R"({"prompt":[15339,1917]})")), 2u);
}

TEST(UsageTest, CountsTheTextOfAStreamedChunk) {
  EXPECT_EQ(chunkIn(R"({"choices":[{"delta":{"content":"Hello"}},{"delta":{"content":"!"}}]})"),
            6u);
  EXPECT_EQ(chunkIn(R"({"choices":[{"text":"abc"}]})"), 3u);
  EXPECT_EQ(chunkIn(R"({"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"xyz"}}]}}]})"),
            3u);
  EXPECT_EQ(chunkIn(R"({"choices":[{"delta":{"role":"assistant"}}]})"), 0u);
  EXPECT_EQ(chunkIn(R"({"choices":[],"usage":{"prompt_tokens":1}})"), 0u);
}

TEST(UsageTest, EstimatesAboutFourCharactersPerToken) {
  EXPECT_EQ(estimateTokens(0), 0u);
  EXPECT_EQ(estimateTokens(1), 1u);
  EXPECT_EQ(estimateTokens(8), 2u);
  EXPECT_EQ(estimateTokens(9), 3u);
}

TEST(UsageTest, SeesWhetherAStreamAskedForUsage) {
  auto asks = [](const std::string& body) {
    auto document = jsonview::Document::parse(body);
    return document && asksForUsage(document->root());
  };
  EXPECT_TRUE(asks(R"({"stream":true,"stream_options":{"include_usage":true}})"));
  EXPECT_FALSE(asks(R"({"stream":true,"stream_options":{"include_usage":false}})"));
  EXPECT_FALSE(asks(R"({"stream":true,"stream_options":null})"));
  EXPECT_FALSE(asks(R"({"stream":true})"));
}

}  // namespace
}  // namespace costgate::openai
