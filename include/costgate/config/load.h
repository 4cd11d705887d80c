#pragma once
// Reads YAML into a GatewayConfig. Every problem is reported with file, line and column.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "costgate/config/config.h"
#include "costgate/error.h"

namespace costgate::config {

struct ConfigError {
  SourceMark where;
  std::string message;
  // "file:line:column: message", the form editors and compilers use.
  std::string describe() const;
};

using LoadResult = std::variant<GatewayConfig, ConfigError>;

// Looks up one environment variable; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Parses `text` as if read from `file_name`. `getenv` resolves ${VAR} and ${VAR:-default}; it is
// the only outside state parse() reads besides the files a backend's ca_file names.
LoadResult parse(const std::string& text, const std::string& file_name, const EnvLookup& getenv);

// Reads the file and parses it with the process environment.
LoadResult loadFile(const std::string& path);

// "file:line:column", leaving out the parts that are unknown.
std::string formatMark(const SourceMark& mark);

// The outcome of expanding one string: `text` is valid when `error` is empty.
// Expands ${VAR} and ${VAR:-default} in one scalar: the text, or why it cannot be expanded. As in
// the shell, the default is used when VAR is unset or empty, and ${VAR} alone is an error only
// when VAR is unset. "$${" stands for a literal "${"; any other '$' is kept as written.
std::variant<std::string, Error> expandEnvironment(std::string_view text, const EnvLookup& getenv);

// Letters, digits and '_', not starting with a digit: the names ${...} accepts.
bool isEnvironmentVariableName(std::string_view name);

}  // namespace costgate::config
