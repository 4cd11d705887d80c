#include "costgate/cache/facts/word_lists.h"

#include "costgate/cache/facts/phrases.h"
#include "costgate/cache/facts/text.h"

#include <gtest/gtest.h>

#include <charconv>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace costgate::cache::facts {
namespace {

// How the guards read each list of src/cache/facts/words/.
enum class Shape {
  kWords,    // one word a line (WordSet)
  kMap,      // "word value" or "word" (WordMap)
  kNumbers,  // "word value", the value a whole number
  kPhrasal,  // "verb particle fact"
  kPhrases,  // "phrase words value" or "word" (PhraseMap)
};

const std::map<std::string_view, Shape>& expectedLists() {
  static const std::map<std::string_view, Shape> lists = {
      {"abbreviations", Shape::kWords},
      {"area_words", Shape::kWords},
      {"articles", Shape::kWords},
      {"cardinal_words", Shape::kNumbers},
      {"direction_filler", Shape::kWords},
      {"direction_words", Shape::kWords},
      {"first_person", Shape::kWords},
      {"function_words", Shape::kWords},
      {"named_things", Shape::kPhrases},
      {"negations", Shape::kWords},
      {"noise_words", Shape::kWords},
      {"object_pronouns", Shape::kWords},
      {"one_determiners", Shape::kWords},
      {"operator_words", Shape::kMap},
      {"ordinal_suffixes", Shape::kWords},
      {"ordinal_words", Shape::kNumbers},
      {"particles", Shape::kWords},
      {"phrasal_verbs", Shape::kPhrasal},
      {"polarity", Shape::kMap},
      {"polarity_exceptions", Shape::kWords},
      {"rates", Shape::kPhrases},
      {"second_unit_words", Shape::kWords},
      {"spaced_letter_units", Shape::kWords},
      {"subjects", Shape::kPhrases},
      {"tight_verbs", Shape::kWords},
      {"times", Shape::kPhrases},
      {"toward_words", Shape::kWords},
      {"units", Shape::kMap},
  };
  return lists;
}

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    std::size_t end = std::min(text.find('\n'), text.size());
    out.push_back(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return out;
}

// An entry's key: its one field, or all its fields but the last.
std::string keyOf(const WordEntry& entry) {
  std::string key;
  for (std::size_t i = 0; i < std::max<std::size_t>(entry.size() - 1, 1); ++i) {
    key += std::string(entry[i]) + " ";
  }
  return key;
}

bool isWholeNumber(std::string_view s) {
  unsigned long long value = 0;
  auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  return error == std::errc() && end == s.data() + s.size();
}

TEST(WordLists, EveryListTheGuardsReadIsCompiledIn) {
  std::vector<std::string_view> names;
  for (const WordList& list : wordLists()) names.push_back(list.name);
  std::vector<std::string_view> expected;
  for (const auto& [name, shape] : expectedLists()) expected.push_back(name);
  EXPECT_EQ(names, expected);  // sorted by name, as CMake globs them
}

TEST(WordLists, EachListLoadsNonEmptyWithoutDuplicateOrEmptyEntries) {
  for (const WordList& list : wordLists()) {
    SCOPED_TRACE(std::string(list.name));
    std::vector<std::string_view> raw = lines(list.text);
    ASSERT_FALSE(raw.empty());
    EXPECT_TRUE(raw[0].starts_with("# ")) << "a list opens with a comment saying what it is for";
    for (std::string_view line : raw) {
      bool blank = line.empty();
      bool trimmed = !blank && line.front() != ' ' && line.back() != ' ' && line.back() != '\t';
      EXPECT_TRUE(blank || trimmed)
          << "a blank line with spaces, or spaces around: [" << line << "]";
    }
    std::vector<WordEntry> entries = wordListEntries(list.name);
    EXPECT_FALSE(entries.empty());
    std::set<std::string> keys;
    for (const WordEntry& entry : entries) {
      ASSERT_FALSE(entry.empty());
      for (std::string_view field : entry) EXPECT_FALSE(field.empty());
      EXPECT_TRUE(keys.insert(keyOf(entry)).second) << "repeated: " << keyOf(entry);
    }
  }
}

TEST(WordLists, EachListHasTheShapeItIsReadIn) {
  for (const auto& [name, shape] : expectedLists()) {
    SCOPED_TRACE(std::string(name));
    switch (shape) {
      case Shape::kWords:
        EXPECT_NO_THROW(WordSet{name});
        break;
      case Shape::kMap:
        EXPECT_NO_THROW(WordMap().add(name));
        break;
      case Shape::kNumbers:
        for (const WordEntry& entry : wordListEntries(name)) {
          EXPECT_EQ(entry.size(), 2u);
          EXPECT_TRUE(isWholeNumber(entry.back())) << entry.back();
        }
        break;
      case Shape::kPhrasal:
        for (const WordEntry& entry : wordListEntries(name)) EXPECT_EQ(entry.size(), 3u);
        break;
      case Shape::kPhrases:
        EXPECT_NO_THROW(PhraseMap{name});
        for (const WordEntry& entry : wordListEntries(name)) {
          for (std::string_view field : entry) {
            EXPECT_EQ(field, lowered(field)) << "phrases are matched lower-cased";
          }
        }
        break;
    }
  }
}

TEST(WordLists, ThePolarityListsShareNoWord) {
  EXPECT_NO_THROW(WordMap().add("negations", "not").add("polarity").add("polarity_exceptions", ""));
}

TEST(WordLists, EntriesAreTheFieldsOfLinesOutsideComments) {
  std::vector<WordEntry> entries = wordEntries("# a comment\n\n  a \tb  # c d\nc\n#\ne f g");
  EXPECT_EQ(entries, (std::vector<WordEntry>{{"a", "b"}, {"c"}, {"e", "f", "g"}}));
  EXPECT_TRUE(wordEntries("").empty());
  EXPECT_TRUE(wordEntries("# only\n   \n").empty());
}

TEST(WordLists, SetsAndMapsFindWhatTheListsSay) {
  EXPECT_TRUE(WordSet("negations").contains("never"));
  EXPECT_FALSE(WordSet("negations").contains("enable"));
  WordMap units = WordMap().add("units");
  EXPECT_EQ(units.find("gigabytes"), "gb");
  EXPECT_EQ(units.find("gb"), "gb");  // a word alone stands for itself
  EXPECT_EQ(units.find("gigabyte s"), std::nullopt);
  WordMap negations = WordMap().add("negations", "not");
  EXPECT_EQ(negations.find("without"), "not");
}

TEST(WordLists, MalformedOrMissingListsAreRefused) {
  EXPECT_THROW(WordSet("no_such_list"), std::logic_error);
  EXPECT_THROW(WordSet("units"), std::logic_error);  // "gigabyte gb": two fields
  EXPECT_THROW(WordMap().add("phrasal_verbs"), std::logic_error);
  EXPECT_THROW(WordMap().add("units").add("units"), std::logic_error);  // every word twice
  EXPECT_THROW(WordMap().add("units", "x"), std::logic_error);
}

}  // namespace
}  // namespace costgate::cache::facts
