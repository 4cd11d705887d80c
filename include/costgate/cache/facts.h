#pragma once
// The facts an answer depends on that similar wording can hide. Two questions whose embeddings are
// close ("How do I enable 2FA?" / "How do I disable 2FA?", "What is 17*23?" / "What is 17*24?")
// still need different answers when these differ, so a semantic hit requires them to agree.
// Plain text in, plain data out; no I/O.

#include <string>
#include <string_view>
#include <vector>

namespace costgate::cache {

struct Facts {
  // Every group is a sorted, de-duplicated list of normalized strings. A fact right after "to",
  // "into" or "than" is marked "→" ("convert Celsius to Fahrenheit": "celsius", "→fahrenheit"), so
  // swapping the two sides is a different question.
  std::vector<std::string> numbers;      // "17", "23", "3.5", "1000" (from "1,000"), number words
                                         // ("two" -> "2"), with units ("5gb", "200mg", "50%",
                                         // "10:30am"), arithmetic without spaces ("17*23"),
                                         // rates ("per-day" for "a day", "daily") and times in
                                         // words ("monday", "tomorrow", "morning")
  std::vector<std::string> polarity;     // negations (all "not") and words of opposite pairs:
                                         // enable/disable, allow/deny, add/remove, ... (the lists
                                         // are in src/cache/facts/words/)
  std::vector<std::string> entities;     // names, lower-cased: capitalized words inside a sentence,
                                         // acronyms, words with digits ("2fa", "s3", "gpt-4o"),
                                         // and named things however written ("canada",
                                         // "new-york", "python", "premium": named_things.txt)
  std::vector<std::string> identifiers;  // code, case kept: `backticked`, snake_case, camelCase,
                                         // a.b.c, f(), --flags, paths
  std::vector<std::string> quoted;       // "text in quotes" (straight or curly), trimmed
  // Directions, "x|to|y": the meaningful words either side of to, from, into and onto. The
  // same words the other way round ("a string to an integer" / "an integer to a string", "from
  // my laptop to the server" / "from the server to my laptop") ask something else.
  std::vector<std::string> directions;
  // Who the question is about when not the asker, by kind: "dog" ("my puppy"), "child" ("kids"),
  // "pregnant" (src/cache/facts/words/subjects.txt). The same dose question about a dog is
  // another question.
  std::vector<std::string> subjects;

  bool operator==(const Facts&) const = default;
};

// The facts of a question (a user turn's text).
Facts factsOf(std::string_view text);

// Whether an answer cached for a question with facts `cached` may answer one with facts `asked`:
// every group must be equal, and no direction of one may be reversed in the other.
bool factsAgree(const Facts& asked, const Facts& cached);

}  // namespace costgate::cache
