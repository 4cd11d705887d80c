// The one reader of YAML settings: structure (plain unique keys, known keys), scalar types and
// the wording and position of every error about them.

#include "costgate/config/yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace costgate::config {
namespace {

using MaybeError = std::optional<ConfigError>;

// Values are quoted in messages; a long one is cut so the message stays one readable line.
constexpr std::size_t kMaxQuoted = 60;

bool contains(KeyList keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string join(KeyList words) {
  std::string out;
  for (std::string_view word : words) out += (out.empty() ? "" : ", ") + std::string(word);
  return out;
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean 'threads'?)" for a near miss, else nothing.
std::string suggestion(std::string_view key, KeyList known) {
  constexpr std::size_t kMaxTypos = 2;
  std::string_view best;
  std::size_t best_distance = kMaxTypos + 1;
  for (std::string_view candidate : known) {
    const std::size_t distance = editDistance(key, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best.empty() ? "" : " (did you mean '" + std::string(best) + "'?)";
}

// The inverse of sourceMark(), for a position known only as a SourceMark.
YAML::Mark yamlMark(const SourceMark& mark) {
  if (mark.line <= 0) return YAML::Mark::null_mark();
  YAML::Mark out;
  out.line = mark.line - 1;
  out.column = mark.column - 1;  // -1 when unknown, which sourceMark() turns back into 0
  return out;
}

bool isDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The shortest text that reads back as `value`: 1, 0.25, -3.5.
std::string formatNumber(double value) {
  char buffer[32];
  const auto [end, status] = std::to_chars(std::begin(buffer), std::end(buffer), value);
  if (status != std::errc()) return std::to_string(value);
  return std::string(std::begin(buffer), end);
}

// The one reader of each scalar type.

MaybeError parseString(const Field& field, std::string* out) {
  if (field.value().IsNull()) {
    out->clear();
    return std::nullopt;
  }
  if (!field.value().IsScalar()) {
    return field.error("expected a string, got " + describeValue(field.value()));
  }
  *out = field.value().Scalar();
  return std::nullopt;
}

MaybeError parseBool(const Field& field, bool* out) {
  // Only the YAML 1.2 spellings: YAML 1.1 tools read yes/no/on/off as booleans and 1.2 tools as
  // strings, so a file using them means different things to different readers.
  constexpr std::string_view kTrue[] = {"true", "True", "TRUE"};
  constexpr std::string_view kFalse[] = {"false", "False", "FALSE"};
  const std::string text = field.value().IsScalar() ? field.value().Scalar() : "";
  if (contains(kTrue, text) || contains(kFalse, text)) {
    *out = contains(kTrue, text);
    return std::nullopt;
  }
  return field.error("expected true or false, got " + describeValue(field.value()));
}

MaybeError parseInteger(const Field& field, uint64_t min, uint64_t max, uint64_t* out) {
  const std::string text = field.value().IsScalar() ? field.value().Scalar() : "";
  if (!isDigits(text)) {
    return field.error("expected a non-negative integer, got " + describeValue(field.value()));
  }
  const std::optional<uint64_t> value = parseUnsignedDecimal(text);
  if (!value || *value < min || *value > max) {
    return field.error("must be between " + std::to_string(min) + " and " + std::to_string(max) +
                       ", got " + quoteValue(text));
  }
  *out = *value;
  return std::nullopt;
}

// Digits with an optional sign and fraction: "0.25", "-3", "10.0". Exponents, inf and nan are
// rejected, as YAML's other integer spellings are.
MaybeError parseNumber(const Field& field, double min, double max, double* out) {
  const std::string text = field.value().IsScalar() ? field.value().Scalar() : "";
  std::string_view magnitude = text;
  if (magnitude.starts_with('-')) magnitude.remove_prefix(1);
  const std::size_t point = magnitude.find('.');
  const bool plain = isDigits(magnitude.substr(0, point)) &&
                     (point == std::string_view::npos || isDigits(magnitude.substr(point + 1)));
  double value = 0;
  const auto [end, status] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
  if (!plain || status != std::errc() || end != text.data() + text.size()) {
    return field.error("expected a number such as 0.25, got " + describeValue(field.value()));
  }
  if (value < min || value > max) {
    return field.error("must be between " + formatNumber(min) + " and " + formatNumber(max) +
                       ", got " + quoteValue(text));
  }
  *out = value;
  return std::nullopt;
}

// A count of bytes, optionally with a binary unit: "4194304", "4MiB", "512 KiB".
MaybeError parseByteSize(const Field& field, std::size_t* out) {
  struct Unit {
    std::string_view name;
    uint64_t bytes;
  };
  constexpr Unit kUnits[] = {
      {"", 1}, {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30}};
  const std::string text = field.value().IsScalar() ? field.value().Scalar() : "";
  const std::size_t digits = std::min(text.find_first_not_of("0123456789"), text.size());
  std::string_view unit = std::string_view(text).substr(digits);
  unit.remove_prefix(std::min(unit.find_first_not_of(' '), unit.size()));
  const auto found = std::find_if(std::begin(kUnits), std::end(kUnits),
                                  [&](const Unit& known) { return known.name == unit; });
  if (digits == 0 || found == std::end(kUnits)) {
    return field.error(
        "expected a size in bytes such as 4194304 or 4MiB (units: KiB, MiB, GiB), got " +
        describeValue(field.value()));
  }
  const std::optional<uint64_t> count =
      parseUnsignedDecimal(std::string_view(text).substr(0, digits));
  constexpr uint64_t kMaxBytes = std::numeric_limits<std::size_t>::max();
  if (!count || *count > kMaxBytes / found->bytes) {
    return field.error("is too large: " + quoteValue(text));
  }
  if (*count == 0) return field.error("must be at least 1 byte, got " + quoteValue(text));
  *out = static_cast<std::size_t>(*count * found->bytes);
  return std::nullopt;
}

uint64_t millisecondCount(Millis value) {
  return static_cast<uint64_t>(std::max<Millis::rep>(value.count(), 0));
}

}  // namespace

SourceMark sourceMark(const YAML::Mark& mark, std::string file) {
  if (mark.is_null()) return {.file = std::move(file), .line = 0, .column = 0};
  return {.file = std::move(file), .line = mark.line + 1, .column = mark.column + 1};
}

std::string quoteValue(std::string_view text) {
  if (text.size() <= kMaxQuoted) return "'" + std::string(text) + "'";
  return "'" + std::string(text.substr(0, kMaxQuoted)) + "...'";
}

std::string describeSecret(std::string_view text) {
  return "a value of " + std::to_string(text.size()) + " characters";
}

std::string describeValue(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return quoteValue(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

// Plain decimal digits only: YAML's other integer spellings (0x1F, +5, 1_000) are rejected rather
// than guessed at.
std::optional<uint64_t> parseUnsignedDecimal(std::string_view text) {
  uint64_t value = 0;
  if (!isDigits(text)) return std::nullopt;
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (status != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Field

Field::Field(const SettingsReader* reader, std::string path, std::string key, YAML::Node value,
             YAML::Mark key_mark)
    : reader_(reader),
      path_(std::move(path)),
      key_(std::move(key)),
      value_(value),
      key_mark_(key_mark) {}

SourceMark Field::mark() const {
  return sourceMark(value_.IsNull() && !key_mark_.is_null() ? key_mark_ : value_.Mark(),
                    reader_->file_);
}

SourceMark Field::keyMark() const { return sourceMark(key_mark_, reader_->file_); }

ConfigError Field::error(const std::string& message) const {
  return {.where = mark(),
          .message = reader_->message_prefix_ + (path_.empty() ? message : path_ + ": " + message)};
}

// Section

Section::Section(SettingsReader* reader, const Field& field)
    : reader_(reader),
      path_(field.path_),
      key_(field.key_),
      node_(field.value_),
      mark_(field.key_mark_.is_null() ? field.value_.Mark() : field.key_mark_) {}

SourceMark Section::mark() const { return sourceMark(mark_, reader_->file_); }

const Field* Section::find(std::string_view key) const {
  for (const Field& field : fields_) {
    if (field.key_ == key) return &field;
  }
  return nullptr;
}

std::string Section::childPath(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

std::string Section::place() const {
  if (!path_.empty()) return " in " + path_;
  return reader_->root_place_.empty() ? "" : " " + reader_->root_place_;
}

// yaml-cpp keeps both entries of a duplicated key, and a lookup would silently pick one, so the
// map becomes a list of fields in document order once its keys are checked.
MaybeError Section::open(const Field& field, std::optional<KeyList> known) {
  fields_.clear();
  if (field.value_.IsNull()) return std::nullopt;
  if (!field.value_.IsMap()) {
    return field.error("expected a map, got " + describeValue(field.value_));
  }
  for (const auto& entry : field.value_) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar() || key.Scalar().empty()) {
      return reader_->errorAt(key.Mark(), "expected a name as key" + place() + ", got " +
                                              (key.IsScalar() ? "''" : describeValue(key)));
    }
    if (const Field* first = find(key.Scalar())) {
      return reader_->errorAt(key.Mark(), "duplicate key '" + key.Scalar() + "'" + place() +
                                              " (first at line " +
                                              std::to_string(first->key_mark_.line + 1) + ")");
    }
    fields_.push_back(
        Field(reader_, childPath(key.Scalar()), key.Scalar(), entry.second, key.Mark()));
  }
  if (!known) return std::nullopt;
  // A misspelled key is an error, never silently ignored.
  for (const Field& entry : fields_) {
    if (contains(*known, entry.key_)) continue;
    std::string hint = suggestion(entry.key_, *known);
    if (hint.empty() && reader_->list_known_keys_) hint = " (known: " + join(*known) + ")";
    return reader_->errorAt(entry.key_mark_, "unknown key '" + entry.key_ + "'" + place() + hint);
  }
  return std::nullopt;
}

void Section::apply(std::string_view key,
                    const std::function<std::optional<ConfigError>(const Field&)>& read) const {
  if (reader_->failed()) return;
  const Field* field = find(key);
  if (field == nullptr) return;
  if (MaybeError error = read(*field)) reader_->fail(*std::move(error));
}

void Section::require(std::string_view key) const {
  if (reader_->failed() || has(key)) return;
  const std::string message = "missing required key '" + std::string(key) + "'";
  reader_->fail(reader_->errorAt(mark_, path_.empty() ? message : path_ + ": " + message));
}

void Section::string(std::string_view key, std::string* out) const {
  apply(key, [&](const Field& field) { return parseString(field, out); });
}

void Section::nonEmptyString(std::string_view key, std::string* out) const {
  parsed(key, [&](const Field& field, const std::string& text) -> MaybeError {
    if (text.empty()) return field.error("must not be empty");
    *out = text;
    return std::nullopt;
  });
}

void Section::choice(std::string_view key, KeyList allowed, std::string* out) const {
  parsed(key, [&](const Field& field, const std::string& text) -> MaybeError {
    if (!contains(allowed, text)) {
      return field.error("expected one of " + join(allowed) + ", got " + quoteValue(text));
    }
    *out = text;
    return std::nullopt;
  });
}

void Section::boolean(std::string_view key, bool* out) const {
  apply(key, [&](const Field& field) { return parseBool(field, out); });
}

bool Section::readUnsigned(std::string_view key, uint64_t min, uint64_t max, uint64_t* out) const {
  bool read = false;
  apply(key, [&](const Field& field) {
    MaybeError error = parseInteger(field, min, max, out);
    read = !error;
    return error;
  });
  return read;
}

void Section::number(std::string_view key, double min, double max, double* out) const {
  apply(key, [&](const Field& field) { return parseNumber(field, min, max, out); });
}

void Section::byteSize(std::string_view key, std::size_t* out) const {
  apply(key, [&](const Field& field) { return parseByteSize(field, out); });
}

void Section::millis(std::string_view key, Millis* out, Millis min, Millis max) const {
  uint64_t count = 0;
  if (readUnsigned(key, millisecondCount(min), millisecondCount(max), &count)) {
    *out = Millis(count);
  }
}

void Section::strings(std::string_view key, std::vector<std::string>* out) const {
  if (reader_->failed() || !has(key)) return;
  std::vector<std::string> values;
  for (const Field& item : items(key, "strings")) {
    std::string value;
    if (MaybeError error = parseString(item, &value)) {
      reader_->fail(*std::move(error));
      return;
    }
    values.push_back(std::move(value));
  }
  if (!reader_->failed()) *out = std::move(values);
}

void Section::parsed(std::string_view key, const StringCheck& check) const {
  apply(key, [&](const Field& field) -> MaybeError {
    std::string text;
    if (MaybeError error = parseString(field, &text)) return error;
    return check(field, text);
  });
}

Section Section::section(std::string_view key, KeyList known) const {
  const Field* field = find(key);
  if (field == nullptr) {
    // Absent: no fields, and a require() in it points at this section.
    return Section(reader_, Field(reader_, childPath(key), std::string(key), YAML::Node(), mark_));
  }
  Section nested(reader_, *field);
  if (reader_->failed()) return nested;
  if (MaybeError error = nested.open(*field, known)) {
    reader_->fail(*std::move(error));
    nested.fields_.clear();
  }
  return nested;
}

std::vector<Section> Section::sectionMap(std::string_view key, KeyList known) const {
  const Field* field = find(key);
  if (reader_->failed() || field == nullptr) return {};
  Section names(reader_, *field);
  if (MaybeError error = names.open(*field, std::nullopt)) {
    reader_->fail(*std::move(error));
    return {};
  }
  return openEach(names.fields_, known);
}

std::vector<Section> Section::sectionList(std::string_view key, KeyList known) const {
  return openEach(items(key, "maps"), known);
}

std::vector<Section> Section::openEach(const std::vector<Field>& fields, KeyList known) const {
  std::vector<Section> sections;
  for (const Field& item : fields) {
    Section entry(reader_, item);
    if (MaybeError error = entry.open(item, known)) {
      reader_->fail(*std::move(error));
      return {};
    }
    sections.push_back(std::move(entry));
  }
  return sections;
}

std::vector<Field> Section::items(std::string_view key, std::string_view noun) const {
  const Field* field = find(key);
  if (reader_->failed() || field == nullptr || field->value_.IsNull()) return {};
  if (!field->value_.IsSequence()) {
    reader_->fail(field->error("expected a list of " + std::string(noun) + ", got " +
                               describeValue(field->value_)));
    return {};
  }
  std::vector<Field> list;
  for (const YAML::Node& item : field->value_) {
    list.push_back(Field(reader_, field->path_ + "[" + std::to_string(list.size()) + "]", "", item,
                         YAML::Mark::null_mark()));
  }
  return list;
}

// SettingsReader

SettingsReader::SettingsReader(const FilterSpec& spec)
    : document_(spec.settings.IsDefined() ? spec.settings : YAML::Node()),
      document_mark_(yamlMark(spec.mark)),
      file_(spec.mark.file),
      message_prefix_(spec.name + ": "),
      root_place_(""),
      list_known_keys_(true) {}

SettingsReader::SettingsReader(YAML::Node document, std::string file)
    : document_(document),
      document_mark_(YAML::Mark::null_mark()),
      file_(std::move(file)),
      message_prefix_(""),
      root_place_("at the top level"),
      list_known_keys_(false) {}

Section SettingsReader::root(KeyList known) {
  const Field field(this, "", "", document_, document_mark_);
  Section section(this, field);
  if (failed()) return section;
  if (MaybeError error = section.open(field, known)) {
    fail(*std::move(error));
    section.fields_.clear();
  }
  return section;
}

void SettingsReader::fail(ConfigError error) {
  if (!error_) error_ = std::move(error);
}

ConfigError SettingsReader::errorAt(const YAML::Mark& mark, const std::string& message) const {
  return {.where = sourceMark(mark, file_), .message = message_prefix_ + message};
}

}  // namespace costgate::config
