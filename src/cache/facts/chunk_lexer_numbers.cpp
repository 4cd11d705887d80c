#include "costgate/cache/facts/chunk_lexer.h"

#include <utility>

#include "costgate/cache/facts/punctuation.h"
#include "costgate/cache/facts/text.h"
#include "costgate/cache/facts/units.h"
#include "costgate/cache/facts/word_lists.h"

// The numbers of a chunk; words, operators and punctuation are in chunk_lexer.cpp.

namespace costgate::cache::facts {
namespace {

// The unit letters right after digits record: "gb" of "5GB". "3D" and "5S" are names; "5K",
// "5M" and "10X" are amounts.
std::optional<std::string_view> attachedUnit(std::string_view letters) {
  auto unit = unitOf(lowered(letters));
  bool capitalLetter = letters.size() == 1 && isUpper(letters[0]);
  if (capitalLetter && letters[0] != 'K' && letters[0] != 'M' && letters[0] != 'X') return {};
  return unit;
}

}  // namespace

bool ChunkLexer::numberStarts() const {
  char c = at(i_);
  if (isDigit(c)) return true;
  bool sign = (c == '-' || c == '+') && isDigit(at(i_ + 1));
  if (sign || (startsAt(s_, i_, kMinus) && isDigit(at(i_ + kMinus.size())))) {
    return !afterValue_ && atWordEdge();  // after a number it is an operator: 17-5
  }
  if (auto currency = currencyAt(s_, i_)) return isDigit(at(i_ + currency->width));
  return (c == 'v' || c == 'V') && isDigit(at(i_ + 1)) && atWordEdge();  // v1.2.3
}

bool ChunkLexer::readNumber(std::vector<Atom>& out) {
  std::string text;
  std::string unit;
  readPrefix(text, unit);
  readDigits(text);
  std::optional<std::string> suffix = readSuffix();
  if (!suffix) {
    if (strict_) return false;
  } else if (unit.empty()) {
    unit = *std::move(suffix);
  }
  Atom atom = makeAtom(AtomKind::kNumber, text + unit);
  atom.hasUnit = !unit.empty();
  out.push_back(std::move(atom));
  afterValue_ = sawNumber_ = true;
  return true;
}

// A sign ("+" is dropped: +5 is 5), a currency symbol (a unit: "$5" is "5usd") or a version's
// "v" (dropped: "v1.2" is "1.2", like "version 1.2").
void ChunkLexer::readPrefix(std::string& text, std::string& unit) {
  if (at(i_) == '-') {
    text = "-";
    ++i_;
  } else if (startsAt(s_, i_, kMinus)) {
    text = "-";
    i_ += kMinus.size();
  } else if (at(i_) == '+' || at(i_) == 'v' || at(i_) == 'V') {
    ++i_;
  } else if (auto currency = currencyAt(s_, i_)) {
    unit = currency->unit;
    i_ += currency->width;
  }
}

// Digits, thousands separators dropped ("1,000" is 1000 but "1,2,3" three numbers), then
// decimals, version parts and clock times kept as written ("3.11", "1.2.3", "10:30").
void ChunkLexer::readDigits(std::string& text) {
  std::size_t start = i_;
  while (isDigit(at(i_))) ++i_;
  text.append(s_.substr(start, i_ - start));
  if (i_ - start <= 3) {
    while (at(i_) == ',' && isDigit(at(i_ + 1)) && isDigit(at(i_ + 2)) && isDigit(at(i_ + 3)) &&
           !isDigit(at(i_ + 4))) {
      text.append(s_.substr(i_ + 1, 3));
      i_ += 4;
    }
  }
  while ((at(i_) == '.' || at(i_) == ':') && isDigit(at(i_ + 1))) {
    text += s_[i_++];
    start = i_;
    while (isDigit(at(i_))) ++i_;
    text.append(s_.substr(start, i_ - start));
  }
}

// What is attached after the digits: a unit ("%", "gb", "€"), nothing (no letters, an ordinal
// suffix, or the "x" of "17x23" which is read next as an operator), or nullopt for letters that
// are neither ("2FA").
std::optional<std::string> ChunkLexer::readSuffix() {
  if (at(i_) == '%' && !isDigit(at(i_ + 1))) {
    ++i_;
    return "%";
  }
  if (auto currency = currencyAt(s_, i_)) {
    i_ += currency->width;
    return std::string(currency->unit);
  }
  if (startsAt(s_, i_, kMicroSeconds)) {
    i_ += kMicroSeconds.size();
    return "us";
  }
  std::size_t end = i_;
  while (isAlpha(at(end))) ++end;
  std::string_view letters = s_.substr(i_, end - i_);
  if (letters.empty() || ((letters == "x" || letters == "X") && isDigit(at(end)))) return "";
  if (inList<"ordinal_suffixes">(letters)) {
    i_ = end;
    return "";
  }
  if (auto unit = attachedUnit(letters)) {
    i_ = end;
    return std::string(*unit);
  }
  return std::nullopt;
}

}  // namespace costgate::cache::facts
