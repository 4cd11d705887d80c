#include "costgate/cache/facts/polarity.h"

#include <cstddef>
#include <optional>
#include <string_view>

#include "costgate/cache/facts/phrasal.h"
#include "costgate/cache/facts/stems.h"
#include "costgate/cache/facts/word_lists.h"

namespace costgate::cache::facts {
namespace {

using std::string_view;

constexpr string_view kNot = "not";

// Word -> fact: negations record "not", the exceptions nothing (""), the rest as listed.
const WordMap& polarityTable() {
  static const WordMap table =
      WordMap().add("negations", kNot).add("polarity").add("polarity_exceptions", "");
  return table;
}

std::optional<string_view> polarityOf(const std::string& word) {
  auto found = [](string_view fact) {
    return fact.empty() ? std::nullopt : std::optional<string_view>(fact);
  };
  if (auto fact = polarityTable().find(word)) return found(*fact);
  for (const std::string& base : baseForms(word, true)) {
    auto fact = polarityTable().find(base);
    if (fact && *fact != kNot) return found(*fact);  // "nos" is no "no"
  }
  return std::nullopt;
}

// The fact the word atoms[i] (lower-cased: `word`) records, if any.
std::optional<string_view> polarityAt(const std::vector<Atom>& atoms, std::size_t i,
                                      const std::string& word) {
  if (isNegation(word)) return kNot;
  if (isParticle(word)) return particleFact(atoms, i, word);
  if (word == "show" && (wordAt(atoms, i + 1) == "me" || wordAt(atoms, i + 1) == "us")) {
    return std::nullopt;  // "show me how to" is a way of asking
  }
  return polarityOf(word);
}

}  // namespace

bool isNegation(const std::string& word) {
  if (word.size() > 3 && word.ends_with("n't")) return true;  // don't, can't (’ read as ')
  return polarityTable().find(word) == kNot;
}

void collectPolarity(const std::vector<Atom>& atoms, std::vector<std::string>& polarity) {
  for (std::size_t i = 0; i < atoms.size(); ++i) {
    if (atoms[i].kind != AtomKind::kWord) continue;
    if (auto fact = polarityAt(atoms, i, atoms[i].lower)) polarity.emplace_back(*fact);
  }
}

}  // namespace costgate::cache::facts
