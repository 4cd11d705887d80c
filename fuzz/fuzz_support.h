#pragma once
// What the fuzz targets share: invariant checks that abort with a message (libFuzzer then saves
// the input as a crash), deterministic chunk sizes for feeding a stream in pieces, and where the
// tokenizer's rank files are.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "costgate/tokenizer/encoding.h"

namespace costgate::fuzz {

// An invariant of the code under test failed: report it and abort, which libFuzzer treats as a
// crash (the input is written to crash-<sha1>).
[[noreturn]] inline void fail(const char* file, int line, const char* what,
                              const std::string& detail) {
  std::fprintf(stderr, "\n%s:%d: invariant failed: %s\n%s\n", file, line, what, detail.c_str());
  std::abort();
}

#define FUZZ_CHECK(condition, detail)                                                 \
  do {                                                                                \
    if (!(condition)) ::costgate::fuzz::fail(__FILE__, __LINE__, #condition, detail); \
  } while (0)

// Sizes for cutting a stream into the pieces a socket might deliver: a function of the input
// alone, so a crash reproduces. Mostly small pieces (1 to 16 bytes, where boundary bugs live),
// now and then a large one.
class Pieces {
 public:
  explicit Pieces(std::string_view input) {
    state_ = 14695981039346656037ull;  // FNV-1a of the input seeds a xorshift generator
    for (unsigned char c : input) state_ = (state_ ^ c) * 1099511628211ull;
    if (state_ == 0) state_ = 1;
  }
  std::size_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    std::size_t roll = state_ % 64;
    if (roll < 48) return 1 + roll % 16;
    if (roll < 60) return 17 + (state_ >> 8) % 512;
    return 4096;
  }

 private:
  std::uint64_t state_;
};

// The tokenizer's rank files as the unit tests find them (tests/unit/support/encodings.h):
// $COSTGATE_TOKENIZER_DIR, else where scripts/fetch-tokenizer-data.sh put them for the build.
inline std::string tokenizerDataDir() {
  if (const char* dir = std::getenv("COSTGATE_TOKENIZER_DIR"); dir && *dir) return dir;
  return tokenizer::defaultDataDir();
}

// `text` shortened for a message.
inline std::string excerpt(std::string_view text, std::size_t max = 200) {
  std::string out(text.substr(0, max));
  if (text.size() > max) out += "...";
  return out;
}

}  // namespace costgate::fuzz
