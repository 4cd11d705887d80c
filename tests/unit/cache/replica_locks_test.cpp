// The Redis store's locks (coalescing across replicas), against a real redis-server: two stores
// on one server are two replicas.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "../support/eventually.h"
#include "../support/redis_server.h"
#include "costgate/cache/embedder.h"
#include "costgate/cache/redis_store.h"

namespace costgate::cache {
namespace {

using namespace std::chrono_literals;
using test_data::RedisServer;

constexpr std::size_t kDimensions = 256;
constexpr const char* kPrefix = "costgate:cache:locks:";

Entry entryFor(const std::string& question) {
  static const LexicalEmbedder embedder(kDimensions);
  Entry entry;
  entry.key = RequestKey{"p", "p#" + question, question, true};
  entry.facts = factsOf(question);
  entry.vector = embedder.embed(question);
  entry.answer = CachedAnswer{"answer to " + question, pricing::Usage{10, 5, 0, 0}, "large"};
  entry.expires_at = Clock::now() + 1h;
  return entry;
}

using test_data::eventually;

// tryLock's answer; kFailed (and a test failure) when none comes within two seconds.
LockTake take(ReplicaLocks& locks, const std::string& exact_key) {
  auto promise = std::make_shared<std::promise<LockTake>>();
  auto answered = promise->get_future();
  locks.tryLock(exact_key, [promise](LockTake take) { promise->set_value(take); });
  if (answered.wait_for(2s) != std::future_status::ready) {
    ADD_FAILURE() << "tryLock never answered";
    return LockTake::kFailed;
  }
  return answered.get();
}

class ReplicaLocksTest : public ::testing::Test {
 protected:
  std::unique_ptr<RedisStore> replica() {
    auto store =
        std::make_unique<RedisStore>(server_.address(), kPrefix, 1000, 64 << 20, kDimensions);
    EXPECT_TRUE(eventually([&] { return store->stats().in_sync; })) << "never in sync";
    return store;
  }

  // The lock key's value and its time to live in milliseconds, read behind the stores' backs.
  std::pair<redis::Reply, long long> lockInRedis(const std::string& exact_key) {
    auto opened = redis::Connection::open(server_.address());
    auto& connection = std::get<redis::Connection>(opened);
    const std::string key = std::string(kPrefix) + "lock:" + exact_key;
    auto value = std::get<redis::Reply>(connection.command({"GET", key}));
    auto ttl = std::get<redis::Reply>(connection.command({"PTTL", key}));
    return {value, ttl.integer};
  }

  RedisServer server_;
};

TEST_F(ReplicaLocksTest, OneReplicaTakesAKeysLockAndTheOtherFindsItHeld) {
  auto a = replica();
  auto b = replica();
  EXPECT_EQ(take(*a, "p#q1"), LockTake::kTaken);
  EXPECT_EQ(take(*b, "p#q1"), LockTake::kHeldElsewhere);
  EXPECT_EQ(take(*b, "p#q2"), LockTake::kTaken) << "a lock is per key";
  // Asked again by its holder (a take sent again after its reply was lost), it is still taken.
  EXPECT_EQ(take(*a, "p#q1"), LockTake::kTaken);

  auto [holder, ttl] = lockInRedis("p#q1");
  EXPECT_EQ(holder.type, redis::Reply::Type::kString);
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, RedisStore::kLockTtl.count()) << "short-lived: a dead holder frees it";
  EXPECT_EQ(a->stats().locks_taken, 2u);
  EXPECT_EQ(b->stats().locks_held, 1u);
}

TEST_F(ReplicaLocksTest, ALockGivenBackAfterAPutIsGoneOnlyOnceTheEntryReachedTheOthers) {
  auto a = replica();
  auto b = replica();
  ASSERT_EQ(take(*a, "p#Where is my parcel?"), LockTake::kTaken);
  ASSERT_EQ(take(*b, "p#Where is my parcel?"), LockTake::kHeldElsewhere);
  auto arrival = b->watch("p#Where is my parcel?");

  a->put(entryFor("Where is my parcel?"));
  a->unlock("p#Where is my parcel?");
  ASSERT_TRUE(eventually([&] { return arrival->fired(); }));
  // The watch fired once the entry was in b's copy: a waiter woken by it finds the answer.
  EXPECT_TRUE(b->findExact("p#Where is my parcel?", Clock::now()));
  ASSERT_TRUE(eventually([&] { return lockInRedis("p#Where is my parcel?").second == -2; }));
  // The answer is stored: a take brings it rather than the lock.
  EXPECT_EQ(take(*b, "p#Where is my parcel?"), LockTake::kStored);
}

TEST_F(ReplicaLocksTest, ALockGivenBackWithoutAnAnswerWakesTheWaitingReplica) {
  auto a = replica();
  auto b = replica();
  ASSERT_EQ(take(*a, "p#failed"), LockTake::kTaken);
  auto arrival = b->watch("p#failed");
  auto other_key = b->watch("p#other");
  a->unlock("p#failed");  // its call failed: nothing stored
  ASSERT_TRUE(eventually([&] { return arrival->fired(); }));
  EXPECT_FALSE(b->findExact("p#failed", Clock::now()));
  EXPECT_EQ(take(*b, "p#failed"), LockTake::kTaken) << "a waiter takes over";
  EXPECT_FALSE(other_key->fired());
  b->unwatch("p#other", other_key);
}

TEST_F(ReplicaLocksTest, ATakeThatFindsTheAnswerStoredBringsItInsteadOfTheLock) {
  auto a = replica();
  // A copy of one entry: it keeps only the last it heard of, as a full one drops the oldest.
  RedisStore b(server_.address(), kPrefix, 1, 64 << 20, kDimensions);
  ASSERT_TRUE(eventually([&] { return b.stats().in_sync; }));
  a->put(entryFor("How do I enable 2FA?"));
  a->put(entryFor("Other question"));
  ASSERT_TRUE(
      eventually([&] { return b.findExact("p#Other question", Clock::now()).has_value(); }));
  ASSERT_FALSE(b.findExact("p#How do I enable 2FA?", Clock::now()));

  EXPECT_EQ(take(b, "p#How do I enable 2FA?"), LockTake::kStored);
  auto hit = b.findExact("p#How do I enable 2FA?", Clock::now());
  ASSERT_TRUE(hit) << "the answer came with the reply";
  EXPECT_EQ(hit->answer.body, "answer to How do I enable 2FA?");
  EXPECT_EQ(lockInRedis("p#How do I enable 2FA?").second, -2) << "and no lock was taken";
}

TEST_F(ReplicaLocksTest, AReplicaGivesBackOnlyItsOwnLock) {
  auto a = replica();
  auto b = replica();
  ASSERT_EQ(take(*a, "p#mine"), LockTake::kTaken);
  b->unlock("p#mine");        // b never held it (its leader timed out and called the backend)
  b->put(entryFor("after"));  // queued after the unlock: once it is in a, the unlock was sent
  ASSERT_TRUE(eventually([&] { return a->findExact("p#after", Clock::now()).has_value(); }));
  EXPECT_EQ(lockInRedis("p#mine").first.type, redis::Reply::Type::kString);
  EXPECT_EQ(take(*b, "p#mine"), LockTake::kHeldElsewhere);
}

TEST_F(ReplicaLocksTest, AHeldLockIsRenewedAndADeadHoldersLockExpires) {
  auto a = replica();
  auto b = replica();
  ASSERT_EQ(take(*a, "p#long call"), LockTake::kTaken);
  std::this_thread::sleep_for(RedisStore::kLockTtl + 500ms);
  EXPECT_EQ(take(*b, "p#long call"), LockTake::kHeldElsewhere) << "renewed while its call runs";

  const auto died = std::chrono::steady_clock::now();
  a.reset();  // a replica that goes away without giving its locks back
  EXPECT_EQ(take(*b, "p#long call"), LockTake::kHeldElsewhere);
  ASSERT_TRUE(eventually([&] { return take(*b, "p#long call") == LockTake::kTaken; },
                         RedisStore::kLockTtl + 1s));
  EXPECT_LE(std::chrono::steady_clock::now() - died, RedisStore::kLockTtl + 500ms);
}

// What a leader's miss waits before its backend call: one trip through the writer to Redis and
// back. Printed, and bounded loosely (a loaded machine is slow, not broken).
TEST_F(ReplicaLocksTest, ATakeCostsOneRoundTripThroughTheWriter) {
  auto a = replica();
  constexpr int kTakes = 500;
  std::vector<double> micros;
  for (int i = 0; i < kTakes; ++i) {
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(take(*a, "p#timed " + std::to_string(i)), LockTake::kTaken);
    micros.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
    a->unlock("p#timed " + std::to_string(i));
  }
  std::sort(micros.begin(), micros.end());
  double total = 0;
  for (double value : micros) total += value;
  std::printf("lock take: mean %.0f us, median %.0f us, p99 %.0f us over %d takes\n",
              total / kTakes, micros[kTakes / 2], micros[kTakes * 99 / 100], kTakes);
  EXPECT_LT(micros[kTakes / 2], 20'000.0);
}

TEST_F(ReplicaLocksTest, WithoutRedisThereIsNoLockAndTheAnswerIsImmediate) {
  auto a = replica();
  server_.stop();
  ASSERT_TRUE(eventually([&] { return !a->stats().in_sync; }));
  LockTake answer = LockTake::kTaken;
  const auto start = std::chrono::steady_clock::now();
  a->tryLock("p#q", [&](LockTake take) { answer = take; });  // answered inside the call
  // Well under what waiting for Redis takes (a 100 ms first retry, a 500 ms connect timeout).
  EXPECT_LT(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_EQ(answer, LockTake::kFailed);
  a->unlock("p#q");  // harmless
  EXPECT_GE(a->stats().lock_failures, 1u);
}

}  // namespace
}  // namespace costgate::cache
