#include "costgate/pricing/price.h"

#include <algorithm>
#include <limits>

namespace costgate::pricing {

namespace {

constexpr Micros kMicrosPerDollar = 1'000'000;
constexpr std::int64_t kTokensPerPriceUnit = 1'000'000;  // prices are per million tokens

bool isDigits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Micros costOf(const Price& price, const Usage& usage) {
  using Wide = unsigned __int128;
  std::uint64_t cached = std::min(usage.cached_tokens, usage.prompt_tokens);
  std::uint64_t reasoning = std::min(usage.reasoning_tokens, usage.completion_tokens);
  // Micro-dollars per million tokens times tokens: millionths of a micro-dollar, exact.
  Wide scaled = Wide(usage.prompt_tokens - cached) * Wide(price.input) +
                Wide(cached) * Wide(price.cached_input.value_or(price.input)) +
                Wide(usage.completion_tokens - reasoning) * Wide(price.output) +
                Wide(reasoning) * Wide(price.reasoning.value_or(price.output));
  Wide micros = (scaled + kTokensPerPriceUnit / 2) / kTokensPerPriceUnit;
  return micros > Wide(std::numeric_limits<Micros>::max()) ? std::numeric_limits<Micros>::max()
                                                           : static_cast<Micros>(micros);
}

Micros addSaturating(Micros a, Micros b) {
  Micros sum;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<Micros>::max() : std::numeric_limits<Micros>::min();
}

std::optional<Micros> parseUsd(std::string_view text) {
  std::size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (!isDigits(whole) || !isDigits(fraction) || whole.empty() || whole.size() > 13 ||
      fraction.size() > 6 || (dot != std::string_view::npos && fraction.empty())) {
    return std::nullopt;
  }
  Micros amount = 0;
  for (char c : whole) amount = amount * 10 + (c - '0');
  if (__builtin_mul_overflow(amount, kMicrosPerDollar, &amount)) return std::nullopt;
  Micros scale = kMicrosPerDollar / 10;
  for (char c : fraction) {
    if (__builtin_add_overflow(amount, (c - '0') * scale, &amount)) return std::nullopt;
    scale /= 10;
  }
  return amount;
}

std::string formatUsd(Micros amount) {
  bool negative = amount < 0;
  // Through unsigned: the most negative amount has no positive counterpart.
  std::uint64_t magnitude =
      negative ? 0 - static_cast<std::uint64_t>(amount) : static_cast<std::uint64_t>(amount);
  std::string fraction = std::to_string(magnitude % kMicrosPerDollar);
  fraction.insert(0, 6 - fraction.size(), '0');
  return (negative ? "-" : "") + std::to_string(magnitude / kMicrosPerDollar) + "." + fraction;
}

}  // namespace costgate::pricing
