#include "costgate/jsonview/document.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

namespace costgate::jsonview {

namespace {

// Bytes that may appear in a string as they are: printable ASCII except '"' and '\'.
constexpr std::array<bool, 256> kPlainStringByte = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x80; ++c) table[c] = c != '"' && c != '\\';
  return table;
}();

bool isWhitespace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The code unit of the four hex digits at text[at], or -1.
int hexUnit(std::string_view text, std::size_t at) {
  if (at + 4 > text.size()) return -1;
  int unit = 0;
  for (std::size_t i = at; i < at + 4; ++i) {
    int digit = hexValue(text[i]);
    if (digit < 0) return -1;
    unit = unit * 16 + digit;
  }
  return unit;
}

void appendUtf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

// Resolves the escapes of a string already validated by the parser (quotes excluded).
std::string unescape(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    char kind = body[++i];
    switch (kind) {
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        auto unit = static_cast<std::uint32_t>(hexUnit(body, i + 1));
        i += 4;
        if (unit >= 0xD800 && unit <= 0xDBFF) {  // a validated pair: "\uD8xx\uDCxx"
          auto low = static_cast<std::uint32_t>(hexUnit(body, i + 3));
          i += 6;
          unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
        }
        appendUtf8(out, unit);
        break;
      }
      default:  // '"', '\\' and '/' stand for themselves
        out += kind;
    }
  }
  return out;
}

}  // namespace

// One pass over the text, iterative so that nesting depth costs no stack.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  bool run(std::vector<Document::Node>& nodes) {
    nodes.reserve(64);
    // Indices of the containers being filled. Parsing never suspends, so one stack per thread
    // serves every document and costs no allocation once grown.
    thread_local std::vector<std::uint32_t> open;
    open.clear();
    skipWhitespace();
    for (;;) {
      // Here a value is expected.
      bool opened = false;
      if (!value(nodes, open, opened)) return false;
      if (opened) continue;  // its first element (or member's value) comes next
      // After a value: close containers, or go on to the next element or member.
      for (;;) {
        skipWhitespace();
        if (open.empty()) return pos_ == text_.size();
        std::uint32_t container = open.back();
        if (pos_ >= text_.size()) return false;
        char c = text_[pos_];
        bool object = nodes[container].kind == Kind::kObject;
        if (c == (object ? '}' : ']')) {
          ++pos_;
          nodes[container].end = static_cast<std::uint32_t>(pos_);
          nodes[container].after = static_cast<std::uint32_t>(nodes.size());
          open.pop_back();
          continue;
        }
        if (c != ',') return false;
        ++pos_;
        skipWhitespace();
        ++nodes[container].count;
        if (object && !member(nodes)) return false;
        break;
      }
    }
  }

 private:
  // Parses the value at pos_. A non-empty container is left open (`opened`), with the key of its
  // first member read.
  bool value(std::vector<Document::Node>& nodes, std::vector<std::uint32_t>& open, bool& opened) {
    if (pos_ >= text_.size()) return false;
    auto begin = static_cast<std::uint32_t>(pos_);
    auto index = static_cast<std::uint32_t>(nodes.size());
    char c = text_[pos_];
    if (c == '{' || c == '[') {
      if (open.size() >= Document::kMaxDepth) return false;
      bool object = c == '{';
      nodes.push_back({object ? Kind::kObject : Kind::kArray, false, begin, 0, 0, 0});
      ++pos_;
      skipWhitespace();
      if (pos_ < text_.size() && text_[pos_] == (object ? '}' : ']')) {
        ++pos_;
        nodes[index].end = static_cast<std::uint32_t>(pos_);
        nodes[index].after = index + 1;
        return true;
      }
      open.push_back(index);
      nodes[index].count = 1;
      opened = true;
      return !object || member(nodes);
    }
    Kind kind;
    bool escaped = false;
    if (c == '"') {
      kind = Kind::kString;
      if (!string(escaped)) return false;
    } else if (c == '-' || isDigit(c)) {
      if (!number(kind)) return false;
    } else if (literal("true") || literal("false")) {
      kind = Kind::kBoolean;
    } else if (literal("null")) {
      kind = Kind::kNull;
    } else {
      return false;
    }
    nodes.push_back({kind, escaped, begin, static_cast<std::uint32_t>(pos_), index + 1, 0});
    return true;
  }

  // A member's key and colon; the value follows.
  bool member(std::vector<Document::Node>& nodes) {
    auto begin = static_cast<std::uint32_t>(pos_);
    bool escaped = false;
    if (pos_ >= text_.size() || text_[pos_] != '"' || !string(escaped)) return false;
    auto index = static_cast<std::uint32_t>(nodes.size());
    nodes.push_back(
        {Kind::kString, escaped, begin, static_cast<std::uint32_t>(pos_), index + 1, 0});
    skipWhitespace();
    if (pos_ >= text_.size() || text_[pos_] != ':') return false;
    ++pos_;
    skipWhitespace();
    return true;
  }

  void skipWhitespace() {
    while (pos_ < text_.size() && isWhitespace(text_[pos_])) ++pos_;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool number(Kind& kind) {
    const std::size_t start = pos_;
    if (!numberSyntax(kind)) return false;
    // A number too large for a double (1e400, or an integer of 400 digits) is refused, as
    // nlohmann::json refuses it ("number overflow"): the DOM parse of an accepted body must not
    // throw, and number() would read it as 0 (found by fuzz/request_context_fuzzer). Only a long
    // integer or a number with a fraction or exponent can be that large.
    const std::string_view text = text_.substr(start, pos_ - start);
    if (kind == Kind::kInteger && text.size() < 300) return true;
    double value = 0;
    if (std::from_chars(text.data(), text.data() + text.size(), value).ec ==
        std::errc::result_out_of_range) {
      // Out of range either way: too large, or too small (which reads as 0, as it does there).
      return std::isfinite(std::strtod(std::string(text).c_str(), nullptr));
    }
    return true;
  }

  bool numberSyntax(Kind& kind) {
    kind = Kind::kInteger;
    if (text_[pos_] == '-') ++pos_;
    if (pos_ >= text_.size() || !isDigit(text_[pos_])) return false;
    if (text_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < text_.size() && isDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      kind = Kind::kNumber;
      ++pos_;
      if (pos_ >= text_.size() || !isDigit(text_[pos_])) return false;
      while (pos_ < text_.size() && isDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      kind = Kind::kNumber;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (pos_ >= text_.size() || !isDigit(text_[pos_])) return false;
      while (pos_ < text_.size() && isDigit(text_[pos_])) ++pos_;
    }
    return true;
  }

  // A string from its opening quote to past its closing one.
  bool string(bool& escaped) {
    ++pos_;
    for (;;) {
      skipPlainBytes();
      if (pos_ >= text_.size()) return false;
      auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        escaped = true;
        if (!escape()) return false;
      } else if (c >= 0x80) {
        if (!utf8Sequence()) return false;
      } else {
        return false;  // a control character must be escaped
      }
    }
  }

  // Skips the bytes of a string that need no attention, eight at a time while it can: printable
  // ASCII other than '"' and '\\'.
  void skipPlainBytes() {
    constexpr std::uint64_t kOnes = 0x0101010101010101ull;
    constexpr std::uint64_t kHighs = 0x8080808080808080ull;
    auto hasZeroByte = [](std::uint64_t v) { return (v - kOnes) & ~v & kHighs; };
    while (pos_ + 8 <= text_.size()) {
      std::uint64_t v;
      std::memcpy(&v, text_.data() + pos_, 8);
      std::uint64_t special = (v & kHighs) |                        // non-ASCII
                              ((v - kOnes * 0x20) & ~v & kHighs) |  // control characters
                              hasZeroByte(v ^ (kOnes * '"')) | hasZeroByte(v ^ (kOnes * '\\'));
      if (special) break;
      pos_ += 8;
    }
    while (pos_ < text_.size() && kPlainStringByte[static_cast<unsigned char>(text_[pos_])]) {
      ++pos_;
    }
  }

  bool escape() {
    if (pos_ + 1 >= text_.size()) return false;
    char kind = text_[pos_ + 1];
    pos_ += 2;
    switch (kind) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        return true;
      case 'u': {
        int unit = hexUnit(text_, pos_);
        if (unit < 0) return false;
        pos_ += 4;
        if (unit >= 0xDC00 && unit <= 0xDFFF) return false;  // a low surrogate alone
        if (unit < 0xD800 || unit > 0xDBFF) return true;
        // A high surrogate must be followed by an escaped low one.
        if (pos_ + 2 > text_.size() || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') return false;
        int low = hexUnit(text_, pos_ + 2);
        if (low < 0xDC00 || low > 0xDFFF) return false;
        pos_ += 6;
        return true;
      }
      default:
        return false;
    }
  }

  // One multi-byte UTF-8 character (RFC 3629: no overlong forms, surrogates or code points above
  // U+10FFFF).
  bool utf8Sequence() {
    auto byte = [&](std::size_t offset) -> unsigned {
      return pos_ + offset < text_.size() ? static_cast<unsigned char>(text_[pos_ + offset]) : 0u;
    };
    auto continuation = [](unsigned b, unsigned low = 0x80, unsigned high = 0xBF) {
      return b >= low && b <= high;
    };
    unsigned lead = byte(0);
    std::size_t length = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = continuation(byte(1)) ? 2 : 0;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      unsigned low = lead == 0xE0 ? 0xA0 : 0x80;
      unsigned high = lead == 0xED ? 0x9F : 0xBF;
      length = continuation(byte(1), low, high) && continuation(byte(2)) ? 3 : 0;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      unsigned low = lead == 0xF0 ? 0x90 : 0x80;
      unsigned high = lead == 0xF4 ? 0x8F : 0xBF;
      length = continuation(byte(1), low, high) && continuation(byte(2)) && continuation(byte(3))
                   ? 4
                   : 0;
    }
    pos_ += length;
    return length > 0;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

std::optional<Document> Document::parse(std::string_view text) {
  if (text.size() >= std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  Document document;
  document.text_ = text;
  if (!Parser(text).run(document.nodes_)) return std::nullopt;
  return document;
}

std::optional<Value> Value::find(std::string_view key) const {
  std::optional<Value> found;
  forEachMember([&](const Value& name, const Value& value) {
    if (name.stringEquals(key)) found = value;
  });
  return found;
}

std::vector<Value> Value::elements() const {
  const auto& nodes = document_->nodes_;
  std::vector<Value> out;
  if (nodes[index_].kind != Kind::kArray) return out;
  out.reserve(nodes[index_].count);
  std::uint32_t at = index_ + 1;
  for (std::uint32_t i = 0; i < nodes[index_].count; ++i) {
    out.push_back(Value(document_, at));
    at = nodes[at].after;
  }
  return out;
}

bool Value::boolean() const { return raw() == "true"; }

std::string Value::string() const {
  std::string_view body = raw().substr(1, raw().size() - 2);
  if (!document_->nodes_[index_].escaped) return std::string(body);
  return unescape(body);
}

bool Value::stringEquals(std::string_view text) const {
  if (kind() != Kind::kString) return false;
  if (!hasEscapes()) return unquoted() == text;
  return string() == text;
}

double Value::number() const {
  std::string_view text = raw();
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::optional<std::int64_t> Value::integer() const {
  std::string_view text = raw();
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace costgate::jsonview
