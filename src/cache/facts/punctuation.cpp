#include "costgate/cache/facts/punctuation.h"

#include <utility>

#include "costgate/cache/facts/text.h"

namespace costgate::cache::facts {
namespace {

constexpr std::pair<std::string_view, std::string_view> kCurrencies[] = {
    {"$", "usd"}, {kEuro, "eur"}, {kPound, "gbp"}, {kYen, "jpy"}};

constexpr std::string_view kSymbols[] = {
    kLeftDouble,    kRightDouble,    kLeftSingle, kRightSingle,
    kLeftGuillemet, kRightGuillemet, kEllipsis,   kInvertedQuestion,
    kInvertedBang,  kBullet,         kTimes,      kDivide,
    kMinus,         kMiddleDot,      kLessEqual,  kGreaterEqual,
    kNotEqual,      kEuro,           kPound,      kYen};

}  // namespace

std::size_t symbolAt(std::string_view s, std::size_t i) {
  if (i >= s.size() || !isHigh(s[i])) return 0;
  for (std::string_view symbol : kSymbols) {
    if (startsAt(s, i, symbol)) return symbol.size();
  }
  return 0;
}

std::size_t spaceWidth(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) -> unsigned {
    return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u;
  };
  if (isSpace(s[i]) || s[i] == kMask) return 1;
  if (byte(i) == 0xC2 && byte(i + 1) == 0xA0) return 2;  // no-break space
  if (byte(i) == 0xE2 && byte(i + 1) == 0x80) {
    unsigned third = byte(i + 2);
    // U+2000..U+200B spaces, U+2013 and U+2014 dashes, U+202F narrow no-break space.
    if ((third >= 0x80 && third <= 0x8B) || third == 0x93 || third == 0x94 || third == 0xAF) {
      return 3;
    }
  }
  if (byte(i) == 0xE3 && byte(i + 1) == 0x80 && byte(i + 2) == 0x80) return 3;  // U+3000
  return 0;
}

std::optional<Currency> currencyAt(std::string_view s, std::size_t i) {
  for (const auto& [symbol, unit] : kCurrencies) {
    if (startsAt(s, i, symbol)) return Currency{unit, symbol.size()};
  }
  return std::nullopt;
}

}  // namespace costgate::cache::facts
