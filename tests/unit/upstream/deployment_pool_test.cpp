#include "costgate/upstream/deployment_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace costgate::upstream {
namespace {

using Clock = DeploymentPool::Clock;
using State = DeploymentPool::State;
using std::chrono::seconds;

const Clock::time_point kStart = Clock::time_point() + std::chrono::hours(1);

// Leases deployment `index` by excluding every other one.
DeploymentPool::Lease acquireOnly(DeploymentPool& pool, std::size_t index, Clock::time_point now) {
  std::vector<bool> others(pool.size(), true);
  others[index] = false;
  auto lease = pool.acquire(now, &others);
  EXPECT_TRUE(lease.has_value());
  EXPECT_EQ(lease->index(), index);
  return std::move(*lease);
}

void failTimes(DeploymentPool& pool, std::size_t index, int times, Clock::time_point now) {
  for (int i = 0; i < times; ++i) acquireOnly(pool, index, now).failed(now);
}

std::vector<int> outstanding(const DeploymentPool& pool) {
  std::vector<int> counts;
  for (const auto& status : pool.snapshot(kStart)) counts.push_back(status.outstanding);
  return counts;
}

TEST(DeploymentPool, RejectsWeightsBelowOneAndNoEjectionThreshold) {
  EXPECT_THROW(DeploymentPool({1, 0}), std::invalid_argument);
  EXPECT_THROW(DeploymentPool({-2}), std::invalid_argument);
  DeploymentPool::Options options;
  options.eject_after = 0;
  EXPECT_THROW(DeploymentPool({1}, options), std::invalid_argument);
}

TEST(DeploymentPool, AnEmptyPoolHasNothingToLease) {
  DeploymentPool pool({});
  EXPECT_FALSE(pool.acquire(kStart).has_value());
  EXPECT_FALSE(pool.acquireAny(kStart).has_value());
  EXPECT_TRUE(pool.snapshot(kStart).empty());
}

TEST(DeploymentPool, CallsInFlightFollowTheWeights) {
  DeploymentPool pool({1, 2, 3});
  std::vector<DeploymentPool::Lease> held;
  for (int i = 0; i < 600; ++i) held.push_back(*pool.acquire(kStart));
  EXPECT_EQ(outstanding(pool), (std::vector<int>{100, 200, 300}));
  held.clear();
  EXPECT_EQ(outstanding(pool), (std::vector<int>{0, 0, 0}));
}

TEST(DeploymentPool, UnderSteadyLoadCallsFollowTheWeights) {
  // 60 calls always in flight, each ending in the order they started.
  DeploymentPool pool({1, 2, 3});
  std::deque<DeploymentPool::Lease> in_flight;
  std::vector<int> picks(3, 0);
  for (int i = 0; i < 6000; ++i) {
    if (in_flight.size() == 60) in_flight.pop_front();
    in_flight.push_back(*pool.acquire(kStart));
    ++picks[in_flight.back().index()];
  }
  EXPECT_NEAR(picks[0], 1000, 30);
  EXPECT_NEAR(picks[1], 2000, 30);
  EXPECT_NEAR(picks[2], 3000, 30);
}

TEST(DeploymentPool, EqualDeploymentsTakeTurns) {
  DeploymentPool pool({1, 1, 1});
  std::vector<int> picks(3, 0);
  for (int i = 0; i < 300; ++i) {
    auto lease = pool.acquire(kStart);
    ASSERT_TRUE(lease.has_value());
    ++picks[lease->index()];
  }
  EXPECT_EQ(picks, (std::vector<int>{100, 100, 100}));
}

TEST(DeploymentPool, PrefersTheLeastOutstandingPerWeight) {
  DeploymentPool pool({1, 1});
  auto a = acquireOnly(pool, 0, kStart);
  auto b = acquireOnly(pool, 0, kStart);
  auto c = acquireOnly(pool, 0, kStart);
  // 0 has 3 calls, 1 none: the next three go to 1, then they alternate again.
  std::vector<DeploymentPool::Lease> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(*pool.acquire(kStart));
    EXPECT_EQ(held.back().index(), 1u);
  }
  EXPECT_EQ(outstanding(pool), (std::vector<int>{3, 3}));

  // A weight-3 deployment with 2 calls (score 1) beats a weight-1 one with 1 (score 2).
  DeploymentPool weighted({1, 3});
  auto x = acquireOnly(weighted, 0, kStart);
  auto y = acquireOnly(weighted, 1, kStart);
  auto z = acquireOnly(weighted, 1, kStart);
  EXPECT_EQ(weighted.acquire(kStart)->index(), 1u);
}

TEST(DeploymentPool, ExcludeSkipsDeploymentsAlreadyTried) {
  DeploymentPool pool({5, 1, 1});
  std::vector<bool> tried = {true, false, true};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pool.acquire(kStart, &tried)->index(), 1u);
  std::vector<bool> all = {true, true, true};
  EXPECT_FALSE(pool.acquire(kStart, &all).has_value());
  EXPECT_FALSE(pool.acquireAny(kStart, &all).has_value());
  // A shorter vector leaves the deployments past its end in.
  std::vector<bool> first_two = {true, true};
  EXPECT_EQ(pool.acquire(kStart, &first_two)->index(), 2u);
}

TEST(DeploymentPool, EjectsAfterConsecutiveFailures) {
  DeploymentPool pool({1, 1});
  failTimes(pool, 0, 2, kStart);
  acquireOnly(pool, 0, kStart).succeeded(kStart);  // a success in between starts the count over
  failTimes(pool, 0, 2, kStart);
  EXPECT_EQ(pool.snapshot(kStart)[0].consecutive_failures, 2);
  EXPECT_EQ(pool.snapshot(kStart)[0].state, State::kHealthy);

  failTimes(pool, 0, 1, kStart);
  auto status = pool.snapshot(kStart + seconds(4))[0];
  EXPECT_EQ(status.state, State::kEjected);
  EXPECT_EQ(status.consecutive_failures, 3);
  EXPECT_EQ(status.ejected_until, kStart + seconds(10));
  EXPECT_EQ(status.cooldown_left, seconds(6));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(pool.acquire(kStart + seconds(9))->index(), 1u);
  std::vector<bool> skip_one = {false, true};
  EXPECT_FALSE(pool.acquire(kStart, &skip_one).has_value());
}

TEST(DeploymentPool, OnlyOneProbeOnceTheCooldownHasPassed) {
  DeploymentPool pool({1});
  failTimes(pool, 0, 3, kStart);
  EXPECT_FALSE(pool.acquire(kStart + seconds(9)).has_value());

  const auto later = kStart + seconds(10);
  auto probe = pool.acquire(later);
  ASSERT_TRUE(probe.has_value());
  EXPECT_TRUE(probe->probe());
  EXPECT_FALSE(pool.acquire(later).has_value());
  EXPECT_FALSE(pool.acquire(later + seconds(30)).has_value());
  EXPECT_EQ(pool.snapshot(later)[0].state, State::kProbing);

  probe->succeeded(later);
  auto status = pool.snapshot(later)[0];
  EXPECT_EQ(status.state, State::kHealthy);
  EXPECT_EQ(status.consecutive_failures, 0);
  EXPECT_EQ(status.outstanding, 1);  // reported, not yet released
  auto next = pool.acquire(later);
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->probe());
}

TEST(DeploymentPool, TheProbeGoesFirstOnceTheCooldownHasPassed) {
  DeploymentPool pool({1, 10});
  failTimes(pool, 0, 3, kStart);
  auto probe = pool.acquire(kStart + seconds(10));
  EXPECT_EQ(probe->index(), 0u);
  EXPECT_TRUE(probe->probe());
  EXPECT_EQ(pool.acquire(kStart + seconds(10))->index(), 1u);
}

TEST(DeploymentPool, AFailedProbeDoublesTheCooldownUpToItsMaximum) {
  DeploymentPool::Options options;
  options.eject_after = 2;
  options.cooldown = seconds(10);
  options.max_cooldown = seconds(50);
  DeploymentPool pool({1}, options);
  failTimes(pool, 0, 2, kStart);
  auto now = kStart;
  for (int expected : {10, 20, 40, 50, 50}) {
    EXPECT_EQ(pool.snapshot(now)[0].ejected_until, now + seconds(expected));
    now += seconds(expected);
    auto probe = pool.acquire(now);
    ASSERT_TRUE(probe.has_value());
    ASSERT_TRUE(probe->probe());
    probe->failed(now);
    EXPECT_EQ(pool.snapshot(now)[0].state, State::kEjected);
  }
  // A success brings it back and starts the cooldown over.
  now += seconds(50);
  pool.acquire(now)->succeeded(now);
  failTimes(pool, 0, 2, now);
  EXPECT_EQ(pool.snapshot(now)[0].ejected_until, now + seconds(10));
}

TEST(DeploymentPool, AProbeEndingWithoutAReportLeavesTheSlotToTheNextCall) {
  DeploymentPool pool({1});
  failTimes(pool, 0, 3, kStart);
  const auto later = kStart + seconds(10);
  pool.acquire(later)->release();  // e.g. the client went away mid-call
  EXPECT_EQ(pool.snapshot(later)[0].state, State::kEjected);
  auto probe = pool.acquire(later);
  ASSERT_TRUE(probe.has_value());
  EXPECT_TRUE(probe->probe());
}

TEST(DeploymentPool, CallsLeasedBeforeAnEjectionDoNotChangeIt) {
  DeploymentPool pool({1});
  auto slow_failure = acquireOnly(pool, 0, kStart);
  auto slow_success = acquireOnly(pool, 0, kStart);
  failTimes(pool, 0, 3, kStart);
  const auto ejected_until = pool.snapshot(kStart)[0].ejected_until;

  slow_failure.failed(kStart + seconds(5));
  slow_success.succeeded(kStart + seconds(5));
  auto status = pool.snapshot(kStart + seconds(5))[0];
  EXPECT_EQ(status.state, State::kEjected);
  EXPECT_EQ(status.ejected_until, ejected_until);
  EXPECT_EQ(status.outstanding, 2);
}

TEST(DeploymentPool, AcquireAnyFallsBackToTheSoonestEndingCooldown) {
  DeploymentPool pool({1, 1});
  failTimes(pool, 1, 3, kStart);
  failTimes(pool, 0, 3, kStart + seconds(1));
  // 1's cooldown ends at +10 s, 0's at +11 s.
  const auto now = kStart + seconds(2);
  EXPECT_FALSE(pool.acquire(now).has_value());
  auto lease = pool.acquireAny(now);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->index(), 1u);
  EXPECT_FALSE(lease->probe());
  std::vector<bool> skip_one = {false, true};
  EXPECT_EQ(pool.acquireAny(now, &skip_one)->index(), 0u);

  // Its failure changes nothing; its success brings the deployment back.
  lease->failed(now);
  EXPECT_EQ(pool.snapshot(now)[1].ejected_until, kStart + seconds(10));
  auto another = pool.acquireAny(now);
  ASSERT_EQ(another->index(), 1u);
  another->succeeded(now);
  EXPECT_EQ(pool.snapshot(now)[1].state, State::kHealthy);
  EXPECT_EQ(pool.acquire(now)->index(), 1u);
}

TEST(DeploymentPool, AcquireAnyPrefersAvailableDeployments) {
  DeploymentPool pool({1, 1});
  failTimes(pool, 0, 3, kStart);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(pool.acquireAny(kStart)->index(), 1u);
}

TEST(DeploymentPool, AMovedLeaseReleasesOnce) {
  DeploymentPool pool({1});
  {
    auto lease = *pool.acquire(kStart);
    DeploymentPool::Lease moved = std::move(lease);
    EXPECT_EQ(outstanding(pool), std::vector<int>{1});
    auto other = *pool.acquire(kStart);
    EXPECT_EQ(outstanding(pool), std::vector<int>{2});
    other = std::move(moved);  // releases other's own claim
    EXPECT_EQ(outstanding(pool), std::vector<int>{1});
    other.release();
    other.release();
    EXPECT_EQ(outstanding(pool), std::vector<int>{0});
  }
  EXPECT_EQ(outstanding(pool), std::vector<int>{0});
}

TEST(DeploymentPool, OnlyTheFirstReportCounts) {
  DeploymentPool pool({1});
  failTimes(pool, 0, 2, kStart);
  auto lease = *pool.acquire(kStart);
  lease.succeeded(kStart);
  lease.failed(kStart);
  EXPECT_EQ(pool.snapshot(kStart)[0].consecutive_failures, 0);
  auto released = *pool.acquire(kStart);
  released.release();
  released.failed(kStart);
  EXPECT_EQ(pool.snapshot(kStart)[0].consecutive_failures, 0);
}

TEST(DeploymentPool, ConcurrentCallsLeaveNothingOutstanding) {
  DeploymentPool::Options options;
  options.cooldown = std::chrono::milliseconds(1);
  DeploymentPool pool({1, 2, 3, 1}, options);
  std::atomic<bool> negative_seen = false;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, &negative_seen, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      std::vector<DeploymentPool::Lease> held;
      auto now = kStart;
      for (int i = 0; i < 20000; ++i) {
        now += std::chrono::microseconds(100);
        std::vector<bool> tried(4, false);
        tried[random() % 4] = (random() % 3 == 0);
        if (auto lease = pool.acquireAny(now, &tried)) {
          switch (random() % 4) {
            case 0:
              lease->failed(now);
              break;
            case 1:
              lease->succeeded(now);
              break;
            default:
              break;
          }
          held.push_back(std::move(*lease));
        }
        if (held.size() > 8 || random() % 2 == 0) {
          if (!held.empty()) held.erase(held.begin() + random() % held.size());
        }
        if (i % 500 == 0) {
          for (const auto& status : pool.snapshot(now)) {
            if (status.outstanding < 0) negative_seen = true;
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_FALSE(negative_seen);
  EXPECT_EQ(outstanding(pool), (std::vector<int>{0, 0, 0, 0}));
}

}  // namespace
}  // namespace costgate::upstream
