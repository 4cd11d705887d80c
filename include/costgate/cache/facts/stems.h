#pragma once
// Light stemming for the polarity table: base forms an inflected word may have.

#include <string>
#include <vector>

namespace costgate::cache::facts {

// Candidate base forms of a lower-cased word, most likely first: "disabling" -> "disabl",
// "disable"; "stopped" -> "stopp", "stop"; "denies" -> "deny". With `derivations` also "-ly" and
// "-ion" ("horizontally", "deletion"). Never the word itself; a suffix is only stripped when two
// letters stay.
std::vector<std::string> baseForms(const std::string& word, bool derivations);

}  // namespace costgate::cache::facts
