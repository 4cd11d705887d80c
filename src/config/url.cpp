#include "costgate/config/url.h"

#include <algorithm>
#include <cctype>

#include "costgate/config/yaml_reader.h"

namespace costgate::config {
namespace {

constexpr uint64_t kMaxPort = 65'535;

// '%' starts an IPv6 zone id (fe80::1%eth0).
bool isHostCharacter(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == ':' || c == '%';
}

// `min_port` is 0 for a listen address (0 picks a free port) and 1 for a URL.
std::variant<HostPort, Error> splitHostPort(std::string_view text, uint64_t min_port) {
  HostPort parsed;
  std::string_view rest;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return Error{"missing ']' after the IPv6 address"};
    parsed.host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
  } else {
    const std::size_t colon = text.find(':');
    parsed.host = text.substr(0, colon);
    rest = colon == std::string_view::npos ? "" : text.substr(colon);
    if (rest.find(':', 1) != std::string_view::npos) {
      return Error{"an IPv6 address needs brackets, e.g. [::1]:8080"};
    }
  }
  if (parsed.host.empty()) return Error{"the host is missing"};
  if (!std::all_of(parsed.host.begin(), parsed.host.end(), isHostCharacter))
    return Error{"invalid host"};
  if (rest.empty()) return parsed;
  if (!rest.starts_with(':')) return Error{"unexpected text after the host"};
  const std::optional<uint64_t> number = parseUnsignedDecimal(rest.substr(1));
  if (!number || *number < min_port || *number > kMaxPort) {
    return Error{"the port must be a number from " + std::to_string(min_port) + " to 65535"};
  }
  parsed.port = static_cast<uint16_t>(*number);
  return parsed;
}

std::optional<int> hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

std::optional<std::string> percentDecoded(std::string_view text) {
  std::string decoded;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    auto high = hexDigit(text[i + 1]);
    auto low = hexDigit(text[i + 2]);
    if (!high || !low) return std::nullopt;
    decoded += static_cast<char>(*high * 16 + *low);
    i += 2;
  }
  return decoded;
}

// "user[:password]", percent-decoded into `url`; false on bad percent-encoding.
bool readUserinfo(std::string_view userinfo, Url& url) {
  const std::size_t colon = userinfo.find(':');
  url.user = percentDecoded(userinfo.substr(0, colon));
  if (colon != std::string_view::npos) url.password = percentDecoded(userinfo.substr(colon + 1));
  return url.user && (colon == std::string_view::npos || url.password);
}

std::optional<Error> schemeProblem(std::string_view written, std::span<const UrlScheme> schemes,
                                   Url& url) {
  url.scheme = written;
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string names;
  for (const UrlScheme& scheme : schemes) {
    if (scheme.name == url.scheme) {
      url.port = scheme.default_port;
      return std::nullopt;
    }
    names += (names.empty() ? "" : " or ") + std::string(scheme.name);
  }
  return Error{"the scheme must be " + names};
}

// "[userinfo@]host[:port]" into `url`, whose port is the scheme's default until one is written.
std::optional<Error> readAuthority(std::string_view authority, Url& url) {
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    if (!readUserinfo(authority.substr(0, at), url))
      return Error{"bad percent-encoding in the userinfo"};
    authority.remove_prefix(at + 1);
  }
  auto host_port = splitHostPort(authority, 1);
  if (auto* problem = std::get_if<Error>(&host_port)) return std::move(*problem);
  url.host = std::move(std::get<HostPort>(host_port).host);
  url.port = std::get<HostPort>(host_port).port.value_or(url.port);
  return std::nullopt;
}

}  // namespace

std::variant<HostPort, Error> parseHostPort(std::string_view text) {
  return splitHostPort(text, 0);
}

std::variant<Url, Error> parseUrl(std::string_view text, std::span<const UrlScheme> schemes) {
  const std::size_t separator = text.find("://");
  if (separator == std::string_view::npos) return Error{"the scheme is missing"};
  Url url;
  if (auto problem = schemeProblem(text.substr(0, separator), schemes, url)) return *problem;
  std::string_view rest = text.substr(separator + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Error{"a query or fragment is not supported"};
  }
  const bool has_space = std::any_of(
      rest.begin(), rest.end(), [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); });
  if (has_space) return Error{"it contains a space or control character"};
  const std::size_t slash = std::min(rest.find('/'), rest.size());
  url.path = rest.substr(slash);
  if (auto problem = readAuthority(rest.substr(0, slash), url)) return *problem;
  return url;
}

}  // namespace costgate::config
