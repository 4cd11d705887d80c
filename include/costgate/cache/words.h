#pragma once
// The words of a text as the cache compares them.

#include <string>
#include <string_view>
#include <vector>

namespace costgate::cache {

// Runs of ASCII letters and digits, lower-cased; any byte >= 0x80 is part of a word, so other
// scripts stay whole runs.
std::vector<std::string> lowerCaseWords(std::string_view text);

// A lower-case word with its plural and tense endings off, so that "passwords" and "password",
// "resetting" and "reset" meet.
std::string lightStem(std::string word);

}  // namespace costgate::cache
