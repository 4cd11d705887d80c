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

// Resolves the inside of one ${...}. Returns false with `error` set when it cannot.
bool resolve(std::string_view body, const EnvLookup& getenv, std::string* value,
             std::string* error) {
  const std::string reference = "${" + std::string(body) + "}";
  const std::size_t separator = body.find(kDefaultSeparator);
  const std::string_view name = body.substr(0, separator);
  if (!isEnvironmentVariableName(name)) {
    *error = "malformed reference " + quoted(reference) +
             ": expected ${NAME} or ${NAME:-default}, where NAME is letters, digits and '_' and "
             "does not start with a digit";
    return false;
  }
  std::optional<std::string_view> fallback;
  if (separator != std::string_view::npos) {
    fallback = body.substr(separator + kDefaultSeparator.size());
    // The reference ends at the first '}', so a nested one would be cut in half.
    if (fallback->find(kOpen) != std::string_view::npos) {
      *error = "nested references are not supported: " + quoted(reference);
      return false;
    }
  }
  const std::optional<std::string> found = getenv(std::string(name));
  if (found && (!found->empty() || !fallback)) {
    *value = *found;
  } else if (fallback) {
    *value = std::string(*fallback);
  } else {
    *error = "environment variable " + std::string(name) + " is not set";
    return false;
  }
  return true;
}

}  // namespace

bool isEnvironmentVariableName(std::string_view name) {
  if (name.empty() || !(isAsciiLetter(name[0]) || name[0] == '_')) return false;
  for (char c : name) {
    if (!(isAsciiLetter(c) || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

Expansion expandEnvironment(std::string_view text, const EnvLookup& getenv) {
  Expansion result;
  std::size_t next = 0;
  while (next < text.size()) {
    const std::size_t dollar = text.find('$', next);
    if (dollar == std::string_view::npos) {
      result.text.append(text.substr(next));
      break;
    }
    result.text.append(text.substr(next, dollar - next));
    const std::string_view rest = text.substr(dollar);
    if (rest.starts_with(kEscape)) {
      result.text.append(kOpen);
      next = dollar + kEscape.size();
      continue;
    }
    if (!rest.starts_with(kOpen)) {
      result.text.push_back('$');
      next = dollar + 1;
      continue;
    }
    const std::size_t close = rest.find('}');
    if (close == std::string_view::npos) {
      return {.text = {}, .error = "unterminated reference " + quoted(rest) + ": expected '}'"};
    }
    std::string value;
    std::string error;
    if (!resolve(rest.substr(kOpen.size(), close - kOpen.size()), getenv, &value, &error)) {
      return {.text = {}, .error = error};
    }
    result.text.append(value);
    next = dollar + close + 1;
  }
  return result;
}

}  // namespace costgate::config
