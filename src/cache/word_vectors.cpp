#include "costgate/cache/word_vectors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "costgate/cache/words.h"
#include "costgate/tokenizer/encoding.h"

namespace costgate::cache {
namespace {

constexpr std::string_view kMagic = "CGWVEC01";
constexpr std::size_t kHeaderSize = kMagic.size() + 16;
constexpr std::size_t kMaxDimensions = 1024;
// Spelling: a word past rank kRareRank (or unknown, counted as kUnknownRank: about the corpus'
// vocabulary) is read as a word one edit away that is kCorrectionFrequencyRatio times as frequent.
constexpr std::uint32_t kRareRank = 100'000;
constexpr std::uint32_t kUnknownRank = 400'000;
constexpr std::uint32_t kCorrectionFrequencyRatio = 10;
constexpr std::size_t kMinCorrectedLength = 4;
// An unknown word is read as two words when both have kMinCompoundPart letters or more and are
// among the kCompoundPartRank most frequent.
constexpr std::uint32_t kCompoundPartRank = 50'000;
constexpr std::size_t kMinCompoundPart = 3;

// How much of a pair's cosine comes from the word vectors, the rest from the lexical features
// (chosen on tests/data/cache_pairs.jsonl: docs/cache.md, "The word-vector embedder").
constexpr float kWordsShare = 0.3f;
// The smooth inverse frequency a / (a + p(word)) of Arora, Liang and Ma (2017). p is estimated
// from the word's frequency rank by Zipf's law, p(rank) = 1 / ((rank + 1) * H), H the harmonic
// number of the corpus' vocabulary (about ln 400,000 + 0.58). With a = 1e-4 the 100 most frequent
// words weigh under 0.12 and words past rank 10,000 over 0.9.
constexpr double kSmoothing = 1e-4;
constexpr double kZipfNormalizer = 13.5;
// A word part this short is the common direction alone (only its words): it says nothing.
constexpr double kNegligibleNorm = 1e-12;

float weightOf(std::uint32_t rank) {
  const double p = 1.0 / ((rank + 1.0) * kZipfNormalizer);
  return static_cast<float>(kSmoothing / (kSmoothing + p));
}

std::variant<std::string, WordVectorsError> readFile(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  std::ifstream file(path, std::ios::binary);
  if (error || !file) return WordVectorsError{"cannot open " + path};
  std::string bytes(size, '\0');
  if (!file.read(bytes.data(), static_cast<std::streamsize>(size))) {
    return WordVectorsError{"cannot read " + path};
  }
  return bytes;
}

// FNV-1a over 8-byte words: a few milliseconds for the whole file, enough to tell two files apart.
std::uint64_t fingerprintOf(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    hash = (hash ^ word) * 0x100000001b3ull;
  }
  for (; i < bytes.size(); ++i)
    hash = (hash ^ static_cast<unsigned char>(bytes[i])) * 0x100000001b3ull;
  return hash ^ (hash >> 32);
}

// The word as the file has it, or its stem ("invoices" -> "invoice"), or its stem with the "e"
// that "-ing" and "-ed" took ("changing" -> "chang" -> "change").
std::optional<WordVectors::Word> knownForm(const WordVectors& vectors, const std::string& word) {
  if (auto found = vectors.find(word)) return found;
  std::string stem = lightStem(word);
  if (stem == word) return std::nullopt;
  if (auto found = vectors.find(stem)) return found;
  return vectors.find(stem + "e");
}

// Calls visit with each word one edit away: a letter deleted, two swapped, one replaced, one
// inserted (Norvig's spelling corrector, with Zipf ranks for counts).
template <class Visit>
void forEachEdit(const std::string& word, Visit&& visit) {
  std::string edit;
  for (std::size_t i = 0; i < word.size(); ++i) {
    visit(edit.assign(word).erase(i, 1));
    if (i + 1 < word.size() && word[i] != word[i + 1]) {
      edit.assign(word);
      std::swap(edit[i], edit[i + 1]);
      visit(edit);
    }
    for (char c = 'a'; c <= 'z'; ++c) {
      if (c == word[i]) continue;
      edit.assign(word);
      edit[i] = c;
      visit(edit);
    }
  }
  for (std::size_t i = 0; i <= word.size(); ++i) {
    for (char c = 'a'; c <= 'z'; ++c) visit(edit.assign(word).insert(i, 1, c));
  }
}

// The most frequent word one edit away from `word` (of frequency rank `rank`) that is
// kCorrectionFrequencyRatio times as frequent, or nullopt. Only words of ASCII letters, and of
// kMinCorrectedLength or more, are corrected: digits, other scripts and short words are too easily
// turned into another word.
std::optional<std::pair<std::string, WordVectors::Word>> correctionOf(const WordVectors& vectors,
                                                                      const std::string& word,
                                                                      std::uint32_t rank) {
  if (word.size() < kMinCorrectedLength ||
      !std::all_of(word.begin(), word.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    return std::nullopt;
  }
  std::optional<std::pair<std::string, WordVectors::Word>> best;
  forEachEdit(word, [&](const std::string& edit) {
    auto found = vectors.find(edit);
    if (!found || std::uint64_t{found->rank} * kCorrectionFrequencyRatio > rank) return;
    if (!best || found->rank < best->second.rank) best.emplace(edit, *found);
  });
  return best;
}

// An unknown word made of two frequent ones ("giftcard") is read as the two: the split whose
// rarer half is the more frequent.
std::optional<std::pair<std::string, std::string>> splitOf(const WordVectors& vectors,
                                                           const std::string& word) {
  std::optional<std::pair<std::string, std::string>> best;
  std::uint32_t best_rank = kCompoundPartRank;
  for (std::size_t at = kMinCompoundPart; at + kMinCompoundPart <= word.size(); ++at) {
    auto first = vectors.find(std::string_view(word).substr(0, at));
    auto second = vectors.find(std::string_view(word).substr(at));
    if (!first || !second) continue;
    const std::uint32_t rank = std::max(first->rank, second->rank);
    if (rank >= best_rank) continue;
    best_rank = rank;
    best.emplace(word.substr(0, at), word.substr(at));
  }
  return best;
}

// Adds the word's unit vector, weighted by its frequency, to `sum`.
void addWord(const WordVectors::Word& word, std::vector<double>& sum) {
  double norm = 0;
  for (const int value : word.values) norm += value * value;
  if (norm == 0) return;
  const double scale = weightOf(word.rank) / std::sqrt(norm);
  for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += scale * word.values[i];
}

// The first two bytes of a word, as a number that sorts as the words do (no word holds a NUL).
std::size_t prefixOf(std::string_view word) {
  const auto byte = [&](std::size_t i) {
    return i < word.size() ? static_cast<unsigned char>(word[i]) : 0u;
  };
  return (byte(0) << 8) | byte(1);
}

// The direction every question's word part shares: the sum a text of words drawn at their corpus
// frequencies would have (each word's weighted unit vector times its Zipf probability), unit
// length. Arora, Liang and Ma remove the first principal component of the sentence vectors of a
// corpus for the same reason; without a corpus, this is its expectation.
std::vector<double> commonDirectionOf(const WordVectors& vectors) {
  std::vector<double> common(vectors.dimensions(), 0.0);
  for (std::size_t index = 0; index < vectors.size(); ++index) {
    const WordVectors::Word word = vectors.at(index);
    // addWord's weight times the word's probability.
    double norm = 0;
    for (const int value : word.values) norm += value * value;
    if (norm == 0) continue;
    const double scale =
        weightOf(word.rank) / ((word.rank + 1.0) * kZipfNormalizer) / std::sqrt(norm);
    for (std::size_t i = 0; i < common.size(); ++i) common[i] += scale * word.values[i];
  }
  double norm = 0;
  for (double value : common) norm += value * value;
  if (norm > 0) {
    for (double& value : common) value /= std::sqrt(norm);
  }
  return common;
}

}  // namespace

std::variant<WordVectors, WordVectorsError> WordVectors::load(const std::string& path) {
  auto bytes = readFile(path);
  if (auto* error = std::get_if<WordVectorsError>(&bytes)) return std::move(*error);
  auto parsed = parse(std::get<std::string>(std::move(bytes)));
  if (auto* error = std::get_if<WordVectorsError>(&parsed)) error->message += " (" + path + ")";
  return parsed;
}

std::variant<WordVectors, WordVectorsError> WordVectors::parse(std::string bytes) {
  WordVectors vectors;
  vectors.data_ = std::move(bytes);
  const std::string& data = vectors.data_;
  if (data.size() < kHeaderSize || std::string_view(data).substr(0, kMagic.size()) != kMagic) {
    return WordVectorsError{"not a word-vector file"};
  }
  vectors.count_ = vectors.u32At(8);
  vectors.dimensions_ = vectors.u32At(12);
  const std::size_t name_bytes = vectors.u32At(16);
  if (vectors.dimensions_ == 0 || vectors.dimensions_ > kMaxDimensions) {
    return WordVectorsError{"bad dimensions"};
  }
  vectors.offsets_ = kHeaderSize;
  vectors.ranks_ = vectors.offsets_ + 4 * (vectors.count_ + 1);
  vectors.values_ = vectors.ranks_ + 4 * vectors.count_;
  vectors.names_ = vectors.values_ + vectors.count_ * vectors.dimensions_;
  if (vectors.names_ + name_bytes != data.size()) return WordVectorsError{"truncated or too long"};
  std::size_t previous = 0;
  for (std::size_t i = 0; i <= vectors.count_; ++i) {
    const std::size_t offset = vectors.u32At(vectors.offsets_ + 4 * i);
    if (offset < previous || offset > name_bytes || (i == 0 && offset != 0) ||
        (i == vectors.count_ && offset != name_bytes)) {
      return WordVectorsError{"bad word offsets"};
    }
    previous = offset;
  }
  // Lookups are binary searches: the order is what makes them right.
  for (std::size_t i = 1; i < vectors.count_; ++i) {
    if (!(vectors.nameAt(i - 1) < vectors.nameAt(i))) return WordVectorsError{"words not sorted"};
  }
  vectors.indexPrefixes();
  vectors.fingerprint_ = fingerprintOf(vectors.data_);
  return vectors;
}

std::uint32_t WordVectors::u32At(std::size_t offset) const {
  unsigned char bytes[4];
  std::memcpy(bytes, data_.data() + offset, 4);
  return bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (std::uint32_t{bytes[3]} << 24);
}

std::string_view WordVectors::nameAt(std::size_t index) const {
  const std::size_t begin = u32At(offsets_ + 4 * index);
  const std::size_t end = u32At(offsets_ + 4 * (index + 1));
  return std::string_view(data_).substr(names_ + begin, end - begin);
}

void WordVectors::indexPrefixes() {
  first_with_prefix_.assign(kPrefixes + 1, static_cast<std::uint32_t>(count_));
  for (std::size_t i = count_; i-- > 0;) first_with_prefix_[prefixOf(nameAt(i))] = i;
  for (std::size_t prefix = kPrefixes; prefix-- > 0;) {
    first_with_prefix_[prefix] =
        std::min(first_with_prefix_[prefix], first_with_prefix_[prefix + 1]);
  }
}

WordVectors::Word WordVectors::at(std::size_t index) const {
  const auto* values =
      reinterpret_cast<const std::int8_t*>(data_.data() + values_ + index * dimensions_);
  return Word{{values, dimensions_}, u32At(ranks_ + 4 * index)};
}

std::optional<WordVectors::Word> WordVectors::find(std::string_view word) const {
  const std::size_t prefix = prefixOf(word);
  std::size_t low = first_with_prefix_[prefix], high = first_with_prefix_[prefix + 1];
  while (low < high) {
    const std::size_t middle = low + (high - low) / 2;
    const std::string_view name = nameAt(middle);
    if (name == word) return at(middle);
    if (name < word) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return std::nullopt;
}

std::string defaultWordVectorsPath() {
  return (std::filesystem::path(tokenizer::defaultDataDir()).parent_path() / "word-vectors" /
          "words-100d.bin")
      .string();
}

const Embedder& defaultBuiltInEmbedder() {
  static const std::unique_ptr<const Embedder> embedder = []() -> std::unique_ptr<const Embedder> {
    auto loaded = WordVectors::load(defaultWordVectorsPath());
    if (auto* vectors = std::get_if<WordVectors>(&loaded)) {
      return std::make_unique<WordVectorEmbedder>(
          std::make_shared<const WordVectors>(std::move(*vectors)));
    }
    return std::make_unique<LexicalEmbedder>();
  }();
  return *embedder;
}

WordVectorEmbedder::WordVectorEmbedder(std::shared_ptr<const WordVectors> vectors)
    : vectors_(std::move(vectors)),
      lexical_(kLexicalDimensions),
      common_(commonDirectionOf(*vectors_)) {}

std::string WordVectorEmbedder::name() const {
  char fingerprint[9];
  std::snprintf(fingerprint, sizeof fingerprint, "%08x",
                static_cast<unsigned>(vectors_->fingerprint() & 0xffffffffu));
  return "words" + std::to_string(vectors_->dimensions()) + "." + fingerprint + "+lexical" +
         std::to_string(lexical_.dimensions());
}

std::string WordVectorEmbedder::readWords(std::string_view text, std::vector<double>& sum) const {
  std::string spelled;
  for (std::string& word : lowerCaseWords(text)) {
    std::optional<WordVectors::Word> found = knownForm(*vectors_, word);
    if (!found || found->rank >= kRareRank) {
      if (auto correction = correctionOf(*vectors_, word, found ? found->rank : kUnknownRank)) {
        word = std::move(correction->first);
        found = correction->second;
      } else if (auto split = found ? std::nullopt : splitOf(*vectors_, word)) {
        addWord(*vectors_->find(split->first), sum);
        found = vectors_->find(split->second);
        word = split->first + " " + split->second;
      }
    }
    if (found) addWord(*found, sum);
    spelled += word;
    spelled += ' ';
  }
  return spelled;
}

std::optional<Vector> WordVectorEmbedder::embed(std::string_view text) const {
  const std::size_t dims = vectors_->dimensions();
  std::vector<double> sum(dims, 0.0);
  std::optional<Vector> lexical = lexical_.embed(readWords(text, sum));
  if (!lexical) return std::nullopt;  // no words at all
  double along = 0;
  for (std::size_t i = 0; i < dims; ++i) along += sum[i] * common_[i];
  double norm = 0;
  for (std::size_t i = 0; i < dims; ++i) {
    sum[i] -= along * common_[i];
    norm += sum[i] * sum[i];
  }
  Vector vector(dimensions(), 0.0f);
  // Without a known word the lexical part is all there is; it stays unit length on its own.
  float lexical_weight = 1.0f;
  if (norm > kNegligibleNorm) {
    const double scale = std::sqrt(kWordsShare / norm);
    for (std::size_t i = 0; i < dims; ++i) vector[i] = static_cast<float>(sum[i] * scale);
    lexical_weight = std::sqrt(1.0f - kWordsShare);
  }
  for (std::size_t i = 0; i < lexical->size(); ++i) {
    vector[dims + i] = (*lexical)[i] * lexical_weight;
  }
  return vector;
}

}  // namespace costgate::cache
