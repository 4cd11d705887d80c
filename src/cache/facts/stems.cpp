#include "costgate/cache/facts/stems.h"

#include <optional>
#include <string_view>

#include "costgate/cache/facts/text.h"

namespace costgate::cache::facts {
namespace {

bool endsWithDoubled(const std::string& s) {
  std::size_t n = s.size();
  return n >= 2 && s[n - 1] == s[n - 2] && isAlpha(s[n - 1]);
}

}  // namespace

std::vector<std::string> baseForms(const std::string& w, bool derivations) {
  std::vector<std::string> out;
  auto strip = [&](std::string_view suffix) -> std::optional<std::string> {
    if (w.size() < suffix.size() + 2 || !w.ends_with(suffix)) return std::nullopt;
    return w.substr(0, w.size() - suffix.size());
  };
  auto addStem = [&](const std::string& base) {
    out.push_back(base);
    out.push_back(base + "e");
    if (endsWithDoubled(base)) out.push_back(base.substr(0, base.size() - 1));
  };
  if (auto b = strip("ies")) out.push_back(*b + "y");
  if (auto b = strip("ied")) out.push_back(*b + "y");
  if (auto b = strip("ing")) addStem(*b);
  if (auto b = strip("ed")) addStem(*b);
  if (auto b = strip("es")) out.push_back(*b);
  if (auto b = strip("s")) out.push_back(*b);
  if (!derivations) return out;
  if (auto b = strip("ly")) out.push_back(*b);
  if (auto b = strip("ation")) out.push_back(*b);
  if (auto b = strip("ions")) addStem(*b);
  if (auto b = strip("ion")) addStem(*b);
  return out;
}

}  // namespace costgate::cache::facts
