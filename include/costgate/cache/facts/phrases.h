#pragma once
// Phrases of one or more words found in the prose stream: the named things, subjects, rates and
// times a question is about (src/cache/facts/words/named_things.txt, subjects.txt, rates.txt,
// times.txt). Plain data
// in, plain data out.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "costgate/cache/facts/atoms.h"

namespace costgate::cache::facts {

// A list of "phrase [value]" lines: one field stands for itself; with more, the last field is the
// value and the others the phrase's words. The value "-" records nothing: the phrase only keeps
// its words from being read as another ("good morning" is a greeting, not a time).
class PhraseMap {
 public:
  // Throws std::logic_error if the list is missing, empty, or repeats a phrase.
  explicit PhraseMap(std::string_view list);

  struct Match {
    std::string_view value;
    std::size_t words = 0;  // atoms the phrase spans
  };
  // The longest phrase that starts at atoms[i], read over consecutive words lower-cased (a
  // possessive "'s" dropped: "my dog's" is "my dog"), if any.
  std::optional<Match> at(const std::vector<Atom>& atoms, std::size_t i) const;

 private:
  std::unordered_map<std::string, std::string_view> values_;  // phrase words joined by " "
  std::size_t longest_ = 1;                                   // words in the longest phrase
};

// The named thing (country, city, language, product, plan tier) that starts at atoms[i].
std::optional<PhraseMap::Match> namedThingAt(const std::vector<Atom>& atoms, std::size_t i);

// The subject, rate or time phrase that starts at atoms[i]: its facts are the same written
// "Monday" or "monday", so names leave it alone.
std::optional<PhraseMap::Match> otherPhraseAt(const std::vector<Atom>& atoms, std::size_t i);

// Adds the kind of each being the stream names (not yet sorted): "dog" for "my puppy", "child"
// for "kids", "pregnant" for "pregnancy". None: the question is about the asker.
void collectSubjects(const std::vector<Atom>& atoms, std::vector<std::string>& subjects);

// Adds each rate the stream names to `numbers` (not yet sorted): "per-day" for "a day", "daily"
// or "every day", since "200 mg per day" is not "200 mg per hour".
void collectRates(const std::vector<Atom>& atoms, std::vector<std::string>& numbers);

// Adds each time the stream names in words to `numbers` (not yet sorted): "monday" for "Mon",
// "morning", "tomorrow", "winter" (src/cache/facts/words/times.txt).
void collectTimes(const std::vector<Atom>& atoms, std::vector<std::string>& numbers);

}  // namespace costgate::cache::facts
