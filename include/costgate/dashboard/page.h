#pragma once
// The built-in cost dashboard served at GET /dashboard: one self-contained HTML page (inline CSS
// and JavaScript, no external URL) that polls GET /costgate/summary every two seconds. Its source
// is src/dashboard/dashboard.html, embedded into the binary when it is built, so serving it needs
// no file at run time.

#include <string_view>

#include "costgate/http1/response.h"

namespace costgate::dashboard {

// The page's HTML (UTF-8), as built into the binary.
std::string_view page();

// The page as a 200 response: text/html, not cached (a new build's page shows at the next load),
// and a Content-Security-Policy that lets it run its own inline script and style and fetch only
// from the gateway that served it.
http1::Response response();

}  // namespace costgate::dashboard
