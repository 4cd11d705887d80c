#pragma once
// Edits of a JSON object's top-level members by splicing text: the members that stay are copied
// as written, so no DOM is built and nothing is re-serialized.

#include <span>
#include <string>
#include <utility>

#include "costgate/jsonview/document.h"

namespace costgate::jsonview {

// `object` (an Object of a Document) with each (key, json) of `members` set: an existing member
// of that key is removed, and the edits are appended in order (a later edit of a key wins). Keys
// are written as given, so they must be plain names that need no escaping; values must be valid
// JSON text.
std::string withMembers(const Value& object,
                        std::span<const std::pair<std::string, std::string>> members);

}  // namespace costgate::jsonview
