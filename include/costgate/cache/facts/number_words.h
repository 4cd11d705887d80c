#pragma once
// Number words: "two hundred and five" is 205, "first" is 1. The words are in
// src/cache/facts/words/cardinal_words.txt and ordinal_words.txt.

#include <vector>

#include "costgate/cache/facts/atoms.h"

namespace costgate::cache::facts {

// The stream with each run of number words replaced by one kNumber atom of its value. Cardinals
// combine in the order English writes them, and a word that cannot continue a number starts the
// next one ("one two three" is 1, 2, 3); ordinals stand alone. "one" stays a word where it is a
// pronoun ("which one", "the 10th one", "one another"), "second" where it is the unit ("a
// second", "5 second").
std::vector<Atom> joinNumberWords(std::vector<Atom> in);

}  // namespace costgate::cache::facts
