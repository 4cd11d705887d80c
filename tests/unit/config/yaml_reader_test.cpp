#include "costgate/config/yaml_reader.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace costgate::config {
namespace {

using namespace std::chrono_literals;

constexpr char kFile[] = "reader.yaml";
// Every YAML text below starts on line 1 right after R"(, so the lines asserted are the lines as
// they appear in the literal.

std::string describe(const std::optional<ConfigError>& error) {
  return error ? error->describe() : "no error";
}

void expectError(const std::optional<ConfigError>& error, int line, int column,
                 const std::string& message, const std::string& file = kFile) {
  ASSERT_TRUE(error.has_value()) << "expected: " << message;
  EXPECT_EQ(error->where.file, file);
  EXPECT_EQ(error->where.line, line);
  EXPECT_EQ(error->where.column, column);
  EXPECT_EQ(error->message, message);
}

TEST(SettingsReader, ReadsEachType) {
  constexpr std::string_view kKeys[] = {"name",  "label", "mode",    "enabled", "count",
                                        "ratio", "size",  "timeout", "models",  "url"};
  constexpr std::string_view kModes[] = {"exact", "semantic"};
  SettingsReader reader(YAML::Load(R"(name: cache
label: main
mode: semantic
enabled: True
count: 42
ratio: -0.25
size: 512 KiB
timeout: 1500
models: [gpt-4o, "gpt-4o-mini"]
url: https://example.com
)"),
                        kFile);
  const Section root = reader.root(kKeys);
  std::string name, label, mode, url;
  bool enabled = false;
  int count = 0;
  double ratio = 0;
  std::size_t size = 0;
  Millis timeout{0};
  std::vector<std::string> models;
  root.string("name", &name);
  root.nonEmptyString("label", &label);
  root.choice("mode", kModes, &mode);
  root.boolean("enabled", &enabled);
  root.integer("count", 1, 100, &count);
  root.number("ratio", -1, 1, &ratio);
  root.byteSize("size", &size);
  root.millis("timeout", &timeout);
  root.strings("models", &models);
  root.parsed("url",
              [&](const Field& field, const std::string& text) -> std::optional<ConfigError> {
                if (!text.starts_with("https://")) return field.error("must be https");
                url = text;
                return std::nullopt;
              });
  ASSERT_FALSE(reader.failed()) << describe(reader.error());
  EXPECT_EQ(name, "cache");
  EXPECT_EQ(label, "main");
  EXPECT_EQ(mode, "semantic");
  EXPECT_TRUE(enabled);
  EXPECT_EQ(count, 42);
  EXPECT_DOUBLE_EQ(ratio, -0.25);
  EXPECT_EQ(size, 512u * 1024u);
  EXPECT_EQ(timeout, 1500ms);
  EXPECT_EQ(models, (std::vector<std::string>{"gpt-4o", "gpt-4o-mini"}));
  EXPECT_EQ(url, "https://example.com");
}

TEST(SettingsReader, AbsentKeysKeepTheirDefaults) {
  constexpr std::string_view kKeys[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "other"};
  for (const char* text : {"", "~", "other: 1"}) {
    SCOPED_TRACE(text);
    SettingsReader reader(YAML::Load(text), kFile);
    const Section root = reader.root(kKeys);
    std::string text_value = "kept";
    bool flag = true;
    unsigned count = 7;
    double ratio = 0.5;
    std::size_t size = 9;
    Millis timeout{3};
    std::vector<std::string> list{"kept"};
    root.string("a", &text_value);
    root.boolean("b", &flag);
    root.integer("c", 0, 10, &count);
    root.number("d", 0, 1, &ratio);
    root.byteSize("e", &size);
    root.millis("f", &timeout);
    root.strings("g", &list);
    const Section nested = root.section("h", kKeys);
    nested.string("a", &text_value);
    EXPECT_TRUE(nested.fields().empty());
    EXPECT_TRUE(root.sectionMap("i", kKeys).empty());
    EXPECT_TRUE(root.sectionList("i", kKeys).empty());
    EXPECT_TRUE(root.items("i", "things").empty());
    EXPECT_FALSE(reader.failed()) << describe(reader.error());
    EXPECT_EQ(text_value, "kept");
    EXPECT_TRUE(flag);
    EXPECT_EQ(count, 7u);
    EXPECT_EQ(ratio, 0.5);
    EXPECT_EQ(size, 9u);
    EXPECT_EQ(timeout, 3ms);
    EXPECT_EQ(list, std::vector<std::string>{"kept"});
  }
}

TEST(SettingsReader, EmptyValuesReadAsEmpty) {
  constexpr std::string_view kKeys[] = {"text", "list", "map"};
  SettingsReader reader(YAML::Load("text:\nlist:\nmap:\n"), kFile);
  const Section root = reader.root(kKeys);
  std::string text = "default";
  std::vector<std::string> list{"default"};
  root.string("text", &text);
  root.strings("list", &list);
  EXPECT_TRUE(root.section("map", kKeys).fields().empty());
  EXPECT_FALSE(reader.failed()) << describe(reader.error());
  EXPECT_EQ(text, "");
  EXPECT_TRUE(list.empty());
}

TEST(SettingsReader, ValuesAreCheckedWithTheirPosition) {
  struct Case {
    std::string yaml;  // one key, `v`, at line 1 column 1
    std::function<void(const Section&)> read;
    int line;
    int column;
    std::string message;
  };
  int integer = 0;
  double number = 0;
  bool flag = false;
  std::size_t size = 0;
  Millis millis{0};
  std::string text;
  std::vector<std::string> list;
  constexpr std::string_view kModes[] = {"exact", "semantic"};
  const auto readInteger = [&](const Section& s) { s.integer("v", 1, 10, &integer); };
  const auto readNumber = [&](const Section& s) { s.number("v", 0, 1, &number); };
  const auto readSize = [&](const Section& s) { s.byteSize("v", &size); };
  const Case cases[] = {
      {"v: abc", readInteger, 1, 4, "v: expected a non-negative integer, got 'abc'"},
      {"v: -1", readInteger, 1, 4, "v: expected a non-negative integer, got '-1'"},
      {"v: 0x1F", readInteger, 1, 4, "v: expected a non-negative integer, got '0x1F'"},
      {"v: 0", readInteger, 1, 4, "v: must be between 1 and 10, got '0'"},
      {"v: 11", readInteger, 1, 4, "v: must be between 1 and 10, got '11'"},
      {"v: 99999999999999999999", readInteger, 1, 4,
       "v: must be between 1 and 10, got '99999999999999999999'"},
      {"v: [1]", readInteger, 1, 4, "v: expected a non-negative integer, got a list"},
      {"v:\n", readInteger, 1, 1, "v: expected a non-negative integer, got nothing"},
      {"v: 1.5", readNumber, 1, 4, "v: must be between 0 and 1, got '1.5'"},
      {"v: -0.5", readNumber, 1, 4, "v: must be between 0 and 1, got '-0.5'"},
      {"v: 1e-3", readNumber, 1, 4, "v: expected a number such as 0.25, got '1e-3'"},
      {"v: .5", readNumber, 1, 4, "v: expected a number such as 0.25, got '.5'"},
      {"v: .nan", readNumber, 1, 4, "v: expected a number such as 0.25, got '.nan'"},
      {"v: {a: 1}", readNumber, 1, 4, "v: expected a number such as 0.25, got a map"},
      {"v: yes", [&](const Section& s) { s.boolean("v", &flag); }, 1, 4,
       "v: expected true or false, got 'yes'"},
      {"v: 0", readSize, 1, 4, "v: must be at least 1 byte, got '0'"},
      {"v: 4 MB", readSize, 1, 4,
       "v: expected a size in bytes such as 4194304 or 4MiB (units: KiB, MiB, GiB), got '4 MB'"},
      {"v: 99999999999GiB", readSize, 1, 4, "v: is too large: '99999999999GiB'"},
      {"v: 0", [&](const Section& s) { s.millis("v", &millis); }, 1, 4,
       "v: must be between 1 and 86400000, got '0'"},
      {"v: 100", [&](const Section& s) { s.millis("v", &millis, 250ms, 2s); }, 1, 4,
       "v: must be between 250 and 2000, got '100'"},
      {"v: [a]", [&](const Section& s) { s.string("v", &text); }, 1, 4,
       "v: expected a string, got a list"},
      {"v: \"\"", [&](const Section& s) { s.nonEmptyString("v", &text); }, 1, 4,
       "v: must not be empty"},
      {"v: slow", [&](const Section& s) { s.choice("v", kModes, &text); }, 1, 4,
       "v: expected one of exact, semantic, got 'slow'"},
      {"v: a", [&](const Section& s) { s.strings("v", &list); }, 1, 4,
       "v: expected a list of strings, got 'a'"},
      {"v:\n  - a\n  - {b: 1}\n", [&](const Section& s) { s.strings("v", &list); }, 3, 5,
       "v[1]: expected a string, got a map"},
      {"v: text",
       [&](const Section& s) {
         s.parsed("v", [](const Field& field, const std::string& value) {
           return std::optional<ConfigError>(field.error("rejected " + quoteValue(value)));
         });
       },
       1, 4, "v: rejected 'text'"},
  };
  constexpr std::string_view kKeys[] = {"v"};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    SettingsReader reader(YAML::Load(c.yaml), kFile);
    c.read(reader.root(kKeys));
    expectError(reader.error(), c.line, c.column, c.message);
  }
  EXPECT_EQ(integer, 0) << "an invalid value is never written";
  EXPECT_EQ(number, 0);
  EXPECT_TRUE(list.empty());
}

TEST(SettingsReader, IntegerAcceptsTheBoundsOfItsRange) {
  constexpr std::string_view kKeys[] = {"low", "high", "big"};
  SettingsReader reader(YAML::Load("low: 1\nhigh: 10\nbig: 18446744073709551615\n"), kFile);
  const Section root = reader.root(kKeys);
  uint8_t low = 0;
  int high = 0;
  uint64_t big = 0;
  root.integer("low", 1, 10, &low);
  root.integer("high", 1, 10, &high);
  root.integer("big", 0, UINT64_MAX, &big);
  EXPECT_FALSE(reader.failed()) << describe(reader.error());
  EXPECT_EQ(low, 1);
  EXPECT_EQ(high, 10);
  EXPECT_EQ(big, UINT64_MAX);
}

TEST(SettingsReader, UnknownKeyPointsAtTheKeyWithASuggestion) {
  constexpr std::string_view kTop[] = {"server", "backends"};
  constexpr std::string_view kServer[] = {"threads", "listen"};
  {
    SettingsReader reader(YAML::Load("server:\n  thread: 2\n"), kFile);
    reader.root(kTop).section("server", kServer);
    expectError(reader.error(), 2, 3, "unknown key 'thread' in server (did you mean 'threads'?)");
  }
  {
    SettingsReader reader(YAML::Load("server: {}\ncolour: red\n"), kFile);
    reader.root(kTop);
    // The document reader names the root and suggests only near misses.
    expectError(reader.error(), 2, 1, "unknown key 'colour' at the top level");
  }
  {
    SettingsReader reader(YAML::Load("backend: {}\n"), kFile);
    reader.root(kTop);
    expectError(reader.error(), 1, 1,
                "unknown key 'backend' at the top level (did you mean 'backends'?)");
  }
}

TEST(SettingsReader, MapKeysArePlainAndUnique) {
  constexpr std::string_view kKeys[] = {"a", "b"};
  {
    SettingsReader reader(YAML::Load("a: 1\nb: 2\na: 3\n"), kFile);
    reader.root(kKeys);
    expectError(reader.error(), 3, 1, "duplicate key 'a' at the top level (first at line 1)");
  }
  {
    SettingsReader reader(YAML::Load("a:\n  [x]: 1\n"), kFile);
    reader.root(kKeys).section("a", kKeys);
    expectError(reader.error(), 2, 3, "expected a name as key in a, got a list");
  }
  {
    SettingsReader reader(YAML::Load("a: 5\n"), kFile);
    reader.root(kKeys).section("a", kKeys);
    expectError(reader.error(), 1, 4, "a: expected a map, got '5'");
  }
}

TEST(SettingsReader, NestedSectionsNameTheirPath) {
  constexpr std::string_view kTop[] = {"cache", "rules", "backends"};
  constexpr std::string_view kCache[] = {"store"};
  constexpr std::string_view kStore[] = {"redis", "ttl_ms"};
  constexpr std::string_view kRedis[] = {"url"};
  constexpr std::string_view kRule[] = {"model", "max_tokens"};
  constexpr std::string_view kBackend[] = {"url", "timeout_ms"};
  const YAML::Node document = YAML::Load(R"(cache:
  store:
    ttl_ms: 5000
    redis:
      url: redis://localhost
backends:
  a:
    url: http://a
  b:
rules:
  - model: small
  - model: large
    max_tokens: 99
)");
  SettingsReader reader(document, kFile);
  const Section root = reader.root(kTop);
  const Section store = root.section("cache", kCache).section("store", kStore);
  EXPECT_EQ(store.path(), "cache.store");
  EXPECT_EQ(store.key(), "store");
  EXPECT_EQ(store.mark().line, 2);
  EXPECT_EQ(store.mark().column, 3);
  Millis ttl{0};
  store.millis("ttl_ms", &ttl);
  std::string url;
  store.section("redis", kRedis).string("url", &url);
  EXPECT_EQ(ttl, 5000ms);
  EXPECT_EQ(url, "redis://localhost");

  const std::vector<Section> backends = root.sectionMap("backends", kBackend);
  ASSERT_EQ(backends.size(), 2u);
  EXPECT_EQ(backends[0].key(), "a");
  EXPECT_EQ(backends[0].path(), "backends.a");
  EXPECT_EQ(backends[1].key(), "b");
  EXPECT_TRUE(backends[1].fields().empty()) << "an empty entry is an empty section";
  EXPECT_EQ(backends[1].mark().line, 9);

  const std::vector<Section> rules = root.sectionList("rules", kRule);
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[1].path(), "rules[1]");
  int max_tokens = 0;
  rules[1].integer("max_tokens", 1, 50, &max_tokens);
  expectError(reader.error(), 13, 17, "rules[1].max_tokens: must be between 1 and 50, got '99'");
}

TEST(SettingsReader, NestedErrorsPointAtTheirKey) {
  constexpr std::string_view kTop[] = {"backends", "rules"};
  constexpr std::string_view kBackend[] = {"url", "timeout_ms"};
  {
    SettingsReader reader(YAML::Load("backends:\n  a:\n    url: x\n    timout_ms: 5\n"), kFile);
    reader.root(kTop).sectionMap("backends", kBackend);
    expectError(reader.error(), 4, 5,
                "unknown key 'timout_ms' in backends.a (did you mean 'timeout_ms'?)");
  }
  {
    SettingsReader reader(YAML::Load("rules:\n  - url: x\n  - 7\n"), kFile);
    reader.root(kTop).sectionList("rules", kBackend);
    expectError(reader.error(), 3, 5, "rules[1]: expected a map, got '7'");
  }
  {
    SettingsReader reader(YAML::Load("rules: {url: x}\n"), kFile);
    reader.root(kTop).sectionList("rules", kBackend);
    expectError(reader.error(), 1, 8, "rules: expected a list of maps, got a map");
  }
  {
    SettingsReader reader(YAML::Load("backends:\n  a:\n    timeout_ms: 5\n"), kFile);
    const std::vector<Section> backends = reader.root(kTop).sectionMap("backends", kBackend);
    ASSERT_EQ(backends.size(), 1u);
    backends[0].require("url");
    expectError(reader.error(), 2, 3, "backends.a: missing required key 'url'");
  }
  {
    // require() in an absent section points at the section that should have held it.
    SettingsReader reader(YAML::Load("backends:\n  a: {}\n"), kFile);
    const std::vector<Section> backends = reader.root(kTop).sectionMap("backends", kBackend);
    ASSERT_EQ(backends.size(), 1u);
    backends[0].section("tls", KeyList()).require("ca_file");
    expectError(reader.error(), 2, 3, "backends.a.tls: missing required key 'ca_file'");
  }
}

TEST(SettingsReader, KeepsTheFirstErrorAndSkipsLaterReads) {
  constexpr std::string_view kKeys[] = {"a", "b", "c", "d"};
  SettingsReader reader(YAML::Load("a: x\nb: y\nc: 3\nd: {e: 1}\n"), kFile);
  const Section root = reader.root(kKeys);
  int a = 0, b = 0, c = 0;
  root.integer("a", 0, 9, &a);
  root.integer("b", 0, 9, &b);
  root.integer("c", 0, 9, &c);
  EXPECT_TRUE(root.section("d", KeyList()).fields().empty()) << "its unknown key is not reported";
  expectError(reader.error(), 1, 4, "a: expected a non-negative integer, got 'x'");
  EXPECT_EQ(c, 0) << "reads after the first error do nothing";

  reader.fail(root.find("c")->error("a later error"));
  EXPECT_EQ(reader.error()->message, "a: expected a non-negative integer, got 'x'");
}

TEST(SettingsReader, CustomListItemsAndChecksAcrossValues) {
  constexpr std::string_view kKeys[] = {"ports", "min", "max"};
  SettingsReader reader(YAML::Load("ports: [80, 443, http]\nmin: 5\nmax: 2\n"), kFile);
  const Section root = reader.root(kKeys);
  const std::vector<Field> ports = root.items("ports", "ports");
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[2].path(), "ports[2]");
  EXPECT_EQ(ports[2].key(), "");
  EXPECT_EQ(ports[2].mark().column, 18);
  EXPECT_EQ(parseUnsignedDecimal(ports[1].value().Scalar()), 443u);
  EXPECT_EQ(parseUnsignedDecimal(ports[2].value().Scalar()), std::nullopt);

  int min = 0, max = 0;
  root.integer("min", 0, 10, &min);
  root.integer("max", 0, 10, &max);
  ASSERT_FALSE(reader.failed());
  if (min > max) reader.fail(root.find("max")->error("must be at least min (5)"));
  expectError(reader.error(), 3, 6, "max: must be at least min (5)");
  EXPECT_EQ(root.find("max")->keyMark().line, 3);
  EXPECT_EQ(root.find("max")->keyMark().column, 1);
}

TEST(SettingsReader, FilterSettingsArePrefixedWithTheFilterName) {
  constexpr std::string_view kKeys[] = {"headers", "max_length"};
  constexpr std::string_view kTags[] = {"feature", "team"};
  // As config::parse() hands them over: settings are a subtree of the whole file, and the spec's
  // mark is the filter's entry in the chain.
  const YAML::Node file = YAML::Load(R"(filters:
  - tagging:
      headers:
        colour: x-colour
)");
  const FilterSpec spec{.name = "tagging",
                        .settings = file["filters"][0]["tagging"],
                        .mark = {.file = "gateway.yaml", .line = 2, .column = 5},
                        .models = {},
                        .fallbacks = {}};
  {
    SettingsReader reader(spec);
    reader.root(kKeys).section("headers", kTags);
    // No key is close to 'colour', so the known ones are listed.
    expectError(reader.error(), 4, 9,
                "tagging: unknown key 'colour' in headers (known: feature, team)", "gateway.yaml");
  }
  {
    const FilterSpec typo{.name = "tagging",
                          .settings = YAML::Load("max_lenght: 3\n"),
                          .mark = {.file = "gateway.yaml", .line = 0, .column = 0},
                          .models = {},
                          .fallbacks = {}};
    SettingsReader reader(typo);
    reader.root(kKeys);
    expectError(reader.error(), 1, 1,
                "tagging: unknown key 'max_lenght' (did you mean 'max_length'?)", "gateway.yaml");
  }
  {
    const FilterSpec scalar{.name = "tagging",
                            .settings = YAML::Load("[1, 2]"),
                            .mark = {.file = "gateway.yaml", .line = 2, .column = 5},
                            .models = {},
                            .fallbacks = {}};
    SettingsReader reader(scalar);
    unsigned max_length = 0;
    reader.root(kKeys).integer("max_length", 1, 9, &max_length);
    expectError(reader.error(), 1, 1, "tagging: expected a map, got a list", "gateway.yaml");
  }
}

TEST(SettingsReader, FilterWithoutSettingsReadsAsEmpty) {
  constexpr std::string_view kKeys[] = {"url"};
  for (const YAML::Node& settings : {YAML::Node(), YAML::Load("~"), YAML::Load("a: 1")["b"]}) {
    const FilterSpec spec{.name = "cache",
                          .settings = settings,
                          .mark = {.file = "gateway.yaml", .line = 7, .column = 5},
                          .models = {},
                          .fallbacks = {}};
    SettingsReader reader(spec);
    const Section root = reader.root(kKeys);
    EXPECT_TRUE(root.fields().empty());
    EXPECT_FALSE(reader.failed()) << describe(reader.error());
    // A required key points at the filter's entry.
    root.require("url");
    expectError(reader.error(), 7, 5, "cache: missing required key 'url'", "gateway.yaml");
  }
}

TEST(SettingsReader, Helpers) {
  EXPECT_EQ(quoteValue("abc"), "'abc'");
  EXPECT_EQ(quoteValue(std::string(61, 'x')), "'" + std::string(60, 'x') + "...'");
  EXPECT_EQ(describeValue(YAML::Load("[1]")), "a list");
  EXPECT_EQ(describeValue(YAML::Load("{a: 1}")), "a map");
  EXPECT_EQ(describeValue(YAML::Node()), "nothing");
  EXPECT_EQ(parseUnsignedDecimal("0"), 0u);
  EXPECT_EQ(parseUnsignedDecimal("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parseUnsignedDecimal("+5"), std::nullopt);
  EXPECT_EQ(parseUnsignedDecimal(""), std::nullopt);
  const SourceMark unknown = sourceMark(YAML::Mark::null_mark(), "f.yaml");
  EXPECT_EQ(unknown.file, "f.yaml");
  EXPECT_EQ(unknown.line, 0);
  EXPECT_EQ(unknown.column, 0);
}

}  // namespace
}  // namespace costgate::config
