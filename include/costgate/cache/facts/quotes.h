#pragma once
// Quoted text: "...", '...', “...”, ‘...’, «...».

#include <string>
#include <string_view>
#include <vector>

namespace costgate::cache::facts {

// Adds the text of each quotation in `masked` (`text` with its code spans masked) to `quoted`,
// trimmed, "→" after a toward word; its words stay in the prose. Straight quotes double as
// apostrophes ("don't", "users'") and inch marks, so they only open at the start of a word and
// close at its end; ’ closes only at the end of a word for the same reason. Single quotes stay on
// one line. Linear: a style with no closer after an opener has none after any later opener
// either (of the line, for one-line styles).
void takeQuotes(std::string_view text, std::string_view masked, std::vector<std::string>& quoted);

}  // namespace costgate::cache::facts
