#include "costgate/cache/facts/phrases.h"

#include <algorithm>
#include <string>

#include "costgate/cache/facts/word_lists.h"

namespace costgate::cache::facts {
namespace {

// The value of a phrase that records nothing ("good morning" is a greeting, not a time).
constexpr std::string_view kNothing = "-";

// The word at atoms[i] as phrases are written: lower-cased, without a possessive "'s".
std::string_view phraseWord(const std::vector<Atom>& atoms, std::size_t i) {
  std::string_view word = wordAt(atoms, i);
  if (word.size() > 2 && word.ends_with("'s")) word.remove_suffix(2);
  return word;
}

// Adds the value of every phrase of `map` in the stream, each word read once.
void collect(const PhraseMap& map, const std::vector<Atom>& atoms, std::vector<std::string>& out) {
  for (std::size_t i = 0; i < atoms.size();) {
    auto match = map.at(atoms, i);
    if (!match) {
      ++i;
      continue;
    }
    if (match->value != kNothing) out.emplace_back(match->value);
    i += match->words;
  }
}

}  // namespace

PhraseMap::PhraseMap(std::string_view list) {
  for (const WordEntry& entry : wordListEntries(list)) {
    const std::size_t words = entry.size() == 1 ? 1 : entry.size() - 1;
    std::string phrase;
    for (std::size_t k = 0; k < words; ++k) {
      if (k > 0) phrase += ' ';
      phrase += entry[k];
    }
    if (!values_.emplace(std::move(phrase), entry.back()).second) {
      malformedWordList(list, "repeats a phrase at " + std::string(entry[0]));
    }
    longest_ = std::max(longest_, words);
  }
}

std::optional<PhraseMap::Match> PhraseMap::at(const std::vector<Atom>& atoms, std::size_t i) const {
  std::optional<Match> found;
  std::string phrase;
  for (std::size_t k = 0; k < longest_ && isWordAtom(atoms, i + k); ++k) {
    if (k > 0) phrase += ' ';
    phrase += phraseWord(atoms, i + k);
    if (auto it = values_.find(phrase); it != values_.end()) found = Match{it->second, k + 1};
  }
  return found;
}

std::optional<PhraseMap::Match> namedThingAt(const std::vector<Atom>& atoms, std::size_t i) {
  static const PhraseMap kNamedThings("named_things");
  return kNamedThings.at(atoms, i);
}

namespace {
const PhraseMap& subjects() {
  static const PhraseMap kSubjects("subjects");
  return kSubjects;
}
const PhraseMap& rates() {
  static const PhraseMap kRates("rates");
  return kRates;
}
const PhraseMap& times() {
  static const PhraseMap kTimes("times");
  return kTimes;
}
}  // namespace

std::optional<PhraseMap::Match> otherPhraseAt(const std::vector<Atom>& atoms, std::size_t i) {
  for (const PhraseMap* map : {&subjects(), &rates(), &times()}) {
    if (auto match = map->at(atoms, i)) return match;
  }
  return std::nullopt;
}

void collectSubjects(const std::vector<Atom>& atoms, std::vector<std::string>& out) {
  collect(subjects(), atoms, out);
}

void collectRates(const std::vector<Atom>& atoms, std::vector<std::string>& numbers) {
  collect(rates(), atoms, numbers);
}

void collectTimes(const std::vector<Atom>& atoms, std::vector<std::string>& numbers) {
  collect(times(), atoms, numbers);
}

}  // namespace costgate::cache::facts
