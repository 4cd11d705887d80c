#pragma once
// HTTP/1.x message heads (RFC 9112), parsed from bytes with no I/O: the request line or status
// line and the header fields. Used by the server for requests and by the upstream client for
// responses, in place of Beast's parser whose per-field allocations showed in every profile.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace costgate::http1 {

struct Field {
  std::string_view name;   // lower-case
  std::string_view value;  // without surrounding whitespace
};

// A parsed head. It owns a copy of its bytes, so it outlives the read buffer it came from.
class Head {
 public:
  // Requests.
  std::string_view method() const { return view(method_); }
  std::string_view target() const { return view(target_); }
  // Responses.
  int status() const { return status_; }
  std::string_view reason() const { return view(reason_); }
  // 1 for HTTP/1.1, 0 for HTTP/1.0.
  int versionMinor() const { return version_minor_; }

  std::size_t fieldCount() const { return fields_.size(); }
  Field field(std::size_t i) const { return {view(fields_[i].name), view(fields_[i].value)}; }
  // The value of the first field named `lower_name`, or empty.
  std::string_view get(std::string_view lower_name) const;
  bool has(std::string_view lower_name) const;
  // Whether the Connection header (or the version's default) lets the connection carry another
  // message after this one.
  bool keepAlive() const;

 private:
  friend struct HeadParser;
  struct Span {
    std::uint32_t at = 0;
    std::uint32_t size = 0;
  };
  struct FieldSpan {
    Span name;
    Span value;
  };
  std::string_view view(Span span) const {
    return std::string_view(raw_).substr(span.at, span.size);
  }

  std::string raw_;
  Span method_, target_, reason_;
  int status_ = 0;
  int version_minor_ = 1;
  std::vector<FieldSpan> fields_;
};

struct ParseResult {
  enum State { kComplete, kIncomplete, kInvalid, kTooLarge } state;
  std::size_t consumed = 0;  // Complete: the bytes of the head, final blank line included
  std::string error;         // Invalid: what is wrong, for the 400 message
};

// Parses a head from the start of `bytes`. Incomplete until the blank line arrives; TooLarge when
// `max_bytes` hold no complete head.
ParseResult parseRequestHead(std::string_view bytes, std::size_t max_bytes, Head& out);
ParseResult parseResponseHead(std::string_view bytes, std::size_t max_bytes, Head& out);

// `text` without the spaces and tabs around it (RFC 9110's optional whitespace).
std::string_view trimWhitespace(std::string_view text);

// Whether the comma-separated header value `list` holds `token` (case-insensitive).
bool hasToken(std::string_view list, std::string_view token);

}  // namespace costgate::http1
