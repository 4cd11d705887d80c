#pragma once
// The word lists of the fact guards: src/cache/facts/words/*.txt, compiled into the binary when
// the build is configured (cmake/embed.cmake), so nothing is read at run time.
//
// A list is lines of text. "#" starts a comment that runs to the end of its line; blank lines say
// nothing; what is left of any other line is an entry, its fields split at spaces and tabs. An
// entry's key is its one field, or all its fields but the last (the value) when it has more: no
// two entries of a list share a key.

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace costgate::cache::facts {

// One list: its file's name without ".txt", and its text.
struct WordList {
  std::string_view name;
  std::string_view text;
};

// Every list, sorted by name (generated from src/cache/facts/word_lists.cpp.in).
std::span<const WordList> wordLists();

using WordEntry = std::vector<std::string_view>;

// Throws std::logic_error saying that the list `name` is malformed, and why.
[[noreturn]] void malformedWordList(std::string_view name, std::string_view why);

// The entries of a list's text, in order; their fields point into `text`.
std::vector<WordEntry> wordEntries(std::string_view text);

// The entries of the list `name`. Throws std::logic_error if there is no such list or it has no
// entry.
std::vector<WordEntry> wordListEntries(std::string_view name);

// A list of one word a line, for membership. Parse it once (a function-local static).
class WordSet {
 public:
  // Throws std::logic_error if the list is missing or empty, or a line has more than one word or
  // repeats one.
  explicit WordSet(std::string_view name);

  bool contains(std::string_view word) const { return words_.contains(word); }

 private:
  std::unordered_set<std::string_view> words_;
};

// The name of a word list as a template argument: inList<"articles">(word).
template <std::size_t N>
struct ListName {
  // Implicit, so that a string literal names the list.
  constexpr ListName(const char (&name)[N]) { std::copy_n(name, N, text); }
  constexpr std::string_view view() const { return {text, N - 1}; }
  char text[N];
};

// Whether `word` is in the one-word-a-line list `Name`, a WordSet loaded on first use.
template <ListName Name>
bool inList(std::string_view word) {
  static const WordSet set(Name.view());
  return set.contains(word);
}

// Words and what each stands for, from one or more lists. Build it once (a function-local static).
class WordMap {
 public:
  // Adds the list `name` of "word value" lines; a word alone stands for itself. Throws
  // std::logic_error if the list is missing or empty, a line has more than two fields, or a word
  // is in the map already.
  WordMap& add(std::string_view name);
  // Adds the list `name` of one word a line, each standing for `value`. Throws as add(name)
  // does, and if a line has more than one word.
  WordMap& add(std::string_view name, std::string_view value);

  std::optional<std::string_view> find(std::string_view word) const;

 private:
  void insert(std::string_view name, std::string_view word, std::string_view value);

  std::unordered_map<std::string_view, std::string_view> values_;
};

}  // namespace costgate::cache::facts
