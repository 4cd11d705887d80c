#pragma once
// Destinations: a fact right after "to", "into" or "than" (past one article) is marked "→"
// ("convert Celsius to Fahrenheit": "celsius", "→fahrenheit"), so swapping the two sides is a
// different question. The words are in src/cache/facts/words/toward_words.txt and articles.txt.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "costgate/cache/facts/atoms.h"

namespace costgate::cache::facts {

inline constexpr std::string_view kToward = "\xE2\x86\x92";  // →

// Whether the word before text[end] (past one article) is a toward word.
bool towardBefore(std::string_view text, std::size_t end);

// Whether the atom before atoms[i] (past one article) is a toward word.
bool towardBefore(const std::vector<Atom>& atoms, std::size_t i);

// Adds `fact`, trimmed of spaces, to `group` unless that leaves it empty; marked "→" when a
// toward word comes before text[at], where the fact begins (its opening quote or backticks).
void addMarked(std::string_view text, std::size_t at, std::string_view fact,
               std::vector<std::string>& group);

}  // namespace costgate::cache::facts
