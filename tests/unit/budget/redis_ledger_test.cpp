#include "costgate/budget/redis_ledger.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "../support/redis_server.h"
#include "ledger_contract.h"

namespace costgate::budget {
namespace {

using namespace std::chrono_literals;
using test_data::RedisServer;

// One server for the whole contract suite: starting one per test would cost more than the tests.
RedisServer& sharedServer() {
  static RedisServer server;
  return server;
}

struct RedisLedgers {
  static std::unique_ptr<Ledger> make() {
    return std::make_unique<RedisLedger>(sharedServer().address(), 1s);
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Redis, LedgerContract, RedisLedgers);

// A raw connection to the test's server, to look behind the ledger's back.
redis::Reply replied(const RedisServer& server, const std::vector<std::string_view>& args) {
  auto connection = redis::Connection::open(server.address());
  if (auto* error = std::get_if<Error>(&connection)) throw std::runtime_error(error->message);
  auto reply = std::get<redis::Connection>(connection).command(args);
  if (auto* error = std::get_if<Error>(&reply)) throw std::runtime_error(error->message);
  return std::get<redis::Reply>(std::move(reply));
}

std::chrono::milliseconds timeOf(const std::function<void()>& call) {
  const auto started = std::chrono::steady_clock::now();
  call();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               started);
}

TEST(RedisLedger, KeysExpireWithTheirWindowPlusTheGrace) {
  RedisServer server;
  RedisLedger ledger(server.address(), 1s);
  const auto now = Clock::now();
  const Line line{"costgate:budget:team:w1", 100, now + 1min};
  ASSERT_EQ(ledger.reserve({line}, 10, now, 60s).status, ReserveStatus::kReserved);
  ASSERT_TRUE(ledger.charge({Line{"costgate:budget:user:w1", 100, now + 1min}}, 10, now, "c1"));

  const long long most = std::chrono::milliseconds(1min + kWindowGrace).count();
  for (std::string key : {line.key, line.key + ":holds", line.key + ":expiries",
                          std::string("costgate:budget:user:w1")}) {
    const redis::Reply ttl = replied(server, {"PTTL", key});
    EXPECT_GT(ttl.integer, most - 5000) << key;
    EXPECT_LE(ttl.integer, most) << key;
  }

  // A budget that never ends keeps its keys.
  const Line forever{"costgate:budget:lifetime", 100, Clock::time_point::max()};
  ASSERT_EQ(ledger.reserve({forever}, 10, now, 60s).status, ReserveStatus::kReserved);
  EXPECT_EQ(replied(server, {"PTTL", forever.key}).integer, -1);
}

TEST(RedisLedger, CountsInExactIntegers) {
  RedisServer server;
  RedisLedger ledger(server.address(), 1s);
  const auto now = Clock::now();
  // Past 2^53, where a double would lose the last unit.
  const std::int64_t large = (std::int64_t{1} << 60) + 1;
  const Line line{"costgate:budget:huge:w", large * 4, now + 1h};
  ASSERT_TRUE(ledger.charge({line}, large, now, "c1"));
  ASSERT_TRUE(ledger.charge({line}, large, now, "c2"));
  auto states = ledger.read({line.key}, now);
  ASSERT_TRUE(states);
  EXPECT_EQ(states->front(), (LineState{2 * large, 0}));
  EXPECT_EQ(replied(server, {"HGET", line.key, "spent"}).string, std::to_string(2 * large));
}

TEST(RedisLedger, RunsItsScriptsAfterTheServerForgetsThem) {
  RedisServer server;
  RedisLedger ledger(server.address(), 1s);
  const auto now = Clock::now();
  const std::vector<Line> lines = {Line{"costgate:budget:flushed:w", 100, now + 1h}};
  ASSERT_EQ(ledger.reserve(lines, 10, now, 60s).status, ReserveStatus::kReserved);

  replied(server, {"SCRIPT", "FLUSH"});
  ReserveResult after_flush = ledger.reserve(lines, 20, now, 60s);
  ASSERT_EQ(after_flush.status, ReserveStatus::kReserved);
  replied(server, {"SCRIPT", "FLUSH"});
  EXPECT_TRUE(ledger.settle(*after_flush.reservation, 15, now));
  replied(server, {"SCRIPT", "FLUSH"});
  EXPECT_TRUE(ledger.charge(lines, 5, now, "c1"));
  replied(server, {"SCRIPT", "FLUSH"});
  auto states = ledger.read({lines[0].key}, now);
  ASSERT_TRUE(states);
  EXPECT_EQ(states->front(), (LineState{20, 10}));
}

TEST(RedisLedger, ReplicasShareReservations) {
  RedisServer server;
  RedisLedger one(server.address(), 1s);
  RedisLedger other(server.address(), 1s);
  const auto now = Clock::now();
  const std::vector<Line> lines = {Line{"costgate:budget:shared:w", 100, now + 1h}};
  ReserveResult first = one.reserve(lines, 60, now, 60s);
  ASSERT_EQ(first.status, ReserveStatus::kReserved);
  EXPECT_EQ(other.reserve(lines, 50, now, 60s).status, ReserveStatus::kOverLimit);
  EXPECT_TRUE(other.settle(*first.reservation, 40, now));
  EXPECT_TRUE(one.settle(*first.reservation, 40, now));
  auto states = one.read({lines[0].key}, now);
  ASSERT_TRUE(states);
  EXPECT_EQ(states->front(), (LineState{40, 0}));
}

TEST(RedisLedger, ReplicasUnderLoadNeverOverspend) {
  RedisServer server;
  RedisLedger one(server.address(), 1s);
  RedisLedger other(server.address(), 1s);
  const auto now = Clock::now();
  const std::vector<Line> lines = {Line{"costgate:budget:global:w", 1000, now + 1h},
                                   Line{"costgate:budget:team:w", 5000, now + 1h}};
  std::atomic<int> granted{0};
  std::atomic<int> unavailable{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    Ledger* ledger = t % 2 == 0 ? static_cast<Ledger*>(&one) : &other;
    threads.emplace_back([&, ledger] {
      for (int i = 0; i < 40; ++i) {
        ReserveResult result = ledger->reserve(lines, 7, now, 60s);
        if (result.status == ReserveStatus::kUnavailable) ++unavailable;
        if (result.status != ReserveStatus::kReserved) continue;
        ++granted;
        if (!ledger->settle(*result.reservation, 7, now)) ++unavailable;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(unavailable.load(), 0);
  // Every refusal came with the budget full: no more and no fewer than fit.
  EXPECT_EQ(granted.load(), 1000 / 7);
  auto states = one.read({lines[0].key, lines[1].key}, now);
  ASSERT_TRUE(states);
  EXPECT_LE((*states)[0].spent, 1000);
  EXPECT_EQ((*states)[0], (LineState{7 * granted.load(), 0}));
  EXPECT_EQ((*states)[1], (LineState{7 * granted.load(), 0}));
}

TEST(RedisLedger, UnavailableWhileRedisIsDownThenBack) {
  RedisServer server;
  constexpr auto kTimeout = 300ms;
  constexpr auto kPatience = kTimeout * 3 / 2;
  RedisLedger ledger(server.address(), kTimeout);
  const auto now = Clock::now();
  const std::vector<Line> lines = {Line{"costgate:budget:outage:w", 100, now + 1h}};
  ReserveResult before = ledger.reserve(lines, 10, now, 60s);
  ASSERT_EQ(before.status, ReserveStatus::kReserved);

  server.stop();
  EXPECT_LT(timeOf([&] {
              EXPECT_EQ(ledger.reserve(lines, 10, now, 60s).status, ReserveStatus::kUnavailable);
            }),
            kPatience);
  EXPECT_LT(timeOf([&] { EXPECT_FALSE(ledger.settle(*before.reservation, 10, now)); }), kPatience);
  EXPECT_LT(timeOf([&] { EXPECT_FALSE(ledger.charge(lines, 10, now, "c1")); }), kPatience);
  EXPECT_LT(timeOf([&] { EXPECT_FALSE(ledger.read({lines[0].key}, now)); }), kPatience);

  // Back, empty (the test server persists nothing).
  server.start();
  EXPECT_EQ(ledger.reserve(lines, 30, now, 60s).status, ReserveStatus::kReserved);
  auto states = ledger.read({lines[0].key}, now);
  ASSERT_TRUE(states);
  EXPECT_EQ(states->front(), (LineState{0, 30}));
}

// A frozen Redis runs the reservation the caller gave up on when it resumes, unless the reservation
// knows it came too late; and a reservation whose answer was lost is named, for its release.
TEST(RedisLedger, AReservationAFrozenRedisRunsTooLateHoldsNothing) {
  RedisServer server;
  constexpr auto kTimeout = 200ms;
  RedisLedger ledger(server.address(), kTimeout);
  const auto now = Clock::now();
  const std::vector<Line> lines = {Line{"costgate:budget:frozen:w", 1000, now + 1h}};
  ASSERT_EQ(ledger.read({lines[0].key}, now)->front(), (LineState{0, 0}));  // connected
  server.freeze();
  ReserveResult gave_up = ledger.reserve(lines, 40, now, 60s);
  EXPECT_EQ(gave_up.status, ReserveStatus::kUnavailable);
  ASSERT_TRUE(gave_up.attempted);
  std::this_thread::sleep_for(kTimeout);  // its deadline passes while Redis is frozen
  server.thaw();
  std::this_thread::sleep_for(100ms);  // the waiting command runs now, and finds itself late
  EXPECT_EQ(ledger.read({lines[0].key}, now)->front(), (LineState{0, 0}));
  // Releasing what may have been made is safe either way.
  EXPECT_TRUE(ledger.settle(*gave_up.attempted, 0, now));
  EXPECT_EQ(ledger.read({lines[0].key}, now)->front(), (LineState{0, 0}));
}

// A server that accepts connections (the kernel does, into the listen backlog) and never answers:
// a hung Redis. Calls give up after about the timeout instead of waiting with it.
TEST(RedisLedger, GivesUpOnASilentServerAfterItsTimeout) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 16), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);

  redis::Address silent;
  silent.port = ntohs(address.sin_port);
  constexpr auto kTimeout = 200ms;
  RedisLedger ledger(silent, kTimeout);
  const auto now = Clock::now();
  const std::vector<Line> lines = {Line{"costgate:budget:silent:w", 100, now + 1h}};
  const auto waited = timeOf(
      [&] { EXPECT_EQ(ledger.reserve(lines, 10, now, 60s).status, ReserveStatus::kUnavailable); });
  EXPECT_GE(waited, kTimeout - 10ms);
  EXPECT_LT(waited, kTimeout * 3 / 2);
  ::close(listener);
}

TEST(RedisLedger, UnavailableWithoutAServer) {
  redis::Address nowhere;
  {
    RedisServer server;
    nowhere = server.address();
  }  // stopped: nothing listens on its port now
  RedisLedger ledger(nowhere, 300ms);
  const auto now = Clock::now();
  const std::vector<Line> lines = {Line{"costgate:budget:nowhere:w", 100, now + 1h}};
  EXPECT_LT(timeOf([&] {
              EXPECT_EQ(ledger.reserve(lines, 10, now, 60s).status, ReserveStatus::kUnavailable);
            }),
            300ms);
  EXPECT_FALSE(ledger.read({lines[0].key}, now));
}

}  // namespace
}  // namespace costgate::budget
