#pragma once
// Units: after a number they become part of it ("5 GB", "5GB", "5 gigabytes" are all "5gb"), or
// "5 MB" and "5 GB" would agree. The spellings are in src/cache/facts/words/units.txt.

#include <optional>
#include <string_view>
#include <vector>

#include "costgate/cache/facts/atoms.h"

namespace costgate::cache::facts {

// The unit a lower-cased spelling records ("gigabytes" is "gb", "%" is "%"), if it is one.
std::optional<std::string_view> unitOf(std::string_view spelling);

// The stream with each number that has no unit yet joined with a unit word after it ("5 GB" is
// "5gb", "two hours" "2h") or a "%" that is not modulo ("50 %" is "50%", "7 % 3" stays). Unit
// words of one letter count as a word only when spaced_letter_units.txt says so ("200 g");
// others only attached (read by the chunk lexer). "square" and "cubic" (area_words.txt) join the
// unit after them: "20 square meters" is "20square.m".
std::vector<Atom> attachUnits(std::vector<Atom> in);

}  // namespace costgate::cache::facts
