#pragma once
// Cache entries as bytes, for a store outside the process (Redis). A leading version byte, then
// length-prefixed fields and fixed-width little-endian integers: compact, and a reader can tell a
// value of another version or a damaged one from a good one instead of crashing on it. Plain data
// in and out; no I/O.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "costgate/cache/store.h"

namespace costgate::cache {

// An entry without its facts and its expiry. Facts are recomputed from the question when decoded,
// so entries written before a change of the facts rules are read with the new ones; the expiry is
// the store's to keep (a Redis TTL), relative, since replicas' clocks need not agree.
std::string encodeEntry(const Entry& entry);

// The entry that `bytes` encode, expiring at `expires_at`; nullopt unless they are exactly what
// encodeEntry() of this version writes (truncated, trailing bytes, unknown flags, another version)
// or the vector is empty or holds a value that is not finite.
std::optional<Entry> decodeEntry(std::string_view bytes, Clock::time_point expires_at);

// What a replica announces to the others when it stores an entry.
struct EntryEvent {
  std::string_view origin;        // the announcing store's id: a store skips its own events
  std::chrono::milliseconds ttl;  // the time the entry has left, relative like the Redis TTL
  std::string_view entry;         // encodeEntry() bytes
};

std::string encodeEvent(const EntryEvent& event);

// The event that `bytes` encode, its views pointing into `bytes`; nullopt unless they are exactly
// what encodeEvent() of this version writes. The entry inside is not decoded here, so a store can
// skip its own events without that cost.
std::optional<EntryEvent> decodeEvent(std::string_view bytes);

}  // namespace costgate::cache
