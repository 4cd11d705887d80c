#pragma once
// A Ledger in Redis, shared by the gateway's replicas. Each call is one Lua script (SCRIPT LOAD on
// every new connection, EVALSHA, EVAL when the server lost its scripts), so that a reservation over
// several lines is all or nothing across replicas. For a line with key K:
//
//   K             hash: spent, reserved (the sum of the live holds), drop_at (ms: window end +
//                 grace)
//   K:holds       hash: reservation id -> amount, for the live holds
//   K:expiries    sorted set: reservation id -> expiry (ms); +inf once expired and not yet settled
//   K:charged     set: ids of the charges (without reservation) the line took
//
// Every script first drops the lines whose drop_at has passed and releases the holds that expired,
// both by the caller's `now`; Redis also expires the three keys at drop_at (PEXPIREAT, by its own
// clock). Amounts are integers end to end (HINCRBY with the caller's decimal strings); only the
// limit comparison goes through Lua's doubles, exact below 2^53 (9 million dollars in nanos).
//
// Callers are worker threads: the ledger keeps a few idle blocking connections and opens another
// when none is idle. Every connect, write and read waits at most `timeout`, and a down or silent
// Redis fails the first of them, so a call gives up within about the timeout (refused connections
// at once). An idle connection Redis closed (a restart) is replaced by one new connection before
// use; a connection that breaks during a call is replaced once, with what is left of the timeout
// (every call is safe to resend: a reservation and a charge are recognised by their id, a settle
// charges once, a read changes nothing). Nothing throws: a failure is kUnavailable, false or
// nullopt.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "costgate/budget/ledger.h"
#include "costgate/redis/connection.h"

namespace costgate::budget {

class RedisLedger final : public Ledger {
 public:
  // Connects lazily, at the first call. Keeps at most `idle_connections` open between calls.
  RedisLedger(redis::Address address, std::chrono::milliseconds timeout,
              std::size_t idle_connections = 8);
  ~RedisLedger() override;

  RedisLedger(const RedisLedger&) = delete;
  RedisLedger& operator=(const RedisLedger&) = delete;

  ReserveResult reserve(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
                        std::chrono::seconds hold) override;
  bool settle(const Reservation& reservation, std::int64_t actual, Clock::time_point now,
              std::vector<LineState>* after = nullptr) override;
  bool charge(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
              const std::string& id) override;
  std::optional<std::vector<LineState>> read(const std::vector<std::string>& keys,
                                             Clock::time_point now) override;

  // reserve() and read() without waiting, through `send` (an event loop's connection): `done` gets
  // what they would have returned, later, on the sender's thread.
  void reserveOn(const redis::SendLater& send, const std::vector<Line>& lines, std::int64_t amount,
                 Clock::time_point now, std::chrono::seconds hold,
                 std::function<void(ReserveResult)> done);
  void readOn(const redis::SendLater& send, const std::vector<std::string>& keys,
              Clock::time_point now,
              std::function<void(std::optional<std::vector<LineState>>)> done);

 private:
  struct Shared;
  struct ReserveCall;
  ReserveCall reserveCall(const std::vector<Line>& lines, std::int64_t amount,
                          Clock::time_point now, std::chrono::seconds hold);
  std::unique_ptr<Shared> shared_;
};

}  // namespace costgate::budget
