#pragma once
// Polarity: negations and the words of opposite pairs (enable/disable, allow/deny, add/remove...),
// which turn a question into a different one when they appear, vanish or swap. The words are in
// src/cache/facts/words/negations.txt, polarity.txt and polarity_exceptions.txt.

#include <string>
#include <vector>

#include "costgate/cache/facts/atoms.h"

namespace costgate::cache::facts {

// Whether a lower-cased word is a negation: one of negations.txt, or a contraction ending in
// "n't" ("don't", "can't"; ’ already read as ').
bool isNegation(const std::string& word);

// Adds the polarity fact of each word of the stream that records one (not yet sorted): "not" for
// a negation; a particle's with its verb (facts/phrasal.h); nothing for "show me" / "show us" (a
// way of asking); else the table's fact for the word or, past negations, for one of its base
// forms ("disabling" is "disable", "deletion" is "remove").
void collectPolarity(const std::vector<Atom>& atoms, std::vector<std::string>& polarity);

}  // namespace costgate::cache::facts
