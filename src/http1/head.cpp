#include "costgate/http1/head.h"

#include <array>
#include <cstring>
#include <optional>

namespace costgate::http1 {

namespace {

// RFC 9110 tchar: the characters of methods and field names.
constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

// Token characters lower-cased; 0 for anything that cannot be in a field name.
constexpr std::array<char, 256> kLowerTokenChar = [] {
  std::array<char, 256> table{};
  for (int c = 0; c < 256; ++c) {
    if (kTokenChar[c]) table[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  }
  return table;
}();

// Field values: visible characters, space, tab and obs-text; no other control characters.
constexpr std::array<bool, 256> kValueChar = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x100; ++c) table[c] = c != 0x7f;
  table['\t'] = true;
  return table;
}();

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

namespace {

// Lower-cases the token starting at `at` in place; returns where it ends. Locals only, so the
// stores cannot alias the parser's state and the loop stays in registers.
std::size_t lowerCaseToken(char* text, std::size_t at) {
  while (char c = kLowerTokenChar[static_cast<unsigned char>(text[at])]) text[at++] = c;
  return at;
}

// Whether [begin, end) holds only field-value characters, eight bytes at a time while it can.
bool validValue(const char* begin, const char* end) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHighs = 0x8080808080808080ull;
  for (; end - begin >= 8; begin += 8) {
    std::uint64_t v;
    std::memcpy(&v, begin, 8);
    std::uint64_t below_space = (v - kOnes * 0x20) & ~v & kHighs;  // controls, tab included
    std::uint64_t del = ((v ^ (kOnes * 0x7f)) - kOnes) & ~(v ^ (kOnes * 0x7f)) & kHighs;
    if (below_space | del) break;  // the byte loop decides (a tab is allowed)
  }
  bool bad = false;
  for (; begin < end; ++begin) bad |= !kValueChar[static_cast<unsigned char>(*begin)];
  return !bad;
}

// Whether some LF in `bytes` has no CR before it.
bool hasBareLineFeed(std::string_view bytes) {
  for (std::size_t at = bytes.find('\n'); at != std::string_view::npos;
       at = bytes.find('\n', at + 1)) {
    if (at == 0 || bytes[at - 1] != '\r') return true;
  }
  return false;
}

}  // namespace

struct HeadParser {
  Head& head;
  std::string& raw;
  std::size_t pos = 0;

  ParseResult fail(std::string message) {
    return ParseResult{ParseResult::kInvalid, 0, std::move(message)};
  }

  Head::Span spanTo(std::size_t end) {
    Head::Span span{static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(end - pos)};
    pos = end;
    return span;
  }

  bool expect(std::string_view text) {
    if (raw.size() - pos < text.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (raw[pos + i] != text[i]) return false;
    }
    pos += text.size();
    return true;
  }

  // "HTTP/1.0" or "HTTP/1.1".
  bool version() {
    if (!expect("HTTP/1.") || pos >= raw.size()) return false;
    char minor = raw[pos++];
    if (minor != '0' && minor != '1') return false;
    head.version_minor_ = minor - '0';
    return true;
  }

  // Header fields up to and including the blank line.
  ParseResult fields(std::size_t consumed) {
    head.fields_.clear();
    head.fields_.reserve(16);
    // The head ends with CRLF CRLF (take() made sure), so every scan below stops inside it.
    const char* text = raw.data();
    for (;;) {
      if (expect("\r\n")) return ParseResult{ParseResult::kComplete, consumed, {}};
      std::size_t start = pos;
      pos = lowerCaseToken(raw.data(), pos);
      if (pos == start) {
        return fail(text[pos] == ' ' || text[pos] == '\t' ? "obsolete line folding is not accepted"
                                                          : "invalid header field name");
      }
      if (text[pos] != ':') return fail("invalid header field name (whitespace before ':'?)");
      Head::Span name{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(pos - start)};
      ++pos;
      std::size_t value_start = pos;
      auto line_end = static_cast<const char*>(std::memchr(text + pos, '\r', raw.size() - pos));
      pos = static_cast<std::size_t>(line_end - text);
      if (!validValue(text + value_start, line_end) || !expect("\r\n")) {
        return fail("invalid character in a header field value");
      }
      std::string_view value = trimWhitespace(std::string_view(text + value_start, line_end));
      head.fields_.push_back({name,
                              {static_cast<std::uint32_t>(value.data() - text),
                               static_cast<std::uint32_t>(value.size())}});
    }
  }

  // Copies the head (if complete) into `out`, or says why not.
  static std::optional<ParseResult> take(std::string_view bytes, std::size_t max_bytes, Head& out) {
    std::size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos || end + 4 > max_bytes) {
      bool too_large = end != std::string_view::npos || bytes.size() >= max_bytes;
      if (!too_large && hasBareLineFeed(bytes)) {
        // Such a head never ends in CRLF CRLF: refused now, not waited on until the timeout.
        return ParseResult{ParseResult::kInvalid, 0, "a line ends in a bare LF, not CRLF"};
      }
      return ParseResult{too_large ? ParseResult::kTooLarge : ParseResult::kIncomplete, 0, {}};
    }
    out.raw_.assign(bytes.data(), end + 4);
    return std::nullopt;
  }

  static ParseResult request(std::string_view bytes, std::size_t max_bytes, Head& out) {
    if (auto early = take(bytes, max_bytes, out)) return *early;
    HeadParser parser{out, out.raw_};
    std::string& raw = out.raw_;
    std::size_t end = raw.size();
    std::size_t method_end = 0;
    while (method_end < end && kTokenChar[static_cast<unsigned char>(raw[method_end])]) {
      ++method_end;
    }
    if (method_end == 0 || raw[method_end] != ' ') return parser.fail("invalid request line");
    out.method_ = parser.spanTo(method_end);
    ++parser.pos;
    std::size_t target_end = parser.pos;
    while (target_end < end && raw[target_end] > ' ' && raw[target_end] != 0x7f) ++target_end;
    if (target_end == parser.pos || raw[target_end] != ' ') {
      return parser.fail("invalid request target");
    }
    out.target_ = parser.spanTo(target_end);
    ++parser.pos;
    if (!parser.version() || !parser.expect("\r\n")) return parser.fail("invalid HTTP version");
    return parser.fields(end);
  }

  static ParseResult response(std::string_view bytes, std::size_t max_bytes, Head& out) {
    if (auto early = take(bytes, max_bytes, out)) return *early;
    HeadParser parser{out, out.raw_};
    std::string& raw = out.raw_;
    if (!parser.version() || !parser.expect(" ")) return parser.fail("invalid status line");
    int status = 0;
    for (int i = 0; i < 3; ++i, ++parser.pos) {
      char c = raw[parser.pos];
      if (c < '0' || c > '9') return parser.fail("invalid status code");
      status = status * 10 + (c - '0');
    }
    if (status < 100) return parser.fail("invalid status code");
    out.status_ = status;
    std::size_t reason_end = raw.find("\r\n", parser.pos);
    if (parser.pos < reason_end && raw[parser.pos] == ' ') ++parser.pos;
    if (parser.pos != reason_end && raw[parser.pos - 1] != ' ')
      return parser.fail("invalid status line");
    for (std::size_t i = parser.pos; i < reason_end; ++i) {
      if (!kValueChar[static_cast<unsigned char>(raw[i])]) {
        return parser.fail("invalid reason phrase");
      }
    }
    out.reason_ = parser.spanTo(reason_end);
    parser.pos += 2;
    return parser.fields(raw.size());
  }
};

ParseResult parseRequestHead(std::string_view bytes, std::size_t max_bytes, Head& out) {
  return HeadParser::request(bytes, max_bytes, out);
}

ParseResult parseResponseHead(std::string_view bytes, std::size_t max_bytes, Head& out) {
  return HeadParser::response(bytes, max_bytes, out);
}

std::string_view Head::get(std::string_view lower_name) const {
  for (const auto& field : fields_) {
    if (view(field.name) == lower_name) return view(field.value);
  }
  return {};
}

bool Head::has(std::string_view lower_name) const {
  for (const auto& field : fields_) {
    if (view(field.name) == lower_name) return true;
  }
  return false;
}

bool Head::keepAlive() const {
  bool close = false;
  bool keep_alive = false;
  for (const auto& field : fields_) {
    if (view(field.name) != "connection") continue;
    close = close || hasToken(view(field.value), "close");
    keep_alive = keep_alive || hasToken(view(field.value), "keep-alive");
  }
  return version_minor_ >= 1 ? !close : keep_alive && !close;
}

std::string_view trimWhitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool hasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    if (equalsIgnoringCase(trimWhitespace(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace costgate::http1
