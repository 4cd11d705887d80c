#include "costgate/gateway/browser_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "costgate/config/url.h"
#include "costgate/http1/head.h"
#include "costgate/text/ascii_case.h"

namespace costgate::gateway {

namespace {

bool isIpLiteral(const std::string& host) {
  unsigned char address[16];
  return ::inet_pton(AF_INET, host.c_str(), address) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), address) == 1;
}

// RFC 6761: browsers and resolvers answer localhost names themselves, with a loopback address.
bool isLocalhostName(std::string_view host) {
  return host == "localhost" || host.ends_with(".localhost");
}

bool isLoopback(const std::string& host) {
  if (isLocalhostName(host) || host == "::1") return true;
  unsigned char address[4];
  return ::inet_pton(AF_INET, host.c_str(), address) == 1 && address[0] == 127;
}

// Names public DNS does not answer for: an attacker cannot re-point them from the internet.
bool isPrivateName(std::string_view host) {
  static constexpr std::array<std::string_view, 5> kSuffixes = {".local", ".internal", ".svc",
                                                                ".home.arpa", ".lan"};
  return host.find('.') == host.npos ||
         std::any_of(kSuffixes.begin(), kSuffixes.end(),
                     [host](std::string_view suffix) { return host.ends_with(suffix); });
}

}  // namespace

BrowserPolicy::BrowserPolicy(const config::ServerConfig& server) {
  const std::string listen = text::lowerAscii(server.host);
  private_names_ = !isLoopback(listen);
  // A listen address given as a name is a name the operator means clients to use.
  if (!listen.empty() && !isIpLiteral(listen)) hosts_.push_back(listen);
  for (const std::string& host : server.allowed_hosts) {
    if (host == "*") {
      any_host_ = true;
    } else if (host.starts_with("*.")) {
      suffixes_.push_back(host.substr(1));
    } else {
      hosts_.push_back(host);
    }
  }
  for (const std::string& origin : server.allowed_origins) {
    if (origin == "*") any_origin_ = true;
    origins_.push_back(origin);
  }
}

bool BrowserPolicy::hostAllowed(std::string_view header) const {
  if (header.empty()) return true;
  auto parsed = config::parseHostPort(header);
  if (!std::holds_alternative<config::HostPort>(parsed)) return false;
  const std::string host = text::lowerAscii(std::get<config::HostPort>(parsed).host);
  if (isIpLiteral(host) || isLocalhostName(host) || any_host_) return true;
  if (private_names_ && isPrivateName(host)) return true;
  if (std::find(hosts_.begin(), hosts_.end(), host) != hosts_.end()) return true;
  return std::any_of(suffixes_.begin(), suffixes_.end(),
                     [&host](const std::string& suffix) { return host.ends_with(suffix); });
}

bool BrowserPolicy::originAllowed(std::string_view origin) const {
  if (any_origin_) return true;
  const std::string lower = text::lowerAscii(origin);
  return std::find(origins_.begin(), origins_.end(), lower) != origins_.end();
}

bool isJsonContentType(std::string_view content_type) {
  const std::string_view media =
      http1::trimWhitespace(content_type.substr(0, content_type.find(';')));
  return text::lowerAscii(media) == "application/json";
}

server::Response preflightResponse(std::string_view origin, std::string_view requested_headers,
                                   bool private_network) {
  server::Response response(204);
  response.add("Access-Control-Allow-Origin", origin);
  response.add("Access-Control-Allow-Methods", "GET, HEAD, POST");
  std::string headers;
  for (char c : requested_headers) {
    // Header names, commas and spaces: nothing else belongs in the list.
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ',' ||
        c == ' ') {
      headers.push_back(c);
    }
  }
  if (!http1::trimWhitespace(headers).empty()) {
    response.add("Access-Control-Allow-Headers", http1::trimWhitespace(headers));
  }
  if (private_network) response.add("Access-Control-Allow-Private-Network", "true");
  response.add("Access-Control-Max-Age", "600");
  response.add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  return response;
}

void allowOrigin(server::ResponseWriter& writer, std::string_view origin) {
  writer.addField("Access-Control-Allow-Origin", origin);
  // The gateway's own headers (cost, model, request id) and the backend's rate limits.
  writer.addField("Access-Control-Expose-Headers", "*");
  writer.addField("Vary", "Origin");
}

}  // namespace costgate::gateway
