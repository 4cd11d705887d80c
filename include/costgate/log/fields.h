#pragma once
// Extra fields of one request's access-log line, written by whoever knows them (a filter, the
// gateway) and copied into the line as they are. Each value is JSON text made here, so a writer
// cannot break the line; a later field of the same name replaces the earlier one.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace costgate::log {

class Fields {
 public:
  // A string value, escaped.
  void text(std::string_view name, std::string_view value);
  // An integer value.
  void number(std::string_view name, long long value);
  // true or false.
  void flag(std::string_view name, bool value);
  // A decimal number given as its exact text, e.g. a formatted USD amount ("0.000125"); the
  // caller guarantees it is a JSON number.
  void decimal(std::string_view name, std::string_view digits);

  // The field's JSON text, or nullptr.
  const std::string* find(std::string_view name) const;
  // The field's value when it is a string, unescaped only of its quotes (tests, reports); empty
  // when absent.
  std::string_view textOf(std::string_view name) const;
  bool empty() const { return fields_.empty(); }
  // (name, JSON text) pairs in the order first written.
  const std::vector<std::pair<std::string, std::string>>& all() const { return fields_; }
  // Appends `more`'s fields (replacing same-named ones).
  void merge(Fields&& more);

 private:
  void set(std::string_view name, std::string json);
  std::vector<std::pair<std::string, std::string>> fields_;
};

// Appends `text` to `out` as a quoted JSON string.
void appendJsonString(std::string& out, std::string_view text);

}  // namespace costgate::log
