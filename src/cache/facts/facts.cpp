#include "costgate/cache/facts.h"

#include <string>
#include <utility>
#include <vector>

#include "costgate/cache/facts/atoms.h"
#include "costgate/cache/facts/code_spans.h"
#include "costgate/cache/facts/directions.h"
#include "costgate/cache/facts/names.h"
#include "costgate/cache/facts/number_words.h"
#include "costgate/cache/facts/numbers.h"
#include "costgate/cache/facts/phrases.h"
#include "costgate/cache/facts/polarity.h"
#include "costgate/cache/facts/prose_scanner.h"
#include "costgate/cache/facts/quotes.h"
#include "costgate/cache/facts/text.h"
#include "costgate/cache/facts/units.h"

// How the facts are found, in one pass each and without std::regex (slow, and recursive enough to
// overflow the stack on long input), so any bytes of any length take linear time:
//   1. Code spans (`x`, ```block```) become identifiers whole and are masked out of the prose
//      (facts/code_spans.h).
//   2. Quoted text ("...", '...', “...”, ‘...’, «...») becomes quoted facts; its words stay in the
//      prose, so `print("hi")` is still an identifier (facts/quotes.h).
//   3. The prose is cut at whitespace into chunks (facts/prose_scanner.h). A chunk that looks like
//      code is an identifier (facts/code_shapes.h), one that mixes letters and digits is a name
//      ("2FA", "gpt-4o") unless it is a number with a unit or an ordinal ("5GB", "3rd"); the rest
//      is lexed into words, numbers and operators (facts/chunk_lexer.h).
//   4. Passes over that stream join number words ("two hundred" -> 200, facts/number_words.h),
//      attach units ("5 GB" -> "5gb", facts/units.h), collect numbers and arithmetic ("17*23",
//      facts/numbers.h), rates ("per day"), polarity words (facts/polarity.h), names
//      (capitalized, or a named thing of a list however written: facts/names.h, facts/phrases.h)
//      and subjects ("my dog", "a child": facts/phrases.h).
//   5. Directions ("x|to|y") come from the plain words of the whole text (facts/directions.h).
// Only ASCII is interpreted. Other bytes, valid UTF-8 or not, are letters of words, except the few
// punctuation marks of facts/punctuation.h; nothing is decoded, so nothing can fail. The word
// lists are data: src/cache/facts/words/*.txt, compiled in (facts/word_lists.h).

namespace costgate::cache {

Facts factsOf(std::string_view text) {
  Facts found;
  std::string masked(text);
  facts::takeCodeSpans(text, masked, found.identifiers);
  facts::takeQuotes(text, masked, found.quoted);
  std::vector<facts::Atom> atoms = facts::scanProse(masked, found);
  atoms = facts::attachUnits(facts::joinNumberWords(std::move(atoms)));
  facts::collectNumbers(atoms, found.numbers);
  facts::collectRates(atoms, found.numbers);
  facts::collectTimes(atoms, found.numbers);
  facts::collectPolarity(atoms, found.polarity);
  facts::collectNames(atoms, found.entities);
  facts::collectSubjects(atoms, found.subjects);
  for (auto* group : {&found.numbers, &found.polarity, &found.entities, &found.identifiers,
                      &found.quoted, &found.subjects}) {
    facts::sortUnique(*group);
  }
  found.directions = facts::directionsOf(text);
  return found;
}

bool factsAgree(const Facts& asked, const Facts& cached) {
  return asked.numbers == cached.numbers && asked.polarity == cached.polarity &&
         asked.entities == cached.entities && asked.identifiers == cached.identifiers &&
         asked.quoted == cached.quoted && asked.subjects == cached.subjects &&
         !facts::reversed(asked.directions, cached.directions);
}

}  // namespace costgate::cache
