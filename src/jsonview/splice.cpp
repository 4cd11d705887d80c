#include "costgate/jsonview/splice.h"

#include <algorithm>

namespace costgate::jsonview {

std::string withMembers(const Value& object,
                        std::span<const std::pair<std::string, std::string>> members) {
  auto edited = [&](const Value& key) {
    return std::any_of(members.begin(), members.end(),
                       [&](const auto& member) { return key.stringEquals(member.first); });
  };
  std::string text;
  text.reserve(object.raw().size() + 64);
  text += '{';
  bool first = true;
  auto separate = [&] {
    if (!first) text += ',';
    first = false;
  };
  object.forEachMember([&](const Value& key, const Value& value) {
    if (edited(key)) return;
    separate();
    text += key.raw();
    text += ':';
    text += value.raw();
  });
  for (std::size_t i = 0; i < members.size(); ++i) {
    // Not a structured binding: clang before 16 cannot capture one in the lambda below.
    const std::string& key = members[i].first;
    const std::string& json = members[i].second;
    // Only the last edit of a key is written.
    bool later = std::any_of(members.begin() + static_cast<std::ptrdiff_t>(i) + 1, members.end(),
                             [&](const auto& member) { return member.first == key; });
    if (later) continue;
    separate();
    text += '"';
    text += key;
    text += "\":";
    text += json;
  }
  text += '}';
  return text;
}

}  // namespace costgate::jsonview
