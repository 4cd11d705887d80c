#pragma once
// The prose of a question (its code spans masked) cut at whitespace into chunks, each classified
// and lexed.

#include <string_view>
#include <vector>

#include "costgate/cache/facts.h"
#include "costgate/cache/facts/atoms.h"

namespace costgate::cache::facts {

// Scans `prose` chunk by chunk. A chunk that looks like code goes to facts.identifiers whole, a
// lone comparison operator too (and onto the stream as an operator); a language name ("C++") or a
// chunk mixing letters and digits that is no number with a unit or ordinal ("2FA", "gpt-4o") goes
// to facts.entities; both leave a kOther atom. The rest is lexed into words, numbers and
// operators; line breaks and sentence punctuation (not an abbreviation's dot) end sentences,
// list markers at a line's start are skipped. Returns the stream; not yet sorted facts.
std::vector<Atom> scanProse(std::string_view prose, Facts& facts);

}  // namespace costgate::cache::facts
