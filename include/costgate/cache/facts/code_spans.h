#pragma once
// Code spans: `x`, ``x``, ```block```. A span closes with a run of exactly as many backticks as
// opened it (CommonMark).

#include <string>
#include <string_view>
#include <vector>

namespace costgate::cache::facts {

// Adds each code span of `text` to `identifiers` whole (trimmed, case kept, "→" after a toward
// word) and masks its bytes in `masked` (a copy of `text`) with kMask, newlines excepted, so the
// prose scanners pass over it. Linear: a backtick run length with no closer is looked for once.
void takeCodeSpans(std::string_view text, std::string& masked,
                   std::vector<std::string>& identifiers);

}  // namespace costgate::cache::facts
