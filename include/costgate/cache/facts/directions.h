#pragma once
// Directions, "x|to|y": the meaningful words either side of to, from, into and onto. The same
// words the other way round ("a string to an integer" / "an integer to a string", "from my laptop
// to the server" / "from the server to my laptop") ask something else. The words are in
// src/cache/facts/words/direction_words.txt and direction_filler.txt.

#include <string>
#include <string_view>
#include <vector>

namespace costgate::cache::facts {

// The directions of a text, sorted and de-duplicated: for each direction word, the nearest word
// before and after it that is neither a direction word, filler nor a single letter ("convert a
// string to an integer": "string|to|integer"); and for "from X ... to Y", the words after each
// ("from the night shift to the day shift": "night|to|day"). Linear in the text's length.
std::vector<std::string> directionsOf(std::string_view text);

// Whether some direction of `a` goes the other way in `b` (sorted): "x|to|y" against "y|to|x".
bool reversed(const std::vector<std::string>& a, const std::vector<std::string>& b);

}  // namespace costgate::cache::facts
