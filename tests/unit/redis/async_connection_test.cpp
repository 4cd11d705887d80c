#include "costgate/redis/async_connection.h"

#include <gtest/gtest.h>

#include <chrono>
#include <coroutine>
#include <string>
#include <variant>
#include <vector>

#include "../support/redis_server.h"
#include "costgate/server/task.h"

namespace costgate::redis {
namespace {

using namespace std::chrono_literals;
using server::EventLoop;
using server::Task;
using test_data::RedisServer;

// co_await: the answer to one command, checked to come after command() returned.
struct Asked {
  AsyncConnection& connection;
  std::vector<std::string> args;
  std::variant<Reply, Error> answer = Error{"no answer"};
  bool inline_answer = false;
  bool returned = false;  // command() did

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> waiter) {
    connection.command(args, [this, waiter](std::variant<Reply, Error> got) {
      inline_answer = !returned;
      answer = std::move(got);
      EventLoop::current().resumeSoon(waiter);
    });
    returned = true;
  }
  std::variant<Reply, Error> await_resume() {
    EXPECT_FALSE(inline_answer) << "answered inside command()";
    return std::move(answer);
  }
};

// Variadic rather than a braced list: GCC 12 cannot keep a braced list's array across a co_await.
template <class... Args>
Asked ask(AsyncConnection& connection, Args... args) {
  return Asked{connection, std::vector<std::string>{std::string(args)...}};
}

// Runs `scenario` on a new loop to its end.
void runToEnd(std::function<Task<>(EventLoop&)> scenario) {
  EventLoop loop;
  loop.spawn([](EventLoop& loop, std::function<Task<>(EventLoop&)> scenario) -> Task<> {
    co_await scenario(loop);
    loop.stop();
  }(loop, std::move(scenario)));
  loop.run();
}

long long integerOf(const std::variant<Reply, Error>& answer) {
  const auto* reply = std::get_if<Reply>(&answer);
  return reply != nullptr && reply->type == Reply::Type::kInteger ? reply->integer : -1;
}

TEST(AsyncConnection, PipelinesCommandsAndAnswersEachInOrder) {
  RedisServer redis;
  std::vector<long long> counts;
  runToEnd([&](EventLoop& loop) -> Task<> {
    AsyncConnection connection(loop, redis.address(), 1s);
    int left = 100;
    for (int i = 0; i < 100; ++i) {
      connection.command(std::vector<std::string>{"INCR", "counter"},
                         [&](std::variant<Reply, Error> answer) {
                           counts.push_back(integerOf(answer));
                           --left;
                         });
    }
    while (left > 0) co_await server::sleepFor(1ms);
  });
  ASSERT_EQ(counts.size(), 100u);
  for (std::size_t i = 0; i < counts.size(); ++i)
    EXPECT_EQ(counts[i], static_cast<long long>(i + 1));
}

TEST(AsyncConnection, ARefusedCommandIsAnErrorReplyAndTheConnectionGoesOn) {
  RedisServer redis;
  runToEnd([&](EventLoop& loop) -> Task<> {
    AsyncConnection connection(loop, redis.address(), 1s);
    auto refused = co_await ask(connection, "NOSUCHCOMMAND");
    EXPECT_TRUE(std::holds_alternative<Reply>(refused));
    if (!std::holds_alternative<Reply>(refused)) co_return;
    EXPECT_EQ(std::get<Reply>(refused).type, Reply::Type::kError);
    auto answer1 = co_await ask(connection, "INCR", "after");
    EXPECT_EQ(integerOf(answer1), 1);
  });
}

TEST(AsyncConnection, ADownServerFailsAtOnceThenItsReturnIsNoticed) {
  RedisServer redis;
  redis.stop();
  runToEnd([&](EventLoop& loop) -> Task<> {
    AsyncConnection connection(loop, redis.address(), 1s);
    const auto started = EventLoop::Clock::now();
    auto failed = co_await ask(connection, "PING");
    EXPECT_TRUE(std::holds_alternative<Error>(failed));
    auto again = co_await ask(connection, "PING");  // within kRetryAfter: not even tried
    EXPECT_TRUE(std::holds_alternative<Error>(again));
    EXPECT_LT(EventLoop::Clock::now() - started, 100ms);
    redis.start();
    co_await server::sleepFor(AsyncConnection::kRetryAfter + 50ms);
    auto answer2 = co_await ask(connection, "INCR", "back");
    EXPECT_EQ(integerOf(answer2), 1);
  });
}

TEST(AsyncConnection, AFrozenServerTimesOutEveryCommandInFlight) {
  RedisServer redis;
  runToEnd([&](EventLoop& loop) -> Task<> {
    AsyncConnection connection(loop, redis.address(), 200ms);
    auto answer3 = co_await ask(connection, "INCR", "n");
    EXPECT_EQ(integerOf(answer3), 1);
    redis.freeze();
    const auto started = EventLoop::Clock::now();
    int failed = 0;
    for (int i = 0; i < 3; ++i) {
      connection.command(std::vector<std::string>{"INCR", "n"},
                         [&](std::variant<Reply, Error> answer) {
                           failed += std::holds_alternative<Error>(answer);
                         });
    }
    auto last = co_await ask(connection, "INCR", "n");
    EXPECT_TRUE(std::holds_alternative<Error>(last));
    EXPECT_EQ(failed, 3);
    const auto waited = EventLoop::Clock::now() - started;
    EXPECT_GE(waited, 190ms);
    EXPECT_LT(waited, 1s);
    redis.thaw();
    // A new connection; the frozen one's commands ran when the server woke (it had them).
    auto after = co_await ask(connection, "GET", "n");
    EXPECT_TRUE(std::holds_alternative<Reply>(after));
  });
}

TEST(AsyncConnection, AuthenticatesAndSelectsTheDatabase) {
  RedisServer redis({"--requirepass", "s3cret"});
  Address address = redis.address();
  address.password = "s3cret";
  address.db = 3;
  runToEnd([&](EventLoop& loop) -> Task<> {
    AsyncConnection connection(loop, address, 1s);
    auto answer4 = co_await ask(connection, "INCR", "in-three");
    EXPECT_EQ(integerOf(answer4), 1);
    auto selected = co_await ask(connection, "CLIENT", "INFO");
    EXPECT_TRUE(std::holds_alternative<Reply>(selected));
    if (!std::holds_alternative<Reply>(selected)) co_return;
    EXPECT_NE(std::get<Reply>(selected).string.find("db=3"), std::string::npos);

    Address wrong = address;
    wrong.password = "guess";
    AsyncConnection refused(loop, wrong, 1s);
    auto answer = co_await ask(refused, "INCR", "in-three");
    const auto* reply = std::get_if<Reply>(&answer);
    EXPECT_TRUE(reply == nullptr || reply->type == Reply::Type::kError);
  });
}

}  // namespace
}  // namespace costgate::redis
