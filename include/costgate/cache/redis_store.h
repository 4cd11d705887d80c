#pragma once
// The cache shared by the gateway's replicas through Redis, as a near cache: every replica keeps a
// whole copy in memory (a MemoryStore, "the mirror") and answers every lookup from it, so a
// request never waits on Redis. Redis holds the truth the replicas share:
//
//   <prefix>e:<exact key>  one entry (entry_codec.h), with a TTL at its expiry
//   <prefix>events         the channel on which a replica announces each entry it stores
//   <prefix>lock:<exact>   which replica is calling the backend for that key (replica_locks.h)
//   <prefix>locks          the channel on which a replica announces a lock it gave back
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
// Locks (coalescing across replicas) go through the writer, in order with the puts: a lock given
// back after its answer was stored is gone only once the answer is in Redis and announced, so a
// replica that sees the lock vanish and takes it finds the answer first. A lock lives kLockTtl
// and the writer renews the ones this replica holds every kLockRenewal, so a replica that dies
// holding one frees it within kLockTtl.
//
// The key prefix separates caches that must not share entries (policies) and should also name the
// embedder: vectors of another size than the store's are never loaded (see the constructor).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "costgate/cache/replica_locks.h"
#include "costgate/cache/store.h"
#include "costgate/redis/connection.h"

namespace costgate::cache {

using RedisAddress = redis::Address;

class RedisStore : public Store, public ReplicaLocks {
 public:
  static constexpr std::chrono::milliseconds kLockTtl{3000};
  static constexpr std::chrono::milliseconds kLockRenewal{1000};

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

  // ReplicaLocks: a lock is <prefix>lock:<exact key>, holding this store's random id. Out of sync,
  // tryLock answers kFailed at once; taking, renewing and giving back are Lua scripts that touch
  // the lock only when it is free or this store's.
  void tryLock(const std::string& exact_key, std::function<void(LockTake)> done) override;
  void unlock(const std::string& exact_key) override;
  std::shared_ptr<pipeline::Signal> watch(const std::string& exact_key) override;
  void unwatch(const std::string& exact_key,
               const std::shared_ptr<pipeline::Signal>& signal) override;

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
    std::uint64_t locks_taken = 0;     // tryLock answered kTaken
    std::uint64_t locks_held = 0;      // tryLock answered kHeldElsewhere or kStored
    std::uint64_t lock_failures = 0;   // tryLock answered kFailed
  };
  Stats stats() const;

 private:
  struct Shared;
  std::unique_ptr<Shared> shared_;
};

}  // namespace costgate::cache
