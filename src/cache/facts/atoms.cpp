#include "costgate/cache/facts/atoms.h"

#include <utility>

namespace costgate::cache::facts {

Atom makeAtom(AtomKind kind, std::string text) {
  Atom atom;
  atom.kind = kind;
  atom.text = std::move(text);
  return atom;
}

bool isWordAtom(const std::vector<Atom>& atoms, std::size_t i) {
  return i < atoms.size() && atoms[i].kind == AtomKind::kWord;
}

const std::string& wordAt(const std::vector<Atom>& atoms, std::size_t i) {
  static const std::string kNone;
  return isWordAtom(atoms, i) ? atoms[i].lower : kNone;
}

}  // namespace costgate::cache::facts
