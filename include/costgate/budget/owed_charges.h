#pragma once
// Charges owed to a shared ledger (Redis) that could not take them when they were made: settles
// that failed, and what a replica charged on its own ledger while the shared one was down. Each is
// kept, in memory and in an append-only journal file when one is given, and sent again until the
// ledger takes it. Sending again is safe: a settle charges a reservation once and a charge carries
// an id (Ledger's contract), so a charge whose answer was lost is never made twice.
//
// A thread of its own retries every `retry_every` while anything is owed.
// Thread-safe. The destructor makes one last attempt; what is still owed then stays in the journal
// and is owed again by the next OwedCharges opened on it (the next start of the process).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "costgate/budget/ledger.h"
#include "costgate/error.h"

namespace costgate::budget {

struct Owed {
  enum class Kind { kSettle, kCharge };
  Kind kind = Kind::kSettle;
  Reservation reservation;  // kSettle: the reservation to settle; kCharge: its id names the charge
  std::vector<Line> lines;  // kCharge: the lines to charge
  std::int64_t amount = 0;  // the actual cost (kSettle) or the charge (kCharge)
  Clock::time_point at;     // when it was owed: the ledger's `now` for it
};

class OwedCharges {
 public:
  // What happened to one owed charge, for metrics and the log; called on the retrying thread (or
  // the caller of owe()), never under the lock.
  struct Events {
    std::function<void(const Owed&)> owed;     // kept: the ledger did not take it at once
    std::function<void(const Owed&)> paid;     // the ledger took it on a later attempt
    std::function<void(std::size_t)> pending;  // how many are owed now
  };

  // `journal` may be empty (memory only). Reads what an earlier process left owed in it.
  static std::variant<std::unique_ptr<OwedCharges>, Error> open(
      std::shared_ptr<Ledger> ledger, std::string journal, Events events,
      std::chrono::milliseconds retry_every = std::chrono::milliseconds(500));
  ~OwedCharges();
  OwedCharges(const OwedCharges&) = delete;
  OwedCharges& operator=(const OwedCharges&) = delete;

  // Keeps `owed` (and journals it) until the ledger takes it.
  void owe(Owed owed);
  std::size_t pending() const;
  // Sends every owed charge once, oldest first, stopping at the first the ledger refuses (it is
  // down: the rest would wait on it too). Returns how many it took. The retrying thread calls
  // this; tests and shutdown may too.
  std::size_t retryNow();

 private:
  OwedCharges(std::shared_ptr<Ledger> ledger, std::string journal, Events events,
              std::chrono::milliseconds retry_every);
  void retryLoop();
  void append(const std::string& line);
  void compactJournal();

  std::shared_ptr<Ledger> ledger_;
  const std::string journal_;
  const Events events_;
  const std::chrono::milliseconds retry_every_;
  mutable std::mutex mutex_;
  std::vector<Owed> owed_;
  std::mutex send_mutex_;  // one retry at a time, so a charge is never in flight twice at once
  std::condition_variable wake_;  // for stopping
  bool stopping_ = false;
  int journal_fd_ = -1;
  std::thread retrier_;
};

}  // namespace costgate::budget
