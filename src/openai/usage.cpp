#include "costgate/openai/usage.h"

#include <cstdint>

namespace costgate::openai {

namespace {

// Reads `object[key]` into *out when present; false when present but not a count.
bool readCount(const jsonview::Value& object, std::string_view key, std::uint64_t* out) {
  auto value = object.find(key);
  if (!value || value->isNull()) return true;
  auto count = value->integer();
  if (!count || *count < 0) return false;
  *out = static_cast<std::uint64_t>(*count);
  return true;
}

}  // namespace

std::optional<pricing::Usage> usageOf(const jsonview::Value& response) {
  if (!response.isObject()) return std::nullopt;
  auto usage = response.find("usage");
  if (!usage || !usage->isObject()) return std::nullopt;
  pricing::Usage counts;
  bool valid = readCount(*usage, "prompt_tokens", &counts.prompt_tokens) &&
               readCount(*usage, "completion_tokens", &counts.completion_tokens);
  if (auto details = usage->find("prompt_tokens_details"); details && details->isObject()) {
    valid = valid && readCount(*details, "cached_tokens", &counts.cached_tokens);
  }
  if (auto details = usage->find("completion_tokens_details"); details && details->isObject()) {
    valid = valid && readCount(*details, "reasoning_tokens", &counts.reasoning_tokens);
  }
  if (!valid) return std::nullopt;
  return counts;
}

}  // namespace costgate::openai
