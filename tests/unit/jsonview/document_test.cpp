#include "costgate/jsonview/document.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace costgate::jsonview {
namespace {

// Whether `text` is one JSON value; parseMembers() must check it as strictly, whatever it indexes.
bool accepts(std::string_view text) {
  constexpr std::string_view kSome[] = {"a", "model", "k"};
  const bool accepted = Document::parse(text).has_value();
  EXPECT_EQ(Document::parseMembers(text, kSome).has_value(), accepted) << text;
  return accepted;
}

TEST(JsonViewDocument, AcceptsWhatNlohmannAccepts) {
  const std::vector<std::string> valid = {
      "{}",
      "[]",
      " \t\r\n{ } ",
      "0",
      "-0",
      "1.5e-3",
      "-12E+4",
      "true",
      "false",
      "null",
      R"("plain")",
      R"("esc \" \\ \/ \b \f \n \r \t")",
      R"("\u00e9\uD83D\uDE00")",
      "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"",
      R"({"a":[1,{"b":[]},"c",null],"d":{"e":{}}})",
      R"([[[[[]]]]])",
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.2})",
      "\"a long plain string, read eight bytes at a time \x7f\"",
      "\"0123456789abcdef\\u00e9 then more plain text \xC3\xA9 and the end\""};
  for (const auto& text : valid) {
    EXPECT_TRUE(nlohmann::json::accept(text)) << text;
    EXPECT_TRUE(accepts(text)) << text;
  }
}

TEST(JsonViewDocument, RefusesWhatNlohmannRefuses) {
  const std::vector<std::string> invalid = {"\"0123456789abcdef\x01 a control character later\"",
                                            "\"0123456789abcdefghij\xFF\"",
                                            "\"0123456789abcdefghij",
                                            "",
                                            " ",
                                            "{",
                                            "}",
                                            "[1,]",
                                            "[,1]",
                                            "{\"a\":1,}",
                                            "{\"a\" 1}",
                                            "{a:1}",
                                            "{1:2}",
                                            "01",
                                            "1.",
                                            ".5",
                                            "-",
                                            "1e",
                                            "1e+",
                                            "+1",
                                            "tru",
                                            "nul",
                                            "True",
                                            "'x'",
                                            "\"open",
                                            "\"bad \\x escape\"",
                                            "\"\\u12G4\"",
                                            "\"\\uD83D\"",
                                            "\"\\uDE00\"",
                                            "\"\\uD83D\\u0041\"",
                                            "\"tab\tinside\"",
                                            "\"\xC0\xAF\"",
                                            "\"\xED\xA0\x80\"",
                                            "\"\xF4\x90\x80\x80\"",
                                            "\"\xE2\x82\"",
                                            "\"\x80\"",
                                            "{} {}",
                                            "[1] x",
                                            "[1 2]",
                                            "{\"a\":1 \"b\":2}",
                                            "[\"a\":1]",
                                            "{\"a\"}",
                                            "nulll"};
  for (const auto& text : invalid) {
    EXPECT_FALSE(nlohmann::json::accept(text)) << text;
    EXPECT_FALSE(accepts(text)) << text;
  }
}

// Random damage to valid bodies: both parsers must agree on every variant.
TEST(JsonViewDocument, AgreesWithNlohmannOnMutatedBodies) {
  const std::vector<std::string> seeds = {
      R"({"model":"m","messages":[{"role":"user","content":"h\u00e9 \"q\""}],"n":-1.5e3})",
      R"([true,false,null,{"k":[0,1,{"x":"\uD83D\uDE00"}]}])",
      "{\"s\":\"caf\xC3\xA9\",\"t\":[[],{}]}"};
  const std::string alphabet = "{}[],:\"\\ -+.eE0123456789tfnulr\x80\xC3\xA9\xED\xF4x";
  std::mt19937 random(1234);
  int disagreements = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text = seeds[round % seeds.size()];
    int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits; ++e) {
      std::size_t at = random() % (text.size() + 1);
      switch (random() % 3) {
        case 0:
          text.insert(at, 1, alphabet[random() % alphabet.size()]);
          break;
        case 1:
          if (at < text.size()) text.erase(at, 1);
          break;
        default:
          if (at < text.size()) text[at] = alphabet[random() % alphabet.size()];
      }
    }
    if (nlohmann::json::accept(text) != accepts(text)) {
      ADD_FAILURE() << "disagree on: " << text;
      if (++disagreements > 5) break;
    }
  }
}

// 1e400 used to be accepted, then read as 0 by number(), while nlohmann::json (which the gateway
// parses an accepted body with when a filter needs the DOM) throws on it: found by
// fuzz/request_context_fuzzer (fuzz/corpus/request_context_fuzzer/regression-number-overflow).
TEST(JsonViewDocument, RefusesNumbersTooLargeForADouble) {
  const std::string digits400(400, '9');
  for (const std::string& text :
       {std::string("1963E639683"), std::string("1e400"), std::string("-1e400"),
        std::string("[0.5e309]"), digits400, "-" + digits400 + ".5",
        std::string(R"({"model":"m","messages":[],"temperature":1e999})")}) {
    EXPECT_FALSE(nlohmann::json::accept(text)) << text;
    EXPECT_FALSE(accepts(text)) << text;
  }
  // Too small is not too large: it reads as 0, there as here.
  for (const std::string& text : {std::string("1e-400"), std::string("-1e-999"),
                                  std::string("1.7976931348623157e308"), std::string(299, '9')}) {
    EXPECT_TRUE(nlohmann::json::accept(text)) << text;
    ASSERT_TRUE(accepts(text)) << text;
  }
  EXPECT_EQ(Document::parse("1e-400")->root().number(), 0.0);
  EXPECT_EQ(Document::parse("1.7976931348623157e308")->root().number(), 1.7976931348623157e308);
}

TEST(JsonViewDocument, LimitsNesting) {
  std::string deep(Document::kMaxDepth, '[');
  deep += std::string(Document::kMaxDepth, ']');
  EXPECT_TRUE(accepts(deep));
  EXPECT_FALSE(accepts("[" + deep + "]"));
}

TEST(JsonViewDocument, ReadsValues) {
  std::string text =
      R"({"s":"a\nb\u00e9\uD83D\uDE00","i":-42,"big":123456789012345678901,"f":2.5e1,
          "b":true,"z":null,"arr":[1,[2,3],{"x":4},"y"],"dup":1,"dup":2,"o":{}})";
  auto document = Document::parse(text);
  ASSERT_TRUE(document);
  Value root = document->root();
  EXPECT_EQ(root.kind(), Kind::kObject);
  EXPECT_EQ(root.size(), 10u);
  EXPECT_EQ(root.find("s")->string(), "a\nb\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_TRUE(root.find("s")->stringEquals("a\nb\xC3\xA9\xF0\x9F\x98\x80"));
  EXPECT_EQ(root.find("i")->kind(), Kind::kInteger);
  EXPECT_EQ(root.find("i")->integer(), -42);
  EXPECT_EQ(root.find("big")->kind(), Kind::kInteger);
  EXPECT_FALSE(root.find("big")->integer());
  EXPECT_EQ(root.find("f")->kind(), Kind::kNumber);
  EXPECT_DOUBLE_EQ(root.find("f")->number(), 25.0);
  EXPECT_TRUE(root.find("b")->boolean());
  EXPECT_TRUE(root.find("z")->isNull());
  EXPECT_EQ(root.find("dup")->integer(), 2);  // the last one, as nlohmann keeps it
  EXPECT_EQ(root.find("o")->size(), 0u);
  EXPECT_FALSE(root.find("missing"));
  EXPECT_FALSE(root.find("i")->find("x"));

  std::vector<std::string> keys;
  root.forEachMember([&](const Value& key, const Value&) { keys.push_back(key.string()); });
  EXPECT_EQ(keys,
            (std::vector<std::string>{"s", "i", "big", "f", "b", "z", "arr", "dup", "dup", "o"}));

  auto elements = root.find("arr")->elements();
  ASSERT_EQ(elements.size(), 4u);
  EXPECT_EQ(elements[1].raw(), "[2,3]");
  EXPECT_EQ(elements[1].elements()[1].integer(), 3);
  EXPECT_EQ(elements[2].find("x")->integer(), 4);
  EXPECT_TRUE(elements[3].stringEquals("y"));
  EXPECT_FALSE(elements[3].stringEquals("\"y\""));
}

TEST(JsonViewDocument, MatchesKeysWithEscapes) {
  auto document = Document::parse(R"({"mo\u0064el":"m"})");
  ASSERT_TRUE(document);
  ASSERT_TRUE(document->root().find("model"));
  EXPECT_EQ(document->root().find("model")->string(), "m");
}

TEST(JsonViewDocument, IndexesOnlyTheMembersAsked) {
  constexpr std::string_view kAsked[] = {"usage", "id"};
  const std::string text =
      R"({"id":"c1","choices":[{"message":{"content":"hi","usage":1}}],"us\u0061ge":{"a":[1,{}]},)"
      R"("model":{"usage":2},"usage":{"prompt_tokens":3,"details":{"cached":0}},"tail":[[]]})";
  auto document = Document::parseMembers(text, kAsked);
  ASSERT_TRUE(document);
  const Value root = document->root();
  EXPECT_EQ(root.raw(), text);
  EXPECT_EQ(root.size(), 3u);
  std::vector<std::string> keys;
  root.forEachMember([&](const Value& key, const Value&) { keys.push_back(key.string()); });
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "usage", "usage"}));
  EXPECT_TRUE(root.find("id")->stringEquals("c1"));
  EXPECT_FALSE(root.find("choices"));
  EXPECT_FALSE(root.find("model"));
  const Value usage = *root.find("usage");  // the last one, as parse() has it
  EXPECT_EQ(usage.find("prompt_tokens")->integer(), 3);
  EXPECT_EQ(usage.find("details")->find("cached")->integer(), 0);
  // A root that is no object is indexed whole.
  auto array = Document::parseMembers(R"([{"x":1},2])", kAsked);
  ASSERT_TRUE(array);
  EXPECT_EQ(array->root().elements()[0].find("x")->integer(), 1);
  EXPECT_FALSE(Document::parseMembers(R"({"id":"c1","choices":[1,]})", kAsked));
}

}  // namespace
}  // namespace costgate::jsonview
