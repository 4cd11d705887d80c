// The word-vector file's reader (on small files written here, whole and damaged) and the embedder,
// on those small files and on the real vectors (scripts/fetch-word-vectors.sh; the tests that need
// them are skipped without them).

#include "costgate/cache/word_vectors.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace costgate::cache {
namespace {

struct FileWord {
  std::string name;
  std::uint32_t rank;
  std::vector<std::int8_t> values;
};

void putU32(std::string& out, std::uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8) out += static_cast<char>((value >> shift) & 0xff);
}

// A file as scripts/convert-word-vectors.mjs writes it.
std::string fileOf(std::vector<FileWord> words, std::size_t dims) {
  std::sort(words.begin(), words.end(),
            [](const FileWord& a, const FileWord& b) { return a.name < b.name; });
  std::string names;
  for (const FileWord& word : words) names += word.name;
  std::string out = "CGWVEC01";
  putU32(out, static_cast<std::uint32_t>(words.size()));
  putU32(out, static_cast<std::uint32_t>(dims));
  putU32(out, static_cast<std::uint32_t>(names.size()));
  putU32(out, 0);
  std::uint32_t offset = 0;
  for (const FileWord& word : words) {
    putU32(out, offset);
    offset += static_cast<std::uint32_t>(word.name.size());
  }
  putU32(out, offset);
  for (const FileWord& word : words) putU32(out, word.rank);
  for (const FileWord& word : words) {
    for (std::int8_t value : word.values) out += static_cast<char>(value);
  }
  return out + names;
}

// Four words in 3 dimensions: "cancel" and "end" alike, "subscription" and "membership" alike.
std::string smallFile() {
  return fileOf({{"cancel", 5000, {100, 20, 0}},
                 {"end", 800, {90, 40, 0}},
                 {"subscription", 12000, {0, 10, 120}},
                 {"membership", 2600, {0, 30, 110}},
                 {"how", 50, {10, 10, 10}}},
                3);
}

std::shared_ptr<const WordVectors> parsed(std::string bytes) {
  auto result = WordVectors::parse(std::move(bytes));
  if (auto* error = std::get_if<WordVectorsError>(&result)) {
    ADD_FAILURE() << error->message;
    return nullptr;
  }
  return std::make_shared<const WordVectors>(std::get<WordVectors>(std::move(result)));
}

std::string parseError(std::string bytes) {
  auto result = WordVectors::parse(std::move(bytes));
  auto* error = std::get_if<WordVectorsError>(&result);
  return error ? error->message : "";
}

float length(const Vector& vector) {
  double sum = 0;
  for (float value : vector) sum += double{value} * value;
  return static_cast<float>(std::sqrt(sum));
}

TEST(WordVectors, FindsEachWordWithItsRankAndValues) {
  auto vectors = parsed(smallFile());
  ASSERT_TRUE(vectors);
  EXPECT_EQ(vectors->size(), 5u);
  EXPECT_EQ(vectors->dimensions(), 3u);
  auto end = vectors->find("end");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->rank, 800u);
  EXPECT_EQ(std::vector<std::int8_t>(end->values.begin(), end->values.end()),
            (std::vector<std::int8_t>{90, 40, 0}));
  EXPECT_TRUE(vectors->find("how"));
  EXPECT_FALSE(vectors->find("ends"));
  EXPECT_FALSE(vectors->find("e"));
  EXPECT_FALSE(vectors->find(""));
}

TEST(WordVectors, AMissingOrDamagedFileIsAnErrorValue) {
  auto missing = WordVectors::load("/nonexistent/words-100d.bin");
  ASSERT_TRUE(std::holds_alternative<WordVectorsError>(missing));
  EXPECT_NE(std::get<WordVectorsError>(missing).message.find("/nonexistent/words-100d.bin"),
            std::string::npos);

  const std::string good = smallFile();
  EXPECT_EQ(parseError(""), "not a word-vector file");
  EXPECT_EQ(parseError("XXXXXXXX" + good.substr(8)), "not a word-vector file");
  EXPECT_EQ(parseError(good.substr(0, good.size() - 1)), "truncated or too long");
  EXPECT_EQ(parseError(good + "x"), "truncated or too long");
  std::string no_dimensions = good;
  no_dimensions[12] = 0;
  EXPECT_FALSE(parseError(no_dimensions).empty());
  std::string huge_count = good;
  huge_count[11] = '\x7f';  // a count that would put every section past the end
  EXPECT_FALSE(parseError(huge_count).empty());
  std::string bad_offset = good;
  bad_offset[24 + 4] = '\x7f';  // the second word's name past the names' end
  EXPECT_EQ(parseError(bad_offset), "bad word offsets");
  // Two words swapped: same size, out of order (binary search would miss words).
  std::string unsorted = fileOf({{"b", 1, {1}}, {"a", 2, {1}}}, 1);
  std::swap(unsorted[unsorted.size() - 1], unsorted[unsorted.size() - 2]);
  EXPECT_EQ(parseError(unsorted), "words not sorted");

  const auto path = std::filesystem::temp_directory_path() / "costgate-word-vectors-test.bin";
  std::ofstream(path, std::ios::binary) << good.substr(0, 30);
  auto truncated = WordVectors::load(path.string());
  std::filesystem::remove(path);
  EXPECT_TRUE(std::holds_alternative<WordVectorsError>(truncated));
}

TEST(WordVectorEmbedder, SynonymsTheLexicalPartCannotMatchComeCloser) {
  auto vectors = parsed(smallFile());
  ASSERT_TRUE(vectors);
  const WordVectorEmbedder words(vectors);
  const LexicalEmbedder lexical(WordVectorEmbedder::kLexicalDimensions);
  EXPECT_EQ(words.dimensions(), 3 + WordVectorEmbedder::kLexicalDimensions);
  EXPECT_TRUE(words.name().starts_with("words3.")) << words.name();
  EXPECT_TRUE(words.name().ends_with("+lexical156")) << words.name();
  // Another file is another embedder, even with the same dimensions.
  std::string other = smallFile();
  other[other.size() - 1] = 'x';  // "subscription" -> "subscriptiox"
  EXPECT_NE(WordVectorEmbedder(parsed(other)).name(), words.name());
  auto a = words.embed("How cancel subscription");
  auto b = words.embed("How end membership");
  auto unrelated = words.embed("How zebra quantum");
  ASSERT_TRUE(a && b && unrelated);
  EXPECT_NEAR(length(*a), 1.0f, 1e-4);
  EXPECT_EQ(a->size(), words.dimensions());
  const float lexical_similarity =
      similarity(*lexical.embed("How cancel subscription"), *lexical.embed("How end membership"));
  EXPECT_GT(similarity(*a, *b), lexical_similarity + 0.2f);
  EXPECT_GT(similarity(*a, *b), similarity(*a, *unrelated));
}

TEST(WordVectorEmbedder, UnknownWordsAndNoWordsAtAll) {
  auto vectors = parsed(smallFile());
  ASSERT_TRUE(vectors);
  const WordVectorEmbedder words(vectors);
  EXPECT_FALSE(words.embed(""));
  EXPECT_FALSE(words.embed("?! ... --"));
  // No known word: the lexical part alone, still of unit length, and still telling texts apart.
  auto unknown = words.embed("zorblax frobnicate");
  ASSERT_TRUE(unknown);
  EXPECT_NEAR(length(*unknown), 1.0f, 1e-4);
  EXPECT_NEAR(similarity(*unknown, *words.embed("Zorblax, frobnicate!")), 1.0f, 1e-4);
  EXPECT_LT(similarity(*unknown, *words.embed("quux wibble")), 0.5f);
  // A plural is found as its stem.
  EXPECT_GT(similarity(*words.embed("cancel subscriptions"), *words.embed("end membership")),
            similarity(*words.embed("cancel zzzzz"), *words.embed("end membership")));
}

// The real vectors, when they were fetched.
std::shared_ptr<const WordVectors> realVectors() {
  auto loaded = WordVectors::load(defaultWordVectorsPath());
  if (!std::holds_alternative<WordVectors>(loaded)) return nullptr;
  return std::make_shared<const WordVectors>(std::get<WordVectors>(std::move(loaded)));
}

TEST(WordVectorEmbedder, RealVectorsPutParaphrasesCloserThanOtherQuestions) {
  static const auto vectors = realVectors();
  if (!vectors) GTEST_SKIP() << "no " << defaultWordVectorsPath();
  EXPECT_EQ(vectors->dimensions(), 100u);
  const WordVectorEmbedder words(vectors);
  // The same lexical features alone: what the word part adds is the difference.
  const LexicalEmbedder lexical(WordVectorEmbedder::kLexicalDimensions);
  auto similar = [](const Embedder& embedder, const char* a, const char* b) {
    return similarity(*embedder.embed(a), *embedder.embed(b));
  };
  const char* question = "How do I cancel my subscription?";
  const char* synonym = "How do I cancel my membership?";
  EXPECT_GT(similar(words, question, synonym), similar(lexical, question, synonym) + 0.05f);
  EXPECT_GT(similar(words, question, synonym),
            similar(words, question, "What is the capital of France?") + 0.2f);
  EXPECT_GT(similar(words, "Do you ship to Canada?", "Do you deliver to Canada?"),
            similar(words, "Do you ship to Canada?", "Do you sell gift cards?") + 0.2f);
  // A misspelling is read as the frequent word one edit away, a run-together word as its parts.
  EXPECT_NEAR(similar(words, "How do I reset my pasword?", "How do I reset my password?"), 1.0f,
              1e-4);
  EXPECT_NEAR(similar(words, "Can I use a giftcard?", "Can I use a gift card?"), 1.0f, 1e-4);
  // Words it does not know (names, code) still count, through the lexical part.
  EXPECT_LT(similar(words, "How do I install kubectl?", "How do I install zsh?"), 0.9f);
}

}  // namespace
}  // namespace costgate::cache
