// Bytes read back from Redis as a cache entry or a replica's announcement of one
// (cache::decodeEntry, cache::decodeEvent): a shared store is outside the process, and what it
// holds may be damaged, of another version, or written by someone else.
//
// Checked: what decodes is exactly what the encoder writes for it (the codec promises to refuse
// anything else), so encoding the decoded value gives the input back byte for byte; a decoded
// vector has finite values only.

#include <chrono>
#include <cmath>
#include <string>
#include <string_view>

#include "costgate/cache/entry_codec.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace costgate;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto expires = cache::Clock::time_point{} + std::chrono::hours(1);
  if (auto entry = cache::decodeEntry(bytes, expires)) {
    FUZZ_CHECK(cache::encodeEntry(*entry) == bytes, "an entry that encodes differently");
    if (entry->vector) {
      FUZZ_CHECK(!entry->vector->empty(), "an empty vector");
      for (float value : *entry->vector) FUZZ_CHECK(std::isfinite(value), "a vector value");
    }
  }
  if (auto event = cache::decodeEvent(bytes)) {
    FUZZ_CHECK(cache::encodeEvent(*event) == bytes, "an event that encodes differently");
    (void)cache::decodeEntry(event->entry, expires);
  }
  return 0;
}
