#pragma once
// The character classes tiktoken's split rules are written in (\p{Lu}, \p{L}, \p{N}, \s, ...),
// from the Unicode version the reference tokenizer uses (16.0), and a lenient UTF-8 decoder.

#include <cstdint>
#include <string_view>

namespace costgate::tokenizer {

// Disjoint; every code point is in exactly one. kWhitespace is Unicode's White_Space property
// (what Rust's regex and so tiktoken mean by \s; not U+180E, U+200B or U+FEFF).
enum class CharClass : std::uint8_t {
  kOther,  // punctuation, symbols, controls, format characters, unassigned, invalid bytes
  kUppercase,
  kTitlecase,
  kLowercase,
  kModifierLetter,
  kOtherLetter,
  kMark,  // Mn, Mc, Me
  kNumber,
  kWhitespace,
};

CharClass classOf(char32_t code_point);

// One character of UTF-8 text. A byte that does not start a valid, shortest-form sequence is a
// character of its own (length 1, class kOther), so any bytes can be split and none is lost.
struct Utf8Char {
  char32_t code_point;  // 0xFFFFFFFF for an invalid byte
  std::uint8_t length;
};

// Decodes the character at text[at]; at < text.size().
Utf8Char decodeUtf8(std::string_view text, std::size_t at);

}  // namespace costgate::tokenizer
