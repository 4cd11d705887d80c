#pragma once
// Chunks: whitespace-separated pieces of prose. What comes off their ends, and the shapes of a
// whole chunk that the scanner (facts/prose_scanner.h) treats apart.

#include <string_view>

namespace costgate::cache::facts {

// A chunk without the punctuation around it, and what that punctuation said.
struct Trimmed {
  std::string_view core;
  bool sentenceEnd = false;  // ". ? ! : …" came off the end
  bool onlyDots = true;      // and it was dots, so "e.g." may be an abbreviation instead
  bool pause = false;        // ", ;" came off the end
};

// Cuts quotes, emphasis, sentence punctuation, unbalanced brackets and a possessive "'s" off a
// chunk. Brackets are kept where they belong to the chunk: "f(x)", "arr[0]", and around numbers,
// where "(17+5)*2" must keep them.
Trimmed trimChunk(std::string_view raw);

// "1." "2)" "-" "*" "#" at the start of a line number or mark a list: they say nothing.
bool isListMarker(std::string_view raw);

// "e.g", "etc", "vs", "U.S" (the final dot already cut off) end with a dot but not a sentence.
bool isAbbreviation(std::string_view core);

// A comparison operator standing alone ("x >= 5"): code, kept as written.
bool isComparison(std::string_view core);

// "C++", "C#", "F#", "Notepad++": names that end in symbols.
bool isLanguageName(std::string_view core);

}  // namespace costgate::cache::facts
