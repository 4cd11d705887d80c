// ${VAR} references in configuration values.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "costgate/config/load.h"

namespace costgate::config {
namespace {

constexpr std::string_view kEscape = "$${";
constexpr std::string_view kOpen = "${";
constexpr std::string_view kDefaultSeparator = ":-";

// Error messages quote the offending reference; a runaway one (a missing '}') would otherwise
// quote the rest of the value, which may be a secret.
constexpr std::size_t kMaxQuoted = 40;

bool isAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string quoted(std::string_view text) {
  if (text.size() <= kMaxQuoted) return "'" + std::string(text) + "'";
  return "'" + std::string(text.substr(0, kMaxQuoted)) + "...'";
}

// The value of the inside of one ${...}, or why it has none.
std::variant<std::string, Error> resolve(std::string_view body, const EnvLookup& getenv) {
  const std::string reference = "${" + std::string(body) + "}";
  const std::size_t separator = body.find(kDefaultSeparator);
  const std::string_view name = body.substr(0, separator);
  if (!isEnvironmentVariableName(name)) {
    return Error{"malformed reference " + quoted(reference) +
                 ": expected ${NAME} or ${NAME:-default}, where NAME is letters, digits and '_' "
                 "and does not start with a digit"};
  }
  std::optional<std::string_view> fallback;
  if (separator != std::string_view::npos) {
    fallback = body.substr(separator + kDefaultSeparator.size());
    // The reference ends at the first '}', so a nested one would be cut in half.
    if (fallback->find(kOpen) != std::string_view::npos) {
      return Error{"nested references are not supported: " + quoted(reference)};
    }
  }
  const std::optional<std::string> found = getenv(std::string(name));
  if (found && (!found->empty() || !fallback)) return *found;
  if (fallback) return std::string(*fallback);
  return Error{"environment variable " + std::string(name) + " is not set"};
}

}  // namespace

bool isEnvironmentVariableName(std::string_view name) {
  if (name.empty() || !(isAsciiLetter(name[0]) || name[0] == '_')) return false;
  for (char c : name) {
    if (!(isAsciiLetter(c) || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::variant<std::string, Error> expandEnvironment(std::string_view text, const EnvLookup& getenv) {
  std::string result;
  std::size_t next = 0;
  while (next < text.size()) {
    const std::size_t dollar = text.find('$', next);
    if (dollar == std::string_view::npos) {
      result.append(text.substr(next));
      break;
    }
    result.append(text.substr(next, dollar - next));
    const std::string_view rest = text.substr(dollar);
    if (rest.starts_with(kEscape)) {
      result.append(kOpen);
      next = dollar + kEscape.size();
      continue;
    }
    if (!rest.starts_with(kOpen)) {
      result.push_back('$');
      next = dollar + 1;
      continue;
    }
    const std::size_t close = rest.find('}');
    if (close == std::string_view::npos) {
      return Error{"unterminated reference " + quoted(rest) + ": expected '}'"};
    }
    auto value = resolve(rest.substr(kOpen.size(), close - kOpen.size()), getenv);
    if (auto* error = std::get_if<Error>(&value)) return std::move(*error);
    result.append(std::get<std::string>(value));
    next = dollar + close + 1;
  }
  return result;
}

}  // namespace costgate::config
