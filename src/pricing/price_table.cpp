#include "costgate/pricing/price_table.h"

#include <algorithm>
#include <cctype>

namespace costgate::pricing {

namespace {

// Where the figures come from: each provider's public API pricing page, standard (not batch,
// priority or flex) rates per million tokens, for prompts within the base context tier:
//   OpenAI     https://openai.com/api/pricing (and platform.openai.com/docs/pricing)
//   Anthropic  https://docs.anthropic.com/en/docs/about-claude/pricing (base input, 5-minute
//              cache writes, cache hits, output)
//   Google     https://ai.google.dev/gemini-api/docs/pricing (Gemini API, paid tier; prompts up
//              to 200k tokens; context-cache storage per hour is not a per-token price)
// Compiled on kPriceTableDate from the prices those pages publish, as the author knew them then
// (the build machine cannot reach them): check a model's line against its page before trusting a
// bill to it, and override it in the YAML (`price:`) where it differs. Amounts are nano-dollars
// per million tokens: $0.15 is 150'000'000.
constexpr ListedPrice kTable[] = {
    // OpenAI: cached input is the automatic prompt-cache rate; cache writes cost nothing extra.
    {.model = "gpt-5",
     .provider = "openai",
     .price = {.input = 1'250'000'000,
               .cached_input = 125'000'000,
               .output = 10'000'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "gpt-5-mini",
     .provider = "openai",
     .price = {.input = 250'000'000,
               .cached_input = 25'000'000,
               .output = 2'000'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "gpt-5-nano",
     .provider = "openai",
     .price = {.input = 50'000'000,
               .cached_input = 5'000'000,
               .output = 400'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "gpt-4.1",
     .provider = "openai",
     .price = {.input = 2'000'000'000,
               .cached_input = 500'000'000,
               .output = 8'000'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "gpt-4.1-mini",
     .provider = "openai",
     .price = {.input = 400'000'000,
               .cached_input = 100'000'000,
               .output = 1'600'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "gpt-4.1-nano",
     .provider = "openai",
     .price = {.input = 100'000'000,
               .cached_input = 25'000'000,
               .output = 400'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "gpt-4o",
     .provider = "openai",
     .price = {.input = 2'500'000'000,
               .cached_input = 1'250'000'000,
               .output = 10'000'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "gpt-4o-mini",
     .provider = "openai",
     .price = {.input = 150'000'000,
               .cached_input = 75'000'000,
               .output = 600'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "o3",
     .provider = "openai",
     .price = {.input = 2'000'000'000,
               .cached_input = 500'000'000,
               .output = 8'000'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "o4-mini",
     .provider = "openai",
     .price = {.input = 1'100'000'000,
               .cached_input = 275'000'000,
               .output = 4'400'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    // Embeddings: input only; nothing is generated and no prompt cache applies.
    {.model = "text-embedding-3-large",
     .provider = "openai",
     .price = {.input = 130'000'000,
               .cached_input = std::nullopt,
               .output = 0,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "text-embedding-3-small",
     .provider = "openai",
     .price = {.input = 20'000'000,
               .cached_input = std::nullopt,
               .output = 0,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    // Anthropic: cache hits at a tenth of input, 5-minute cache writes at 1.25x input.
    {.model = "claude-opus-4-5",
     .provider = "anthropic",
     .price = {.input = 5'000'000'000,
               .cached_input = 500'000'000,
               .output = 25'000'000'000,
               .reasoning = std::nullopt},
     .cache_write = 6'250'000'000},
    {.model = "claude-opus-4-1",
     .provider = "anthropic",
     .price = {.input = 15'000'000'000,
               .cached_input = 1'500'000'000,
               .output = 75'000'000'000,
               .reasoning = std::nullopt},
     .cache_write = 18'750'000'000},
    {.model = "claude-sonnet-4-5",
     .provider = "anthropic",
     .price = {.input = 3'000'000'000,
               .cached_input = 300'000'000,
               .output = 15'000'000'000,
               .reasoning = std::nullopt},
     .cache_write = 3'750'000'000},
    {.model = "claude-sonnet-4",
     .provider = "anthropic",
     .price = {.input = 3'000'000'000,
               .cached_input = 300'000'000,
               .output = 15'000'000'000,
               .reasoning = std::nullopt},
     .cache_write = 3'750'000'000},
    {.model = "claude-haiku-4-5",
     .provider = "anthropic",
     .price = {.input = 1'000'000'000,
               .cached_input = 100'000'000,
               .output = 5'000'000'000,
               .reasoning = std::nullopt},
     .cache_write = 1'250'000'000},
    {.model = "claude-3-5-haiku",
     .provider = "anthropic",
     .price = {.input = 800'000'000,
               .cached_input = 80'000'000,
               .output = 4'000'000'000,
               .reasoning = std::nullopt},
     .cache_write = 1'000'000'000},
    // Google: context-cache reads; the cache's storage is billed per hour, not per call.
    {.model = "gemini-2.5-pro",
     .provider = "google",
     .price = {.input = 1'250'000'000,
               .cached_input = 125'000'000,
               .output = 10'000'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "gemini-2.5-flash",
     .provider = "google",
     .price = {.input = 300'000'000,
               .cached_input = 30'000'000,
               .output = 2'500'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "gemini-2.5-flash-lite",
     .provider = "google",
     .price = {.input = 100'000'000,
               .cached_input = 10'000'000,
               .output = 400'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
    {.model = "gemini-2.0-flash",
     .provider = "google",
     .price = {.input = 100'000'000,
               .cached_input = 25'000'000,
               .output = 400'000'000,
               .reasoning = std::nullopt},
     .cache_write = std::nullopt},
};

bool isDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](unsigned char c) { return std::isdigit(c) != 0; });
}

// "-20250514" (Anthropic) or "-2024-08-06" (OpenAI): the suffix of a dated snapshot. Anything
// else ("-mini", "-5") names another model.
bool isSnapshotSuffix(std::string_view suffix) {
  if (suffix.size() == 9 && suffix[0] == '-') return isDigits(suffix.substr(1));
  return suffix.size() == 11 && suffix[0] == '-' && suffix[5] == '-' && suffix[8] == '-' &&
         isDigits(suffix.substr(1, 4)) && isDigits(suffix.substr(6, 2)) &&
         isDigits(suffix.substr(9, 2));
}

}  // namespace

const ListedPrice* listedPrice(std::string_view model) {
  for (const ListedPrice& entry : kTable) {
    if (model == entry.model) return &entry;
  }
  for (const ListedPrice& entry : kTable) {
    if (model.starts_with(entry.model) && isSnapshotSuffix(model.substr(entry.model.size()))) {
      return &entry;
    }
  }
  return nullptr;
}

std::span<const ListedPrice> priceTable() { return kTable; }

}  // namespace costgate::pricing
