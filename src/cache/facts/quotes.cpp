#include "costgate/cache/facts/quotes.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>

#include "costgate/cache/facts/punctuation.h"
#include "costgate/cache/facts/text.h"
#include "costgate/cache/facts/toward.h"

namespace costgate::cache::facts {
namespace {

using std::size_t;
constexpr size_t npos = std::string_view::npos;

struct QuoteStyle {
  std::string_view open;
  std::string_view close;
  bool straight;  // open only after a word edge, close only before one
  bool oneLine;
};
constexpr QuoteStyle kQuoteStyles[] = {
    {"\"", "\"", true, false},
    {"'", "'", true, true},
    {kLeftDouble, kRightDouble, false, false},
    {kLeftSingle, kRightSingle, false, true},
    {kLeftGuillemet, kRightGuillemet, false, false},
};

// Text edges, whitespace and ASCII punctuation are word edges; letters, digits, other bytes and
// masked code are not.
bool isEdge(std::string_view s, size_t i) {
  if (i >= s.size()) return true;
  char c = s[i];
  return !isAlnum(c) && !isHigh(c) && c != kMask;
}

bool opensAt(std::string_view s, size_t i, const QuoteStyle& style) {
  if (!startsAt(s, i, style.open)) return false;
  if (!style.straight) return true;  // « bonjour » has spaces inside
  size_t after = i + style.open.size();
  if (after >= s.size() || isSpace(s[after])) return false;
  return i == 0 || isEdge(s, i - 1);
}

bool closesAt(std::string_view s, size_t j, const QuoteStyle& style) {
  if (!startsAt(s, j, style.close)) return false;
  bool straightEdge = style.straight || style.close == kRightSingle;
  return !straightEdge || (j > 0 && !isSpace(s[j - 1]) && isEdge(s, j + style.close.size()));
}

size_t findCloser(std::string_view s, size_t from, size_t limit, const QuoteStyle& style) {
  for (size_t j = s.find(style.close, from); j != npos && j < limit;
       j = s.find(style.close, j + 1)) {
    if (closesAt(s, j, style)) return j;
  }
  return npos;
}

}  // namespace

void takeQuotes(std::string_view text, std::string_view masked, std::vector<std::string>& quoted) {
  std::array<size_t, std::size(kQuoteStyles)> noCloserBefore{};
  for (size_t i = 0; i < masked.size();) {
    size_t next = i + 1;
    bool mayOpen = masked[i] == '"' || masked[i] == '\'' || isHigh(masked[i]);
    for (size_t k = 0; mayOpen && k < std::size(kQuoteStyles); ++k) {
      const QuoteStyle& style = kQuoteStyles[k];
      if (i < noCloserBefore[k] || !opensAt(masked, i, style)) continue;
      size_t from = i + style.open.size();
      size_t limit =
          style.oneLine ? std::min(masked.find('\n', from), masked.size()) : masked.size();
      size_t close = findCloser(masked, from, limit, style);
      if (close == npos) {
        noCloserBefore[k] = limit;
        continue;
      }
      addMarked(text, i, text.substr(from, close - from), quoted);
      next = close + style.close.size();
      break;
    }
    i = next;
  }
}

}  // namespace costgate::cache::facts
