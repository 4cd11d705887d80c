#include "costgate/cache/facts/names.h"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

#include "costgate/cache/facts/phrases.h"
#include "costgate/cache/facts/polarity.h"
#include "costgate/cache/facts/text.h"
#include "costgate/cache/facts/toward.h"
#include "costgate/cache/facts/word_lists.h"

namespace costgate::cache::facts {
namespace {

using std::size_t;
using std::string_view;

// The first person, greetings, chat filler and negations look like names only when capitalized.
bool neverAName(const std::string& word) {
  return inList<"first_person">(word) || inList<"noise_words">(word) || isNegation(word);
}

struct Modes {
  bool titleCase = false;  // "How To Enable 2FA": capitals mark nothing
  bool shouting = false;   // "HOW DO I ENABLE 2FA": neither do all-caps words
};

bool allCaps(string_view word) {
  size_t letters = 0;
  for (char c : word) {
    if (isLower(c)) return false;
    letters += isUpper(c) ? 1 : 0;
  }
  return letters >= 2;
}

Modes modesOf(const std::vector<Atom>& atoms) {
  int title = 0;
  int shout = 0;
  for (const Atom& atom : atoms) {
    if (atom.kind != AtomKind::kWord || !inList<"function_words">(atom.lower)) continue;
    if (allCaps(atom.text)) {
      ++shout;
    } else if (isUpper(atom.text[0]) && !atom.sentenceStart) {
      ++title;
    }
  }
  return {title >= 2, shout >= 2};
}

// The name the word `atom` (lower-cased: `word`) is, if any (facts/names.h says which).
std::optional<std::string> entityOf(const Atom& atom, const std::string& word, Modes modes) {
  string_view w = atom.text;
  if (!isAlpha(w[0]) || neverAName(word)) {
    return std::nullopt;
  }
  if (allCaps(w)) {
    if (modes.shouting || inList<"function_words">(word)) return std::nullopt;
    return word;
  }
  if (w.size() >= 3 && w.back() == 's' && allCaps(w.substr(0, w.size() - 1))) {
    if (modes.shouting) return std::nullopt;
    return word.substr(0, word.size() - 1);
  }
  if (std::any_of(w.begin() + 1, w.end(), isUpper)) return word;
  if (isUpper(w[0]) && !atom.sentenceStart && !modes.titleCase) return word;
  return std::nullopt;
}

}  // namespace

void collectNames(const std::vector<Atom>& atoms, std::vector<std::string>& entities) {
  Modes modes = modesOf(atoms);
  for (size_t i = 0; i < atoms.size(); ++i) {
    if (atoms[i].kind != AtomKind::kWord) continue;
    // A listed name is one fact however it is written: "New York", "new york" and "NYC" agree.
    if (auto named = namedThingAt(atoms, i)) {
      std::string entity = towardBefore(atoms, i) ? std::string(kToward) : std::string();
      entities.push_back(entity.append(named->value));
      i += named->words - 1;
      continue;
    }
    if (auto other = otherPhraseAt(atoms, i)) {
      i += other->words - 1;
      continue;
    }
    if (auto entity = entityOf(atoms[i], atoms[i].lower, modes)) {
      if (towardBefore(atoms, i)) entity->insert(0, kToward);
      entities.push_back(*std::move(entity));
    }
  }
}

}  // namespace costgate::cache::facts
