#pragma once
// A response as a handler builds it: status, header lines and body. The server adds the framing
// (Content-Length or chunked), x-request-id and Connection when it sends it.

#include <string>
#include <string_view>

namespace costgate::http1 {

struct Response {
  int status = 200;
  std::string fields;  // header lines, each "Name: value\r\n"
  std::string body;

  Response() = default;
  // With a Content-Type line when `content_type` is not empty.
  explicit Response(int status_code, std::string_view content_type = {}, std::string text = {});
  // Appends a header line. CR and LF in either part become spaces: a value from elsewhere (a
  // backend, a filter) cannot inject lines of its own.
  Response& add(std::string_view name, std::string_view value);
};

// The standard reason phrase of a status code, or "Unknown" for codes without one.
std::string_view reasonPhrase(int status);

}  // namespace costgate::http1
