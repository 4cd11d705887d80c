#pragma once
// Byte tests and small string helpers of the fact guards. Only ASCII is interpreted: any byte
// >= 0x80 is none of digit, letter or space, and nothing is decoded.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace costgate::cache::facts {

inline bool isDigit(char c) { return c >= '0' && c <= '9'; }
inline bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool isLower(char c) { return c >= 'a' && c <= 'z'; }
inline bool isAlpha(char c) { return isUpper(c) || isLower(c); }
inline bool isAlnum(char c) { return isAlpha(c) || isDigit(c); }
inline bool isHigh(char c) { return static_cast<unsigned char>(c) >= 0x80; }
inline bool isSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
// A byte that can end a name before "(" or "[": "f(", "a.b(", "arr[".
inline bool isNameByte(char c) {
  return isAlnum(c) || c == '_' || c == '.' || c == '>' || c == ']';
}
inline char toLower(char c) { return isUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

// `s` with its ASCII letters lower-cased.
std::string lowered(std::string_view s);

// Whether `s` continues with `prefix` at byte i (false past its end).
inline bool startsAt(std::string_view s, std::size_t i, std::string_view prefix) {
  return i <= s.size() && s.substr(i).starts_with(prefix);
}

inline bool hasAlpha(std::string_view s) { return std::any_of(s.begin(), s.end(), isAlpha); }
inline bool hasDigit(std::string_view s) { return std::any_of(s.begin(), s.end(), isDigit); }
inline bool allLowerLetters(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), isLower);
}

// `s` without the ASCII whitespace around it.
std::string_view trimSpaces(std::string_view s);

// The length of the run of `c` starting at s[i] (0 if s[i] is not `c`).
std::size_t runLength(std::string_view s, std::size_t i, char c);

// Sorts a group of facts and drops repeats.
void sortUnique(std::vector<std::string>& group);

}  // namespace costgate::cache::facts
