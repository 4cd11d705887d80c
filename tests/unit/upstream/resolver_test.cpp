#include "costgate/upstream/resolver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "costgate/server/socket.h"

namespace costgate::upstream {
namespace {

using namespace std::chrono_literals;
using server::EventLoop;
using server::Socket;
using server::Task;

// A non-blocking UDP socket bound to 127.0.0.1 on a free port, which `port` receives.
int udpSocketOnLoopback(std::uint16_t* port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), size), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
  *port = ntohs(address.sin_port);
  return fd;
}

// A DNS server on 127.0.0.1, answering on the test's loop: an A record with its TTL for each name
// it was given, no AAAA record, NXDOMAIN for any other name. It counts the queries per name.
class FakeDns {
 public:
  explicit FakeDns(EventLoop& loop) {
    const int fd = udpSocketOnLoopback(&port_);
    socket_ = Socket(loop, fd);
    socket_.watchReadable([this] { answerAll(); });
  }

  void add(const std::string& name, std::array<std::uint8_t, 4> address, std::uint32_t ttl) {
    records_[name] = {address, ttl};
  }
  std::string servers() const { return "127.0.0.1:" + std::to_string(port_); }
  int queries(const std::string& name) const {
    auto found = queries_.find(name);
    return found == queries_.end() ? 0 : found->second;
  }
  int allQueries() const {
    int total = 0;
    for (const auto& [name, count] : queries_) total += count;
    return total;
  }

 private:
  struct Record {
    std::array<std::uint8_t, 4> address;
    std::uint32_t ttl;
  };

  void answerAll() {
    for (;;) {
      unsigned char query[512];
      sockaddr_storage from{};
      socklen_t from_size = sizeof from;
      const ssize_t size = ::recvfrom(socket_.fd(), query, sizeof query, 0,
                                      reinterpret_cast<sockaddr*>(&from), &from_size);
      if (size <= 0) return;
      const std::string reply = answer(std::string(reinterpret_cast<char*>(query), size));
      ::sendto(socket_.fd(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from),
               from_size);
    }
  }

  // RFC 1035: a 12-byte header, the question (labels, type, class), then the answer records.
  std::string answer(const std::string& query) {
    std::string name;
    std::size_t at = 12;
    while (at < query.size() && query[at] != 0) {
      const std::size_t length = static_cast<unsigned char>(query[at]);
      name += (name.empty() ? "" : ".") + query.substr(at + 1, length);
      at += 1 + length;
    }
    const std::size_t question_end = at + 5;  // the root label, type and class
    const bool asks_for_a = query[at + 2] == 1;
    ++queries_[name];
    auto record = records_.find(name);
    const bool answered = record != records_.end() && asks_for_a;
    std::string reply = query.substr(0, 2);                       // the query's id
    reply += record == records_.end() ? "\x81\x83" : "\x81\x80";  // NXDOMAIN or NOERROR
    reply += std::string("\0\1\0", 3) + char(answered ? 1 : 0) + std::string(4, '\0');
    reply += query.substr(12, question_end - 12);
    if (!answered) return reply;
    reply += std::string("\xc0\x0c\0\1\0\1", 6);  // the question's name, type A, class IN
    for (int shift : {24, 16, 8, 0}) reply += char((record->second.ttl >> shift) & 0xff);
    reply += std::string("\0\4", 2);
    for (std::uint8_t byte : record->second.address) reply += char(byte);
    return reply;
  }

  Socket socket_;
  std::uint16_t port_ = 0;
  std::map<std::string, Record> records_;
  std::map<std::string, int> queries_;
};

// "192.0.2.10:80" or "[::1]:80".
std::string describe(const SocketAddress& address) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address.storage.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address.storage);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(v4.sin_port));
  }
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address.storage);
  ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
  return "[" + std::string(text) + "]:" + std::to_string(ntohs(v6.sin6_port));
}

std::vector<std::string> described(const Resolution& resolution) {
  std::vector<std::string> out;
  for (const SocketAddress& address : resolution.addresses) out.push_back(describe(address));
  return out;
}

// Runs `scenario` on the loop to its end (a loop runs once: stop() is for good).
void runToEnd(EventLoop& loop, Task<> scenario) {
  loop.spawn([](EventLoop& loop, Task<> scenario) -> Task<> {
    co_await std::move(scenario);
    loop.stop();
  }(loop, std::move(scenario)));
  loop.run();
}

Task<std::vector<std::string>> addressesOf(Resolver& resolver, std::string host,
                                           std::uint16_t port = 80) {
  Resolution answer = co_await resolver.resolve(host, port);
  co_return described(answer);
}

using Addresses = std::vector<std::string>;

class ResolverTest : public ::testing::Test {
 protected:
  EventLoop loop_;
  FakeDns dns_{loop_};
  EventLoop::Clock::time_point now_ = EventLoop::Clock::time_point{} + 24h;
  Resolver resolver_{loop_, {.servers = dns_.servers(), .now = [this] { return now_; }}};
};

TEST(ResolverSystemTest, LocalhostComesFromEtcHosts) {
  EventLoop loop;
  Resolver resolver(loop);
  Resolution answer;
  auto scenario = [&]() -> Task<> { answer = co_await resolver.resolve("localhost", 8080); };
  runToEnd(loop, scenario());
  EXPECT_EQ(answer.error, "");
  ASSERT_FALSE(answer.addresses.empty());
  for (const std::string& address : described(answer)) {
    EXPECT_TRUE(address == "127.0.0.1:8080" || address == "[::1]:8080") << address;
  }
}

TEST_F(ResolverTest, NumericAddressesTakeNoLookup) {
  auto scenario = [&]() -> Task<> {
    Addresses found = co_await addressesOf(resolver_, "192.0.2.7", 443);
    EXPECT_EQ(found, Addresses{"192.0.2.7:443"});
    found = co_await addressesOf(resolver_, "::1", 8443);
    EXPECT_EQ(found, Addresses{"[::1]:8443"});
  };
  runToEnd(loop_, scenario());
  EXPECT_EQ(dns_.allQueries(), 0);
}

TEST_F(ResolverTest, AnAnswerIsKeptForItsTtl) {
  dns_.add("backend.test", {192, 0, 2, 10}, 30);
  auto scenario = [&]() -> Task<> {
    Addresses found = co_await addressesOf(resolver_, "backend.test", 8081);
    EXPECT_EQ(found, Addresses{"192.0.2.10:8081"});
    const int sent = dns_.queries("backend.test");
    EXPECT_GT(sent, 0);

    now_ += 29s;  // within the TTL: no query, and the port is this call's
    found = co_await addressesOf(resolver_, "backend.test", 9000);
    EXPECT_EQ(found, Addresses{"192.0.2.10:9000"});
    EXPECT_EQ(dns_.queries("backend.test"), sent);

    dns_.add("backend.test", {192, 0, 2, 11}, 30);
    now_ += 1s;  // expired: asked again
    found = co_await addressesOf(resolver_, "backend.test", 8081);
    EXPECT_EQ(found, Addresses{"192.0.2.11:8081"});
    EXPECT_EQ(dns_.queries("backend.test"), 2 * sent);
  };
  runToEnd(loop_, scenario());
}

TEST_F(ResolverTest, AFailureIsKeptBriefly) {
  auto scenario = [&]() -> Task<> {
    Resolution failed = co_await resolver_.resolve("missing.test", 80);
    EXPECT_TRUE(failed.addresses.empty());
    EXPECT_NE(failed.error, "");
    const int sent = dns_.queries("missing.test");
    EXPECT_GT(sent, 0);

    now_ += Resolver::kFailureTtl - 1s;
    Resolution again = co_await resolver_.resolve("missing.test", 80);
    EXPECT_EQ(again.error, failed.error);
    EXPECT_EQ(dns_.queries("missing.test"), sent);

    dns_.add("missing.test", {192, 0, 2, 12}, 30);
    now_ += 1s;
    Addresses found = co_await addressesOf(resolver_, "missing.test");
    EXPECT_EQ(found, Addresses{"192.0.2.12:80"});
    EXPECT_EQ(dns_.queries("missing.test"), 2 * sent);
  };
  runToEnd(loop_, scenario());
}

TEST_F(ResolverTest, LookupsOfANameUnderWayShareItsQuery) {
  dns_.add("alone.test", {192, 0, 2, 20}, 30);
  dns_.add("shared.test", {192, 0, 2, 21}, 30);
  std::vector<Addresses> answers(3);
  int remaining = 4;
  auto lookup = [&](std::string host, Addresses* out) -> Task<> {
    Addresses found = co_await addressesOf(resolver_, host);
    if (out) *out = found;
    if (--remaining == 0) loop_.stop();
  };
  // All four start in the loop's first turn; the three of shared.test before any answer.
  loop_.spawn(lookup("alone.test", nullptr));
  for (Addresses& answer : answers) loop_.spawn(lookup("shared.test", &answer));
  loop_.run();
  for (const Addresses& answer : answers) EXPECT_EQ(answer, Addresses{"192.0.2.21:80"});
  EXPECT_GT(dns_.queries("alone.test"), 0);
  EXPECT_EQ(dns_.queries("shared.test"), dns_.queries("alone.test"));
}

TEST(ResolverLifetimeTest, AResolverGoneWhileALookupWaitsLeavesTheLookupBe) {
  EventLoop loop;
  // A DNS server that never answers: a bound socket nobody reads.
  std::uint16_t port = 0;
  const int silent = udpSocketOnLoopback(&port);
  Resolver::Options options;
  options.servers = "127.0.0.1:" + std::to_string(port);
  auto resolver = std::make_unique<Resolver>(loop, options);
  bool resumed = false;
  loop.spawn([](Resolver& resolver, bool& resumed) -> Task<> {
    co_await resolver.resolve("slow.test", 80);
    resumed = true;
  }(*resolver, resumed));
  loop.spawn([](EventLoop& loop) -> Task<> {
    co_await server::sleepFor(50ms);
    loop.stop();
  }(loop));
  loop.run();
  resolver.reset();  // the lookup still waits; the loop destroys its task after this
  EXPECT_FALSE(resumed);
  ::close(silent);
}

}  // namespace
}  // namespace costgate::upstream
