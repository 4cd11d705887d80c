#pragma once
// Numbers and arithmetic: "What is 17*23?" records 17, 23 and "17*23", so "17*24", "23*17" and
// "17+23" all differ.

#include <string>
#include <vector>

#include "costgate/cache/facts/atoms.h"

namespace costgate::cache::facts {

// Adds every number of the stream (number words already joined, units attached) to `numbers`,
// "→" after a toward word, then every expression of two or more operands: numbers, optionally
// in brackets, between operators, symbols or spelled out ("17 times 23", "6 divided by 2": the
// words are in src/cache/facts/words/operator_words.txt). Not yet sorted.
void collectNumbers(const std::vector<Atom>& atoms, std::vector<std::string>& numbers);

}  // namespace costgate::cache::facts
