#include "costgate/jsonview/splice.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "costgate/jsonview/document.h"

namespace costgate::jsonview {
namespace {

using nlohmann::json;
using Edits = std::vector<std::pair<std::string, std::string>>;

// withMembers over `text`, which must be a JSON object.
std::string spliced(const std::string& text, const Edits& edits) {
  std::optional<Document> document = Document::parse(text);
  EXPECT_TRUE(document.has_value()) << text;
  if (!document) return {};
  return withMembers(document->root(), edits);
}

// The output is always read by something strict (the backend), so every result is parsed.
json parsed(const std::string& text) {
  EXPECT_TRUE(Document::parse(text).has_value()) << "not valid JSON: " << text;
  return json::parse(text, nullptr, false);
}

TEST(WithMembers, ReplacesAnExistingMemberAndKeepsTheOthersAsWritten) {
  const std::string body = R"({"model":"gpt-4o", "max_tokens" : 4096,"temperature":0.70})";
  const std::string out = spliced(body, {{"max_tokens", "256"}});
  EXPECT_EQ(out, R"({"model":"gpt-4o","temperature":0.70,"max_tokens":256})")
      << "the edited member moves to the end; 0.70 is not re-serialized as 0.7";
  EXPECT_EQ(parsed(out)["max_tokens"], 256);
}

TEST(WithMembers, AppendsAnAbsentMember) {
  const std::string out = spliced(R"({"model":"gpt-4o"})", {{"max_completion_tokens", "100"}});
  EXPECT_EQ(out, R"({"model":"gpt-4o","max_completion_tokens":100})");
  EXPECT_EQ(parsed(out), json::parse(R"({"model":"gpt-4o","max_completion_tokens":100})"));
}

TEST(WithMembers, ALaterEditOfTheSameKeyWinsAndIsWrittenOnce) {
  const std::string out =
      spliced(R"({"n":4,"model":"m"})", {{"n", "2"}, {"model", R"("other")"}, {"n", "1"}});
  EXPECT_EQ(out, R"({"model":"other","n":1})");
  json object = parsed(out);
  EXPECT_EQ(object.size(), 2u);
  EXPECT_EQ(object["n"], 1);
}

TEST(WithMembers, EmptyObject) {
  EXPECT_EQ(spliced("{}", {}), "{}");
  EXPECT_EQ(spliced(" { } ", {{"a", "1"}}), R"({"a":1})");
  EXPECT_EQ(spliced("{}", {{"a", "1"}, {"b", R"({"c":[1,2]})"}}), R"({"a":1,"b":{"c":[1,2]}})");
}

TEST(WithMembers, NoEditsCopiesEveryMember) {
  const std::string body = R"({"a": [1, 2 ,3], "b": {"x" : "y"}, "c": "\u00e9\n"})";
  EXPECT_EQ(spliced(body, {}), R"({"a":[1, 2 ,3],"b":{"x" : "y"},"c":"\u00e9\n"})");
  EXPECT_EQ(parsed(spliced(body, {})), json::parse(body));
}

// Everything not edited goes out byte for byte: escapes, number spellings, nested whitespace,
// key order.
TEST(WithMembers, KeepsOtherMembersByteIdentical) {
  const std::string messages =
      R"([ {"role": "user", "content": "caf\u00e9 \"x\"\n\ud83d\ude00"} ])";
  const std::string tools = R"([{"type":"function","function":{"name":"f","parameters":{}}}])";
  const std::string body = "{\n  \"model\": \"gpt-4o\",\n  \"messages\": " + messages +
                           ",\n  \"temperature\": 1e-1,\n  \"max_tokens\": 9000,\n"
                           "  \"tools\": " +
                           tools + ",\n  \"seed\": -0\n}";
  const std::string out = spliced(body, {{"max_tokens", "1024"}, {"n", "1"}});
  std::optional<Document> document = Document::parse(out);
  ASSERT_TRUE(document.has_value()) << out;
  std::vector<std::string> keys;
  std::map<std::string, std::string> raw;
  document->root().forEachMember([&](const Value& key, const Value& value) {
    keys.push_back(key.string());
    raw[key.string()] = std::string(value.raw());
  });
  EXPECT_EQ(raw["messages"], messages);
  EXPECT_EQ(raw["tools"], tools);
  EXPECT_EQ(raw["temperature"], "1e-1");
  EXPECT_EQ(raw["seed"], "-0");
  EXPECT_EQ(keys, (std::vector<std::string>{"model", "messages", "temperature", "tools", "seed",
                                            "max_tokens", "n"}));
  json expected = json::parse(body);
  expected["max_tokens"] = 1024;
  expected["n"] = 1;
  EXPECT_EQ(parsed(out), expected);
}

// A client may repeat a key (nlohmann keeps the last); an edit replaces every copy, so the
// backend cannot read a stale one whichever copy it keeps.
TEST(WithMembers, RemovesEveryCopyOfARepeatedKey) {
  const std::string out =
      spliced(R"({"max_tokens":10,"model":"m","max_tokens":99999})", {{"max_tokens", "100"}});
  EXPECT_EQ(out, R"({"model":"m","max_tokens":100})");
}

// Keys are compared by their value: an escaped spelling of an edited key is still that key.
TEST(WithMembers, MatchesKeysWrittenWithEscapes) {
  const std::string out = spliced(R"({"max\u005ftokens":5000,"model":"m"})", {{"max_tokens", "8"}});
  EXPECT_EQ(out, R"({"model":"m","max_tokens":8})");
  EXPECT_EQ(parsed(out).size(), 2u);
}

TEST(WithMembers, ReplacingTheOnlyMemberLeavesNoStrayComma) {
  EXPECT_EQ(spliced(R"({"messages":[]})", {{"messages", R"([{"role":"user"}])"}}),
            R"({"messages":[{"role":"user"}]})");
  EXPECT_EQ(spliced(R"({"a":1,"b":2})", {{"a", "3"}, {"b", "4"}}), R"({"a":3,"b":4})");
}

}  // namespace
}  // namespace costgate::jsonview
