#include "costgate/cache/facts/phrasal.h"

#include <map>
#include <string>
#include <utility>

#include "costgate/cache/facts/stems.h"
#include "costgate/cache/facts/word_lists.h"

namespace costgate::cache::facts {
namespace {

using std::size_t;
using std::string_view;

// How many words may stand between a verb and its particle ("turn the dark mode off").
constexpr size_t kMaxParticleGap = 3;

// A verb of phrasal_verbs.txt (base form) and the fact it makes with a particle.
struct Phrasal {
  string_view verb;
  string_view fact;
};

// (verb, particle) -> fact.
using PhrasalTable = std::map<std::pair<string_view, string_view>, string_view>;

const PhrasalTable& phrasalTable() {
  static const PhrasalTable table = [] {
    constexpr string_view kName = "phrasal_verbs";
    PhrasalTable all;
    for (const WordEntry& entry : wordListEntries(kName)) {
      if (entry.size() != 3) {
        malformedWordList(kName, "not \"verb particle fact\": " + std::string(entry[0]));
      }
      if (!all.emplace(std::pair(entry[0], entry[1]), entry[2]).second) {
        malformedWordList(kName, "repeats " + std::string(entry[0]) + " " + std::string(entry[1]));
      }
    }
    return all;
  }();
  return table;
}

// The verb a particle belongs to, if the word is one of its forms, and the fact they make.
std::optional<Phrasal> phrasalOf(const std::string& word, string_view particle) {
  std::vector<std::string> forms = baseForms(word, false);
  forms.insert(forms.begin(), word);
  for (const std::string& form : forms) {
    auto it = phrasalTable().find(std::pair(string_view(form), particle));
    if (it != phrasalTable().end()) return Phrasal{it->first.first, it->second};
  }
  return std::nullopt;
}

}  // namespace

bool isParticle(string_view word) { return inList<"particles">(word); }

std::optional<string_view> particleFact(const std::vector<Atom>& atoms, size_t p,
                                        string_view particle) {
  size_t gap = 0;
  for (size_t k = p; k-- > 0 && gap <= kMaxParticleGap; ++gap) {
    AtomKind kind = atoms[k].kind;
    if (kind != AtomKind::kWord && kind != AtomKind::kOther && kind != AtomKind::kNumber) break;
    if (kind != AtomKind::kWord) continue;
    auto phrasal = phrasalOf(atoms[k].lower, particle);
    if (!phrasal) continue;
    bool near = gap == 0 || (gap == 1 && inList<"object_pronouns">(wordAt(atoms, p - 1)));
    if (near || !inList<"tight_verbs">(phrasal->verb)) return phrasal->fact;
    break;
  }
  return particle == "off" ? std::optional<string_view>("disable") : std::nullopt;
}

}  // namespace costgate::cache::facts
