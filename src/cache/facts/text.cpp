#include "costgate/cache/facts/text.h"

namespace costgate::cache::facts {

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = toLower(c);
  return out;
}

std::string_view trimSpaces(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::size_t runLength(std::string_view s, std::size_t i, char c) {
  std::size_t j = i;
  while (j < s.size() && s[j] == c) ++j;
  return j - i;
}

void sortUnique(std::vector<std::string>& group) {
  std::sort(group.begin(), group.end());
  group.erase(std::unique(group.begin(), group.end()), group.end());
}

}  // namespace costgate::cache::facts
