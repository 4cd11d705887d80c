#pragma once
// ASCII lower-casing, for header names, URL schemes and the phrase and keyword lists filters
// compare case-insensitively. Bytes outside A-Z (UTF-8 included) are kept as they are.

#include <string>
#include <string_view>

namespace costgate::text {

std::string lowerAscii(std::string_view text);

}  // namespace costgate::text
