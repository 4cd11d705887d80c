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

std::string lightStem(std::string word) {
  auto strip = [&](std::string_view suffix, std::size_t keep) {
    if (word.size() >= suffix.size() + keep && word.ends_with(suffix)) {
      word.resize(word.size() - suffix.size());
      return true;
    }
    return false;
  };
  if (strip("ing", 3) || strip("ed", 3)) {
    // "resetting" -> "resett" -> "reset"
    if (word.size() >= 2 && word[word.size() - 1] == word[word.size() - 2]) word.pop_back();
    return word;
  }
  if (strip("ies", 2)) return word + "y";
  if (!word.ends_with("ss")) strip("s", 3);
  return word;
}

}  // namespace costgate::cache
