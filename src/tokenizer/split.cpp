#include <array>
#include <optional>

#include "costgate/tokenizer/split.h"
#include "costgate/tokenizer/unicode_class.h"

// The split rules, as tiktoken writes them (Rust regex syntax):
//
// cl100k_base:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
//   | ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
//
// o200k_base (C = (?i:'s|'t|'re|'ve|'m|'ll|'d)):
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+C?
//   | [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*C?
//   | \p{N}{1,3} | ?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
//
// A regex engine tries the alternatives in order and, within one, backtracks through the choices
// of its greedy parts; each branch below follows that order, so the first piece the regex would
// find is the one returned.

namespace costgate::tokenizer {
namespace {

struct Char {
  CharClass klass;
  std::uint8_t length;
  char32_t code_point;
};

constexpr std::array<CharClass, 128> kAsciiClasses = [] {
  std::array<CharClass, 128> classes{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= '\t' && c <= '\r') || c == ' ') {
      classes[c] = CharClass::kWhitespace;
    } else if (c >= '0' && c <= '9') {
      classes[c] = CharClass::kNumber;
    } else if (c >= 'A' && c <= 'Z') {
      classes[c] = CharClass::kUppercase;
    } else if (c >= 'a' && c <= 'z') {
      classes[c] = CharClass::kLowercase;
    } else {
      classes[c] = CharClass::kOther;
    }
  }
  return classes;
}();

bool isLetter(CharClass c) { return c >= CharClass::kUppercase && c <= CharClass::kOtherLetter; }
// o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]: what may start a word.
bool isUpperish(CharClass c) {
  return (isLetter(c) && c != CharClass::kLowercase) || c == CharClass::kMark;
}
// o200k's [\p{Ll}\p{Lm}\p{Lo}\p{M}]: what may continue one.
bool isLowerish(CharClass c) {
  return c == CharClass::kLowercase || c == CharClass::kModifierLetter ||
         c == CharClass::kOtherLetter || c == CharClass::kMark;
}
// [^\s\p{L}\p{N}]
bool isPunctuation(CharClass c) { return c == CharClass::kOther || c == CharClass::kMark; }
bool isLineBreak(const Char& c) { return c.code_point == '\r' || c.code_point == '\n'; }

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  std::size_t size() const { return text_.size(); }

  Char at(std::size_t i) const {
    unsigned char byte = static_cast<unsigned char>(text_[i]);
    if (byte < 0x80) return {kAsciiClasses[byte], 1, byte};
    Utf8Char decoded = decodeUtf8(text_, i);
    CharClass klass =
        decoded.code_point == 0xFFFFFFFF ? CharClass::kOther : classOf(decoded.code_point);
    return {klass, decoded.length, decoded.code_point};
  }

  // The end of the run of characters from i that satisfy `in_run`.
  template <class Predicate>
  std::size_t runEnd(std::size_t i, Predicate in_run) const {
    while (i < text_.size()) {
      Char c = at(i);
      if (!in_run(c.klass)) break;
      i += c.length;
    }
    return i;
  }

  // The length of (?i:'s|'t|'re|'ve|'m|'ll|'d) at i, or 0. Case-insensitive matching is
  // Unicode's: 's' also matches U+017F LATIN SMALL LETTER LONG S.
  std::size_t contraction(std::size_t i) const {
    if (i >= text_.size() || text_[i] != '\'' || i + 1 >= text_.size()) return 0;
    auto lower = [&](std::size_t j) -> char {
      if (j >= text_.size()) return 0;
      char c = text_[j];
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    };
    char first = lower(i + 1);
    if (first == 's' || first == 't' || first == 'm' || first == 'd') return 2;
    if (text_.substr(i + 1, 2) == "\xC5\xBF") return 3;  // U+017F
    char second = lower(i + 2);
    if ((first == 'r' && second == 'e') || (first == 'v' && second == 'e') ||
        (first == 'l' && second == 'l')) {
      return 3;
    }
    return 0;
  }

  // \s*[\r\n]+ | \s+(?!\S) | \s+ at i, which holds whitespace.
  std::size_t whitespaceEnd(std::size_t i) const {
    std::size_t end = i;
    std::size_t last_start = i;              // where the run's last character starts
    std::optional<std::size_t> after_break;  // just after the run's last \r or \n
    std::size_t count = 0;
    while (end < text_.size()) {
      Char c = at(end);
      if (c.klass != CharClass::kWhitespace) break;
      last_start = end;
      end += c.length;
      ++count;
      if (isLineBreak(c)) after_break = end;
    }
    if (after_break) return *after_break;
    if (end == text_.size() || count == 1) return end;
    return last_start;  // leave the last space to the word after it
  }

  // \p{N}{1,3} at i, which holds a number.
  std::size_t digitsEnd(std::size_t i) const {
    for (int n = 0; n < 3 && i < text_.size(); ++n) {
      Char c = at(i);
      if (c.klass != CharClass::kNumber) break;
      i += c.length;
    }
    return i;
  }

  // ` ?[^\s\p{L}\p{N}]+` then any of `trailing` at i, or nullopt.
  std::optional<std::size_t> punctuationEnd(std::size_t i, std::string_view trailing) const {
    std::size_t start = i;
    if (text_[i] == ' ' && i + 1 < text_.size() && isPunctuation(at(i + 1).klass)) start = i + 1;
    if (!isPunctuation(at(start).klass)) return std::nullopt;
    std::size_t end = runEnd(start, isPunctuation);
    while (end < text_.size() && trailing.find(text_[end]) != std::string_view::npos) ++end;
    return end;
  }

 private:
  std::string_view text_;
};

std::size_t cl100kPieceEnd(const Scanner& s, std::size_t i) {
  if (std::size_t n = s.contraction(i)) return i + n;
  Char first = s.at(i);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (isLetter(first.klass)) return s.runEnd(i, isLetter);
  if (!isLineBreak(first) && first.klass != CharClass::kNumber) {
    std::size_t next = i + first.length;
    if (next < s.size() && isLetter(s.at(next).klass)) return s.runEnd(next, isLetter);
  }
  if (first.klass == CharClass::kNumber) return s.digitsEnd(i);
  if (auto end = s.punctuationEnd(i, "\r\n")) return *end;
  return s.whitespaceEnd(i);
}

// [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ at a: when the greedy first run
// leaves no lower-case letter after it, the regex backs off into the run to the last character
// that is also in the second class.
std::optional<std::size_t> o200kCasedWordEnd(const Scanner& s, std::size_t a) {
  std::size_t i = a;
  std::optional<std::size_t> after_last_lowerish;
  while (i < s.size()) {
    Char c = s.at(i);
    if (!isUpperish(c.klass)) break;
    i += c.length;
    if (isLowerish(c.klass)) after_last_lowerish = i;
  }
  if (i < s.size() && isLowerish(s.at(i).klass)) return s.runEnd(i, isLowerish);
  return after_last_lowerish;
}

// [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]* at a.
std::optional<std::size_t> o200kUpperWordEnd(const Scanner& s, std::size_t a) {
  std::size_t end = s.runEnd(a, isUpperish);
  if (end == a) return std::nullopt;
  return s.runEnd(end, isLowerish);
}

std::size_t o200kPieceEnd(const Scanner& s, std::size_t i) {
  Char first = s.at(i);
  bool may_prefix =
      !isLineBreak(first) && !isLetter(first.klass) && first.klass != CharClass::kNumber;
  std::size_t after_first = i + first.length;
  for (auto word_end : {o200kCasedWordEnd, o200kUpperWordEnd}) {
    std::optional<std::size_t> end;
    if (may_prefix && after_first < s.size()) end = word_end(s, after_first);
    if (!end) end = word_end(s, i);
    if (end) return *end + s.contraction(*end);
  }
  if (first.klass == CharClass::kNumber) return s.digitsEnd(i);
  if (auto end = s.punctuationEnd(i, "\r\n/")) return *end;
  return s.whitespaceEnd(i);
}

}  // namespace

std::size_t pieceEnd(std::string_view text, std::size_t at, SplitRule rule) {
  Scanner scanner(text);
  return rule == SplitRule::kCl100k ? cl100kPieceEnd(scanner, at) : o200kPieceEnd(scanner, at);
}

}  // namespace costgate::tokenizer
