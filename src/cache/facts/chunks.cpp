#include "costgate/cache/facts/chunks.h"

#include <cstddef>

#include "costgate/cache/facts/punctuation.h"
#include "costgate/cache/facts/text.h"
#include "costgate/cache/facts/word_lists.h"

namespace costgate::cache::facts {
namespace {

using std::size_t;
using std::string_view;
constexpr size_t npos = string_view::npos;

// Counts of brackets by kind: (), [], {}.
struct Brackets {
  int open[3] = {0, 0, 0};
  int close[3] = {0, 0, 0};
  static int kind(char c) {
    switch (c) {
      case '(':
      case ')':
        return 0;
      case '[':
      case ']':
        return 1;
      case '{':
      case '}':
        return 2;
      default:
        return -1;
    }
  }
};

size_t leadingPunctuation(string_view raw, size_t b, size_t e, bool keepBrackets) {
  while (b < e) {
    char c = raw[b];
    size_t width = 0;
    if (c == '"' || c == '\'' || c == '`' || c == '*' ||
        (!keepBrackets && (c == '(' || c == '[' || c == '{'))) {
      width = 1;
    } else if (c == '.' && runLength(raw, b, '.') >= 2) {
      width = runLength(raw, b, '.');  // "...and"; a single dot starts ".env"
    } else {
      for (string_view mark :
           {kLeftDouble, kLeftSingle, kLeftGuillemet, kInvertedQuestion, kInvertedBang}) {
        if (startsAt(raw, b, mark)) width = mark.size();
      }
    }
    if (width == 0) break;
    b += width;
  }
  return b;
}

Brackets countBrackets(string_view s) {
  Brackets brackets;
  for (char c : s) {
    int kind = Brackets::kind(c);
    if (kind < 0) continue;
    bool opening = c == '(' || c == '[' || c == '{';
    ++(opening ? brackets.open : brackets.close)[kind];
  }
  return brackets;
}

// The width of the closing mark ending raw[b..e) ( ” ’ » … ), 0 if there is none.
size_t closingMarkBefore(string_view raw, size_t b, size_t e, Trimmed& t) {
  for (string_view mark : {kRightDouble, kRightSingle, kRightGuillemet, kEllipsis}) {
    if (e - b < mark.size() || raw.substr(e - mark.size(), mark.size()) != mark) continue;
    if (mark == kEllipsis) {
      t.sentenceEnd = true;
      t.onlyDots = false;
    }
    return mark.size();
  }
  return 0;
}

// Cuts sentence punctuation, quotes and unbalanced closing brackets off raw[b..e); returns the
// new end and notes in t what was cut.
size_t trailingPunctuation(string_view raw, size_t b, size_t e, bool keepBrackets, Trimmed& t) {
  Brackets brackets = countBrackets(raw.substr(b, e - b));
  while (e > b) {
    char c = raw[e - 1];
    int kind = Brackets::kind(c);
    if (c == '.' || c == '?' || c == '!' || c == ':') {
      t.sentenceEnd = true;
      t.onlyDots = t.onlyDots && c == '.';
    } else if (c == ',' || c == ';') {
      t.pause = true;
    } else if (kind >= 0 && !keepBrackets && brackets.close[kind] > brackets.open[kind]) {
      --brackets.close[kind];
    } else if (c != '"' && c != '\'' && c != '`' && c != '*') {
      size_t width = closingMarkBefore(raw, b, e, t);
      if (width == 0) break;
      e -= width - 1;
    }
    --e;
  }
  return e;
}

// "Python's" is "Python": the name, not a new one.
string_view withoutPossessive(string_view core) {
  for (string_view possessive : {string_view("'s"), string_view("\xE2\x80\x99s")}) {
    size_t n = possessive.size();
    if (core.size() > n && core.ends_with(possessive) && isAlnum(core[core.size() - n - 1])) {
      return core.substr(0, core.size() - n);
    }
  }
  return core;
}

}  // namespace

Trimmed trimChunk(string_view raw) {
  Trimmed t;
  bool keepBrackets = !hasAlpha(raw);
  size_t b = leadingPunctuation(raw, 0, raw.size(), keepBrackets);
  size_t e = trailingPunctuation(raw, b, raw.size(), keepBrackets, t);
  t.core = withoutPossessive(raw.substr(b, e - b));
  return t;
}

bool isListMarker(string_view raw) {
  if (raw == "-" || raw == "*" || raw == "+" || raw == ">" || raw == kBullet) return true;
  if (!raw.empty() && raw.find_first_not_of('#') == npos) return true;
  size_t digits = 0;
  while (digits < raw.size() && isDigit(raw[digits])) ++digits;
  return digits >= 1 && digits <= 3 && raw.size() == digits + 1 &&
         (raw[digits] == '.' || raw[digits] == ')');
}

bool isAbbreviation(string_view core) {
  if (inList<"abbreviations">(lowered(core))) return true;
  if (core.find('.') == npos) return false;
  for (size_t i = 0; i < core.size(); i += 2) {
    if (!isAlpha(core[i]) || (i + 1 < core.size() && core[i + 1] != '.')) return false;
  }
  return true;
}

bool isComparison(string_view core) {
  if (core == kLessEqual || core == kGreaterEqual || core == kNotEqual) return true;
  if (core.size() > 3 || core.find_first_not_of("<>=!") != npos || core == "=>") return false;
  return core.find_first_of("<>") != npos || core == "==" || core == "!=" || core == "===" ||
         core == "!==";
}

bool isLanguageName(string_view core) {
  size_t letters = 0;
  while (letters < core.size() && isAlpha(core[letters])) ++letters;
  string_view rest = core.substr(letters);
  return letters > 0 && (rest == "++" || rest == "#");
}

}  // namespace costgate::cache::facts
