#include "costgate/tokenizer/unicode_class.h"

#include <string_view>
#include <unordered_map>
#include <vector>

namespace costgate::tokenizer {
namespace {

struct ClassRange {
  char32_t first;
  char32_t last;
  CharClass klass;
};

constexpr CharClass kUppercase = CharClass::kUppercase;
constexpr CharClass kTitlecase = CharClass::kTitlecase;
constexpr CharClass kLowercase = CharClass::kLowercase;
constexpr CharClass kModifierLetter = CharClass::kModifierLetter;
constexpr CharClass kOtherLetter = CharClass::kOtherLetter;
constexpr CharClass kMark = CharClass::kMark;
constexpr CharClass kNumber = CharClass::kNumber;
constexpr CharClass kWhitespace = CharClass::kWhitespace;

constexpr ClassRange kRanges[] = {
#include "unicode_ranges.inc"
};

// A two-stage table: the class of every code point in blocks of 128, identical blocks
// shared, so a lookup is two loads instead of a binary search over 2,400 ranges.
class ClassTable {
 public:
  static constexpr char32_t kBlock = 128;
  static constexpr char32_t kCodePoints = 0x110000;

  ClassTable() {
    std::vector<CharClass> all(kCodePoints, CharClass::kOther);
    for (const auto& range : kRanges) {
      for (char32_t c = range.first; c <= range.last; ++c) all[c] = range.klass;
    }
    index_.resize(kCodePoints / kBlock);
    std::unordered_map<std::string_view, std::uint16_t> seen;
    for (char32_t block = 0; block < kCodePoints / kBlock; ++block) {
      std::string_view content(reinterpret_cast<const char*>(all.data() + block * kBlock), kBlock);
      auto [it, added] = seen.try_emplace(content, static_cast<std::uint16_t>(seen.size()));
      if (added) blocks_.insert(blocks_.end(), content.begin(), content.end());
      index_[block] = it->second;
    }
  }

  CharClass of(char32_t c) const {
    if (c >= kCodePoints) return CharClass::kOther;
    return static_cast<CharClass>(blocks_[std::size_t{index_[c / kBlock]} * kBlock + c % kBlock]);
  }

 private:
  std::vector<std::uint16_t> index_;
  std::vector<char> blocks_;  // CharClass values
};

const ClassTable& classTable() {
  static const ClassTable table;
  return table;
}

}  // namespace

CharClass classOf(char32_t code_point) { return classTable().of(code_point); }

Utf8Char decodeUtf8(std::string_view text, std::size_t at) {
  constexpr Utf8Char kInvalid{0xFFFFFFFF, 1};
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(at);
  if (lead < 0x80) return {lead, 1};
  std::size_t length;
  unsigned char low = 0x80;  // the second byte's range excludes overlong and surrogate forms
  unsigned char high = 0xBF;
  char32_t value;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    value = lead & 0x0F;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return kInvalid;
  }
  if (at + length > text.size()) return kInvalid;
  if (byte(at + 1) < low || byte(at + 1) > high) return kInvalid;
  value = (value << 6) | (byte(at + 1) & 0x3F);
  for (std::size_t i = 2; i < length; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return kInvalid;
    value = (value << 6) | (byte(at + i) & 0x3F);
  }
  return {value, static_cast<std::uint8_t>(length)};
}

}  // namespace costgate::tokenizer
