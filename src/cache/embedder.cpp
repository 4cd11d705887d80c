#include "costgate/cache/embedder.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "costgate/cache/words.h"

namespace costgate::cache {
namespace {

// The inverse document frequency of the most frequent English words (and the words every
// question is made of) is low: "how do I reset my password" and "reset password" are about the
// same thing. Every other word weighs 1.
constexpr float kCommonWordWeight = 0.15f;
constexpr std::string_view kCommonWords[] = {
    "a",       "an",    "the",    "and",   "or",    "but",  "of",     "to",    "in",     "on",
    "at",      "for",   "with",   "by",    "from",  "as",   "is",     "are",   "was",    "were",
    "be",      "been",  "am",     "do",    "does",  "did",  "have",   "has",   "had",    "i",
    "me",      "my",    "you",    "your",  "we",    "our",  "it",     "its",   "this",   "that",
    "these",   "those", "what",   "which", "who",   "how",  "why",    "when",  "where",  "can",
    "could",   "would", "should", "will",  "shall", "may",  "might",  "must",  "please", "tell",
    "explain", "show",  "give",   "get",   "there", "here", "some",   "any",   "about",  "into",
    "if",      "so",    "than",   "then",  "just",  "also", "thanks", "thank", "hi",     "hello",
    "hey",     "s",     "way",    "want",  "need",  "like", "know",   "use",   "using"};

// Word features weigh more than a word's character trigrams; the trigrams are what lets a typo
// ("pasword") still land near the word.
constexpr float kBigramWeight = 0.7f;
constexpr float kTrigramWeight = 0.5f;

std::uint64_t hashOf(std::string_view text, std::uint64_t seed) {
  std::uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 33);
}

float idfOf(std::string_view word) {
  static const std::unordered_set<std::string_view> common(std::begin(kCommonWords),
                                                           std::end(kCommonWords));
  return common.contains(word) ? kCommonWordWeight : 1.0f;
}

}  // namespace

LexicalEmbedder::LexicalEmbedder(std::size_t dimensions) : dimensions_(dimensions) {}

std::optional<Vector> LexicalEmbedder::embed(std::string_view text) const {
  std::vector<std::string> words = lowerCaseWords(text);
  if (words.empty()) return std::nullopt;
  // feature hash -> (term frequency, weight)
  std::unordered_map<std::uint64_t, std::pair<float, float>> features;
  auto add = [&](std::string_view feature, std::uint64_t seed, float weight) {
    auto& [tf, w] = features[hashOf(feature, seed)];
    tf += 1;
    w = weight;
  };
  std::vector<float> weights;
  for (std::string& word : words) {
    float idf = idfOf(word);
    word = lightStem(std::move(word));
    weights.push_back(idf);
    add(word, 1, idf);
    std::string padded = " " + word + " ";
    for (std::size_t i = 0; i + 3 <= padded.size(); ++i) {
      add(std::string_view(padded).substr(i, 3), 2, idf * kTrigramWeight);
    }
  }
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    add(words[i] + " " + words[i + 1], 3, kBigramWeight * std::sqrt(weights[i] * weights[i + 1]));
  }
  Vector vector(dimensions_, 0.0f);
  for (const auto& [hash, feature] : features) {
    const auto& [tf, weight] = feature;
    float value = (1.0f + std::log(tf)) * weight;
    // The hash picks a coordinate and a sign: a random projection of the sparse features.
    vector[hash % dimensions_] += (hash >> 63) ? value : -value;
  }
  double norm = 0;
  for (float v : vector) norm += double{v} * v;
  if (norm == 0) return std::nullopt;
  auto scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& v : vector) v *= scale;
  return vector;
}

float similarity(const Vector& a, const Vector& b) {
  // Eight partial sums the compiler can keep in one vector register: without -ffast-math it may
  // not reorder a single running sum, and a partition without an index compares every entry.
  const std::size_t size = std::min(a.size(), b.size());
  float sums[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    for (std::size_t lane = 0; lane < 8; ++lane) sums[lane] += a[i + lane] * b[i + lane];
  }
  float dot = 0;
  for (; i < size; ++i) dot += a[i] * b[i];
  for (float sum : sums) dot += sum;
  return dot;
}

}  // namespace costgate::cache
