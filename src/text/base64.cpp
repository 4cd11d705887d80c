#include "costgate/text/base64.h"

#include <openssl/evp.h>

#include <climits>

namespace costgate::text {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const unsigned char* bytesOf(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

unsigned char* bytesOf(std::string& text) { return reinterpret_cast<unsigned char*>(text.data()); }

// The count of '=' ending `encoded` when it is alphabet characters followed by the padding of its
// last group of four, or none of it; nullopt otherwise. EVP_DecodeBlock is lenient where this must
// not be: it skips leading and trailing whitespace and takes '=' in any of a group's last three
// places ("Z===" decodes), so the shape is checked here and EVP only turns groups into bytes.
std::optional<std::size_t> paddingOfWellFormed(std::string_view encoded) {
  std::size_t padding = 0;
  while (padding < 2 && padding < encoded.size() && encoded[encoded.size() - 1 - padding] == '=') {
    ++padding;
  }
  if (padding > 0 && encoded.size() % 4 != 0) return std::nullopt;
  const std::string_view digits = encoded.substr(0, encoded.size() - padding);
  if (digits.size() % 4 == 1 || digits.find_first_not_of(kAlphabet) != std::string_view::npos) {
    return std::nullopt;
  }
  return padding;
}

}  // namespace

std::string base64Encode(std::string_view bytes) {
  if (bytes.size() > std::size_t{INT_MAX} / 4 * 3) return {};  // EVP counts in int
  std::string text((bytes.size() + 2) / 3 * 4, '\0');
  EVP_EncodeBlock(bytesOf(text), bytesOf(bytes), static_cast<int>(bytes.size()));
  return text;
}

std::optional<std::string> base64Decode(std::string_view encoded) {
  const std::optional<std::size_t> padding = paddingOfWellFormed(encoded);
  if (!padding) return std::nullopt;
  if (encoded.size() > std::size_t{INT_MAX} - 3) return std::nullopt;  // EVP counts in int
  // EVP wants the padding, which may have been left out; it decodes '=' as zero bits and counts
  // those bytes as well, so they come off the end.
  const std::size_t missing = (4 - encoded.size() % 4) % 4;
  std::string padded;
  if (missing > 0) padded = std::string(encoded) + std::string(missing, '=');
  const std::string_view whole = missing > 0 ? std::string_view(padded) : encoded;
  std::string bytes(whole.size() / 4 * 3, '\0');
  if (EVP_DecodeBlock(bytesOf(bytes), bytesOf(whole), static_cast<int>(whole.size())) < 0) {
    return std::nullopt;
  }
  bytes.resize(bytes.size() - *padding - missing);
  return bytes;
}

}  // namespace costgate::text
