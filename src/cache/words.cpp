#include "costgate/cache/words.h"

#include <cctype>

namespace costgate::cache {

std::vector<std::string> lowerCaseWords(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (char raw : text) {
    auto c = static_cast<unsigned char>(raw);
    if (std::isalnum(c) || c >= 0x80) {
      word += static_cast<char>(std::tolower(c));
    } else {
      flush();
    }
  }
  flush();
  return words;
}

}  // namespace costgate::cache
