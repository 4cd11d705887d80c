#include "costgate/tokenizer/unicode_class.h"

#include <gtest/gtest.h>

namespace costgate::tokenizer {
namespace {

TEST(UnicodeClassTest, ClassesFollowUnicode16) {
  EXPECT_EQ(classOf(U'A'), CharClass::kUppercase);
  EXPECT_EQ(classOf(U'z'), CharClass::kLowercase);
  EXPECT_EQ(classOf(U'\u01C5'), CharClass::kTitlecase);  // Dž
  EXPECT_EQ(classOf(U'\u02B0'), CharClass::kModifierLetter);
  EXPECT_EQ(classOf(U'\u4E00'), CharClass::kOtherLetter);  // CJK
  EXPECT_EQ(classOf(U'\u0301'), CharClass::kMark);         // combining acute
  EXPECT_EQ(classOf(U'\u00B2'), CharClass::kNumber);       // superscript two
  EXPECT_EQ(classOf(U'\u0663'), CharClass::kNumber);       // Arabic-Indic three
  EXPECT_EQ(classOf(U'!'), CharClass::kOther);
  EXPECT_EQ(classOf(U'\U0001F600'), CharClass::kOther);  // emoji
  // New in Unicode 16.0 (the reference tokenizer knows them).
  EXPECT_EQ(classOf(U'\u1C89'), CharClass::kUppercase);
  EXPECT_EQ(classOf(U'\U00016D40'), CharClass::kModifierLetter);
  // New in 17.0: still unassigned for the reference.
  EXPECT_EQ(classOf(U'\u088F'), CharClass::kOther);
}

TEST(UnicodeClassTest, WhitespaceIsUnicodesWhiteSpaceProperty) {
  for (char32_t c : {U'\t', U'\n', U'\v', U'\f', U'\r', U' ', U'\u0085', U'\u00A0', U'\u1680',
                     U'\u2000', U'\u200A', U'\u2028', U'\u2029', U'\u202F', U'\u205F', U'\u3000'}) {
    EXPECT_EQ(classOf(c), CharClass::kWhitespace) << static_cast<unsigned>(c);
  }
  // Not White_Space, though some regex engines treat them so.
  for (char32_t c : {U'\u180E', U'\u200B', U'\uFEFF'}) {
    EXPECT_EQ(classOf(c), CharClass::kOther) << static_cast<unsigned>(c);
  }
}

TEST(UnicodeClassTest, DecodesValidUtf8AndRefusesTheRestByteByByte) {
  EXPECT_EQ(decodeUtf8("a", 0).code_point, U'a');
  Utf8Char euro = decodeUtf8("\xE2\x82\xAC", 0);
  EXPECT_EQ(euro.code_point, U'\u20AC');
  EXPECT_EQ(euro.length, 3);
  Utf8Char emoji = decodeUtf8("\xF0\x9F\x98\x80", 0);
  EXPECT_EQ(emoji.code_point, U'\U0001F600');
  EXPECT_EQ(emoji.length, 4);
  for (std::string_view bad :
       {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xED\xA0\x80", "\xF0\x80\x80\x80",
        "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\x80", "\xE2\x82", "\xE2\x28\xA1"}) {
    Utf8Char c = decodeUtf8(bad, 0);
    EXPECT_EQ(c.code_point, 0xFFFFFFFFu);
    EXPECT_EQ(c.length, 1);
  }
}

}  // namespace
}  // namespace costgate::tokenizer
