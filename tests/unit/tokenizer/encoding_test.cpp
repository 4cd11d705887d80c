#include "costgate/tokenizer/encoding.h"

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../support/encodings.h"

namespace costgate::tokenizer {
namespace {

using test_data::testEncoding;

std::string idList(const std::vector<Token>& ids) {
  std::string text = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(ids[i]);
  }
  return text + "]";
}

// tiktoken's own reference cases, as gpt-tokenizer ships them.
TEST(EncodingTest, MatchesEveryTestPlansCase) {
  std::ifstream plans(test_data::tokenizerDataDir() + "/TestPlans.txt");
  ASSERT_TRUE(plans) << "run scripts/fetch-tokenizer-data.sh";
  std::string line, encoding, sample;
  int checked = 0;
  while (std::getline(plans, line)) {
    if (line.starts_with("EncodingName: ")) encoding = line.substr(14);
    if (line.starts_with("Sample: ")) sample = line.substr(8);
    if (!line.starts_with("Encoded: ")) continue;
    auto rule = splitRuleOf(encoding);
    if (!rule) continue;
    EXPECT_EQ(idList(testEncoding(*rule).encode(sample)), line.substr(9))
        << encoding << ": " << sample;
    ++checked;
  }
  EXPECT_EQ(checked, 64 + 57);
}

TEST(EncodingTest, CountIsTheNumberOfIds) {
  for (auto rule : {SplitRule::kCl100k, SplitRule::kO200k}) {
    const Encoding& encoding = testEncoding(rule);
    for (std::string text : {"", "hello world", "  indented\n\n\tcode();", "日本語のテキスト 🌍"}) {
      EXPECT_EQ(encoding.count(text), encoding.encode(text).size()) << text;
    }
  }
}

TEST(EncodingTest, AnyBytesRoundTripWithoutLoss) {
  std::mt19937 random(7);
  for (auto rule : {SplitRule::kCl100k, SplitRule::kO200k}) {
    const Encoding& encoding = testEncoding(rule);
    for (int round = 0; round < 200; ++round) {
      std::string bytes(random() % 300, '\0');
      for (char& c : bytes) c = static_cast<char>(random());
      EXPECT_EQ(encoding.decode(encoding.encode(bytes)), bytes);
    }
    // Truncated sequences, overlong forms, surrogates and bytes that never start a character.
    for (std::string bytes : {"\xC3", "a\xE2\x82", "\xC0\x80", "\xED\xA0\x80x", "\xF5\x80\x80\x80",
                              "\xFF\xFE", "caf\xC3\xA9\x80"}) {
      EXPECT_EQ(encoding.decode(encoding.encode(bytes)), bytes);
    }
  }
}

TEST(EncodingTest, LongRunsCountAsTiktokenCountsThem) {
  // Figures from the reference tokenizer (wasm tiktoken 1.0.22) for 64 KiB runs, which take it
  // about 5 s each (its merge is quadratic; at 1 MiB it fails).
  const Encoding& o200k = testEncoding(SplitRule::kO200k);
  const Encoding& cl100k = testEncoding(SplitRule::kCl100k);
  EXPECT_EQ(o200k.count(std::string(1 << 16, 'a')), 8192u);
  EXPECT_EQ(o200k.count(std::string(1 << 16, ' ')), 512u);
  EXPECT_EQ(cl100k.count(std::string(1 << 16, 'a')), 8192u);
  // Sixteen times the text, sixteen times the tokens.
  EXPECT_EQ(o200k.count(std::string(1 << 20, 'a')), 16 * 8192u);
  EXPECT_EQ(o200k.count(std::string(1 << 20, ' ')), 16 * 512u);
}

// A small made-up encoding whose merges can be followed by hand: pieces of up to 64 bytes merge
// by one algorithm, longer ones by another, and both must give tiktoken's answer.
TEST(EncodingTest, ShortAndLongPiecesMergeAlike) {
  std::vector<std::string> tokens;
  for (int byte = 0; byte < 256; ++byte) tokens.emplace_back(1, static_cast<char>(byte));
  tokens.push_back("ab");    // 256
  tokens.push_back("abab");  // 257
  tokens.push_back("ba");    // 258: ranks after "ab", so "ab" pairs win from the left
  auto encoding = Encoding::fromTokens("test", tokens, SplitRule::kCl100k);
  auto repeated = [](std::string_view unit, int times) {
    std::string text;
    for (int i = 0; i < times; ++i) text += unit;
    return text;
  };
  EXPECT_EQ(encoding->encode(repeated("ab", 20)), std::vector<Token>(10, 257));
  EXPECT_EQ(encoding->encode(repeated("ab", 100)), std::vector<Token>(50, 257));
  // An odd count leaves one "ab" at the end, in both algorithms.
  std::vector<Token> odd(20, 257);
  odd.push_back(256);
  EXPECT_EQ(encoding->encode(repeated("ab", 41)), odd);
  std::vector<Token> short_odd(5, 257);
  short_odd.push_back(256);
  EXPECT_EQ(encoding->encode(repeated("ab", 11)), short_odd);
}

TEST(EncodingTest, LoadReportsWhatIsWrongWithARankFile) {
  const std::string path = ::testing::TempDir() + "/bad.tiktoken";
  auto loadText = [&](const std::string& text) {
    std::ofstream(path) << text;
    auto loaded = Encoding::load("bad", path, SplitRule::kO200k);
    auto* error = std::get_if<Error>(&loaded);
    return error ? error->message : std::string();
  };
  EXPECT_NE(loadText("YQ== 0\nYQ== 1\n").find(":2: "), std::string::npos);
  EXPECT_NE(loadText("YQ== x\n").find("rank is not a number"), std::string::npos);
  EXPECT_NE(loadText("!!!! 0\n").find("not base64"), std::string::npos);
  EXPECT_NE(loadText("YQ== 0\n").find("no rank for the single byte"), std::string::npos);
  auto missing = Encoding::load("none", path + ".missing", SplitRule::kO200k);
  EXPECT_TRUE(std::holds_alternative<Error>(missing));
}

TEST(EncodingTest, ModelsMapToOpenAIsEncodings) {
  EXPECT_EQ(encodingForModel("gpt-4o-mini"), "o200k_base");
  EXPECT_EQ(encodingForModel("gpt-4.1-nano"), "o200k_base");
  EXPECT_EQ(encodingForModel("gpt-5"), "o200k_base");
  EXPECT_EQ(encodingForModel("o3-mini"), "o200k_base");
  EXPECT_EQ(encodingForModel("ft:gpt-4o-mini:acme::abc"), "o200k_base");
  EXPECT_EQ(encodingForModel("gpt-4-turbo"), "cl100k_base");
  EXPECT_EQ(encodingForModel("gpt-3.5-turbo"), "cl100k_base");
  EXPECT_EQ(encodingForModel("gpt-35-turbo"), "cl100k_base");  // Azure's spelling
  EXPECT_EQ(encodingForModel("text-embedding-3-small"), "cl100k_base");
  EXPECT_EQ(encodingForModel("llama-3-70b"), "");
}

}  // namespace
}  // namespace costgate::tokenizer
