#pragma once
// A read-only index over JSON text. One strict pass (RFC 8259, UTF-8 and escapes checked, as
// strict as nlohmann::json's parser) records each value's kind and byte range without copying or
// unescaping, so the request path can check and route a body without building a DOM. Code that
// edits a body parses it with nlohmann::json instead.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace costgate::jsonview {

// Integer: a number written without fraction or exponent; Number: any other number.
enum class Kind : std::uint8_t { kNull, kBoolean, kString, kInteger, kNumber, kArray, kObject };

class Document;

// A member name found twice in one object (`{"n":1,"n":2}`, or `"n"` and `"\u006e"`): the name,
// escapes resolved, and where the later one is, as a path from the value asked (`messages[0].role`,
// or `n` for a member of that value itself).
struct RepeatedMember {
  std::string name;
  std::string path;
};

// One value of a Document; valid while the Document and the text it indexes live.
class Value {
 public:
  Kind kind() const;
  bool isNull() const { return kind() == Kind::kNull; }
  bool isString() const { return kind() == Kind::kString; }
  bool isArray() const { return kind() == Kind::kArray; }
  bool isObject() const { return kind() == Kind::kObject; }
  bool isNumber() const { return kind() == Kind::kInteger || kind() == Kind::kNumber; }

  // The value's text as it appears in the document (a string keeps its quotes).
  std::string_view raw() const;
  // Arrays: the element count; objects: the member count; anything else: 0.
  std::size_t size() const;
  // Objects: the value of the member named `key` (the last one when repeated, as nlohmann::json
  // keeps it); nullopt when absent or when this is not an object.
  std::optional<Value> find(std::string_view key) const;
  // Objects: the values of the members named `keys`, found in one pass (each the last of repeated
  // keys, as find() has it); nullopt for those absent, or for all when this is not an object.
  template <std::size_t N>
  std::array<std::optional<Value>, N> findEach(const std::string_view (&keys)[N]) const;
  // Arrays: the elements in order.
  std::vector<Value> elements() const;
  // Objects: calls visit(key, value) for each member in order (the key is a String value).
  template <class Visit>
  void forEachMember(Visit&& visit) const;
  // The first repeated member name the parse found in an object inside this value (itself
  // included), or nullopt. The parse notes it as it indexes the keys, so asking costs nothing
  // when there is none; with parseMembers(), only the indexed members are compared.
  std::optional<RepeatedMember> repeatedMember() const;

  // Boolean only.
  bool boolean() const;
  // String only: the text with escapes resolved.
  std::string string() const;
  // String only: whether the unescaped text equals `text`, without allocating when the string
  // has no escapes.
  bool stringEquals(std::string_view text) const;
  // String only: whether the text has backslash escapes; if not, unquoted() is its value.
  bool hasEscapes() const;
  // String only: the text between the quotes, escapes not resolved.
  std::string_view unquoted() const;
  // Integer or Number.
  double number() const;
  // Integer only: the value, or nullopt when it does not fit in 64 signed bits.
  std::optional<std::int64_t> integer() const;

 private:
  friend class Document;
  Value(const Document* document, std::uint32_t index) : document_(document), index_(index) {}
  const Document* document_;
  std::uint32_t index_;
};

class Document {
 public:
  // Indexes `text`, which must outlive the Document; nullopt when it is not exactly one valid
  // JSON value (surrounding whitespace allowed) or nests deeper than kMaxDepth.
  static std::optional<Document> parse(std::string_view text);
  // As parse(), checking all of `text` as strictly, but when the root is an object its index holds
  // only the members named in `members` (with escapes resolved): the others are as if absent, for
  // size(), find() and forEachMember() too. For a reader of a few members of a large document
  // (pricing reads a whole answer's `usage`), which then builds no index for the rest.
  static std::optional<Document> parseMembers(std::string_view text,
                                              std::span<const std::string_view> members);
  static constexpr std::size_t kMaxDepth = 512;

  Value root() const { return Value(this, 0); }

 private:
  friend class Value;
  struct Node {
    Kind kind;
    bool escaped;         // strings: contains a backslash escape
    std::uint32_t begin;  // byte range of the value's text
    std::uint32_t end;
    std::uint32_t after;  // index of the first node after this value's subtree
    std::uint32_t count;  // arrays: elements; objects: members (each is a key node + value tree)
  };
  friend class Parser;

  static constexpr std::uint32_t kNoNode = 0xFFFFFFFF;

  std::string_view text_;
  std::vector<Node> nodes_;
  // The key node of the first member whose name an earlier member of its object has, or kNoNode.
  std::uint32_t repeated_ = kNoNode;
};

// The accessors every check calls, inline.
inline Kind Value::kind() const { return document_->nodes_[index_].kind; }

inline std::string_view Value::raw() const {
  const auto& node = document_->nodes_[index_];
  return document_->text_.substr(node.begin, node.end - node.begin);
}

inline std::size_t Value::size() const { return document_->nodes_[index_].count; }

inline bool Value::hasEscapes() const { return document_->nodes_[index_].escaped; }

inline std::string_view Value::unquoted() const {
  const auto& node = document_->nodes_[index_];
  return document_->text_.substr(node.begin + 1, node.end - node.begin - 2);
}

inline bool Value::stringEquals(std::string_view text) const {
  if (kind() != Kind::kString) return false;
  if (!hasEscapes()) return unquoted() == text;
  return string() == text;
}

template <std::size_t N>
std::array<std::optional<Value>, N> Value::findEach(const std::string_view (&keys)[N]) const {
  std::array<std::optional<Value>, N> found;
  auto match = [&](std::string_view name, const Value& value) {
    for (std::size_t i = 0; i < N; ++i) {
      if (name == keys[i]) {
        found[i] = value;
        break;
      }
    }
  };
  // Each key is read once, then compared with every name (most differ in length).
  forEachMember([&](const Value& key, const Value& value) {
    if (key.hasEscapes()) {
      match(key.string(), value);
    } else {
      match(key.unquoted(), value);
    }
  });
  return found;
}

template <class Visit>
void Value::forEachMember(Visit&& visit) const {
  const auto& nodes = document_->nodes_;
  if (nodes[index_].kind != Kind::kObject) return;
  std::uint32_t at = index_ + 1;
  for (std::uint32_t i = 0; i < nodes[index_].count; ++i) {
    visit(Value(document_, at), Value(document_, at + 1));
    at = nodes[at + 1].after;
  }
}

}  // namespace costgate::jsonview
