#include "costgate/cache/facts/toward.h"

#include "costgate/cache/facts/text.h"
#include "costgate/cache/facts/word_lists.h"

namespace costgate::cache::facts {
bool towardBefore(std::string_view text, std::size_t end) {
  auto wordBefore = [&] {
    while (end > 0 && isSpace(text[end - 1])) --end;
    std::size_t begin = end;
    while (begin > 0 && isAlpha(text[begin - 1])) --begin;
    std::string word = lowered(text.substr(begin, end - begin));
    end = begin;
    return word;
  };
  std::string word = wordBefore();
  if (inList<"articles">(word)) word = wordBefore();
  return inList<"toward_words">(word);
}

bool towardBefore(const std::vector<Atom>& atoms, std::size_t i) {
  if (i == 0) return false;
  if (inList<"articles">(wordAt(atoms, i - 1))) {
    if (i == 1) return false;
    --i;
  }
  return inList<"toward_words">(wordAt(atoms, i - 1));
}

void addMarked(std::string_view text, std::size_t at, std::string_view fact,
               std::vector<std::string>& group) {
  fact = trimSpaces(fact);
  if (fact.empty()) return;
  std::string marked = towardBefore(text, at) ? std::string(kToward) : std::string();
  group.push_back(marked.append(fact));
}

}  // namespace costgate::cache::facts
