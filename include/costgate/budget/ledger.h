#pragma once
// Budgets and rate limits as ledgers of integer amounts (nano-dollars, requests, tokens). A budget
// breaker reserves a request's worst case on every line that applies to it before calling the
// model, and settles to the real cost after; a reservation also expires by itself, so that one a
// crashed process never settles stops holding budget.
//
// What every Ledger guarantees:
// - A line's usage is spent + reserved; a reservation fits when usage + amount <= limit on every
//   line. Amounts are never negative: a negative amount or actual counts as 0, so that a bug cannot
//   mint budget.
// - Each reservation is charged exactly once. It holds its amount until settled or until it expires
//   (now >= its expiry). An expired reservation frees its hold but is remembered, so that a late
//   settle (a stream that outlived the hold) still charges what the call cost; a settle of an id
//   already settled, or unknown, changes nothing.
// - A line lives until window_end + kWindowGrace, so that a reservation made near the end of its
//   window can still settle into it, and is dropped then; Clock::time_point::max() never ends.
// - Time is the caller's `now`, so that tests can inject it and replicas agree within their clocks'
//   skew. The keys of one call are distinct.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace costgate::budget {

using Clock = std::chrono::system_clock;

inline constexpr std::chrono::hours kWindowGrace{1};

// One budget in one window: the ledger key (e.g. "costgate:budget:<budget name>:<window id>"), its
// limit, and when the window ends.
struct Line {
  std::string key;
  std::int64_t limit = 0;
  Clock::time_point window_end;
};

struct Reservation {
  std::string id;
  std::vector<std::string> keys;  // of the lines it holds budget on, in the order given
  std::int64_t amount = 0;
};

struct LineState {
  std::int64_t spent = 0;
  std::int64_t reserved = 0;  // by reservations not yet settled nor expired

  bool operator==(const LineState&) const = default;
};

enum class ReserveStatus { kReserved, kOverLimit, kUnavailable };

struct ReserveResult {
  ReserveStatus status = ReserveStatus::kUnavailable;
  std::optional<Reservation> reservation;  // kReserved only
  std::size_t over_line = 0;               // kOverLimit: index of the first line over its limit
  // kUnavailable: the reservation that may have been made all the same (the ledger took it but
  // its answer was lost); the caller releases it (settle to 0), which is safe if it was not.
  std::optional<Reservation> attempted;
  // kReserved and kOverLimit: each line's state after the call, in the order given.
  std::vector<LineState> after;
};

class Ledger {
 public:
  virtual ~Ledger() = default;

  // Atomically over all lines: when every line has room for `amount`, holds it on each under a new
  // reservation that expires at now + hold; otherwise changes nothing and names the first line
  // over. An amount of 0 always fits (and its reservation still settles its actual cost).
  virtual ReserveResult reserve(const std::vector<Line>& lines, std::int64_t amount,
                                Clock::time_point now, std::chrono::seconds hold) = 0;

  // Releases the reservation's hold and adds `actual` (which may exceed the amount held) to spent
  // on each of its lines, once: see above. False only when the ledger is unavailable, in which
  // case the settle may or may not have been made (sending it again is safe). When `after` is
  // given and the settle succeeded, it gets the state of each of the reservation's lines after it,
  // in the order of its keys.
  virtual bool settle(const Reservation& reservation, std::int64_t actual, Clock::time_point now,
                      std::vector<LineState>* after = nullptr) = 0;

  // Adds `amount` to spent on every line, without a reservation (costs found after the fact, such
  // as what a replica charged on its own while the shared ledger was down), once per `id`: a
  // charge sent again with the same id changes nothing, however often the first one's answer was
  // lost. False when the ledger is unavailable (sending it again is safe).
  virtual bool charge(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
                      const std::string& id) = 0;

  // Each key's state, in order (zeros for a line never written or dropped); nullopt when
  // unavailable.
  virtual std::optional<std::vector<LineState>> read(const std::vector<std::string>& keys,
                                                     Clock::time_point now) = 0;
};

// Reservation ids unique across ledgers, replicas and restarts: a random 64-bit prefix drawn once
// per generator, then a counter. Thread-safe.
class ReservationIds {
 public:
  ReservationIds() {
    std::random_device entropy;
    const std::uint64_t random = (std::uint64_t{entropy()} << 32) | entropy();
    static constexpr char kHex[] = "0123456789abcdef";
    for (int shift = 60; shift >= 0; shift -= 4) prefix_ += kHex[(random >> shift) & 0xf];
    prefix_ += '-';
  }
  std::string next() {
    return prefix_ + std::to_string(counter_.fetch_add(1, std::memory_order_relaxed));
  }

 private:
  std::string prefix_;
  std::atomic<std::uint64_t> counter_{0};
};

}  // namespace costgate::budget
