#pragma once
// The cache shared by the gateway's replicas through Redis, as a near cache: every replica keeps a
// whole copy in memory (a MemoryStore, "the mirror") and answers every lookup from it, so a
// request never waits on Redis. Redis holds the truth the replicas share:
//
//   <prefix>e:<exact key>  one entry (entry_codec.h), with a TTL at its expiry
//   <prefix>events         the channel on which a replica announces each entry it stores
//
// Two background threads do the talking. The writer sends each put (SET with PX, PUBLISH, as one
// MULTI/EXEC). The sync thread subscribes to the channel first, then scans every entry under the
// prefix into the mirror, then applies what the other replicas announce: subscribing before the
// scan means that an entry is either seen by the scan or announced after it, never missed.
//
// While it is not in sync (starting, or Redis unreachable) the store answers misses and drops
// writes: the mirror can no longer be kept equal to what the other replicas see, so it is replaced
// by an empty one and refilled by a new scan once Redis answers again (retries back off from
// 100 ms to 2 s). Nothing here throws or blocks a request on Redis.
//
// The key prefix separates caches that must not share entries (policies) and should also name the
// embedder: vectors of another size than the store's are never loaded (see the constructor).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "costgate/cache/store.h"
#include "costgate/redis/connection.h"

namespace costgate::cache {

using RedisAddress = redis::Address;

class RedisStore : public Store {
 public:
  // Starts the two threads and returns at once, not yet in sync. `key_prefix` is like
  // "costgate:cache:<policy>:". The mirror holds at most `max_entries` and `max_bytes` (as a
  // MemoryStore does). `vector_dimensions` is the embedder's; 0 takes the size of the first vector
  // seen. Entries from Redis whose vector has another size are skipped as malformed, and a put
  // whose vector has another size is kept for exact repeats only, since comparing vectors of
  // different sizes is meaningless (and the index would read past the shorter one).
  RedisStore(RedisAddress address, std::string key_prefix, std::size_t max_entries,
             std::size_t max_bytes, std::size_t vector_dimensions = 0);
  // Stops both threads; returns within about a second even when Redis hangs (its I/O timeout).
  // Writes still queued are dropped.
  ~RedisStore() override;

  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  // From the mirror only, and only while in sync; a miss otherwise.
  std::optional<Hit> findExact(const std::string& exact_key, Clock::time_point now) override;
  std::optional<Hit> findSimilar(const std::string& partition, const Vector& vector,
                                 const Facts& facts, float threshold,
                                 Clock::time_point now) override;
  // Into the mirror at once and queued for the writer; dropped (and counted) when out of sync or
  // when the queue is full, skipped when already expired. Never waits on Redis.
  void put(Entry entry) override;
  // The mirror's.
  Size size() const override;
  bool shared() const override { return true; }
  bool inSync() const override;

  // Counters since construction, for the gateway's metrics.
  struct Stats {
    bool in_sync = false;
    std::uint64_t writes = 0;          // entries Redis stored
    std::uint64_t write_failures = 0;  // entries sent that Redis did not confirm
    std::uint64_t dropped_writes = 0;  // entries never sent: out of sync, writer down, queue full
    std::uint64_t loaded = 0;          // entries read by scans
    std::uint64_t received = 0;        // entries announced by other replicas
    std::uint64_t malformed = 0;       // values and announcements that could not be decoded
    std::uint64_t reconnects = 0;      // times the store got back in sync after losing it
  };
  Stats stats() const;

 private:
  struct Shared;
  std::unique_ptr<Shared> shared_;
};

}  // namespace costgate::cache
