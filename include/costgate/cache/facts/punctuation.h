#pragma once
// The multi-byte punctuation the fact guards recognize (UTF-8), and where it and whitespace stand.
// Every other byte above 0x7F is part of a word.

#include <cstddef>
#include <optional>
#include <string_view>

namespace costgate::cache::facts {

inline constexpr std::string_view kLeftDouble = "\xE2\x80\x9C";   // “
inline constexpr std::string_view kRightDouble = "\xE2\x80\x9D";  // ”
inline constexpr std::string_view kLeftSingle = "\xE2\x80\x98";   // ‘
inline constexpr std::string_view kRightSingle = "\xE2\x80\x99";  // ’ (also the curly apostrophe)
inline constexpr std::string_view kLeftGuillemet = "\xC2\xAB";    // «
inline constexpr std::string_view kRightGuillemet = "\xC2\xBB";   // »
inline constexpr std::string_view kEllipsis = "\xE2\x80\xA6";     // …
inline constexpr std::string_view kInvertedQuestion = "\xC2\xBF";  // ¿
inline constexpr std::string_view kInvertedBang = "\xC2\xA1";      // ¡
inline constexpr std::string_view kBullet = "\xE2\x80\xA2";        // •
inline constexpr std::string_view kTimes = "\xC3\x97";             // ×
inline constexpr std::string_view kDivide = "\xC3\xB7";            // ÷
inline constexpr std::string_view kMinus = "\xE2\x88\x92";         // −
inline constexpr std::string_view kMiddleDot = "\xC2\xB7";         // ·
inline constexpr std::string_view kLessEqual = "\xE2\x89\xA4";     // ≤
inline constexpr std::string_view kGreaterEqual = "\xE2\x89\xA5";  // ≥
inline constexpr std::string_view kNotEqual = "\xE2\x89\xA0";      // ≠
inline constexpr std::string_view kMicroSeconds = "\xC2\xB5s";     // µs
inline constexpr std::string_view kEuro = "\xE2\x82\xAC";          // €
inline constexpr std::string_view kPound = "\xC2\xA3";             // £
inline constexpr std::string_view kYen = "\xC2\xA5";               // ¥

// What the bytes of a code span become once it has been taken (facts/code_spans.h), so the
// prose scanners pass over it as whitespace.
inline constexpr char kMask = '\x01';

// The width of the multi-byte punctuation mark at s[i], 0 when there is none.
std::size_t symbolAt(std::string_view s, std::size_t i);

// The width of the whitespace at s[i] (i < s.size()), 0 when there is none. Dashes count as
// space, so "foo—bar" is two words, and so do masked code spans.
std::size_t spaceWidth(std::string_view s, std::size_t i);

// A currency symbol ("$", "€", "£", "¥"): the unit it records ("usd", "eur", ...) and its width.
struct Currency {
  std::string_view unit;
  std::size_t width;
};
// The currency symbol at s[i], if there is one.
std::optional<Currency> currencyAt(std::string_view s, std::size_t i);

}  // namespace costgate::cache::facts
