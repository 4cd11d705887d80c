#include "costgate/tokenizer/split.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace costgate::tokenizer {
namespace {

std::vector<std::string> pieces(std::string_view text, SplitRule rule) {
  std::vector<std::string> out;
  split(text, rule, [&](std::string_view piece) { out.emplace_back(piece); });
  return out;
}

using Pieces = std::vector<std::string>;

TEST(SplitTest, WordsTakeTheSpaceBeforeThem) {
  for (auto rule : {SplitRule::kCl100k, SplitRule::kO200k}) {
    EXPECT_EQ(pieces("Hello world", rule), (Pieces{"Hello", " world"}));
    // \s+(?!\S) leaves the last space of a run to the word after it.
    EXPECT_EQ(pieces("a   b", rule), (Pieces{"a", "  ", " b"}));
    EXPECT_EQ(pieces("end   ", rule), (Pieces{"end", "   "}));
  }
}

TEST(SplitTest, LineBreaksEndWhitespaceRuns) {
  for (auto rule : {SplitRule::kCl100k, SplitRule::kO200k}) {
    EXPECT_EQ(pieces("a\n\n  \nb", rule), (Pieces{"a", "\n\n  \n", "b"}));
    EXPECT_EQ(pieces("a \n  b", rule), (Pieces{"a", " \n", " ", " b"}));
  }
}

TEST(SplitTest, DigitsGoInThrees) {
  for (auto rule : {SplitRule::kCl100k, SplitRule::kO200k}) {
    EXPECT_EQ(pieces("1234567", rule), (Pieces{"123", "456", "7"}));
  }
}

TEST(SplitTest, ContractionsAreCaseInsensitiveAsUnicodeFoldsThem) {
  EXPECT_EQ(pieces("it's", SplitRule::kCl100k), (Pieces{"it", "'s"}));
  EXPECT_EQ(pieces("IT'S", SplitRule::kCl100k), (Pieces{"IT", "'S"}));
  EXPECT_EQ(pieces("we'LL", SplitRule::kCl100k), (Pieces{"we", "'LL"}));
  // U+017F LATIN SMALL LETTER LONG S folds to 's'.
  EXPECT_EQ(pieces("it'\xC5\xBF", SplitRule::kCl100k), (Pieces{"it", "'\xC5\xBF"}));
  // o200k keeps a contraction with its word.
  EXPECT_EQ(pieces("it's", SplitRule::kO200k), (Pieces{"it's"}));
}

TEST(SplitTest, O200kSplitsWordsAtCaseChanges) {
  EXPECT_EQ(pieces("helloWorld", SplitRule::kO200k), (Pieces{"hello", "World"}));
  EXPECT_EQ(pieces("HTTPServer", SplitRule::kO200k), (Pieces{"HTTPServer"}));
  EXPECT_EQ(pieces("PDF files", SplitRule::kO200k), (Pieces{"PDF", " files"}));
  EXPECT_EQ(pieces("helloWorld", SplitRule::kCl100k), (Pieces{"helloWorld"}));
}

TEST(SplitTest, PunctuationRunsKeepTheirLineBreaks) {
  EXPECT_EQ(pieces("x = {};\n\nreturn", SplitRule::kCl100k),
            (Pieces{"x", " =", " {};\n\n", "return"}));
  EXPECT_EQ(pieces("a/b//\n", SplitRule::kO200k), (Pieces{"a", "/b", "//\n"}));
}

TEST(SplitTest, InvalidBytesArePiecesLikePunctuation) {
  Pieces split_bytes = pieces("ok\xFF\xFEgo", SplitRule::kO200k);
  std::string joined;
  for (const auto& piece : split_bytes) joined += piece;
  EXPECT_EQ(joined, "ok\xFF\xFEgo");
  EXPECT_EQ(split_bytes.front(), "ok");
}

}  // namespace
}  // namespace costgate::tokenizer
