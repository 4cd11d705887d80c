#include "costgate/dashboard/page.h"

namespace costgate::dashboard {

http1::Response response() {
  http1::Response out(200, "text/html; charset=utf-8", std::string(page()));
  out.add("Cache-Control", "no-cache");
  // The page's script and style are inline; it loads nothing else and talks only to its origin.
  out.add("Content-Security-Policy",
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
          "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
          "frame-ancestors 'none'");
  out.add("X-Content-Type-Options", "nosniff");
  out.add("Referrer-Policy", "no-referrer");
  return out;
}

}  // namespace costgate::dashboard
