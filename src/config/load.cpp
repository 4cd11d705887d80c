// YAML -> GatewayConfig in three passes: check the document's structure (every key known and
// unique), substitute ${VAR} references in place, then read typed values. Substitution comes
// after the structure check because a backend switched off by `enable_if_env` is left out of it.

#include "costgate/config/load.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace costgate::config {
namespace {

// No value means success; an error is returned, never thrown.
using MaybeError = std::optional<ConfigError>;
using Keys = std::span<const std::string_view>;

constexpr std::string_view kTopKeys[] = {"server",  "backends",   "models",
                                         "filters", "access_log", "log_level"};
constexpr std::string_view kServerKeys[] = {
    "listen",          "threads",        "max_body_bytes", "max_header_bytes", "header_timeout_ms",
    "body_timeout_ms", "idle_timeout_ms"};
constexpr std::string_view kBackendKeys[] = {"url",
                                             "api_key",
                                             "ca_file",
                                             "verify_tls",
                                             "connect_timeout_ms",
                                             "read_timeout_ms",
                                             "max_idle_connections",
                                             "enable_if_env"};
constexpr std::string_view kModelKeys[] = {"backend", "backend_model", "owned_by"};
constexpr std::string_view kAccessLogKeys[] = {"path"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};

constexpr uint64_t kMaxThreads = 1024;
// Longer than a day is a unit mistake, and the cap keeps deadline arithmetic far from overflow.
constexpr uint64_t kMaxTimeoutMs = 24 * 60 * 60 * 1000;
// More idle sockets per worker than a process usually has file descriptors is a mistake.
constexpr uint64_t kMaxIdleConnections = 65'536;
constexpr uint64_t kMaxPort = 65'535;
// Aliases can make a small file describe a huge or cyclic tree ("billion laughs", `&a [*a]`);
// these bound the walks over it, here and in every filter that reads its settings later.
constexpr std::size_t kMaxNodes = 100'000;
constexpr int kMaxDepth = 64;
// Values are quoted in messages; a long one is cut so the message stays one readable line.
constexpr std::size_t kMaxQuoted = 60;

SourceMark sourceMark(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return {.file = file, .line = 0, .column = 0};
  return {.file = file, .line = mark.line + 1, .column = mark.column + 1};
}

// The file name is added by parse(), once for every error.
ConfigError errorAt(const YAML::Mark& mark, std::string message) {
  return {.where = sourceMark({}, mark), .message = std::move(message)};
}

std::string quote(std::string_view text) {
  if (text.size() <= kMaxQuoted) return "'" + std::string(text) + "'";
  return "'" + std::string(text.substr(0, kMaxQuoted)) + "...'";
}

// How a value looks, for "expected X, got Y".
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

bool contains(Keys keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string join(Keys words) {
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
std::string suggestion(std::string_view key, Keys known) {
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

// One value of the document and the dotted path that names it in messages.
struct Field {
  std::string path;  // e.g. "server.threads"; empty for the document itself
  std::string key;
  YAML::Node value;
  YAML::Mark key_mark = YAML::Mark::null_mark();

  // yaml-cpp places an empty value at the token after it, often on the next line, so errors about
  // an empty value point at its key instead.
  YAML::Mark mark() const {
    return value.IsNull() && !key_mark.is_null() ? key_mark : value.Mark();
  }

  ConfigError error(const std::string& message) const {
    return errorAt(mark(), path.empty() ? message : path + ": " + message);
  }
};

// A YAML map whose keys are plain and unique, as a list in document order. yaml-cpp keeps both
// entries of a duplicated key, and a lookup would silently pick one.
struct Section {
  std::string path;
  YAML::Node node;
  YAML::Mark mark;  // of the key naming the section, for "missing key" errors
  std::vector<Field> fields;

  const Field* find(std::string_view key) const {
    for (const Field& field : fields) {
      if (field.key == key) return &field;
    }
    return nullptr;
  }

  std::string where() const { return path.empty() ? "at the top level" : "in " + path; }
};

MaybeError openMap(const Field& field, Section* out) {
  out->path = field.path;
  out->node = field.value;
  out->mark = field.key_mark.is_null() ? field.value.Mark() : field.key_mark;
  out->fields.clear();
  if (field.value.IsNull()) return std::nullopt;
  if (!field.value.IsMap()) return field.error("expected a map, got " + describe(field.value));
  for (const auto& entry : field.value) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar() || key.Scalar().empty()) {
      return errorAt(key.Mark(), "expected a name as key " + out->where() + ", got " +
                                     (key.IsScalar() ? "''" : describe(key)));
    }
    if (const Field* first = out->find(key.Scalar())) {
      return errorAt(key.Mark(), "duplicate key '" + key.Scalar() + "' " + out->where() +
                                     " (first at line " + std::to_string(first->key_mark.line + 1) +
                                     ")");
    }
    const std::string path = field.path.empty() ? key.Scalar() : field.path + "." + key.Scalar();
    out->fields.push_back(
        {.path = path, .key = key.Scalar(), .value = entry.second, .key_mark = key.Mark()});
  }
  return std::nullopt;
}

// A map with a fixed set of keys: a misspelled key is an error, never silently ignored.
MaybeError openSection(const Field& field, Keys known, Section* out) {
  if (auto error = openMap(field, out)) return error;
  for (const Field& entry : out->fields) {
    if (!contains(known, entry.key)) {
      return errorAt(entry.key_mark, "unknown key '" + entry.key + "' " + out->where() +
                                         suggestion(entry.key, known));
    }
  }
  return std::nullopt;
}

// One item of a map of names such as `backends`, its settings checked against a fixed key set.
struct Entry {
  std::string name;
  Section section;
};

MaybeError openEntries(const Field* field, Keys known, std::vector<Entry>* out) {
  if (field == nullptr) return std::nullopt;
  Section names;
  if (auto error = openMap(*field, &names)) return error;
  for (const Field& item : names.fields) {
    Entry entry{.name = item.key, .section = {}};
    if (auto error = openSection(item, known, &entry.section)) return error;
    out->push_back(std::move(entry));
  }
  return std::nullopt;
}

// The one reader of each scalar type.

MaybeError parseString(const Field& field, std::string* out) {
  if (field.value.IsNull()) {
    out->clear();
    return std::nullopt;
  }
  if (!field.value.IsScalar()) {
    return field.error("expected a string, got " + describe(field.value));
  }
  *out = field.value.Scalar();
  return std::nullopt;
}

MaybeError parseBool(const Field& field, bool* out) {
  // Only the YAML 1.2 spellings: YAML 1.1 tools read yes/no/on/off as booleans and 1.2 tools as
  // strings, so a file using them means different things to different readers.
  constexpr std::string_view kTrue[] = {"true", "True", "TRUE"};
  constexpr std::string_view kFalse[] = {"false", "False", "FALSE"};
  const std::string text = field.value.IsScalar() ? field.value.Scalar() : "";
  if (contains(kTrue, text) || contains(kFalse, text)) {
    *out = contains(kTrue, text);
    return std::nullopt;
  }
  return field.error("expected true or false, got " + describe(field.value));
}

bool isDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Plain decimal digits only: YAML's other integer spellings (0x1F, +5, 1_000) are rejected rather
// than guessed at. Returns nullopt on overflow too.
std::optional<uint64_t> parseDigits(std::string_view text) {
  uint64_t value = 0;
  if (!isDigits(text)) return std::nullopt;
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (status != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

MaybeError parseInteger(const Field& field, uint64_t min, uint64_t max, uint64_t* out) {
  const std::string text = field.value.IsScalar() ? field.value.Scalar() : "";
  if (!isDigits(text)) {
    return field.error("expected a non-negative integer, got " + describe(field.value));
  }
  const std::optional<uint64_t> value = parseDigits(text);
  if (!value || *value < min || *value > max) {
    return field.error("must be between " + std::to_string(min) + " and " + std::to_string(max) +
                       ", got " + quote(text));
  }
  *out = *value;
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
  const std::string text = field.value.IsScalar() ? field.value.Scalar() : "";
  const std::size_t digits = std::min(text.find_first_not_of("0123456789"), text.size());
  std::string_view unit = std::string_view(text).substr(digits);
  unit.remove_prefix(std::min(unit.find_first_not_of(' '), unit.size()));
  const auto found = std::find_if(std::begin(kUnits), std::end(kUnits),
                                  [&](const Unit& known) { return known.name == unit; });
  if (digits == 0 || found == std::end(kUnits)) {
    return field.error(
        "expected a size in bytes such as 4194304 or 4MiB (units: KiB, MiB, GiB), got " +
        describe(field.value));
  }
  const std::optional<uint64_t> count = parseDigits(std::string_view(text).substr(0, digits));
  constexpr uint64_t kMaxBytes = std::numeric_limits<std::size_t>::max();
  if (!count || *count > kMaxBytes / found->bytes) {
    return field.error("is too large: " + quote(text));
  }
  if (*count == 0) return field.error("must be at least 1 byte, got " + quote(text));
  *out = static_cast<std::size_t>(*count * found->bytes);
  return std::nullopt;
}

// Reads the keys of one section into typed destinations; an absent key leaves its destination at
// the default. After the first error every read is skipped and error() reports it, so a section
// reads as a flat list of its keys.
class ValueReader {
 public:
  explicit ValueReader(const Section& section) : section_(section) {}

  void require(std::string_view key) {
    if (error_ || section_.find(key) != nullptr) return;
    const std::string message = "missing required key '" + std::string(key) + "'";
    error_ =
        errorAt(section_.mark, section_.path.empty() ? message : section_.path + ": " + message);
  }

  void string(std::string_view key, std::string* out) {
    apply(key, [&](const Field& field) { return parseString(field, out); });
  }

  // A string that may not be empty.
  void name(std::string_view key, std::string* out) {
    parsed(key, [&](const Field& field, const std::string& text) -> MaybeError {
      if (text.empty()) return field.error("must not be empty");
      *out = text;
      return std::nullopt;
    });
  }

  void boolean(std::string_view key, bool* out) {
    apply(key, [&](const Field& field) { return parseBool(field, out); });
  }

  template <typename T>
  void integer(std::string_view key, uint64_t min, uint64_t max, T* out) {
    apply(key, [&](const Field& field) {
      uint64_t value = 0;
      MaybeError error = parseInteger(field, min, max, &value);
      if (!error) *out = static_cast<T>(value);
      return error;
    });
  }

  void byteSize(std::string_view key, std::size_t* out) {
    apply(key, [&](const Field& field) { return parseByteSize(field, out); });
  }

  void millis(std::string_view key, Millis* out) {
    apply(key, [&](const Field& field) {
      uint64_t count = 0;
      MaybeError error = parseInteger(field, 1, kMaxTimeoutMs, &count);
      if (!error) *out = Millis(count);
      return error;
    });
  }

  // Reads the value as a string and hands it to `interpret`, for values with a syntax of their
  // own such as URLs.
  void parsed(std::string_view key,
              const std::function<MaybeError(const Field&, const std::string&)>& interpret) {
    apply(key, [&](const Field& field) {
      std::string text;
      if (auto error = parseString(field, &text)) return error;
      return interpret(field, text);
    });
  }

  MaybeError error() const { return error_; }

 private:
  template <typename Read>
  void apply(std::string_view key, Read read) {
    if (error_) return;
    if (const Field* field = section_.find(key)) error_ = read(*field);
  }

  const Section& section_;
  MaybeError error_;
};

// Addresses.

bool isHostCharacter(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == ':' || c == '%';
}

// Splits "host", "host:port" or "[v6 address]:port", dropping the brackets. Returns why the text
// is not one of those, or nothing.
std::optional<std::string> splitAuthority(std::string_view text, std::string* host,
                                          std::optional<uint16_t>* port) {
  std::string_view rest;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return "missing ']' after the IPv6 address";
    *host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
  } else {
    const std::size_t colon = text.find(':');
    *host = text.substr(0, colon);
    rest = colon == std::string_view::npos ? "" : text.substr(colon);
    if (rest.find(':', 1) != std::string_view::npos) {
      return "an IPv6 address needs brackets, e.g. [::1]:8080";
    }
  }
  if (host->empty()) return "the host is missing";
  if (!std::all_of(host->begin(), host->end(), isHostCharacter)) return "invalid host";
  port->reset();
  if (rest.empty()) return std::nullopt;
  if (!rest.starts_with(':')) return "unexpected text after the host";
  const std::optional<uint64_t> number = parseDigits(rest.substr(1));
  if (!number || *number > kMaxPort) return "the port must be a number from 0 to 65535";
  *port = static_cast<uint16_t>(*number);
  return std::nullopt;
}

MaybeError parseListen(const Field& field, const std::string& text, ServerConfig* server) {
  std::string host;
  std::optional<uint16_t> port;
  std::optional<std::string> problem = splitAuthority(text, &host, &port);
  if (!problem && !port) problem = "the port is missing";
  if (problem) {
    return field.error("expected host:port such as 127.0.0.1:8080 or [::1]:8080, got " +
                       quote(text) + " (" + *problem + ")");
  }
  server->host = host;
  server->port = *port;
  return std::nullopt;
}

std::optional<std::string> splitUrl(std::string_view text, BackendConfig* backend) {
  const std::size_t separator = text.find("://");
  if (separator == std::string_view::npos) return "the scheme is missing";
  std::string scheme(text.substr(0, separator));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (scheme != "http" && scheme != "https") return "the scheme must be http or https";
  const std::string_view rest = text.substr(separator + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return "a query or fragment is not supported";
  }
  const bool has_space = std::any_of(
      rest.begin(), rest.end(), [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); });
  if (has_space) return "it contains a space or control character";
  const std::size_t slash = rest.find('/');
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  std::optional<uint16_t> port;
  if (auto problem = splitAuthority(rest.substr(0, slash), &backend->host, &port)) return problem;
  if (port == 0) return "the port must be a number from 1 to 65535";
  while (path.ends_with('/')) path.remove_suffix(1);
  backend->port = port.value_or(scheme == "https" ? 443 : 80);
  backend->scheme = std::move(scheme);
  backend->base_path = std::string(path);
  return std::nullopt;
}

MaybeError parseUrl(const Field& field, const std::string& text, BackendConfig* backend) {
  // Credentials would end up quoted in the message and in logs, so the URL is not repeated.
  const std::size_t scheme_end = text.find("://");
  const std::size_t authority = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  if (text.substr(authority, text.find('/', authority) - authority).find('@') !=
      std::string::npos) {
    return field.error("the URL must not contain credentials; put the key in api_key");
  }
  if (auto problem = splitUrl(text, backend)) {
    return field.error("expected a URL such as https://api.openai.com/v1, got " + quote(text) +
                       " (" + *problem + ")");
  }
  return std::nullopt;
}

MaybeError checkReadableFile(const Field& field, const std::string& path) {
  std::error_code status_error;
  const std::filesystem::file_status status = std::filesystem::status(path, status_error);
  if (status_error) return field.error("cannot read '" + path + "': " + status_error.message());
  if (!std::filesystem::is_regular_file(status)) {
    return field.error("'" + path + "' is not a regular file");
  }
  if (!std::ifstream(path)) return field.error("cannot open '" + path + "' for reading");
  return std::nullopt;
}

// Expands ${...} in every scalar under a root, except in the subtrees of backends switched off by
// `enable_if_env` and of their models: the variables those use may be unset on purpose.
class Substitution {
 public:
  Substitution(const EnvLookup& getenv, std::vector<YAML::Node> skipped)
      : getenv_(getenv), skipped_(std::move(skipped)) {}

  MaybeError run(const YAML::Node& root) {
    if (auto error = collect(root, 0)) return error;
    // Every value is expanded from its original text before any node changes: an aliased scalar
    // is reached once per alias, and rewriting it at the first visit would expand it twice. The
    // assignment keeps the node's Mark, which filters use for their own errors.
    for (auto& [node, text] : rewrites_) node = text;
    return std::nullopt;
  }

 private:
  MaybeError collect(const YAML::Node& node, int depth) {
    if (++visited_ > kMaxNodes) {
      return errorAt(node.Mark(), "the document has more than " + std::to_string(kMaxNodes) +
                                      " values once aliases are expanded");
    }
    if (depth > kMaxDepth) {
      return errorAt(node.Mark(), "nested more than " + std::to_string(kMaxDepth) +
                                      " levels deep (does an alias refer to itself?)");
    }
    if (isSkipped(node)) return std::nullopt;
    if (node.IsScalar()) return expand(node);
    if (node.IsSequence()) {
      for (const YAML::Node& item : node) {
        if (auto error = collect(item, depth + 1)) return error;
      }
    }
    if (node.IsMap()) {
      for (const auto& entry : node) {
        if (auto error = collect(entry.second, depth + 1)) return error;
      }
    }
    return std::nullopt;
  }

  MaybeError expand(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    if (text.find('$') == std::string::npos) return std::nullopt;
    Expansion expansion = expandEnvironment(text, getenv_);
    if (!expansion.error.empty()) return errorAt(node.Mark(), expansion.error);
    if (expansion.text != text) rewrites_.emplace_back(node, std::move(expansion.text));
    return std::nullopt;
  }

  bool isSkipped(const YAML::Node& node) const {
    return std::any_of(skipped_.begin(), skipped_.end(),
                       [&](const YAML::Node& skipped) { return skipped.is(node); });
  }

  const EnvLookup& getenv_;
  std::vector<YAML::Node> skipped_;
  std::vector<std::pair<YAML::Node, std::string>> rewrites_;
  std::size_t visited_ = 0;
};

class Loader {
 public:
  Loader(const std::string& file, const EnvLookup& getenv) : file_(file), getenv_(getenv) {}

  MaybeError load(const YAML::Node& root, GatewayConfig* config) {
    Section top;
    if (auto error = openSection({.path = "", .key = "", .value = root}, kTopKeys, &top)) {
      return error;
    }
    std::vector<Entry> backends;
    std::vector<Entry> models;
    if (auto error = openEntries(top.find("backends"), kBackendKeys, &backends)) return error;
    if (auto error = openEntries(top.find("models"), kModelKeys, &models)) return error;
    if (auto error = findSkippedBackends(backends, &config->notices)) return error;
    if (auto error = Substitution(getenv_, skippedSubtrees(backends, models)).run(root)) {
      return error;
    }
    if (auto error = readServer(top.find("server"), &config->server)) return error;
    if (auto error = readBackends(backends, &config->backends)) return error;
    if (auto error = readModels(top.find("models"), models, config)) return error;
    if (auto error = readFilters(top.find("filters"), &config->filters)) return error;
    if (auto error = readAccessLog(top.find("access_log"), &config->access_log)) return error;
    ValueReader in(top);
    in.parsed("log_level", [&](const Field& field, const std::string& level) -> MaybeError {
      if (!contains(kLogLevels, level)) {
        return field.error("expected one of " + join(kLogLevels) + ", got " + quote(level));
      }
      config->log_level = level;
      return std::nullopt;
    });
    return in.error();
  }

 private:
  std::string location(const YAML::Mark& mark) const { return formatMark(sourceMark(file_, mark)); }

  MaybeError findSkippedBackends(const std::vector<Entry>& backends,
                                 std::vector<std::string>* notices) {
    for (const Entry& backend : backends) {
      std::string variable;
      ValueReader in(backend.section);
      in.parsed("enable_if_env", [&](const Field& field, const std::string& name) -> MaybeError {
        if (!isEnvironmentVariableName(name)) {
          return field.error("expected the name of an environment variable, got " + quote(name));
        }
        variable = name;
        return std::nullopt;
      });
      if (auto error = in.error()) return error;
      if (variable.empty()) continue;
      const std::optional<std::string> value = getenv_(variable);
      if (value && !value->empty()) continue;
      skipped_backends_.insert(backend.name);
      notices->push_back("backend '" + backend.name + "' skipped: " + variable +
                         (value ? " is empty" : " is not set") + " (" +
                         location(backend.section.mark) + ")");
    }
    return std::nullopt;
  }

  // Judged on the text as written: a model whose `backend` is itself a ${...} reference is
  // substituted, and skipped afterwards if it turns out to name a skipped backend.
  std::vector<YAML::Node> skippedSubtrees(const std::vector<Entry>& backends,
                                          const std::vector<Entry>& models) const {
    std::vector<YAML::Node> subtrees;
    for (const Entry& backend : backends) {
      if (skipped_backends_.contains(backend.name)) subtrees.push_back(backend.section.node);
    }
    for (const Entry& model : models) {
      const Field* backend = model.section.find("backend");
      if (backend != nullptr && backend->value.IsScalar() &&
          skipped_backends_.contains(backend->value.Scalar())) {
        subtrees.push_back(model.section.node);
      }
    }
    return subtrees;
  }

  MaybeError readServer(const Field* field, ServerConfig* server) const {
    if (field == nullptr) return std::nullopt;
    Section section;
    if (auto error = openSection(*field, kServerKeys, &section)) return error;
    ValueReader in(section);
    in.parsed("listen", [&](const Field& listen, const std::string& text) {
      return parseListen(listen, text, server);
    });
    in.integer("threads", 0, kMaxThreads, &server->threads);
    in.byteSize("max_body_bytes", &server->max_body_bytes);
    in.byteSize("max_header_bytes", &server->max_header_bytes);
    in.millis("header_timeout_ms", &server->header_timeout);
    in.millis("body_timeout_ms", &server->body_timeout);
    in.millis("idle_timeout_ms", &server->idle_timeout);
    return in.error();
  }

  MaybeError readBackends(const std::vector<Entry>& entries,
                          std::map<std::string, BackendConfig>* backends) const {
    for (const Entry& entry : entries) {
      if (skipped_backends_.contains(entry.name)) continue;
      BackendConfig backend;
      backend.name = entry.name;
      backend.mark = sourceMark(file_, entry.section.mark);
      if (auto error = readBackend(entry.section, &backend)) return error;
      backends->emplace(entry.name, std::move(backend));
    }
    return std::nullopt;
  }

  static MaybeError readBackend(const Section& section, BackendConfig* backend) {
    ValueReader in(section);
    in.require("url");
    in.parsed("url", [&](const Field& field, const std::string& text) {
      return parseUrl(field, text, backend);
    });
    in.parsed("api_key", [&](const Field& field, const std::string& key) -> MaybeError {
      // The key goes into a header, where a stray newline would split it.
      if (std::any_of(key.begin(), key.end(), [](unsigned char c) { return std::iscntrl(c); })) {
        return field.error("contains a control character (a trailing newline?)");
      }
      backend->api_key = key;
      return std::nullopt;
    });
    in.parsed("ca_file", [&](const Field& field, const std::string& path) -> MaybeError {
      if (path.empty()) return std::nullopt;
      if (auto error = checkReadableFile(field, path)) return error;
      backend->ca_file = path;
      return std::nullopt;
    });
    in.boolean("verify_tls", &backend->verify_tls);
    in.millis("connect_timeout_ms", &backend->connect_timeout);
    in.millis("read_timeout_ms", &backend->read_timeout);
    in.integer("max_idle_connections", 0, kMaxIdleConnections, &backend->max_idle_connections);
    return in.error();
  }

  MaybeError readModels(const Field* field, const std::vector<Entry>& entries,
                        GatewayConfig* config) const {
    std::size_t skipped = 0;
    for (const Entry& entry : entries) {
      ModelRoute route;
      route.name = entry.name;
      route.backend_model = entry.name;
      route.mark = sourceMark(file_, entry.section.mark);
      ValueReader in(entry.section);
      in.require("backend");
      in.parsed("backend", [&](const Field& backend, const std::string& name) -> MaybeError {
        route.backend = name;
        if (skipped_backends_.contains(name) || config->backends.contains(name)) {
          return std::nullopt;
        }
        return backend.error("no backend named " + quote(name) + definedBackends(*config));
      });
      if (auto error = in.error()) return error;
      if (skipped_backends_.contains(route.backend)) {
        ++skipped;
        config->notices.push_back("model '" + entry.name + "' skipped: its backend '" +
                                  route.backend + "' is skipped (" + location(entry.section.mark) +
                                  ")");
        continue;
      }
      in.name("backend_model", &route.backend_model);
      in.name("owned_by", &route.owned_by);
      if (auto error = in.error()) return error;
      config->models.emplace(entry.name, std::move(route));
    }
    if (!config->models.empty()) return std::nullopt;
    std::string message = "no models configured";
    if (skipped > 0) {
      message += " (" + std::to_string(skipped) + " skipped with their backends)";
    }
    return errorAt(field != nullptr ? field->key_mark : YAML::Mark::null_mark(), message);
  }

  static std::string definedBackends(const GatewayConfig& config) {
    if (config.backends.empty()) return " (no backends are defined)";
    std::string names;
    for (const auto& [name, backend] : config.backends) names += (names.empty() ? "" : ", ") + name;
    return " (defined: " + names + ")";
  }

  MaybeError readFilters(const Field* field, std::vector<FilterSpec>* filters) const {
    if (field == nullptr || field->value.IsNull()) return std::nullopt;
    if (!field->value.IsSequence()) {
      return field->error("expected a list of filters, got " + describe(field->value));
    }
    std::size_t index = 0;
    for (const YAML::Node& item : field->value) {
      const Field entry{
          .path = "filters[" + std::to_string(index++) + "]", .key = "", .value = item};
      FilterSpec spec{.name = "", .settings = YAML::Node(), .mark = sourceMark(file_, item.Mark())};
      if (auto error = readFilter(entry, &spec)) return error;
      filters->push_back(std::move(spec));
    }
    return std::nullopt;
  }

  // A filter is written as its name, or as a map with its name as the only key and its settings
  // as the value.
  static MaybeError readFilter(const Field& entry, FilterSpec* spec) {
    const YAML::Node& item = entry.value;
    if (item.IsScalar() && !item.Scalar().empty()) {
      spec->name = item.Scalar();
      return std::nullopt;
    }
    if (item.IsMap() && item.size() == 1 && item.begin()->first.IsScalar() &&
        !item.begin()->first.Scalar().empty()) {
      spec->name = item.begin()->first.Scalar();
      spec->settings = item.begin()->second;
      return std::nullopt;
    }
    std::string message = "expected a filter name, or a map with the name as its only key";
    if (item.IsMap() && item.size() > 1) {
      // The usual cause: settings written at the name's indentation instead of under it.
      message += ", got a map with " + std::to_string(item.size()) +
                 " keys (are the settings indented under the filter name?)";
    } else {
      message += ", got " + describe(item);
    }
    return entry.error(message);
  }

  static MaybeError readAccessLog(const Field* field, AccessLogConfig* access_log) {
    if (field == nullptr) return std::nullopt;
    Section section;
    if (auto error = openSection(*field, kAccessLogKeys, &section)) return error;
    ValueReader in(section);
    in.string("path", &access_log->path);
    return in.error();
  }

  const std::string& file_;
  const EnvLookup& getenv_;
  std::set<std::string, std::less<>> skipped_backends_;
};

// LoadAll rather than Load: Load reads the first document and drops any after it without a word.
MaybeError readDocument(const std::string& text, YAML::Node* root) {
  const std::vector<YAML::Node> documents = YAML::LoadAll(text);
  if (documents.size() > 1) {
    return errorAt(documents[1].Mark(),
                   "expected one YAML document, found " + std::to_string(documents.size()));
  }
  *root = documents.empty() ? YAML::Node() : documents.front();
  return std::nullopt;
}

std::optional<std::string> readWholeFile(const std::string& path, std::string* text) {
  std::error_code status_error;
  if (std::filesystem::is_directory(path, status_error)) return "cannot read: it is a directory";
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read: " + std::generic_category().message(errno);
  text->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return "cannot read: " + std::generic_category().message(errno);
  return std::nullopt;
}

}  // namespace

std::string formatMark(const SourceMark& mark) {
  std::string out = mark.file;
  if (mark.line > 0) {
    out += (out.empty() ? "" : ":") + std::to_string(mark.line);
    if (mark.column > 0) out += ":" + std::to_string(mark.column);
  }
  return out;
}

std::string ConfigError::describe() const {
  const std::string location = formatMark(where);
  return location.empty() ? message : location + ": " + message;
}

LoadResult parse(const std::string& text, const std::string& file_name, const EnvLookup& getenv) {
  GatewayConfig config;
  MaybeError error;
  // yaml-cpp reports syntax errors by throwing; they become values here. Nothing else is expected
  // to throw, but a configuration error must never take the process down from a reload.
  try {
    YAML::Node root;
    error = readDocument(text, &root);
    if (!error) error = Loader(file_name, getenv).load(root, &config);
  } catch (const YAML::Exception& exception) {
    error = errorAt(exception.mark, exception.msg);
  } catch (const std::exception& exception) {
    error = errorAt(YAML::Mark::null_mark(), std::string("internal error: ") + exception.what());
  }
  if (error) {
    error->where.file = file_name;
    return *std::move(error);
  }
  config.source_file = file_name;
  return config;
}

LoadResult loadFile(const std::string& path) {
  std::string text;
  if (auto problem = readWholeFile(path, &text)) {
    ConfigError error;
    error.where.file = path;
    error.message = *problem;
    return error;
  }
  return parse(text, path, [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
}

}  // namespace costgate::config
