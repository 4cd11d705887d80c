#pragma once
// Base64 (RFC 4648, standard alphabet, padded), as OpenAI's embeddings, data URLs and tiktoken
// rank files use it.

#include <optional>
#include <string>
#include <string_view>

namespace costgate::text {

std::string base64Encode(std::string_view bytes);

// nullopt when `encoded` has a character outside the alphabet, bad padding, or a length that is
// not a multiple of 4 (padding may be omitted).
std::optional<std::string> base64Decode(std::string_view encoded);

}  // namespace costgate::text
