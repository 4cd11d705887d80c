#include "costgate/cache/facts/number_words.h"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "costgate/cache/facts/word_lists.h"

namespace costgate::cache::facts {
namespace {

using std::size_t;

enum class NumberKind { kDigit, kTeen, kTens, kHundred, kScale, kOrdinal };
struct NumberWord {
  std::uint64_t value;
  NumberKind kind;
};
using NumberWords = std::unordered_map<std::string_view, NumberWord>;

// How a cardinal combines follows from its value (cardinal_words.txt says so).
NumberKind cardinalKind(std::uint64_t value) {
  if (value < 10) return NumberKind::kDigit;
  if (value < 20) return NumberKind::kTeen;
  if (value < 100) return NumberKind::kTens;
  return value == 100 ? NumberKind::kHundred : NumberKind::kScale;
}

// Adds the "word value" lines of the list `name`.
void addNumberWords(std::string_view name, bool ordinal, NumberWords& words) {
  for (const WordEntry& entry : wordListEntries(name)) {
    std::uint64_t value = 0;
    std::string_view digits = entry.back();
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (entry.size() != 2 || error != std::errc() || end != digits.data() + digits.size()) {
      malformedWordList(name, "not \"word value\": " + std::string(entry[0]));
    }
    NumberKind kind = ordinal ? NumberKind::kOrdinal : cardinalKind(value);
    if (!words.emplace(entry[0], NumberWord{value, kind}).second) {
      malformedWordList(name, "repeats " + std::string(entry[0]));
    }
  }
}

std::optional<NumberWord> numberWord(std::string_view word) {
  static const NumberWords words = [] {
    NumberWords all;
    addNumberWords("cardinal_words", false, all);
    addNumberWords("ordinal_words", true, all);
    return all;
  }();
  auto it = words.find(word);
  return it == words.end() ? std::nullopt : std::optional<NumberWord>(it->second);
}

// Reads cardinal number words in the order English writes them. Scales only decrease within a
// number, so the value stays far below 2^64.
class CardinalReader {
 public:
  bool accepts(NumberWord w) const {
    using K = NumberKind;
    switch (w.kind) {
      case K::kDigit:
        return last_ == K::kTens || last_ == K::kHundred || last_ == K::kScale;
      case K::kTeen:
      case K::kTens:
        return last_ == K::kHundred || last_ == K::kScale;
      case K::kHundred:
        return last_ == K::kDigit || last_ == K::kTeen;
      case K::kScale:
        return last_ != K::kScale && (lastScale_ == 0 || w.value < lastScale_);
      case K::kOrdinal:
        return false;
    }
    return false;
  }
  bool acceptsAnd() const { return last_ == NumberKind::kHundred || last_ == NumberKind::kScale; }

  void add(NumberWord w) {
    switch (w.kind) {
      case NumberKind::kHundred:
        current_ = std::max<std::uint64_t>(current_, 1) * 100;
        break;
      case NumberKind::kScale:
        total_ += std::max<std::uint64_t>(current_, 1) * w.value;
        current_ = 0;
        lastScale_ = w.value;
        break;
      default:
        current_ += w.value;
    }
    last_ = w.kind;
  }
  std::uint64_t value() const { return total_ + current_; }

 private:
  std::uint64_t total_ = 0;
  std::uint64_t current_ = 0;
  std::uint64_t lastScale_ = 0;
  NumberKind last_ = NumberKind::kOrdinal;  // nothing yet
};

struct NumberRun {
  std::uint64_t value;
  size_t end;
};

// The cardinal starting with `first` at in[i]: its value and the index past its last word.
NumberRun readCardinal(const std::vector<Atom>& in, size_t i, NumberWord first) {
  CardinalReader reader;
  reader.add(first);
  size_t end = i + 1;
  for (;;) {
    size_t next = end;
    if (wordAt(in, next) == "and" && reader.acceptsAnd()) ++next;
    std::optional<NumberWord> w = numberWord(wordAt(in, next));
    if (!w || !reader.accepts(*w)) break;
    reader.add(*w);
    end = next + 1;
  }
  return {reader.value(), end};
}

// The number the words at in[i] spell, if any; `done` is the stream before them.
std::optional<NumberRun> readNumberWords(const std::vector<Atom>& in, size_t i,
                                         const std::vector<Atom>& done) {
  const std::string& word = wordAt(in, i);
  std::optional<NumberWord> first = numberWord(word);
  if (!first) return std::nullopt;
  const std::string& before = wordAt(done, done.empty() ? 0 : done.size() - 1);  // "" if none
  bool afterNumber = !done.empty() && done.back().kind == AtomKind::kNumber;     // "the 10th one"
  if (first->kind == NumberKind::kOrdinal) {
    bool unit = word == "second" && (afterNumber || inList<"second_unit_words">(before));
    if (unit) return std::nullopt;
    return NumberRun{first->value, i + 1};
  }
  NumberRun run = readCardinal(in, i, *first);
  bool pronoun =
      word == "one" && run.end == i + 1 &&
      (afterNumber || inList<"one_determiners">(before) || wordAt(in, i + 1) == "another");
  if (pronoun) return std::nullopt;
  return run;
}

}  // namespace

std::vector<Atom> joinNumberWords(std::vector<Atom> in) {
  std::vector<Atom> out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    if (auto run = readNumberWords(in, i, out)) {
      out.push_back(makeAtom(AtomKind::kNumber, std::to_string(run->value)));
      i = run->end;
    } else {
      out.push_back(std::move(in[i++]));
    }
  }
  return out;
}

}  // namespace costgate::cache::facts
