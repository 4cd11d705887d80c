#pragma once
// Reads YAML settings into typed values, with errors that point at the offending key or value as
// file:line:column. config::parse() reads the gateway file with it, and every filter reads its own
// settings block (FilterSpec::settings) with it:
//
//   constexpr std::string_view kKeys[] = {"headers", "max_length"};
//   constexpr std::string_view kTags[] = {"feature", "team"};
//   SettingsReader reader(spec);                     // messages start with "tagging: "
//   Section settings = reader.root(kKeys);           // a map with only these keys
//   settings.integer("max_length", 1, 1024, &config.max_length);
//   Section headers = settings.section("headers", kTags);
//   headers.string("team", &config.team_header);
//   if (auto error = reader.error()) return *error;
//
// Contract of every read:
// - an absent key leaves the destination untouched, so it keeps its default;
// - a present key is checked as a whole and written only when valid;
// - the first error is kept by the reader and every later read does nothing, so a block reads as a
//   flat list of its keys, checked once at the end;
// - an error points at the value, or at its key when the value is empty (`threads:`), and its
//   message names the value by its dotted path: "server.threads: expected a non-negative integer".
// Maps must have plain, unique keys; a key that is not in the section's known keys is an error at
// that key, with the closest known key suggested.
//
// Sections and fields refer to their reader, which must outlive them. They copy yaml-cpp handles,
// whose assignment would rewrite the document, so they cannot be assigned, only constructed.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "costgate/config/config.h"
#include "costgate/config/load.h"

namespace costgate::config {

using KeyList = std::span<const std::string_view>;

// Longer than a day is a unit mistake, and the cap keeps deadline arithmetic far from overflow.
inline constexpr Millis kMaxMillis{24 * 60 * 60 * 1000};

class SettingsReader;

// One value of the document with its key, as a check sees it.
class Field {
 public:
  Field(const Field&) = default;
  Field(Field&&) = default;
  Field& operator=(const Field&) = delete;

  const std::string& path() const { return path_; }  // "server.threads", "filters[0]"; "" = root
  const std::string& key() const { return key_; }    // "" for list items and the root
  const YAML::Node& value() const { return value_; }
  // The value's position, or its key's when the value is empty: yaml-cpp places an empty value at
  // the token after it, often on the next line.
  SourceMark mark() const;
  SourceMark keyMark() const;  // line 0 when there is no key
  // An error at mark(): "<prefix><path>: <message>".
  ConfigError error(const std::string& message) const;

 private:
  friend class Section;
  friend class SettingsReader;
  Field(const SettingsReader* reader, std::string path, std::string key, YAML::Node value,
        YAML::Mark key_mark);

  const SettingsReader* reader_;
  std::string path_;
  std::string key_;
  YAML::Node value_;
  YAML::Mark key_mark_;
};

// Checks a string value and stores it; returns the error (made with field.error()) or nothing.
using StringCheck =
    std::function<std::optional<ConfigError>(const Field& field, const std::string& text)>;

// A map of known keys being read. A section whose map is absent or empty (`headers:`) has no
// fields: every read leaves its default.
class Section {
 public:
  Section(const Section&) = default;
  Section(Section&&) = default;
  Section& operator=(const Section&) = delete;

  const std::string& path() const { return path_; }  // "backends.mock"; "" for the root
  const std::string& key() const { return key_; }    // "mock"; "" for the root and list items
  const YAML::Node& node() const { return node_; }
  SourceMark mark() const;  // of the key naming the section (the root: the filter, the document)
  const std::vector<Field>& fields() const { return fields_; }  // in document order
  const Field* find(std::string_view key) const;                // nullptr when absent
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // An error at the section unless `key` is present.
  void require(std::string_view key) const;

  // A scalar as written; an empty value reads as "".
  void string(std::string_view key, std::string* out) const;
  void nonEmptyString(std::string_view key, std::string* out) const;
  // A string that must be one of `allowed`.
  void choice(std::string_view key, KeyList allowed, std::string* out) const;
  // true or false (also True/TRUE/False/FALSE); never YAML 1.1's yes/no/on/off.
  void boolean(std::string_view key, bool* out) const;
  // Plain decimal digits within [min, max]; min and max must fit in T.
  template <std::integral T>
  void integer(std::string_view key, uint64_t min, uint64_t max, T* out) const {
    uint64_t value = 0;
    if (readUnsigned(key, min, max, &value)) *out = static_cast<T>(value);
  }
  // A plain decimal such as 0.25 or -3 (no exponent, inf or nan) within [min, max].
  void number(std::string_view key, double min, double max, double* out) const;
  // At least 1 byte: "4194304", "4MiB", "512 KiB" (units KiB, MiB, GiB).
  void byteSize(std::string_view key, std::size_t* out) const;
  // Whole milliseconds within [min, max].
  void millis(std::string_view key, Millis* out, Millis min = Millis(1),
              Millis max = kMaxMillis) const;
  // A list of scalars (an empty value is an empty list); replaces *out.
  void strings(std::string_view key, std::vector<std::string>* out) const;
  // Reads the value as a string and hands it to `check`, for values with a syntax of their own
  // such as URLs or header names.
  void parsed(std::string_view key, const StringCheck& check) const;

  // A nested map with the given known keys; empty when absent.
  Section section(std::string_view key, KeyList known) const;
  // A map of names to maps with the given known keys, such as `backends`, in document order; each
  // section's key() is its name.
  std::vector<Section> sectionMap(std::string_view key, KeyList known) const;
  // A list of maps with the given known keys, named "key[0]", "key[1]"... in messages.
  std::vector<Section> sectionList(std::string_view key, KeyList known) const;
  // The items of a list, for items of a custom type; "expected a list of <noun>" otherwise.
  std::vector<Field> items(std::string_view key, std::string_view noun) const;

 private:
  friend class SettingsReader;
  Section(SettingsReader* reader, const Field& field);

  bool readUnsigned(std::string_view key, uint64_t min, uint64_t max, uint64_t* out) const;
  // Runs `read` on the key's field when it is present and no error is kept yet.
  void apply(std::string_view key,
             const std::function<std::optional<ConfigError>(const Field&)>&) const;
  // Reads the field's map into fields(): plain unique keys, and with `known`, only those keys.
  std::optional<ConfigError> open(const Field& field, std::optional<KeyList> known);
  // Opens each field as a section with `known` keys; empty after the first error.
  std::vector<Section> openEach(const std::vector<Field>& fields, KeyList known) const;
  std::string childPath(std::string_view key) const;
  std::string place() const;  // " in server", " at the top level" or ""

  SettingsReader* reader_;
  std::string path_;
  std::string key_;
  YAML::Node node_;
  YAML::Mark mark_;
  std::vector<Field> fields_;
};

// Holds what every error needs (file, message prefix) and the first error found.
class SettingsReader {
 public:
  // A filter's settings block. Messages start with "<spec.name>: ", positions carry
  // spec.mark.file, and an unknown key without a close match lists the known keys.
  explicit SettingsReader(const FilterSpec& spec);
  // A whole document read from `file`: messages have no prefix and name the root "the top level".
  SettingsReader(YAML::Node document, std::string file);
  SettingsReader(const SettingsReader&) = delete;
  SettingsReader& operator=(const SettingsReader&) = delete;

  // The root map with the given known keys; null reads as an empty map.
  Section root(KeyList known);

  // Keeps `error` unless an earlier one is kept; for checks across several values.
  void fail(ConfigError error);
  bool failed() const { return error_.has_value(); }
  const std::optional<ConfigError>& error() const { return error_; }

 private:
  friend class Field;
  friend class Section;
  ConfigError errorAt(const YAML::Mark& mark, const std::string& message) const;

  YAML::Node document_;
  YAML::Mark document_mark_;  // where the root is named: the filter's entry in the chain
  std::string file_;
  std::string message_prefix_;
  std::string root_place_;
  bool list_known_keys_;
  std::optional<ConfigError> error_;
};

// A yaml-cpp position (0-based, or null) as a SourceMark (1-based, 0 when unknown).
SourceMark sourceMark(const YAML::Mark& mark, std::string file);

// 'text' for a message, cut to 60 characters.
std::string quoteValue(std::string_view text);
// How a secret (a key, a key's digest, a password) is named in "expected X, got Y": by its
// length, never its text, which may be a real key pasted into the wrong field and would reach
// --check-config's output and the reload log.
std::string describeSecret(std::string_view text);

// How a value looks in "expected X, got Y": 'text', a list, a map or nothing.
std::string describeValue(const YAML::Node& node);

// Plain decimal digits (no sign, 0x, _ or spaces) as a number; nullopt otherwise or on overflow.
std::optional<uint64_t> parseUnsignedDecimal(std::string_view text);

}  // namespace costgate::config
