#pragma once
// The pre-tokenization step of tiktoken: text is cut into pieces by an encoding's regular
// expression before byte pairs are merged inside each piece. Implemented as a hand-written
// scanner with the regex's leftmost-first semantics (backtracking included), since a regex
// engine is several times slower and differs from Rust's regex crate in corner cases.

#include <string_view>
#include <vector>

namespace costgate::tokenizer {

enum class SplitRule {
  kCl100k,  // cl100k_base: gpt-4, gpt-3.5-turbo, text-embedding-3
  kO200k,   // o200k_base: gpt-4o, gpt-4.1, gpt-5, o-series
};

// Calls on_piece(std::string_view) for each piece of `text`, in order; the pieces cover the text.
template <class OnPiece>
void split(std::string_view text, SplitRule rule, OnPiece&& on_piece);

// The end of the piece starting at text[at] (at < text.size()); the next piece starts there.
std::size_t pieceEnd(std::string_view text, std::size_t at, SplitRule rule);

template <class OnPiece>
void split(std::string_view text, SplitRule rule, OnPiece&& on_piece) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = pieceEnd(text, at, rule);
    on_piece(text.substr(at, end - at));
    at = end;
  }
}

}  // namespace costgate::tokenizer
