#pragma once
// Where cached answers live, behind one interface: in memory (one replica) or in Redis (shared by
// replicas). Implementations are thread-safe. A store that fails (Redis unreachable) answers a
// miss and drops the write: the cache can only ever save a call, never fail one.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "costgate/cache/embedder.h"
#include "costgate/cache/facts.h"
#include "costgate/cache/request_key.h"
#include "costgate/cache/vector_index.h"
#include "costgate/pricing/price.h"

namespace costgate::cache {

using Clock = std::chrono::system_clock;

// An answer as the client got it.
struct CachedAnswer {
  std::string body;      // the whole chat.completion JSON (assembled from the chunks of a stream)
  pricing::Usage usage;  // what the call that made it used: a hit saves its cost
  std::string model;     // the gateway model that made it (a hit saves that model's price)
  // Whether the policy trusts it to answer repeats (semantic_cache's store_answers). An answer it
  // does not trust is kept too, never served: it marks a question as asked before, so a repeat
  // goes to a model whose answer will be.
  bool trusted = true;
};

struct Entry {
  RequestKey key;
  Facts facts;
  std::optional<Vector> vector;  // none: the entry answers exact repeats only
  CachedAnswer answer;
  Clock::time_point expires_at;
};

enum class Level { kExact, kSemantic };

struct Hit {
  Level level;
  CachedAnswer answer;
  float similarity = 1;
};

class Store {
 public:
  virtual ~Store() = default;
  // The entry stored under this exact key, unless it expired.
  virtual std::optional<Hit> findExact(const std::string& exact_key, Clock::time_point now) = 0;
  // The most similar entry of `partition` whose similarity is at least `threshold` and whose
  // facts agree with `facts` (the nearest ones are tried in order), unless expired.
  virtual std::optional<Hit> findSimilar(const std::string& partition, const Vector& vector,
                                         const Facts& facts, float threshold,
                                         Clock::time_point now) = 0;
  // Stores `entry`, replacing one with the same exact key.
  virtual void put(Entry entry) = 0;

  struct Size {
    std::size_t entries = 0;
    std::size_t bytes = 0;
  };
  virtual Size size() const = 0;
  // Whether the entries are shared with other replicas (Redis), and whether the store can answer
  // now (a shared store out of sync with Redis answers misses).
  virtual bool shared() const { return false; }
  virtual bool inSync() const { return true; }
};

// In this process only. The least recently used entries go first when either limit is passed;
// expired ones go when next looked at.
class MemoryStore : public Store {
 public:
  MemoryStore(std::size_t max_entries, std::size_t max_bytes);
  ~MemoryStore() override;

  std::optional<Hit> findExact(const std::string& exact_key, Clock::time_point now) override;
  std::optional<Hit> findSimilar(const std::string& partition, const Vector& vector,
                                 const Facts& facts, float threshold,
                                 Clock::time_point now) override;
  void put(Entry entry) override;
  Size size() const override;

  // What an entry is counted as, for max_bytes: its strings, vector and bookkeeping.
  static std::size_t bytesOf(const Entry& entry);

 private:
  struct Node {
    Entry entry;
    std::size_t bytes;
    std::uint64_t label = 0;  // in by_label_ and its partition's index
    std::size_t slot = 0;     // in its partition's members
  };
  using Position = std::list<Node>::iterator;
  // The entries of one partition that have vectors; past kIndexedPartition of them, also an
  // approximate index, since comparing with each one would take too long.
  struct Partition {
    std::vector<Position> members;
    std::unique_ptr<ApproximateIndex> index;
  };
  // bench/cache/run.sh: comparing with each entry costs about what an index search does at a few
  // hundred entries.
  static constexpr std::size_t kIndexedPartition = 256;

  void removeLocked(Position position);
  void touchLocked(Position position);
  void indexLocked(Partition& partition);

  const std::size_t max_entries_;
  const std::size_t max_bytes_;
  // A semantic lookup's search (most of its time) only reads, under a shared lock, so lookups on
  // several threads run together; what changes the store (a put, a hit's LRU move) is exclusive.
  mutable std::shared_mutex mutex_;
  std::list<Node> lru_;  // most recently used first
  std::unordered_map<std::string, Position> by_exact_;
  std::unordered_map<std::uint64_t, Position> by_label_;  // the entries with vectors
  std::unordered_map<std::string, Partition> by_partition_;
  std::uint64_t next_label_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace costgate::cache
