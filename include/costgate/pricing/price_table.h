#pragma once
// The built-in price table: what OpenAI, Anthropic and Google publish for their current models, so
// that a model served under its provider's name is priced without a `price:` block in the YAML
// (which still overrides it, key by key). Prices change: the table is dated, and the date is shown
// by GET /v1/models and in docs/costs.md.

#include <optional>
#include <span>
#include <string_view>

#include "costgate/pricing/price.h"

namespace costgate::pricing {

// When the table's figures were checked against the providers' pricing pages (UTC date).
inline constexpr std::string_view kPriceTableDate = "2026-12-07";

// One model's published standard (not batch) prices, in nano-dollars per million tokens.
struct ListedPrice {
  std::string_view model;     // the provider's name for it, e.g. "gpt-4o-mini"
  std::string_view provider;  // "openai", "anthropic" or "google"
  Price price;                // input, cached input (a prompt-cache hit), output
  // Writing a prompt prefix to the provider's cache, where it is billed apart (Anthropic's
  // 5-minute cache). Not charged yet: OpenAI-shaped usage does not report cache writes.
  std::optional<Nanos> cache_write;
};

// The table's entry for `model`: its exact name, or a dated snapshot of a listed name
// ("gpt-4o-2024-08-06", "claude-sonnet-4-20250514"); nullptr when the table does not list it.
const ListedPrice* listedPrice(std::string_view model);

// Every entry, in the order of the source (providers, then models from strongest to cheapest).
std::span<const ListedPrice> priceTable();

}  // namespace costgate::pricing
