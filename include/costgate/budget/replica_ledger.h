#pragma once
// One replica's side of the ledger its replicas share in Redis: the Redis ledger, this replica's
// leases on it (LeasedLedger: what requests reserve on), the charges on their way to it (returned
// leases, and what this replica charged on its own during an outage), what this replica last saw
// of each line, and the local ledger that stands in while Redis cannot be reached
// (on_ledger_error: open). Kept across reloads, so that nothing held or owed is lost with a
// configuration. Thread-safe.
//
// Overshoot during an outage: each replica's stand-in starts every line at the spent + reserved it
// last saw in Redis, so one replica alone never passes a limit; replicas that cannot see each
// other's spend may together pass it by up to (replicas - 1) x what was left of it when they last
// saw it, plus each one's worst case in flight. What they charged is written to Redis when it is
// back, so the spend recorded is exact.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "costgate/budget/leased_ledger.h"
#include "costgate/budget/ledger.h"
#include "costgate/budget/memory_ledger.h"
#include "costgate/budget/owed_charges.h"
#include "costgate/budget/redis_ledger.h"
#include "costgate/error.h"
#include "costgate/redis/connection.h"

namespace costgate::budget {

class ReplicaLedger {
 public:
  // `journal` may be empty. Fails only when the journal cannot be opened.
  // `events` are told of the charges and, as `pending`, of the charges owed plus the leases out.
  static std::variant<std::shared_ptr<ReplicaLedger>, Error> open(
      const redis::Address& address, std::chrono::milliseconds timeout, std::string journal,
      OwedCharges::Events events, LeasedLedger::Options leases = {});
  ~ReplicaLedger();

  // What requests reserve on.
  LeasedLedger& leased() { return *leased_; }
  // Redis itself, for the calls made without waiting.
  RedisLedger& redis() { return *redis_; }
  OwedCharges& charges() { return *charges_; }

  // What Redis answered for these lines (a read or a settle): the next outage's stand-in starts
  // from it, and an outage is over.
  void saw(const std::vector<std::string>& keys, const std::vector<LineState>& states);
  // The ledger standing in for Redis in this outage, with each of `lines` starting at what was
  // last seen of it.
  std::shared_ptr<MemoryLedger> standIn(const std::vector<Line>& lines, Clock::time_point now);

 private:
  ReplicaLedger() = default;

  void reportPending();

  std::shared_ptr<Ledger> shared_;
  RedisLedger* redis_ = nullptr;  // shared_
  std::unique_ptr<OwedCharges> charges_;
  std::unique_ptr<LeasedLedger> leased_;
  // leased_ once it exists, for the charges' events: a call to it holds landing_mutex_, so that
  // none is under way once the destructor has cleared it.
  std::mutex landing_mutex_;
  LeasedLedger* landing_ = nullptr;
  std::function<void(std::size_t)> pending_;
  std::atomic<std::size_t> owed_{0};
  std::atomic<std::size_t> leases_out_{0};
  std::mutex mutex_;
  std::map<std::string, LineState> last_seen_;
  std::shared_ptr<MemoryLedger> stand_in_;  // of the outage going on; null between outages
  std::set<std::string> started_;           // lines stand_in_ started from what was seen
};

}  // namespace costgate::budget
