#pragma once
// SHA-256 (OpenSSL's): cache keys, and gateway keys kept as digests so that the configuration
// need not hold them and a lookup's timing says nothing about the key.

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace costgate::crypto {

using Sha256Digest = std::array<unsigned char, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(std::string_view bytes);
  // The digest of everything updated so far; once.
  Sha256Digest finish();

 private:
  EVP_MD_CTX* context_;
};

Sha256Digest sha256(std::string_view bytes);
// Lower-case hex.
std::string toHex(std::span<const unsigned char> bytes);
// 64 hex digits (either case) as a digest; nullopt for anything else.
std::optional<Sha256Digest> digestFromHex(std::string_view hex);

}  // namespace costgate::crypto
