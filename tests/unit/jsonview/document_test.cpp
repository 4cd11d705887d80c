#include "costgate/jsonview/document.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <random>
#include <set>
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

// The repeated name and its path in `text`, "none" when no name repeats, "invalid" when refused.
std::string repeatedIn(std::string_view text) {
  auto document = Document::parse(text);
  if (!document) return "invalid";
  auto repeated = document->root().repeatedMember();
  return repeated ? repeated->name + " @ " + repeated->path : "none";
}

TEST(JsonViewDocument, FindsRepeatedMemberNamesAtAnyDepth) {
  EXPECT_EQ(repeatedIn(R"({"max_tokens":999999,"max_tokens":5})"), "max_tokens @ max_tokens");
  EXPECT_EQ(repeatedIn(R"({"a":1,"b":2,"c":3})"), "none");
  EXPECT_EQ(repeatedIn(R"({"model":"m","messages":[{"role":"user"},{"role":"user","role":"x"}]})"),
            "role @ messages[1].role");
  EXPECT_EQ(repeatedIn(R"({"tools":[{"function":{"parameters":{"a":{},"b":{},"a":[]}}}]})"),
            "a @ tools[0].function.parameters.a");
  EXPECT_EQ(repeatedIn(R"([[{"x":1}],[{"y":1,"y":2}]])"), "y @ [1][0].y");
  // The same name spelled with escapes is the same member.
  EXPECT_EQ(repeatedIn(R"({"max\u005ftokens":1,"max_tokens":2})"), "max_tokens @ max_tokens");
  EXPECT_EQ(repeatedIn(R"({"n":1,"\u006e":2})"), "n @ n");
  EXPECT_EQ(repeatedIn(R"({"a\"b":1,"a\u0022b":2})"), "a\"b @ a\"b");
  // Different names that differ only in escapes are not repeats; equal values under different
  // keys neither; nor the same name in sibling objects.
  EXPECT_EQ(repeatedIn(R"({"n":1,"\u006d":1,"N":1})"), "none");
  EXPECT_EQ(repeatedIn(R"({"m":[{"role":"a"},{"role":"b"}],"x":{"role":1}})"), "none");
  EXPECT_EQ(repeatedIn(R"({})"), "none");
  // Names of one shape (length, first and last byte) are compared, not taken as repeats.
  EXPECT_EQ(repeatedIn(R"({"axc":1,"ayc":2,"azc":3})"), "none");
  EXPECT_EQ(repeatedIn(R"({"axc":1,"ayc":2,"axc":3})"), "axc @ axc");
  // A repeat among the first members of an object that then grows past the pairwise limit.
  EXPECT_EQ(repeatedIn(R"({"a":1,"a":2,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0,)"
                       R"("k":0,"l":0,"m":0,"n":0,"o":0,"p":0,"q":0,"r":0})"),
            "a @ a");
  EXPECT_EQ(repeatedIn(R"({"a":1,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0,)"
                       R"("k":0,"l":0,"m":0,"n":0,"o":0,"p":0,"q":0,"r":0,"a":2})"),
            "a @ a");
  EXPECT_EQ(repeatedIn(R"("text")"), "none");
  // Asked of an inner value, the path starts there; a repeat outside it is not its own.
  auto document = Document::parse(R"({"a":{"b":[{"c":1,"c":2}]},"d":{"e":1}})");
  ASSERT_TRUE(document);
  EXPECT_EQ(document->root().find("a")->repeatedMember()->path, "b[0].c");
  EXPECT_FALSE(document->root().find("d")->repeatedMember());
}

// Whether any object of `text` repeats a name, as nlohmann's SAX parser reports the keys (escapes
// resolved): the reference the index's finding is checked against.
bool nlohmannSeesARepeat(const std::string& text) {
  struct Keys : nlohmann::json_sax<nlohmann::json> {
    std::vector<std::set<std::string>> open;
    bool repeat = false;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override {
      open.emplace_back();
      return true;
    }
    bool key(string_t& name) override {
      repeat = repeat || !open.back().insert(name).second;
      return true;
    }
    bool end_object() override {
      open.pop_back();
      return true;
    }
    bool start_array(std::size_t) override {
      open.emplace_back();  // arrays have no keys; kept so end_array pops its own
      return true;
    }
    bool end_array() override {
      open.pop_back();
      return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
      return false;
    }
  } keys;
  EXPECT_TRUE(nlohmann::json::sax_parse(text, &keys)) << text;
  return keys.repeat;
}

// Random objects of names from a small alphabet, some spelled with escapes, at random depths and
// sizes (past the pairwise limit too): the index finds a repeat exactly when nlohmann sees one.
TEST(JsonViewDocument, FindsARepeatExactlyWhenThereIsOne) {
  std::mt19937 random(2323);
  const std::string names[] = {"a", "b", "ab", "ba", "axc", "ayc", "model", "n", ""};
  // A name as JSON text: plain, or with one character written as \u00XX.
  auto spelled = [&](const std::string& name) {
    std::string text = "\"";
    for (char c : name) {
      if (random() % 4 == 0) {
        char escape[8];
        std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned char>(c));
        text += escape;
      } else {
        text += c;
      }
    }
    return text + "\"";
  };
  std::function<std::string(int)> value = [&](int depth) -> std::string {
    if (depth > 3 || random() % 3 == 0) return std::to_string(random() % 10);
    if (random() % 4 == 0) return "[" + value(depth + 1) + "," + value(depth + 1) + "]";
    const std::size_t members = random() % 5 == 0 ? 10 + random() % 20 : random() % 5;
    std::string text = "{";
    for (std::size_t i = 0; i < members; ++i) {
      std::string name = names[random() % std::size(names)];
      if (members > 8) name += std::to_string(random() % 40);  // large: mostly distinct
      text += (i ? "," : "") + spelled(name) + ":" + value(depth + 1);
    }
    return text + "}";
  };
  int repeats = 0;
  for (int round = 0; round < 3000; ++round) {
    const std::string text = value(0);
    auto document = Document::parse(text);
    ASSERT_TRUE(document) << text;
    const bool found = document->root().repeatedMember().has_value();
    ASSERT_EQ(found, nlohmannSeesARepeat(text)) << text;
    repeats += found;
  }
  EXPECT_GT(repeats, 300);  // both kinds were tried
  EXPECT_LT(repeats, 2700);
}

TEST(JsonViewDocument, FindsRepeatsInLargeObjectsWithoutQuadraticCost) {
  // 200,000 members (sorted, not compared pairwise): the repeat near the end is found.
  std::string text = "{";
  for (int i = 0; i < 200000; ++i) text += "\"k" + std::to_string(i) + "\":0,";
  text += R"("k17":1})";
  EXPECT_EQ(repeatedIn(text), "k17 @ k17");
  text.replace(text.size() - 7, 3, "kk1");
  EXPECT_EQ(repeatedIn(text), "none");
  // A repeat spelled with an escape among many members.
  std::string escaped = "{";
  for (int i = 0; i < 40; ++i) escaped += "\"m" + std::to_string(i) + "\":0,";
  escaped += R"("m\u0031":1})";
  EXPECT_EQ(repeatedIn(escaped), "m1 @ m1");
}

}  // namespace
}  // namespace costgate::jsonview
