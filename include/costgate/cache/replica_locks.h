#pragma once
// Coalescing across the gateway's replicas (a store they share): the request that leads a key in
// its own process (in_flight.h) also takes the key's lock in the shared store before it calls the
// backend. A replica that finds the lock held by another does not call the backend: it waits
// until the holder's answer reaches its own copy of the store, or the holder gives the lock back
// (its call failed, its answer was not stored) or loses it (it died: the lock expires), or until
// it has waited long enough. The lock saves calls; it never fails one: a store that cannot answer
// says so, and the caller calls the backend itself.

#include <functional>
#include <memory>
#include <string>

#include "costgate/pipeline/signal.h"

namespace costgate::cache {

enum class LockTake {
  kTaken,          // this replica holds the lock now
  kHeldElsewhere,  // another replica holds it
  kStored,         // another replica's answer is stored already, and now in this replica's copy
  kFailed,         // no answer (the store is out of sync, Redis failed): act as if there were none
};

class ReplicaLocks {
 public:
  virtual ~ReplicaLocks() = default;

  // Asks for `exact_key`'s lock for this replica. `done` runs exactly once, with the answer: on a
  // thread of the store's, or inside this call when the store knows at once (out of sync). It must
  // be quick and may run after the caller is gone (capture what it needs). Never waits on Redis.
  // A lock taken stays this replica's while the process lives, until unlock().
  virtual void tryLock(const std::string& exact_key, std::function<void(LockTake)> done) = 0;

  // Gives `exact_key`'s lock back if this replica holds it, once every put made before this call
  // has reached the store, and tells the replicas waiting for it. Never waits on Redis.
  virtual void unlock(const std::string& exact_key) = 0;

  // A signal fired (on a store thread) when another replica's entry for `exact_key` has reached
  // this replica's copy, or another replica gave the key's lock back. Fired at most once; call
  // unwatch() with it when no longer waiting, so that the store forgets it.
  virtual std::shared_ptr<pipeline::Signal> watch(const std::string& exact_key) = 0;
  virtual void unwatch(const std::string& exact_key,
                       const std::shared_ptr<pipeline::Signal>& signal) = 0;
};

}  // namespace costgate::cache
