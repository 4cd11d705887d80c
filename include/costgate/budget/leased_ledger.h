#pragma once
// One replica's reservations, made against leases: slices of the shared ledger's lines (Redis)
// that the replica holds there as ordinary reservations and hands out locally, so that nearly
// every request reserves and settles with no call to the shared ledger at all.
//
// A lease on a line is taken when a request finds no room in the line's current lease: one
// reserve on the shared ledger of up to `slice_requests` times the request's amount, and never
// more than 1/`share` of what the line has left (at least the request's amount), so that slices
// shrink as a budget nears its limit and replicas keep room for each other. A lease takes new
// reservations for `max_age`; then, once the last request it holds for has settled, it is
// returned: one settle of its reservation to what its requests cost, sent through OwedCharges,
// which keeps it (and journals it) until the shared ledger takes it, exactly once.
//
// Bounds. Leases are reservations in the shared ledger, which never grants past a limit: what all
// replicas hold and spent stays within it, and a budget is passed only by what requests cost
// beyond what they reserved (at most one request's worst case, as without leases). A request can
// be refused while other replicas hold unused room: at most one lease each, each at most 1/share
// of what was left when taken, and returned within max_age of its last use.
//
// The spend a replica settled reaches the shared ledger when the lease is returned, within about
// max_age; until then read() adds it (and this replica's holds) to what the shared ledger says.
// Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "costgate/budget/ledger.h"
#include "costgate/budget/owed_charges.h"

namespace costgate::budget {

class LeasedLedger final : public Ledger {
 public:
  struct Options {
    std::int64_t slice_requests = 256;
    std::int64_t share = 8;
    std::chrono::milliseconds max_age{1000};
  };
  struct Events {
    // The shared ledger answered with these lines' states (it is reachable).
    std::function<void(const std::vector<std::string>& keys, const std::vector<LineState>&)> seen;
    // How many leases are out (taken and not yet returned to the shared ledger).
    std::function<void(std::size_t)> leases_out;
  };

  // Returns leases through `charges`, which must outlive this ledger.
  LeasedLedger(std::shared_ptr<Ledger> shared, OwedCharges& charges, Events events,
               Options options);
  // Returns every lease (through the charges).
  ~LeasedLedger() override;
  LeasedLedger(const LeasedLedger&) = delete;
  LeasedLedger& operator=(const LeasedLedger&) = delete;

  // From the lines' leases; takes a lease (a blocking call to the shared ledger) for a line whose
  // lease has no room. kOverLimit when the shared ledger has no room for the amount itself.
  ReserveResult reserve(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
                        std::chrono::seconds hold) override;
  // Local: frees the hold in its leases and counts `actual` as their spend. Never fails.
  bool settle(const Reservation& reservation, std::int64_t actual, Clock::time_point now,
              std::vector<LineState>* after = nullptr) override;
  // Passed to the shared ledger.
  bool charge(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
              const std::string& id) override;
  // The shared ledger's state (a blocking read), with this replica's leases counted as what its
  // requests hold and spent rather than as what the leases hold.
  std::optional<std::vector<LineState>> read(const std::vector<std::string>& keys,
                                             Clock::time_point now) override;

  // This ledger answered from the leases and the last state seen alone, never calling the shared
  // ledger: where it would have to, reserve() answers kUnavailable (with no `attempted`) and
  // read() nullopt. For the event loop, which must not wait. (A ticket nothing was prepared for.)
  Ledger& local();

  // The shared ledger's reserve of one line, or its read, without waiting: `done` runs later, on
  // the caller's thread, with what reserve() or read() would have returned.
  using ReserveLater =
      std::function<void(const Line& line, std::int64_t amount, Clock::time_point now,
                         std::chrono::seconds hold, std::function<void(ReserveResult)> done)>;
  using ReadLater =
      std::function<void(const std::vector<std::string>& keys, Clock::time_point now,
                         std::function<void(std::optional<std::vector<LineState>>)> done)>;

  // One request's way through the leases when local() could not answer it: a Ledger like local()
  // that first uses what prepare() got for it (holds on leases taken for it alone, so that no
  // other request uses them up first, and the lines the shared ledger refused it). Use it on one
  // thread; what it holds and the request did not use is released by finish() or its destructor.
  class Ticket;
  std::shared_ptr<Ticket> ticket();
  // Takes, without waiting, a lease on each of `needs` (a line and the most the request may
  // reserve on it) whose lease has no room for it, through `reserve_later`, holding the amount for
  // `ticket`. False when there was nothing to take; else `done` runs once every take answered.
  bool prepare(const std::shared_ptr<Ticket>& ticket,
               const std::vector<std::pair<Line, std::int64_t>>& needs, Clock::time_point now,
               std::chrono::seconds hold, const ReserveLater& reserve_later,
               std::function<void()> done);
  // Asks, without waiting, for the next lease of each line whose current lease a reservation
  // found running low or nearly too old (kept from local() and the tickets' reservations), so
  // that requests seldom wait for one. Call after reserving.
  void renew(Clock::time_point now, std::chrono::seconds hold, const ReserveLater& reserve_later);
  // read() without waiting, through `read_later`.
  void readLater(const std::vector<std::string>& keys, Clock::time_point now,
                 const ReadLater& read_later,
                 std::function<void(std::optional<std::vector<LineState>>)> done);

  // A settle sent through the charges landed, with its lines' states after it: a returned
  // lease's spend is in the shared ledger now. For OwedCharges' `landed` event.
  void landed(const Owed& charge, const std::vector<LineState>& after);

 private:
  struct Lease;
  struct LineLeases;
  // Holds `amount` on the line's current lease when it has room; null when not. Under mutex_.
  Lease* holdOn(const std::string& key, std::int64_t amount);
  // Frees a hold of `amount` on it. Under mutex_.
  void release(Lease& lease, std::int64_t amount);
  // The reservation of what is `held` (a lease per line). Under mutex_.
  ReserveResult reserved(const std::vector<Line>& lines, std::int64_t amount,
                         std::vector<Lease*> held);
  // Takes a lease on `line` with room for `amount`, and holds the amount on it (*held). Blocking;
  // not under mutex_.
  ReserveResult takeLease(const Line& line, std::int64_t amount, Clock::time_point now,
                          std::chrono::seconds hold, Lease** held);
  // The same without waiting: `done` gets the answer and the lease holding `amount` (null unless
  // kReserved).
  void takeLeaseLater(const Line& line, std::int64_t amount, Clock::time_point now,
                      std::chrono::seconds hold, const ReserveLater& reserve_later,
                      std::function<void(const ReserveResult&, Lease*)> done);
  // What the shared ledger answered to a lease take of `wanted` for `amount`: a kReserved lease is
  // installed as the line's current one, holding `amount`. Not under mutex_; returns the lease.
  Lease* taken(const Line& line, std::int64_t amount, ReserveResult& result, Clock::time_point now);
  std::int64_t sliceFor(const Line& line, std::int64_t amount);  // under mutex_
  // What the shared ledger said of a line, less what this replica's leases hold there: the
  // others' part. Under mutex_.
  void sawShared(const std::string& key, const LineState& state);
  LineState viewOf(const std::string& key) const;  // under mutex_
  // No more reservations on it; returned once its holds are settled. Under mutex_.
  void close(Lease& lease);
  void returnIfDone(Lease& lease);  // under mutex_
  void closeAged();
  void reportLeasesOut();

  std::shared_ptr<Ledger> shared_;
  OwedCharges& charges_;
  const Events events_;
  const Options options_;
  ReservationIds ids_;

  mutable std::mutex mutex_;
  std::unique_ptr<Ticket> local_;  // local(): destroyed before mutex_, which it locks
  std::unordered_map<std::string, std::unique_ptr<Lease>> leases_;  // by id, until returned
  std::map<std::string, LineLeases> lines_;                         // by key
  // Each local reservation's holds: the lease of each of its lines, and the amount.
  std::unordered_map<std::string, std::vector<Lease*>> holds_;
  std::vector<std::pair<Line, std::int64_t>> renewals_;  // for renew(): a line, a request's amount

  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread closer_;  // closes aged leases
};

class LeasedLedger::Ticket final : public Ledger {
 public:
  explicit Ticket(LeasedLedger& owner) : owner_(owner) {}
  ~Ticket() override { finish(); }
  Ticket(const Ticket&) = delete;
  Ticket& operator=(const Ticket&) = delete;

  // On the holds taken for this request first (what they held beyond `amount` is freed), then on
  // the lines' current leases; kOverLimit on a line the shared ledger refused, kUnavailable on one
  // it could not be asked about or whose lease has no room.
  ReserveResult reserve(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
                        std::chrono::seconds hold) override;
  bool settle(const Reservation& reservation, std::int64_t actual, Clock::time_point now,
              std::vector<LineState>* after = nullptr) override;
  // False: only the shared ledger takes charges.
  bool charge(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
              const std::string& id) override;
  // From the last state seen; nullopt for a line never seen.
  std::optional<std::vector<LineState>> read(const std::vector<std::string>& keys,
                                             Clock::time_point now) override;
  // Releases the holds the request did not use; a take answering later is released at once.
  void finish();

 private:
  friend class LeasedLedger;
  LeasedLedger& owner_;
  // Under owner_.mutex_:
  std::map<std::string, std::pair<Lease*, std::int64_t>> held_;  // by line key: lease, amount
  std::set<std::string> refused_;
  bool finished_ = false;
};

}  // namespace costgate::budget
