#pragma once
// Pretrained word vectors (the file scripts/fetch-word-vectors.sh writes) and the embedder that
// builds a question's vector from them and from the lexical features.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "costgate/cache/embedder.h"

namespace costgate::cache {

struct WordVectorsError {
  std::string message;
};

// The words' vectors, read-only once loaded: every method is const and does no I/O, so one
// instance serves every thread. The file is kept as loaded (scripts/convert-word-vectors.mjs
// describes it): words sorted by their bytes, each with its frequency rank and int8 values.
class WordVectors {
 public:
  struct Word {
    std::span<const std::int8_t> values;  // dimensions() values, not normalized
    std::uint32_t rank;                   // 0 for the most frequent word of the corpus
  };

  // The file at `path`, checked (its size, offsets and order), or why it cannot be used.
  static std::variant<WordVectors, WordVectorsError> load(const std::string& path);
  // The same from the file's bytes.
  static std::variant<WordVectors, WordVectorsError> parse(std::string bytes);

  std::size_t dimensions() const { return dimensions_; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return data_.size(); }
  // A hash of the whole file: vectors of another file (another version of the data) are another
  // embedder's.
  std::uint64_t fingerprint() const { return fingerprint_; }
  // The word (lower-case, as cache/words.h splits it), or nullopt when it is not in the file.
  std::optional<Word> find(std::string_view word) const;
  // The index-th word in the file's order (index < size()).
  Word at(std::size_t index) const;

 private:
  WordVectors() = default;
  std::string_view nameAt(std::size_t index) const;
  std::uint32_t u32At(std::size_t offset) const;
  // A lookup searches only the words that begin with the same two bytes: a spelling correction
  // looks up some 50 candidates per letter of an unknown word.
  void indexPrefixes();
  static constexpr std::size_t kPrefixes = 1 << 16;

  std::string data_;
  std::size_t count_ = 0;
  std::size_t dimensions_ = 0;
  std::size_t offsets_ = 0;  // byte offsets in data_ of each section
  std::size_t ranks_ = 0;
  std::size_t values_ = 0;
  std::size_t names_ = 0;
  std::vector<std::uint32_t> first_with_prefix_;  // kPrefixes + 1 word indices
  std::uint64_t fingerprint_ = 0;
};

// Where scripts/fetch-word-vectors.sh puts the file: data/word-vectors/, next to the tokenizer's
// data directory that the build compiled in.
std::string defaultWordVectorsPath();

// What the semantic cache embeds with by default: the word vectors of defaultWordVectorsPath()
// when that file loads, else the lexical embedder. Loaded at the first call, then shared.
const Embedder& defaultBuiltInEmbedder();

// A question's vector in two parts, each of unit length before they are weighted:
//   - the meaning of its words: the sum of their vectors, each weighted by its smooth inverse
//     frequency (a / (a + p(word)), p from the word's frequency rank), so that "how", "do", "my"
//     count little and "cancel", "subscription" much, less the direction every such sum shares
//     (Arora, Liang and Ma 2017). A word the file lacks is tried stemmed; a rare or unknown one
//     is read as a much more frequent word one edit away ("pasword"), or an unknown one as two
//     frequent words ("giftcard"); else it adds nothing here;
//   - the lexical features of LexicalEmbedder over the words so read, so that the words
//     themselves still count: word vectors put "password" next to "username", and "order" nearer
//     to "subscription" than "membership" is; only the lexical part tells such words apart.
// The concatenation is of unit length, so the cosine of two questions is
// kWordsShare * (cosine of the word parts) + (1 - kWordsShare) * (cosine of the lexical parts)
// when both have known words. dimensions() floats: 256 (1 KiB) with the 100-value vectors.
// Thread-safe: embed() reads only what the constructor set.
class WordVectorEmbedder : public Embedder {
 public:
  static constexpr std::size_t kLexicalDimensions = 156;

  explicit WordVectorEmbedder(std::shared_ptr<const WordVectors> vectors);
  std::size_t dimensions() const override { return vectors_->dimensions() + lexical_.dimensions(); }
  std::optional<Vector> embed(std::string_view text) const override;
  // Names what made the vectors, for the store's keys: entries of another embedder never meet.
  // "words100.<file's fingerprint>+lexical156".
  std::string name() const;

 private:
  // The text's words as the lexical part is to see them (misspellings corrected, run-together
  // words split), each one's weighted vector added to `sum`.
  std::string readWords(std::string_view text, std::vector<double>& sum) const;

  std::shared_ptr<const WordVectors> vectors_;
  LexicalEmbedder lexical_;
  std::vector<double> common_;  // unit length: the direction every word part shares
};

}  // namespace costgate::cache
