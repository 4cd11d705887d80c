#pragma once
// The addresses a configuration holds: backend base URLs (http, https), Redis stores (redis://)
// and the listen address (host:port). One parser for all of them, so they agree on IPv6 literals,
// ports, userinfo and what is refused. Errors are short phrases ("the host is missing") that never
// repeat the text, which may hold a password; the caller says where the text was written.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "costgate/error.h"

namespace costgate::config {

struct HostPort {
  std::string host;              // an IPv6 literal without its brackets
  std::optional<uint16_t> port;  // 0..65535; none when the text has no ':port'
};

// "host", "host:port" or "[IPv6 literal]:port".
std::variant<HostPort, Error> parseHostPort(std::string_view text);

struct UrlScheme {
  std::string_view name;  // lower case, e.g. "https"
  uint16_t default_port;
};

struct Url {
  std::string scheme;                   // lower-cased; one of those asked for
  std::optional<std::string> user;      // percent-decoded; none without userinfo
  std::optional<std::string> password;  // percent-decoded; none without ':' in the userinfo
  std::string host;                     // an IPv6 literal without its brackets
  uint16_t port = 0;                    // 1..65535: the one written, else the scheme's default
  std::string path;                     // "" or "/..." as written
};

// scheme://[user[:password]@]host[:port][/path] with a scheme from `schemes` (matched ignoring
// case), RFC 3986's shape without query or fragment. The authority ends at the first '/' and the
// userinfo at the last '@' before it, so a '/', '?', '#' or '%' in a password is percent-encoded
// (as every URL parser expects); spaces and control characters are refused anywhere.
std::variant<Url, Error> parseUrl(std::string_view text, std::span<const UrlScheme> schemes);

}  // namespace costgate::config
