#include "costgate/http1/response.h"

namespace costgate::http1 {

namespace {

void appendWithoutLineBreaks(std::string& out, std::string_view text) {
  const std::size_t start = out.size();
  out += text;
  // A select on every byte rather than a search first: the compiler vectorizes it, and the short
  // texts of header lines cost no calls.
  char* const appended = out.data() + start;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = appended[i];
    appended[i] = c == '\r' || c == '\n' ? ' ' : c;
  }
}

}  // namespace

Response::Response(int status_code, std::string_view content_type, std::string text)
    : status(status_code), body(std::move(text)) {
  // Room for the few lines a response has, in one allocation (a proxied answer's are about 210
  // bytes).
  fields.reserve(256);
  if (!content_type.empty()) add("Content-Type", content_type);
}

Response& Response::add(std::string_view name, std::string_view value) {
  appendWithoutLineBreaks(fields, name);
  fields += std::string_view(": ");
  appendWithoutLineBreaks(fields, value);
  fields += std::string_view("\r\n");
  return *this;
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 425:
      return "Too Early";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace costgate::http1
