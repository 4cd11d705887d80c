#pragma once
// The prose stream: what the scanner (facts/prose_scanner.h) makes of the text outside code
// spans, and what the passes over it (numbers, polarity, names) read.

#include <cstddef>
#include <string>
#include <vector>

namespace costgate::cache::facts {

enum class AtomKind {
  kWord,
  kNumber,
  kOperator,
  kOpen,         // (
  kClose,        // )
  kPause,        // , ;
  kSentenceEnd,  // . ? ! : or a line break
  kOther,        // a chunk taken whole (identifier, name): a word for distances, nothing else
};

struct Atom {
  AtomKind kind = AtomKind::kWord;
  std::string text;            // word as written (’ as '); number normalized; operator canonical
  std::string lower;           // a word's text lower-cased, computed once
  bool sentenceStart = false;  // a word of a sentence's first chunk: its capital says nothing
  bool hasUnit = false;        // a number with its unit already attached
};

Atom makeAtom(AtomKind kind, std::string text = {});

// Whether atoms[i] exists and is a word.
bool isWordAtom(const std::vector<Atom>& atoms, std::size_t i);

// The lower-cased word at atoms[i], or "" when it is not a word (or past the end).
const std::string& wordAt(const std::vector<Atom>& atoms, std::size_t i);

}  // namespace costgate::cache::facts
