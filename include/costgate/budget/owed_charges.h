#pragma once
// Charges on their way to a shared ledger (Redis) that must land there exactly once: settles of
// reservations, and what a replica charged on its own ledger while the shared one was down. A
// thread of its own sends them as they come, in order. One the ledger does not take is owed: kept
// in memory and in an append-only journal file when one is given, and sent again every
// `retry_every` until the ledger takes it. Sending again is safe: a settle charges a reservation
// once and a charge carries an id (Ledger's contract), so a charge whose answer was lost is never
// made twice.
//
// Thread-safe. The destructor sends what it can (stopping at the first refusal) and journals the
// rest, which the next OwedCharges opened on the journal (the next start) owes again.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
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
  Clock::time_point at;     // when it was made: the ledger's `now` for it
  // What the caller calls each line (parallel to the lines or the reservation's keys), for its
  // events; not journaled.
  std::vector<std::string> labels;
};

class OwedCharges {
 public:
  // What happened to the charges, for metrics and the log; called on the sending thread, never
  // under a lock.
  struct Events {
    std::function<void(const Owed&)> owed;  // the ledger did not take it: kept until it does
    // The ledger took it: `after` is the state of its lines after it (settles only; empty for
    // charges); `late` when it had been owed.
    std::function<void(const Owed&, const std::vector<LineState>& after, bool late)> landed;
    std::function<void(std::size_t)> pending;  // how many are owed now
  };

  // `journal` may be empty (memory only). Owes again what an earlier process left in it.
  static std::variant<std::unique_ptr<OwedCharges>, Error> open(
      std::shared_ptr<Ledger> ledger, std::string journal, Events events,
      std::chrono::milliseconds retry_every = std::chrono::milliseconds(500));
  ~OwedCharges();
  OwedCharges(const OwedCharges&) = delete;
  OwedCharges& operator=(const OwedCharges&) = delete;

  // Queues `charge` to be sent at once (or, while the ledger is down, owed at once).
  void send(Owed charge);
  // How many the ledger has not taken yet (queued or owed).
  std::size_t pending() const;
  // Sends every queued and owed charge, oldest first, stopping at the first the ledger refuses
  // (it is down: the rest would wait on it too). Returns how many it took. The sending thread
  // calls this; tests may too.
  std::size_t sendNow();

 private:
  struct Entry {
    Owed charge;
    bool owed = false;  // refused once: journaled, counted, retried every retry_every_
  };
  OwedCharges(std::shared_ptr<Ledger> ledger, std::string journal, Events events,
              std::chrono::milliseconds retry_every);
  void sendLoop();
  void markOwed(Entry& entry);           // under mutex_
  void append(const std::string& line);  // under mutex_
  void compactJournal();

  std::shared_ptr<Ledger> ledger_;
  const std::string journal_;
  const Events events_;
  const std::chrono::milliseconds retry_every_;
  mutable std::mutex mutex_;
  std::deque<Entry> entries_;     // in the order they came
  bool ledger_down_ = false;      // the last attempt was refused
  std::vector<Owed> newly_owed_;  // to report outside the lock
  std::mutex send_mutex_;  // one sender at a time, so a charge is never in flight twice at once
  std::condition_variable wake_;
  bool stopping_ = false;
  int journal_fd_ = -1;
  std::thread sender_;
};

}  // namespace costgate::budget
