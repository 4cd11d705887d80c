#include "costgate/redis/connection.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <variant>

#include "../support/redis_server.h"

namespace costgate::redis {
namespace {

using namespace std::chrono_literals;
using test_data::RedisServer;

Address parsed(std::string_view url) {
  auto address = parseAddress(url);
  if (auto* error = std::get_if<Error>(&address)) {
    ADD_FAILURE() << url << ": " << error->message;
    return {};
  }
  return std::get<Address>(address);
}

std::string refused(std::string_view url) {
  auto address = parseAddress(url);
  if (!std::holds_alternative<Error>(address)) {
    ADD_FAILURE() << url << " was accepted";
    return {};
  }
  return std::get<Error>(address).message;
}

Connection opened(const Address& address) {
  auto connection = Connection::open(address);
  if (auto* error = std::get_if<Error>(&connection)) throw std::runtime_error(error->message);
  return std::get<Connection>(std::move(connection));
}

Reply replied(Connection& connection, const std::vector<std::string_view>& args) {
  auto reply = connection.command(args);
  if (auto* error = std::get_if<Error>(&reply)) throw std::runtime_error(error->message);
  return std::get<Reply>(std::move(reply));
}

TEST(RedisAddress, ParsesHostPortDatabaseAndPassword) {
  Address plain = parsed("redis://cache.internal");
  EXPECT_EQ(plain.host, "cache.internal");
  EXPECT_EQ(plain.port, 6379);
  EXPECT_EQ(plain.db, 0);
  EXPECT_EQ(plain.password, "");

  Address full = parsed("redis://:s3cret@10.0.0.7:6380/2");
  EXPECT_EQ(full.host, "10.0.0.7");
  EXPECT_EQ(full.port, 6380);
  EXPECT_EQ(full.db, 2);
  EXPECT_EQ(full.password, "s3cret");

  Address ipv6 = parsed("redis://[::1]:7000/15");
  EXPECT_EQ(ipv6.host, "::1");
  EXPECT_EQ(ipv6.port, 7000);
  EXPECT_EQ(ipv6.db, 15);

  EXPECT_EQ(parsed("redis://:p%40ss%3Aw@h/").password, "p@ss:w");
  EXPECT_EQ(parsed("redis://:a@b@h").password, "a@b");  // the last '@' ends the password
  EXPECT_EQ(parsed("redis://:a%2Fb%3F%23@h").password, "a/b?#");
  EXPECT_EQ(parsed("REDIS://h").host, "h");
  EXPECT_EQ(parsed("redis://h/").db, 0);
}

TEST(RedisAddress, RefusesWhatItCannotUse) {
  EXPECT_NE(refused("http://localhost").find("expected redis://"), std::string::npos);
  EXPECT_NE(refused("redis://").find("the host is missing"), std::string::npos);
  EXPECT_NE(refused("redis://:pw@").find("the host is missing"), std::string::npos);
  EXPECT_NE(refused("redis://h:0").find("port"), std::string::npos);
  EXPECT_NE(refused("redis://h:65536").find("port"), std::string::npos);
  EXPECT_NE(refused("redis://h:").find("port"), std::string::npos);
  EXPECT_NE(refused("redis://h:63x9").find("port"), std::string::npos);
  EXPECT_NE(refused("redis://h/one").find("database"), std::string::npos);
  EXPECT_NE(refused("redis://h/-1").find("database"), std::string::npos);
  EXPECT_NE(refused("redis://h/99999999999").find("database"), std::string::npos);
  EXPECT_NE(refused("redis://h/0/1").find("database"), std::string::npos);
  EXPECT_NE(refused("redis://user:pw@h").find("user name"), std::string::npos);
  EXPECT_NE(refused("redis://pw@h").find("user name"), std::string::npos);
  EXPECT_NE(refused("redis://:@h").find("empty password"), std::string::npos);
  EXPECT_NE(refused("redis://:p%4@h").find("percent"), std::string::npos);
  EXPECT_NE(refused("redis://h/0?timeout=1").find("query"), std::string::npos);
  EXPECT_NE(refused("redis://[::1:7000").find("']'"), std::string::npos);
  EXPECT_NE(refused("redis://[::1]7000").find("after the host"), std::string::npos);
}

TEST(RedisAddress, ErrorsDoNotRepeatThePassword) {
  for (std::string_view url : {"redis://:s3cret@h:0", "redis://:s3cret@h/x", "redis://:s3cret@"}) {
    EXPECT_EQ(refused(url).find("s3cret"), std::string::npos) << url;
  }
}

TEST(RedisConnection, CommandsRoundTripEveryReplyType) {
  RedisServer server;
  Connection connection = opened(server.address());

  const std::string binary("a\0b\r\nc", 6);
  Reply set = replied(connection, {"SET", "k", binary});
  EXPECT_EQ(set.type, Reply::Type::kStatus);
  EXPECT_EQ(set.string, "OK");
  Reply got = replied(connection, {"GET", "k"});
  EXPECT_EQ(got.type, Reply::Type::kString);
  EXPECT_EQ(got.string, binary);
  EXPECT_EQ(replied(connection, {"GET", "missing"}).type, Reply::Type::kNil);
  Reply counted = replied(connection, {"INCRBY", "n", "41"});
  EXPECT_EQ(counted.type, Reply::Type::kInteger);
  EXPECT_EQ(counted.integer, 41);
  replied(connection, {"RPUSH", "list", "x", "y"});
  Reply list = replied(connection, {"LRANGE", "list", "0", "-1"});
  ASSERT_EQ(list.type, Reply::Type::kArray);
  ASSERT_EQ(list.elements.size(), 2u);
  EXPECT_EQ(list.elements[1].string, "y");

  // A refused command is a reply, and the connection goes on.
  Reply refused_command = replied(connection, {"INCR", "k"});
  EXPECT_EQ(refused_command.type, Reply::Type::kError);
  EXPECT_FALSE(connection.broken());

  // Pipelined replies come back in order.
  connection.appendCommand({"INCR", "n"});
  connection.appendCommand({"INCR", "n"});
  connection.appendCommand({"PING"});
  EXPECT_EQ(std::get<Reply>(connection.getReply()).integer, 42);
  EXPECT_EQ(std::get<Reply>(connection.getReply()).integer, 43);
  EXPECT_EQ(std::get<Reply>(connection.getReply()).string, "PONG");
  EXPECT_GE(connection.fd(), 0);
}

TEST(RedisConnection, PasswordAndDatabaseAreSentOnConnect) {
  RedisServer server({"--requirepass", "right horse"});
  Address address = server.address();

  auto without = Connection::open(address);
  ASSERT_TRUE(std::holds_alternative<Connection>(without));  // the first command is refused
  Reply refused_command = replied(std::get<Connection>(without), {"GET", "k"});
  EXPECT_EQ(refused_command.type, Reply::Type::kError);

  address.password = "wrong";
  auto wrong = Connection::open(address);
  ASSERT_TRUE(std::holds_alternative<Error>(wrong));
  EXPECT_NE(std::get<Error>(wrong).message.find("refused the password"), std::string::npos)
      << std::get<Error>(wrong).message;

  address.password = "right horse";
  address.db = 3;
  Connection in_three = opened(address);
  replied(in_three, {"SET", "k", "three"});
  address.db = 0;
  Connection in_zero = opened(address);
  EXPECT_EQ(replied(in_zero, {"GET", "k"}).type, Reply::Type::kNil);
  EXPECT_EQ(replied(in_three, {"GET", "k"}).string, "three");
}

TEST(RedisConnection, ErrorsAreValuesWhenTheServerIsGone) {
  RedisServer server;
  Connection connection = opened(server.address());
  server.stop();
  auto reply = connection.command({"PING"});
  ASSERT_TRUE(std::holds_alternative<Error>(reply));
  EXPECT_TRUE(connection.broken());
  EXPECT_TRUE(std::holds_alternative<Error>(connection.command({"PING"})));

  auto nobody = Connection::open(server.address());
  ASSERT_TRUE(std::holds_alternative<Error>(nobody));
  EXPECT_NE(std::get<Error>(nobody).message.find(std::to_string(server.port())), std::string::npos);
}

TEST(RedisConnection, PollReplyWaitsForMessagesWithoutBreakingTheConnection) {
  RedisServer server;
  Connection subscriber = opened(server.address());
  Connection publisher = opened(server.address());
  Reply subscribed = replied(subscriber, {"SUBSCRIBE", "news"});
  ASSERT_EQ(subscribed.type, Reply::Type::kArray);

  const auto before = std::chrono::steady_clock::now();
  auto quiet = subscriber.pollReply(50ms);
  ASSERT_TRUE(std::holds_alternative<std::optional<Reply>>(quiet));
  EXPECT_FALSE(std::get<std::optional<Reply>>(quiet));
  EXPECT_GE(std::chrono::steady_clock::now() - before, 40ms);
  EXPECT_FALSE(subscriber.broken());

  // Two messages in one read: both are handed out.
  replied(publisher, {"PUBLISH", "news", "one"});
  replied(publisher, {"PUBLISH", "news", "two"});
  std::vector<std::string> payloads;
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (payloads.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    auto polled = subscriber.pollReply(100ms);
    ASSERT_TRUE(std::holds_alternative<std::optional<Reply>>(polled));
    if (auto& message = std::get<std::optional<Reply>>(polled)) {
      ASSERT_EQ(message->elements.size(), 3u);
      payloads.push_back(message->elements[2].string);
    }
  }
  EXPECT_EQ(payloads, (std::vector<std::string>{"one", "two"}));

  EXPECT_FALSE(publisher.closedByServer());
  server.stop();
  auto gone = subscriber.pollReply(1000ms);
  EXPECT_TRUE(std::holds_alternative<Error>(gone));
  EXPECT_TRUE(publisher.closedByServer());
}

}  // namespace
}  // namespace costgate::redis
