#pragma once
// The lexer of one chunk of prose (a whitespace-separated piece, trimmed of the punctuation
// around it) into words, numbers and operators.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "costgate/cache/facts/atoms.h"

namespace costgate::cache::facts {

// Lexes one chunk. In strict mode (a chunk mixing letters and digits) it succeeds only for
// numbers with units or ordinals, versions, arithmetic and a number followed by lower-case
// hyphenated words ("5GB", "3rd", "v1.2.3", "17x23", "17-year-old"); anything else ("2FA",
// "GPT-4o") fails and the caller keeps the chunk whole as a name. Numbers are normalized:
// thousands separators dropped ("1,000" is "1000"), a unit attached ("$5" is "5usd"), "+" and a
// version's "v" dropped.
class ChunkLexer {
 public:
  // `afterValue`: the atom before the chunk is a number or ")", so a leading "-" or "/" is an
  // operator ("17 -5").
  ChunkLexer(std::string_view chunk, bool strict, bool afterValue)
      : s_(chunk), strict_(strict), afterValue_(afterValue) {}

  // Appends the chunk's atoms to `out`; false (with `out` partly written) if strict lexing failed.
  bool run(std::vector<Atom>& out);

 private:
  char at(std::size_t i) const { return i < s_.size() ? s_[i] : '\0'; }
  bool atWordEdge() const;
  bool wordStarts() const;

  // Numbers (facts/chunk_lexer_numbers.cpp).
  bool numberStarts() const;
  bool readNumber(std::vector<Atom>& out);
  void readPrefix(std::string& text, std::string& unit);
  void readDigits(std::string& text);
  std::optional<std::string> readSuffix();

  // Words, operators and punctuation (facts/chunk_lexer.cpp).
  bool readWord(std::vector<Atom>& out);
  bool readOperator(std::vector<Atom>& out);
  void readPunctuation(std::vector<Atom>& out);

  std::string_view s_;
  std::size_t i_ = 0;
  bool strict_;
  bool afterValue_;  // the atom before is a number or ")": "-" and "/" are operators
  bool sawNumber_ = false;
};

}  // namespace costgate::cache::facts
