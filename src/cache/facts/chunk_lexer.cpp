#include "costgate/cache/facts/chunk_lexer.h"

#include <utility>

#include "costgate/cache/facts/punctuation.h"
#include "costgate/cache/facts/text.h"

// Words, operators and punctuation; numbers are in chunk_lexer_numbers.cpp.

namespace costgate::cache::facts {
namespace {

using Spelling = std::pair<std::string_view, std::string_view>;

// Operators, longest first, with the spelling they are recorded in.
// clang-format off
constexpr Spelling kOperators[] = {
    {"**", "^"}, {"<=", "<="}, {">=", ">="}, {"==", "=="}, {"!=", "!="},
    {kLessEqual, "<="}, {kGreaterEqual, ">="}, {kNotEqual, "!="},
    {kTimes, "*"}, {kMiddleDot, "*"}, {kDivide, "/"}, {kMinus, "-"},
    {"+", "+"}, {"-", "-"}, {"*", "*"}, {"/", "/"}, {"^", "^"}, {"%", "%"}, {"=", "="},
    {"<", "<"}, {">", ">"},
};
// clang-format on

// The word with each ’ as '.
std::string straightApostrophes(std::string_view word) {
  std::string text(word);
  for (std::size_t k = text.find(kRightSingle); k != std::string::npos;
       k = text.find(kRightSingle, k)) {
    text.replace(k, kRightSingle.size(), "'");
  }
  return text;
}

}  // namespace

bool ChunkLexer::run(std::vector<Atom>& out) {
  while (i_ < s_.size()) {
    if (numberStarts()) {
      if (!readNumber(out)) return false;
    } else if (wordStarts()) {
      if (!readWord(out)) return false;
    } else if (!readOperator(out)) {
      readPunctuation(out);
    }
  }
  return true;
}

bool ChunkLexer::atWordEdge() const { return i_ == 0 || !isAlnum(s_[i_ - 1]); }

bool ChunkLexer::wordStarts() const {
  char c = s_[i_];
  return isAlpha(c) || (isHigh(c) && symbolAt(s_, i_) == 0);
}

// Letters, other bytes and apostrophes inside them ("don't", "can’t").
bool ChunkLexer::readWord(std::vector<Atom>& out) {
  std::size_t begin = i_;
  while (i_ < s_.size()) {
    bool apostrophe = s_[i_] == '\'' || startsAt(s_, i_, kRightSingle);
    std::size_t width = s_[i_] == '\'' ? 1 : kRightSingle.size();
    if (apostrophe && i_ > begin && isAlpha(at(i_ + width))) {
      i_ += width;
    } else if (wordStarts()) {
      ++i_;
    } else {
      break;
    }
  }
  std::string_view word = s_.substr(begin, i_ - begin);
  if ((word == "x" || word == "X") && afterValue_ && isDigit(at(i_))) {
    out.push_back(makeAtom(AtomKind::kOperator, "*"));  // 17x23
    afterValue_ = false;
    return true;
  }
  // Strict: only the lower-case words of "17-year-old".
  bool hyphenTail = sawNumber_ && begin > 0 && s_[begin - 1] == '-' && allLowerLetters(word);
  if (strict_ && !hyphenTail) return false;
  Atom atom = makeAtom(AtomKind::kWord, straightApostrophes(word));
  atom.lower = lowered(atom.text);
  out.push_back(std::move(atom));
  afterValue_ = false;
  return true;
}

// "-" and "/" are operators only between values ("17-5", "1/2"); between words they are
// hyphens and slashes ("two-factor", "and/or").
bool ChunkLexer::readOperator(std::vector<Atom>& out) {
  char c = s_[i_];
  if (!isHigh(c) && std::string_view("*<>=!+-/^%").find(c) == std::string_view::npos) {
    return false;
  }
  for (const auto& [surface, canonical] : kOperators) {
    if (!startsAt(s_, i_, surface)) continue;
    if (canonical == "-" || canonical == "/") {
      char next = at(i_ + surface.size());
      bool binary = afterValue_ && (next == '\0' || isDigit(next) || next == '(');
      if (!binary) return false;
    }
    out.push_back(makeAtom(AtomKind::kOperator, std::string(canonical)));
    i_ += surface.size();
    afterValue_ = false;
    return true;
  }
  return false;
}

void ChunkLexer::readPunctuation(std::vector<Atom>& out) {
  char c = s_[i_];
  if (c == '(' || c == ')') {
    out.push_back(makeAtom(c == '(' ? AtomKind::kOpen : AtomKind::kClose));
    afterValue_ = c == ')';
  } else if (c == ',' || c == ';') {
    out.push_back(makeAtom(AtomKind::kPause));
    afterValue_ = false;
  }
  std::size_t width = symbolAt(s_, i_);
  i_ += width ? width : 1;
}

}  // namespace costgate::cache::facts
