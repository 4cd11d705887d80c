#include "costgate/cache/facts/directions.h"

#include <algorithm>
#include <cstddef>

#include "costgate/cache/facts/text.h"
#include "costgate/cache/facts/word_lists.h"
#include "costgate/cache/words.h"

namespace costgate::cache::facts {
namespace {

using std::size_t;
constexpr size_t npos = std::string_view::npos;

bool isDirectionWord(std::string_view word) { return inList<"direction_words">(word); }

// Words too common to stand for either end of a direction. Two-letter words that are not
// ("kg", "uk", "js") can be an end.
bool isFiller(std::string_view word) { return word.size() < 2 || inList<"direction_filler">(word); }

bool isToward(std::string_view word) { return word != "from" && isDirectionWord(word); }

}  // namespace

std::vector<std::string> directionsOf(std::string_view text) {
  std::vector<std::string> words = lowerCaseWords(text);
  // The nearest meaningful word before and after each word, found in one pass each way: walking
  // out from every direction word instead is quadratic on "to the to the ...".
  auto skipped = [&](size_t k) { return isFiller(words[k]) || isDirectionWord(words[k]); };
  std::vector<size_t> before(words.size(), npos);
  std::vector<size_t> after(words.size(), npos);
  for (size_t k = 1; k < words.size(); ++k) before[k] = skipped(k - 1) ? before[k - 1] : k - 1;
  for (size_t k = words.size(); k-- > 1;) after[k - 1] = skipped(k) ? after[k] : k;
  std::vector<std::string> directions;
  size_t from = npos;  // the last "from" not yet closed by a toward word
  for (size_t i = 0; i < words.size(); ++i) {
    if (!isDirectionWord(words[i])) continue;
    if (before[i] != npos && after[i] != npos) {
      directions.push_back(words[before[i]] + "|" + words[i] + "|" + words[after[i]]);
    }
    // "from the annual plan to the monthly plan": the two ends are what follows each word, which
    // the nearest words ("plan|to|monthly") miss.
    if (words[i] == "from") {
      from = i;
    } else if (isToward(words[i]) && from != npos) {
      if (after[from] != npos && after[i] != npos && words[after[from]] != words[after[i]]) {
        directions.push_back(words[after[from]] + "|" + words[i] + "|" + words[after[i]]);
      }
      from = npos;
    }
  }
  sortUnique(directions);
  return directions;
}

bool reversed(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const std::string& direction : a) {
    size_t first = direction.find('|');
    size_t second = direction.find('|', first + 1);
    std::string back = direction.substr(second + 1) + direction.substr(first, second - first + 1) +
                       direction.substr(0, first);
    if (std::binary_search(b.begin(), b.end(), back)) return true;
  }
  return false;
}

}  // namespace costgate::cache::facts
