#pragma once
// Names (entities) in prose: capitalized words inside a sentence, acronyms, words with a capital
// inside. Words that only look like names when capitalized are in
// src/cache/facts/words/first_person.txt, noise_words.txt and function_words.txt.

#include <string>
#include <vector>

#include "costgate/cache/facts/atoms.h"

namespace costgate::cache::facts {

// Adds the names among the stream's words to `entities`, lower-cased, "→" after a toward word
// (not yet sorted): a capitalized word inside a sentence, an acronym ("AWS", plural "APIs" ->
// "api") or a word with a capital inside ("iPhone", "OpenAI"); and a named thing of
// src/cache/facts/words/named_things.txt however written, as its list names it ("nyc" and
// "New York" are "new-york"). A sentence's first word is a name
// only in the last two shapes: "Paris is..." loses Paris, so that "How do I" and "how do i" agree.
// In a Title Case text capitals mark nothing, in an ALL CAPS one neither do all-caps words (two
// capitalized or shouted function words decide). The first person, chat filler, function words
// and negations are never names.
void collectNames(const std::vector<Atom>& atoms, std::vector<std::string>& entities);

}  // namespace costgate::cache::facts
