#include "costgate/jsonview/document.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <span>
#include <string>

#include "costgate/text/block.h"

namespace costgate::jsonview {

namespace {

// Bytes that may appear in a string as they are: printable ASCII except '"' and '\'.
[[maybe_unused]] constexpr std::array<bool, 256> kPlainStringByte = [] {
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
int hexUnitAt(std::string_view text, std::size_t at) {
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
        auto unit = static_cast<std::uint32_t>(hexUnitAt(body, i + 1));
        i += 4;
        if (unit >= 0xD800 && unit <= 0xDBFF) {  // a validated pair: "\uD8xx\uDCxx"
          auto low = static_cast<std::uint32_t>(hexUnitAt(body, i + 3));
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

// One pass over the text, iterative so that nesting depth costs no stack. The position is a local
// pointer and every step is inline in run(): only escapes, non-ASCII text and numbers that may
// overflow leave the loop. With `members` given, values of the root object's other members are
// checked all the same but get no nodes.
class Parser {
 public:
  explicit Parser(std::string_view text,
                  std::optional<std::span<const std::string_view>> members = std::nullopt)
      : base_(text.data()), end_(text.data() + text.size()), members_(members) {}

  bool run(std::vector<Document::Node>& nodes) {
    // About one node per eight bytes of compact JSON: most documents need no second allocation.
    nodes.reserve(std::min<std::size_t>(static_cast<std::size_t>(end_ - base_) / 8 + 16, 4096));
    // The containers being filled. Parsing never suspends, so one stack per thread serves every
    // document and costs no allocation once grown.
    thread_local std::vector<Open> open;
    open.clear();
    // Inside a root member left out of the index: no nodes until the next root key (or the root's
    // end, which is indexed by its own node).
    bool skipping = false;
    const char* p = base_;
    const char* const end = end_;
    // Compact JSON has no whitespace between tokens: one comparison finds that out.
    auto skipWhitespace = [end](const char* at) {
      while (at < end && static_cast<unsigned char>(*at) <= ' ' && isWhitespace(*at)) ++at;
      return at;
    };
    p = skipWhitespace(p);

  value:  // A value is expected, its whitespace skipped.
    if (p == end) return false;
    {
      const auto index = static_cast<std::uint32_t>(nodes.size());
      const char* const begin = p;
      bool escaped = false;
      Kind kind = Kind::kNull;
      switch (*p) {
        case '{':
        case '[': {
          if (open.size() >= Document::kMaxDepth) return false;
          const bool object = *p == '{';
          if (!skipping) {
            // Arrays count elements as they begin, objects members as their keys are indexed.
            nodes.push_back(
                {object ? Kind::kObject : Kind::kArray, false, offset(p), 0, 0, object ? 0u : 1u});
          }
          p = skipWhitespace(p + 1);
          if (p < end && *p == (object ? '}' : ']')) {
            ++p;
            if (!skipping) {
              nodes[index].end = offset(p);
              nodes[index].after = index + 1;
              nodes[index].count = 0;
            }
            goto after_value;
          }
          open.push_back({skipping ? kNoNode : index, object, false, 0});
          if (object) goto key;
          goto value;
        }
        case '"':
          kind = Kind::kString;
          p = string(p, escaped);
          break;
        case 't':
          p = literal(p, "true");
          kind = Kind::kBoolean;
          break;
        case 'f':
          p = literal(p, "false");
          kind = Kind::kBoolean;
          break;
        case 'n':
          p = literal(p, "null");
          break;
        default:
          p = *p == '-' || isDigit(*p) ? number(p, kind) : nullptr;
      }
      if (!p) return false;
      if (!skipping) nodes.push_back({kind, escaped, offset(begin), offset(p), index + 1, 0});
    }

  after_value:  // Close containers, or go on to the next element or member.
    p = skipWhitespace(p);
    if (open.empty()) return p == end;
    if (p == end) return false;
    {
      const Open container = open.back();
      if (*p == (container.object ? '}' : ']')) {
        ++p;
        if (container.node != kNoNode) {
          nodes[container.node].end = offset(p);
          nodes[container.node].after = static_cast<std::uint32_t>(nodes.size());
          // An object whose keys the mask could not vouch for is checked as it closes.
          if (container.sorted && repeated_ == kNoNode) {
            repeated_ = repeatedKeySorted(nodes, container.node);
          }
        }
        open.pop_back();
        goto after_value;
      }
      if (*p != ',') return false;
      p = skipWhitespace(p + 1);
      if (!container.object) {
        if (container.node != kNoNode) ++nodes[container.node].count;
        goto value;
      }
    }

  key :  // A member's key and colon; its value follows.
  {
    if (p == end || *p != '"') return false;
    const char* const begin = p;
    bool escaped = false;
    p = string(p, escaped);
    if (!p) return false;
    if (members_ && open.size() == 1) skipping = !wanted(begin, p, escaped);
    if (!skipping) {
      Open& container = open.back();
      const auto index = static_cast<std::uint32_t>(nodes.size());
      const std::uint32_t members = ++nodes[container.node].count;
      nodes.push_back({Kind::kString, escaped, offset(begin), offset(p), index + 1, 0});
      // A repeated name is looked for as each key is indexed: a bit per key shape (length, first
      // and last byte) in a 64-bit mask, and only a key whose bit is set already is compared
      // with the earlier keys. A key with escapes, or an object past kMaskedMembers (whose mask
      // fills up), leaves the object to repeatedKeySorted() at its close, so a hostile object of
      // 100,000 members costs n log n, not n^2.
      if (!container.sorted) {
        if (escaped || members > kMaskedMembers) {
          container.sorted = true;
        } else {
          const std::uint64_t bit = keyShapeBit(begin, p);
          if ((container.keys & bit) != 0 && repeated_ == kNoNode &&
              earlierKeyIsTheSame(nodes, container.node, index)) {
            repeated_ = index;
          }
          container.keys |= bit;
        }
      }
    }
    p = skipWhitespace(p);
    if (p == end || *p != ':') return false;
    p = skipWhitespace(p + 1);
    goto value;
  }
  }

  // The key node of the first member found repeated in an indexed object, or kNoNode.
  std::uint32_t repeated() const { return repeated_; }

 private:
  // An open container: its node, or kNoNode when it is not indexed.
  struct Open {
    std::uint32_t node;
    bool object;
    bool sorted;         // objects: its names are compared by repeatedKeySorted() as it closes
    std::uint64_t keys;  // objects: a bit per shape of the names seen (keyShapeBit())
  };
  static constexpr std::uint32_t kNoNode = std::numeric_limits<std::uint32_t>::max();

  std::uint32_t offset(const char* at) const { return static_cast<std::uint32_t>(at - base_); }

  static constexpr std::uint32_t kMaskedMembers = 16;

  // One of 64 bits for the key written in [begin, end), quotes included.
  static std::uint64_t keyShapeBit(const char* begin, const char* end) {
    const auto shape = static_cast<unsigned>(end - begin) * 7 +
                       static_cast<unsigned char>(begin[1]) +
                       static_cast<unsigned char>(end[-2]) * 3;
    return std::uint64_t{1} << (shape & 63);
  }

  // Whether a member of `object` before its last one, `key`, has the same name as written.
  bool earlierKeyIsTheSame(const std::vector<Document::Node>& nodes, std::uint32_t object,
                           std::uint32_t key) const {
    const std::uint32_t length = nodes[key].end - nodes[key].begin;
    for (std::uint32_t at = object + 1; at != key; at = nodes[at + 1].after) {
      if (nodes[at].end - nodes[at].begin == length &&
          std::memcmp(base_ + nodes[at].begin, base_ + nodes[key].begin, length) == 0) {
        return true;
      }
    }
    return false;
  }

  // The later key of the first repeated pair among the members of the closed object `object`, or
  // kNoNode, by sorting the names with escapes resolved.
  std::uint32_t repeatedKeySorted(const std::vector<Document::Node>& nodes,
                                  std::uint32_t object) const {
    thread_local std::vector<std::pair<std::string, std::uint32_t>> names;
    names.clear();
    for (std::uint32_t i = 0, at = object + 1; i < nodes[object].count;
         ++i, at = nodes[at + 1].after) {
      const std::string_view body(base_ + nodes[at].begin + 1, nodes[at].end - nodes[at].begin - 2);
      names.emplace_back(nodes[at].escaped ? unescape(body) : std::string(body), at);
    }
    std::sort(names.begin(), names.end());
    std::uint32_t first = kNoNode;
    for (std::size_t i = 1; i < names.size(); ++i) {
      if (names[i].first == names[i - 1].first) first = std::min(first, names[i].second);
    }
    return first;
  }

  // The string whose opening quote is at `p`: past its closing quote, or nullptr when it is not
  // a valid one.
  const char* string(const char* p, bool& escaped) const {
    ++p;
    for (;;) {
      p = skipPlainBytes(p);
      if (p == end_) return nullptr;
      const auto c = static_cast<unsigned char>(*p);
      if (c == '"') return p + 1;
      if (c == '\\') {
        escaped = true;
        p = escape(p);
      } else {
        p = c >= 0x80 ? utf8Sequence(p) : nullptr;  // a control character must be escaped
      }
      if (!p) return nullptr;
    }
  }

  // Past `word` if the text at `p` is that, else nullptr.
  const char* literal(const char* p, std::string_view word) const {
    if (static_cast<std::size_t>(end_ - p) < word.size() ||
        std::memcmp(p, word.data(), word.size()) != 0) {
      return nullptr;
    }
    return p + word.size();
  }

  // The number at `p`: where it ends, or nullptr when it is not one.
  const char* number(const char* p, Kind& kind) const {
    const char* const start = p;
    p = numberSyntax(p, kind);
    if (!p) return nullptr;
    // A number too large for a double (1e400, or an integer of 400 digits) is refused, as
    // nlohmann::json refuses it ("number overflow"): the DOM parse of an accepted body must not
    // throw, and number() would read it as 0 (found by fuzz/request_context_fuzzer). Only a long
    // integer or a number with a fraction or exponent can be that large.
    if (kind == Kind::kInteger && p - start < 300) return p;
    double value = 0;
    if (std::from_chars(start, p, value).ec == std::errc::result_out_of_range) {
      // Out of range either way: too large, or too small (which reads as 0, as it does there).
      return std::isfinite(std::strtod(std::string(start, p).c_str(), nullptr)) ? p : nullptr;
    }
    return p;
  }

  const char* numberSyntax(const char* p, Kind& kind) const {
    auto digits = [this](const char* at) {
      while (at < end_ && isDigit(*at)) ++at;
      return at;
    };
    kind = Kind::kInteger;
    if (*p == '-') ++p;
    if (p == end_ || !isDigit(*p)) return nullptr;
    p = *p == '0' ? p + 1 : digits(p);
    if (p < end_ && *p == '.') {
      kind = Kind::kNumber;
      ++p;
      if (p == end_ || !isDigit(*p)) return nullptr;
      p = digits(p);
    }
    if (p < end_ && (*p == 'e' || *p == 'E')) {
      kind = Kind::kNumber;
      ++p;
      if (p < end_ && (*p == '+' || *p == '-')) ++p;
      if (p == end_ || !isDigit(*p)) return nullptr;
      p = digits(p);
    }
    return p;
  }

  // Past the bytes of a string from `p` on that need no attention: printable ASCII other than
  // '"' and '\\'.
  const char* skipPlainBytes(const char* p) const {
#if defined(__SSE2__)
    // Sixteen bytes at a time; the first one that needs attention is found from the block's mask,
    // so a short string (most keys) costs one block and no loop over its bytes.
    for (;;) {
      // Quotes after the end: the scan stops there at the latest.
      const __m128i block = text::loadBlock(p, end_, '"');
      // A signed comparison: non-ASCII bytes (0x80 and up) are negative, below 0x20 as the
      // control characters are.
      const __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8('"')),
                                                        _mm_cmpeq_epi8(block, _mm_set1_epi8('\\'))),
                                           _mm_cmplt_epi8(block, _mm_set1_epi8(0x20)));
      // A block past the end stops at its filling quote at the latest, so within the text.
      if (const auto mask = static_cast<unsigned>(_mm_movemask_epi8(special))) {
        return p + std::countr_zero(mask);
      }
      p += 16;
    }
#else
    // Eight at a time while it can.
    constexpr std::uint64_t kOnes = 0x0101010101010101ull;
    constexpr std::uint64_t kHighs = 0x8080808080808080ull;
    auto hasZeroByte = [](std::uint64_t v) { return (v - kOnes) & ~v & kHighs; };
    while (end_ - p >= 8) {
      std::uint64_t v;
      std::memcpy(&v, p, 8);
      std::uint64_t special = (v & kHighs) |                        // non-ASCII
                              ((v - kOnes * 0x20) & ~v & kHighs) |  // control characters
                              hasZeroByte(v ^ (kOnes * '"')) | hasZeroByte(v ^ (kOnes * '\\'));
      if (special) break;
      p += 8;
    }
    while (p < end_ && kPlainStringByte[static_cast<unsigned char>(*p)]) ++p;
    return p;
#endif
  }

  // The escape at `p` (a backslash): past it, or nullptr when it is not a valid one.
  const char* escape(const char* p) const {
    if (end_ - p < 2) return nullptr;
    const char kind = p[1];
    p += 2;
    switch (kind) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        return p;
      case 'u': {
        int unit = hexUnit(p);
        if (unit < 0) return nullptr;
        p += 4;
        if (unit >= 0xDC00 && unit <= 0xDFFF) return nullptr;  // a low surrogate alone
        if (unit < 0xD800 || unit > 0xDBFF) return p;
        // A high surrogate must be followed by an escaped low one.
        if (end_ - p < 2 || p[0] != '\\' || p[1] != 'u') return nullptr;
        int low = hexUnit(p + 2);
        if (low < 0xDC00 || low > 0xDFFF) return nullptr;
        return p + 6;
      }
      default:
        return nullptr;
    }
  }

  // The code unit of the four hex digits at `p`, or -1.
  int hexUnit(const char* p) const {
    return hexUnitAt(std::string_view(base_, static_cast<std::size_t>(end_ - base_)),
                     static_cast<std::size_t>(p - base_));
  }

  // One multi-byte UTF-8 character at `p` (RFC 3629: no overlong forms, surrogates or code points
  // above U+10FFFF): past it, or nullptr.
  const char* utf8Sequence(const char* p) const {
    auto byte = [&](std::size_t offset) -> unsigned {
      return p + offset < end_ ? static_cast<unsigned char>(p[offset]) : 0u;
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
    return length > 0 ? p + length : nullptr;
  }

  // Whether the root member whose key is the string [begin, end) is one of members_.
  bool wanted(const char* begin, const char* end, bool escaped) const {
    auto named = [this](std::string_view key) {
      return std::find(members_->begin(), members_->end(), key) != members_->end();
    };
    const std::string_view body(begin + 1, static_cast<std::size_t>(end - begin) - 2);
    return escaped ? named(unescape(body)) : named(body);
  }

  const char* const base_;
  const char* const end_;
  const std::optional<std::span<const std::string_view>> members_;
  std::uint32_t repeated_ = kNoNode;
};

std::optional<Document> Document::parse(std::string_view text) {
  if (text.size() >= std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  Document document;
  document.text_ = text;
  Parser parser(text);
  if (!parser.run(document.nodes_)) return std::nullopt;
  document.repeated_ = parser.repeated();
  return document;
}

std::optional<Document> Document::parseMembers(std::string_view text,
                                               std::span<const std::string_view> members) {
  if (text.size() >= std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  Document document;
  document.text_ = text;
  Parser parser(text, members);
  if (!parser.run(document.nodes_)) return std::nullopt;
  document.repeated_ = parser.repeated();
  return document;
}

std::optional<Value> Value::find(std::string_view key) const {
  const auto& nodes = document_->nodes_;
  if (nodes[index_].kind != Kind::kObject) return std::nullopt;
  std::optional<Value> found;
  std::uint32_t at = index_ + 1;
  for (std::uint32_t i = 0; i < nodes[index_].count; ++i) {
    const Document::Node& name = nodes[at];
    // An unescaped key is compared as it stands, without a call: most keys differ in length.
    const bool equal = name.escaped ? Value(document_, at).string() == key
                                    : name.end - name.begin - 2 == key.size() &&
                                          std::memcmp(document_->text_.data() + name.begin + 1,
                                                      key.data(), key.size()) == 0;
    if (equal) found = Value(document_, at + 1);  // the last of repeated keys, as nlohmann's
    at = nodes[at + 1].after;
  }
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

std::optional<RepeatedMember> Value::repeatedMember() const {
  const auto& nodes = document_->nodes_;
  const std::uint32_t repeated = document_->repeated_;
  auto within = [&](std::uint32_t value) {
    return repeated >= value && repeated < nodes[value].after;
  };
  if (repeated == Document::kNoNode || !within(index_)) return std::nullopt;
  // Down from this value to the key, naming each step.
  RepeatedMember found;
  std::uint32_t at = index_;
  for (;;) {
    const bool array = nodes[at].kind == Kind::kArray;
    std::uint32_t child = at + 1;
    std::uint32_t next = Document::kNoNode;
    for (std::uint32_t i = 0; i < nodes[at].count && next == Document::kNoNode; ++i) {
      if (array) {
        if (within(child)) {
          found.path += "[" + std::to_string(i) + "]";
          next = child;
        }
        child = nodes[child].after;
      } else {
        if (child == repeated || within(child + 1)) {
          const std::string name = Value(document_, child).string();
          found.path += (found.path.empty() ? "" : ".") + name;
          if (child == repeated) {
            found.name = name;
            return found;
          }
          next = child + 1;  // into the member's value
        }
        child = nodes[child + 1].after;
      }
    }
    if (next == Document::kNoNode) return std::nullopt;  // not reached: `repeated` is inside
    at = next;
  }
}

bool Value::boolean() const { return raw() == "true"; }

std::string Value::string() const {
  std::string_view body = raw().substr(1, raw().size() - 2);
  if (!document_->nodes_[index_].escaped) return std::string(body);
  return unescape(body);
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
