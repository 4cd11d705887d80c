#include "costgate/cache/facts/code_spans.h"

#include <array>
#include <cstddef>

#include "costgate/cache/facts/punctuation.h"
#include "costgate/cache/facts/text.h"
#include "costgate/cache/facts/toward.h"

namespace costgate::cache::facts {
namespace {

constexpr std::size_t npos = std::string_view::npos;
constexpr std::size_t kMaxFence = 16;  // longer backtick runs are not fences (bounds the work)

std::size_t findFence(std::string_view s, std::size_t from, std::size_t length) {
  for (std::size_t i = s.find('`', from); i != npos; i = s.find('`', i + runLength(s, i, '`'))) {
    if (runLength(s, i, '`') == length) return i;
  }
  return npos;
}

void mask(std::string& masked, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) {
    if (masked[i] != '\n') masked[i] = kMask;  // newlines still end the sentence before
  }
}

}  // namespace

void takeCodeSpans(std::string_view text, std::string& masked,
                   std::vector<std::string>& identifiers) {
  std::array<bool, kMaxFence + 1> unclosed{};
  for (std::size_t i = text.find('`'); i != npos;) {
    std::size_t run = runLength(text, i, '`');
    bool fence = run <= kMaxFence && !unclosed[run];
    std::size_t close = fence ? findFence(text, i + run, run) : npos;
    if (close == npos) {
      if (fence) unclosed[run] = true;
      i = text.find('`', i + run);
      continue;
    }
    addMarked(text, i, text.substr(i + run, close - i - run), identifiers);
    mask(masked, i, close + run);
    i = text.find('`', close + run);
  }
}

}  // namespace costgate::cache::facts
