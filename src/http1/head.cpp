#include "costgate/http1/head.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <optional>

#include "costgate/text/block.h"

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

// Lower-cases the field name starting at `at` in place; returns where it ends. The head ends with
// CRLF CRLF, so a byte that ends the name always comes before `size`.
std::size_t lowerCaseToken(char* text, std::size_t at, std::size_t size) {
#if defined(__SSE2__)
  // Sixteen bytes at a time while they are letters, digits or '-' (every common name); the run of
  // them is lower-cased in the block and stored back, the bytes after it unchanged.
  const __m128i lane = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  auto between = [](__m128i block, char low, char high) {
    return _mm_and_si128(_mm_cmpgt_epi8(block, _mm_set1_epi8(static_cast<char>(low - 1))),
                         _mm_cmplt_epi8(block, _mm_set1_epi8(static_cast<char>(high + 1))));
  };
  while (size - at >= 16) {
    __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text + at));
    const __m128i upper = between(block, 'A', 'Z');
    const __m128i common = _mm_or_si128(
        _mm_or_si128(upper, between(block, 'a', 'z')),
        _mm_or_si128(between(block, '0', '9'), _mm_cmpeq_epi8(block, _mm_set1_epi8('-'))));
    const auto run = static_cast<unsigned>(
        std::countr_zero(~static_cast<unsigned>(_mm_movemask_epi8(common))));  // 0 to 16
    const __m128i in_run = _mm_cmplt_epi8(lane, _mm_set1_epi8(static_cast<char>(run)));
    block = _mm_add_epi8(block, _mm_and_si128(_mm_and_si128(upper, in_run), _mm_set1_epi8(0x20)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(text + at), block);
    at += run;
    if (run < 16) break;  // the end, or a rarer token character: the loop below decides
  }
#endif
  while (char c = kLowerTokenChar[static_cast<unsigned char>(text[at])]) text[at++] = c;
  return at;
}

// The end of the field value starting at `at`: its CR, or nullptr when a byte no value may hold
// (a control character other than tab, or DEL) comes first. The head ends with CRLF CRLF, so a
// CR comes before `end`.
const char* valueEnd(const char* at, const char* end) {
#if defined(__SSE2__)
  for (;;) {
    const auto left = static_cast<std::size_t>(end - at);
    // CRs after the end: the scan stops there at the latest.
    const __m128i block = text::loadBlock(at, end, '\r');
    // Bytes up to 0x1f (unsigned), and DEL.
    const __m128i control =
        _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(block, _mm_set1_epi8(0x1f)), block),
                     _mm_cmpeq_epi8(block, _mm_set1_epi8(0x7f)));
    for (auto mask = static_cast<unsigned>(_mm_movemask_epi8(control)); mask != 0;
         mask &= mask - 1) {
      const auto i = static_cast<std::size_t>(std::countr_zero(mask));
      if (i >= left || at[i] == '\r') return at + std::min(i, left);
      if (at[i] != '\t') return nullptr;
    }
    at += 16;
  }
#else
  for (; at < end; ++at) {
    if (*at == '\r') return at;
    if (!kValueChar[static_cast<unsigned char>(*at)]) return nullptr;
  }
  return end;
#endif
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
      pos = lowerCaseToken(raw.data(), pos, raw.size());
      if (pos == start) {
        return fail(text[pos] == ' ' || text[pos] == '\t' ? "obsolete line folding is not accepted"
                                                          : "invalid header field name");
      }
      if (text[pos] != ':') return fail("invalid header field name (whitespace before ':'?)");
      Head::Span name{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(pos - start)};
      ++pos;
      std::size_t value_start = pos;
      const char* line_end = valueEnd(text + pos, text + raw.size());
      if (line_end) pos = static_cast<std::size_t>(line_end - text);
      if (!line_end || !expect("\r\n")) return fail("invalid character in a header field value");
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
