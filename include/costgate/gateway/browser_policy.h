#pragma once
// What a web page may make the gateway do. Two attacks are in view (docs/hardening.md):
//  - a page on another site POSTs to the gateway: a browser sends a "simple" request (text/plain,
//    form data) without asking first, so API calls are served only as application/json, which a
//    browser must ask about first (a CORS preflight), and a request carrying an Origin header is
//    served only from an allowed origin;
//  - DNS rebinding: a page whose own name the attacker re-points at the gateway's address reads
//    the gateway as its own origin, sending no Origin on GET; its requests still carry the
//    attacker's name in Host, so only Host names no attacker can re-point are served.
// Plain code; Gateway::handle applies it before anything else.

#include <string>
#include <string_view>
#include <vector>

#include "costgate/config/config.h"
#include "costgate/server/http_server.h"

namespace costgate::gateway {

class BrowserPolicy {
 public:
  // From server.allowed_origins, server.allowed_hosts and the listen address.
  explicit BrowserPolicy(const config::ServerConfig& server);

  // Whether a request naming `host` (a Host header: name or IP literal, maybe with a port) may
  // be served. Always: IP literals and localhost names, which no DNS answer can re-point. On a
  // listen address that is not loopback (0.0.0.0 in a container), also names that only private
  // resolvers answer: single labels (compose services) and .local, .internal, .svc, .home.arpa,
  // .lan. Then the configured names ("*": any). An empty Host (HTTP/1.0) is no browser's.
  bool hostAllowed(std::string_view host) const;
  // Whether a page from `origin` (an Origin header) may call.
  bool originAllowed(std::string_view origin) const;

 private:
  bool any_host_ = false;
  bool private_names_ = false;
  std::vector<std::string> hosts_;     // exact names
  std::vector<std::string> suffixes_;  // ".example.com" for "*.example.com"
  bool any_origin_ = false;
  std::vector<std::string> origins_;
};

// Whether a Content-Type value is application/json, in any case, with or without parameters
// ("application/json; charset=utf-8").
bool isJsonContentType(std::string_view content_type);

// The answer to a CORS preflight from an allowed `origin`: 204 with the methods the gateway
// serves and the request headers the page asked for (`requested_headers`, the value of
// Access-Control-Request-Headers, kept to token characters). `private_network`: the browser asks
// whether a public page may reach this private address (Chrome's Private Network Access), which
// an allowed origin may.
server::Response preflightResponse(std::string_view origin, std::string_view requested_headers,
                                   bool private_network = false);

// Marks every response of this exchange as readable by a page from the allowed `origin`.
void allowOrigin(server::ResponseWriter& writer, std::string_view origin);

}  // namespace costgate::gateway
