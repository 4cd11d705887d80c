#include "costgate/cache/facts/units.h"

#include <cstddef>
#include <utility>

#include "costgate/cache/facts/text.h"
#include "costgate/cache/facts/word_lists.h"

namespace costgate::cache::facts {

std::optional<std::string_view> unitOf(std::string_view spelling) {
  static const WordMap kUnits = WordMap().add("units");
  return kUnits.find(spelling);
}

std::vector<Atom> attachUnits(std::vector<Atom> in) {
  std::vector<Atom> out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    out.push_back(std::move(in[i]));
    Atom& number = out.back();
    if (number.kind != AtomKind::kNumber || number.hasUnit || i + 1 >= in.size()) continue;
    const Atom& next = in[i + 1];
    std::optional<std::string_view> unit;
    std::string area;  // "20 square meters" is "20sq.m", not "20 square feet"
    if (next.kind == AtomKind::kWord && inList<"area_words">(lowered(next.text)) &&
        isWordAtom(in, i + 2)) {
      if (auto measured = unitOf(lowered(in[i + 2].text))) {
        area = lowered(next.text) + "." + std::string(*measured);
        unit = area;
        ++i;
      }
    } else if (next.kind == AtomKind::kWord &&
               (next.text.size() >= 2 || inList<"spaced_letter_units">(lowered(next.text)))) {
      unit = unitOf(lowered(next.text));
    } else if (next.kind == AtomKind::kOperator && next.text == "%") {
      bool modulo = i + 2 < in.size() && in[i + 2].kind == AtomKind::kNumber;
      if (!modulo) unit = "%";
    }
    if (!unit) continue;
    number.text += *unit;
    number.hasUnit = true;
    ++i;
  }
  return out;
}

}  // namespace costgate::cache::facts
