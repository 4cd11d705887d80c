#pragma once
// What a call costs, from the usage its backend reported and the model's prices. Plain integer
// arithmetic: money never passes through a double, so totals add up to the micro-dollar.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace costgate::pricing {

// Money as an integer: 1 USD = 1,000,000 micro-dollars.
using Micros = std::int64_t;

// A model's prices in micro-dollars per million tokens ($0.15 per million = 150'000). Cached input
// defaults to the input price, reasoning to the output price, where a model does not price them
// apart.
struct Price {
  Micros input = 0;
  std::optional<Micros> cached_input;
  Micros output = 0;
  std::optional<Micros> reasoning;
};

// Token counts as OpenAI's `usage` reports them: cached tokens are part of the prompt tokens and
// reasoning tokens part of the completion tokens.
struct Usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  std::uint64_t cached_tokens = 0;     // prompt_tokens_details.cached_tokens
  std::uint64_t reasoning_tokens = 0;  // completion_tokens_details.reasoning_tokens
};

// The cost of one call, rounded once to the nearest micro-dollar (halves up). Counts a backend
// reports inconsistently (more cached than prompt tokens) are clamped, never charged twice.
// Saturates instead of overflowing.
Micros costOf(const Price& price, const Usage& usage);

// a + b, held at the largest (or smallest) amount instead of overflowing: totals of hostile or
// absurd usage stay wrong-but-defined, never undefined.
Micros addSaturating(Micros a, Micros b);

// A decimal USD amount such as "0.15", "2.5" or "10" with at most six decimals, into micro-dollars;
// nullopt for anything else (signs, exponents, more decimals, more than fits in Micros).
std::optional<Micros> parseUsd(std::string_view text);

// Micro-dollars as a decimal USD amount with six decimals: 7 -> "0.000007".
std::string formatUsd(Micros amount);

}  // namespace costgate::pricing
