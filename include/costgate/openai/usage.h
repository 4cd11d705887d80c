#pragma once
// The token usage a backend reports in a response body (`usage`, OpenAI's shape), as pricing
// counts it.

#include <optional>

#include "costgate/jsonview/document.h"
#include "costgate/pricing/price.h"

namespace costgate::openai {

// The `usage` object of a chat completion, completion or embeddings response (or of a stream's
// final usage chunk); nullopt when there is none or it is not made of non-negative integers.
// Missing counts are 0 (embeddings report no completion tokens).
std::optional<pricing::Usage> usageOf(const jsonview::Value& response);

}  // namespace costgate::openai
