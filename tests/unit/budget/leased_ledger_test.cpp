#include "costgate/budget/leased_ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "../support/redis_server.h"
#include "costgate/budget/memory_ledger.h"
#include "costgate/budget/redis_ledger.h"
#include "switched_ledger.h"

namespace costgate::budget {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kNow = Clock::now();

Line lineOf(const std::string& key, std::int64_t limit) { return Line{key, limit, kNow + 1h}; }

// A replica: its owed charges and its leases on `shared`, returned after `max_age`.
struct Replica {
  std::unique_ptr<OwedCharges> charges;
  std::unique_ptr<LeasedLedger> leased;
  // The charges' thread tells it what landed; under landing_mutex, so that no call is under way
  // once the destructor cleared it.
  std::mutex landing_mutex;
  LeasedLedger* landing = nullptr;

  explicit Replica(std::shared_ptr<Ledger> shared, std::chrono::milliseconds max_age = 1h) {
    OwedCharges::Events events{
        .owed = {},
        .landed =
            [this](const Owed& charge, const std::vector<LineState>& after, bool) {
              std::lock_guard lock(landing_mutex);
              if (landing != nullptr) landing->landed(charge, after);
            },
        .pending = {}};
    charges = std::get<std::unique_ptr<OwedCharges>>(OwedCharges::open(shared, "", events, 20ms));
    leased = std::make_unique<LeasedLedger>(shared, *charges, LeasedLedger::Events{},
                                            LeasedLedger::Options{32, 8, max_age});
    std::lock_guard lock(landing_mutex);
    landing = leased.get();
  }
  ~Replica() {
    {
      std::lock_guard lock(landing_mutex);
      landing = nullptr;
    }
    leased.reset();
    charges.reset();
  }
};

LineState stateOf(Ledger& ledger, const std::string& key) {
  auto states = ledger.read({key}, kNow);
  return states ? states->front() : LineState{-1, -1};
}

template <class Done>
bool eventually(Done done) {
  for (int i = 0; i < 300 && !done(); ++i) std::this_thread::sleep_for(10ms);
  return done();
}

TEST(LeasedLedger, OneCallToTheSharedLedgerServesManyRequests) {
  auto shared = std::make_shared<SwitchedLedger>();
  Replica replica(shared);
  const Line team = lineOf("team", 1'000'000);
  for (int i = 0; i < 20; ++i) {
    ReserveResult held = replica.leased->reserve({team}, 100, kNow, 60s);
    ASSERT_EQ(held.status, ReserveStatus::kReserved);
    EXPECT_TRUE(replica.leased->settle(*held.reservation, 60, kNow));
  }
  // The first lease covers 32 worst cases; settling below them leaves it room for more.
  EXPECT_EQ(shared->reserves.load(), 1);
  EXPECT_EQ(shared->settles.load(), 0);
  // Redis holds the lease; the replica's view counts what its requests spent instead.
  EXPECT_EQ(stateOf(shared->inner, "team"), (LineState{0, 3200}));
  EXPECT_EQ(stateOf(*replica.leased, "team"), (LineState{1200, 0}));
}

TEST(LeasedLedger, AReturnedLeaseChargesItsRequestsOnce) {
  auto shared = std::make_shared<SwitchedLedger>();
  {
    Replica replica(shared, 50ms);
    const Line team = lineOf("team", 1'000'000);
    ReserveResult first = replica.leased->reserve({team}, 100, kNow, 60s);
    ReserveResult second = replica.leased->reserve({team}, 100, kNow, 60s);
    ASSERT_EQ(second.status, ReserveStatus::kReserved);
    replica.leased->settle(*first.reservation, 70, kNow);
    std::this_thread::sleep_for(150ms);
    // Aged, but a request still holds on it: not returned yet.
    EXPECT_EQ(stateOf(shared->inner, "team").spent, 0);
    replica.leased->settle(*second.reservation, 5, kNow);
    replica.leased->settle(*second.reservation, 5, kNow);  // again: no effect
    EXPECT_TRUE(eventually([&] { return stateOf(shared->inner, "team") == LineState{75, 0}; }));
    // A read between the return reaching the shared ledger and its answer reaching the replica
    // counts the lease twice (an overcount: never lets a request through): wait for the answer.
    EXPECT_TRUE(eventually([&] { return stateOf(*replica.leased, "team") == LineState{75, 0}; }));
  }
  EXPECT_EQ(stateOf(shared->inner, "team"), (LineState{75, 0}));
}

TEST(LeasedLedger, SlicesShrinkAsTheLimitNears) {
  auto shared = std::make_shared<SwitchedLedger>();
  Replica replica(shared);
  const Line team = lineOf("team", 1000);
  // 32 x 10 would be 320: more than an eighth of the 1000 left.
  ASSERT_EQ(replica.leased->reserve({team}, 10, kNow, 60s).status, ReserveStatus::kReserved);
  EXPECT_EQ(stateOf(shared->inner, "team").reserved, 125);
  // Another replica spends most of the rest; requests here hold 10 each and never settle.
  shared->inner.charge({team}, 800, kNow, "elsewhere");
  int granted = 1;
  while (replica.leased->reserve({team}, 10, kNow, 60s).status == ReserveStatus::kReserved) {
    ++granted;
  }
  // The first lease held 12 requests (5 left unused); then, with 65 left, slices of an eighth
  // would be smaller than a request: each new lease is one request's 10. Refused at 995 of 1000.
  EXPECT_EQ(granted, 19);
  EXPECT_EQ(stateOf(shared->inner, "team"), (LineState{800, 195}));
  EXPECT_EQ(replica.leased->reserve({team}, 10, kNow, 60s).status, ReserveStatus::kOverLimit);
  EXPECT_EQ(replica.leased->reserve({team}, 5, kNow, 60s).status, ReserveStatus::kReserved);
}

TEST(LeasedLedger, RefusesWhatTheSharedLedgerHasNoRoomFor) {
  auto shared = std::make_shared<SwitchedLedger>();
  Replica replica(shared);
  const Line roomy = lineOf("roomy", 1'000'000);
  const Line full = lineOf("full", 50);
  ReserveResult held = replica.leased->reserve({roomy, full}, 60, kNow, 60s);
  EXPECT_EQ(held.status, ReserveStatus::kOverLimit);
  EXPECT_EQ(held.over_line, 1u);
  ASSERT_EQ(replica.leased->reserve({roomy, full}, 50, kNow, 60s).status, ReserveStatus::kReserved);
}

TEST(LeasedLedger, TheLocalFaceNeverCallsTheSharedLedger) {
  auto shared = std::make_shared<SwitchedLedger>();
  Replica replica(shared);
  const Line team = lineOf("team", 1'000'000);
  EXPECT_FALSE(replica.leased->local().read({"team"}, kNow));
  EXPECT_EQ(replica.leased->local().reserve({team}, 10, kNow, 60s).status,
            ReserveStatus::kUnavailable);
  EXPECT_EQ(shared->reserves.load(), 0);
  ASSERT_TRUE(replica.leased->read({"team"}, kNow));
  ASSERT_EQ(replica.leased->reserve({team}, 10, kNow, 60s).status, ReserveStatus::kReserved);
  ReserveResult local = replica.leased->local().reserve({team}, 10, kNow, 60s);
  EXPECT_EQ(local.status, ReserveStatus::kReserved);
  EXPECT_TRUE(replica.leased->local().read({"team"}, kNow));
  // More than the lease has room for: the local face cannot take another lease.
  EXPECT_EQ(replica.leased->local().reserve({team}, 10'000, kNow, 60s).status,
            ReserveStatus::kUnavailable);
  EXPECT_EQ(shared->reserves.load(), 1);
}

TEST(LeasedLedger, ALeaseServesThroughAnOutageAndItsSpendLandsAfter) {
  auto shared = std::make_shared<SwitchedLedger>();
  {
    Replica replica(shared, 50ms);
    const Line team = lineOf("team", 1'000'000);
    ReserveResult first = replica.leased->reserve({team}, 100, kNow, 60s);
    ASSERT_EQ(first.status, ReserveStatus::kReserved);
    shared->down = true;
    // The lease is held in the shared ledger: a request within it is served.
    ReserveResult second = replica.leased->reserve({team}, 100, kNow, 60s);
    ASSERT_EQ(second.status, ReserveStatus::kReserved);
    replica.leased->settle(*first.reservation, 30, kNow);
    replica.leased->settle(*second.reservation, 40, kNow);
    // Aged and returned, but the ledger is down: the return is tried, and kept.
    EXPECT_TRUE(eventually([&] { return shared->settles.load() > 0; }));
    EXPECT_EQ(replica.leased->reserve({team}, 100, kNow, 60s).status, ReserveStatus::kUnavailable);
    shared->down = false;
    EXPECT_TRUE(eventually([&] { return stateOf(shared->inner, "team") == LineState{70, 0}; }));
  }
  EXPECT_EQ(stateOf(shared->inner, "team"), (LineState{70, 0}));
}

TEST(LeasedLedger, AZeroReservationStillSpendsOnItsLease) {
  auto shared = std::make_shared<SwitchedLedger>();
  {
    Replica replica(shared, 20ms);
    const Line team = lineOf("team", 1'000'000);
    ReserveResult held = replica.leased->reserve({team}, 0, kNow, 60s);
    ASSERT_EQ(held.status, ReserveStatus::kReserved);
    std::this_thread::sleep_for(100ms);  // the lease aged while the request ran
    replica.leased->settle(*held.reservation, 9, kNow);
  }
  EXPECT_EQ(stateOf(shared->inner, "team"), (LineState{9, 0}));
}

// Two replicas on a real Redis, eight threads: never past the limit, every charge in Redis once,
// and nothing held once the leases are returned.
TEST(LeasedLedger, ReplicasOnRedisNeverOverspendAndChargeEverythingOnce) {
  test_data::RedisServer server;
  auto redis = std::make_shared<RedisLedger>(server.address(), 1s);
  const Line budget = lineOf("costgate:budget:leased:w", 100'000);
  const Line team = lineOf("costgate:budget:leased-team:w", 1'000'000);
  std::atomic<std::int64_t> charged{0};
  std::atomic<int> unavailable{0};
  {
    Replica one(redis, 30ms);
    Replica other(redis, 30ms);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      LeasedLedger* ledger = (t % 2 == 0 ? one : other).leased.get();
      threads.emplace_back([&, ledger, t] {
        for (int i = 0; i < 300; ++i) {
          ReserveResult held = ledger->reserve({budget, team}, 70, kNow, 60s);
          if (held.status == ReserveStatus::kUnavailable) ++unavailable;
          if (held.status != ReserveStatus::kReserved) continue;
          const std::int64_t actual = 40 + (i + t) % 31;  // at most the 70 held
          ledger->settle(*held.reservation, actual, kNow);
          charged += actual;
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  EXPECT_EQ(unavailable.load(), 0);
  auto states = redis->read({budget.key, team.key}, kNow);
  ASSERT_TRUE(states);
  EXPECT_EQ((*states)[0], (LineState{charged.load(), 0}));
  EXPECT_EQ((*states)[1], (LineState{charged.load(), 0}));
  EXPECT_LE(charged.load(), 100'000);
  // Refusals came with the budget nearly full: leases left unused elsewhere are small near the
  // limit.
  EXPECT_GE(charged.load(), 100'000 - 8 * 70 * 4);
}

}  // namespace
}  // namespace costgate::budget
