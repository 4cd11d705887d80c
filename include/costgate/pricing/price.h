#pragma once
// What a call costs, from the usage its backend reported and the model's prices. Plain integer
// arithmetic: money never passes through a double, so totals add up to the nano-dollar.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace costgate::pricing {

// Money as an integer: 1 USD = 1,000,000,000 nano-dollars. Fine enough that a single token at
// $0.01 per million tokens (10 nano-dollars) is charged, not rounded away; an int64 holds 9.2
// billion dollars.
using Nanos = std::int64_t;
inline constexpr Nanos kNanosPerDollar = 1'000'000'000;

// Nano-dollars as USD for a metric (a double: exact up to 2^53 nano-dollars, $9 million).
inline double usdOf(Nanos amount) {
  return static_cast<double>(amount) / static_cast<double>(kNanosPerDollar);
}

// A model's prices in nano-dollars per million tokens ($0.15 per million = 150'000'000). Cached
// input defaults to the input price, reasoning to the output price, where a model does not price
// them apart.
struct Price {
  Nanos input = 0;
  std::optional<Nanos> cached_input;
  Nanos output = 0;
  std::optional<Nanos> reasoning;
};

// Token counts as OpenAI's `usage` reports them: cached tokens are part of the prompt tokens and
// reasoning tokens part of the completion tokens.
struct Usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  std::uint64_t cached_tokens = 0;     // prompt_tokens_details.cached_tokens
  std::uint64_t reasoning_tokens = 0;  // completion_tokens_details.reasoning_tokens
};

// The cost of one call, rounded once to the nearest nano-dollar (halves up). Counts a backend
// reports inconsistently (more cached than prompt tokens) are clamped, never charged twice.
// Saturates instead of overflowing.
Nanos costOf(const Price& price, const Usage& usage);

// a + b, held at the largest (or smallest) amount instead of overflowing: totals of hostile or
// absurd usage stay wrong-but-defined, never undefined.
Nanos addSaturating(Nanos a, Nanos b);

// A decimal USD amount such as "0.15", "2.5" or "10" with at most nine decimals, into
// nano-dollars; nullopt for anything else (signs, exponents, more decimals, more than fits in
// Nanos).
std::optional<Nanos> parseUsd(std::string_view text);

// Nano-dollars as a decimal USD amount, exact, with six to nine decimals (trailing zeros past the
// sixth dropped): 7000 -> "0.000007", 125600 -> "0.0001256", 200 -> "0.0000002".
std::string formatUsd(Nanos amount);

}  // namespace costgate::pricing
