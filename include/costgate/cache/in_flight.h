#pragma once
// Identical requests in flight at the same time (request coalescing): the first to join a key
// leads, calling the backend; the others wait for its signal, fired once the leader's answer is
// stored (or will not be), then look the cache up again. Thread-safe: requests on every event
// loop share one table per cache policy. The table is this process's; replicas sharing a Redis
// store coalesce through its locks (replica_locks.h), which only the leader here takes.

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "costgate/pipeline/signal.h"

namespace costgate::cache {

class InFlight {
 public:
  struct Joined {
    std::shared_ptr<pipeline::Signal> signal;  // the leader's
    bool leader = false;                       // whether the caller is the leader
  };
  // Leads `key` if no request does, or follows the one that does.
  Joined join(const std::string& key);
  // The leader of `key` (whose signal this is) is done: wakes its followers. Later requests for
  // the key find no leader.
  void finish(const std::string& key, const std::shared_ptr<pipeline::Signal>& signal);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<pipeline::Signal>> leaders_;
};

}  // namespace costgate::cache
