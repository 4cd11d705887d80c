#include "costgate/pricing/price.h"

#include <algorithm>
#include <limits>

namespace costgate::pricing {

namespace {

constexpr std::int64_t kTokensPerPriceUnit = 1'000'000;  // prices are per million tokens

bool isDigits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Nanos costOf(const Price& price, const Usage& usage) {
  using Wide = unsigned __int128;
  std::uint64_t cached = std::min(usage.cached_tokens, usage.prompt_tokens);
  std::uint64_t reasoning = std::min(usage.reasoning_tokens, usage.completion_tokens);
  // Nano-dollars per million tokens times tokens: millionths of a nano-dollar, exact.
  Wide scaled = Wide(usage.prompt_tokens - cached) * Wide(price.input) +
                Wide(cached) * Wide(price.cached_input.value_or(price.input)) +
                Wide(usage.completion_tokens - reasoning) * Wide(price.output) +
                Wide(reasoning) * Wide(price.reasoning.value_or(price.output));
  Wide nanos = (scaled + kTokensPerPriceUnit / 2) / kTokensPerPriceUnit;
  return nanos > Wide(std::numeric_limits<Nanos>::max()) ? std::numeric_limits<Nanos>::max()
                                                         : static_cast<Nanos>(nanos);
}

Nanos addSaturating(Nanos a, Nanos b) {
  Nanos sum;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<Nanos>::max() : std::numeric_limits<Nanos>::min();
}

std::optional<Nanos> parseUsd(std::string_view text) {
  std::size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (!isDigits(whole) || !isDigits(fraction) || whole.empty() || whole.size() > 13 ||
      fraction.size() > 9 || (dot != std::string_view::npos && fraction.empty())) {
    return std::nullopt;
  }
  Nanos amount = 0;
  for (char c : whole) amount = amount * 10 + (c - '0');
  if (__builtin_mul_overflow(amount, kNanosPerDollar, &amount)) return std::nullopt;
  Nanos scale = kNanosPerDollar / 10;
  for (char c : fraction) {
    if (__builtin_add_overflow(amount, (c - '0') * scale, &amount)) return std::nullopt;
    scale /= 10;
  }
  return amount;
}

std::string formatUsd(Nanos amount) {
  bool negative = amount < 0;
  // Through unsigned: the most negative amount has no positive counterpart.
  std::uint64_t magnitude =
      negative ? 0 - static_cast<std::uint64_t>(amount) : static_cast<std::uint64_t>(amount);
  std::string fraction = std::to_string(magnitude % kNanosPerDollar);
  fraction.insert(0, 9 - fraction.size(), '0');
  while (fraction.size() > 6 && fraction.back() == '0') fraction.pop_back();
  return (negative ? "-" : "") + std::to_string(magnitude / kNanosPerDollar) + "." + fraction;
}

}  // namespace costgate::pricing
