#pragma once
// Backend host names to addresses through c-ares, on the worker's own event loop: c-ares's sockets
// sit in an epoll set of their own that the loop watches, so a lookup takes no thread and a slow
// DNS server stalls no request but those waiting for its answer. /etc/hosts is read first (as
// /etc/nsswitch.conf says), then the servers of /etc/resolv.conf, both as the loop's first lookup
// found them.
//
// Answers are kept for their DNS TTL; one from /etc/hosts has none, so the file is read again at
// the next lookup, as getaddrinfo would. A failure is kept for kFailureTtl, so a backend whose name
// does not resolve fails fast instead of sending a query per request. A lookup of a name already
// under way waits for that one. Numeric addresses take no lookup.

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "costgate/server/event_loop.h"
#include "costgate/server/task.h"

namespace costgate::upstream {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t size = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

struct Resolution {
  std::vector<SocketAddress> addresses;  // in the order to try them; empty when the lookup failed
  std::string error;                     // why there are none
};

// One per event loop; use it only on that loop's thread.
class Resolver {
 public:
  using Clock = server::EventLoop::Clock;
  static constexpr std::chrono::seconds kFailureTtl{5};

  struct Options {
    // DNS servers as c-ares's "host:port,host:port"; empty: those of /etc/resolv.conf.
    std::string servers;
    // What answers expire by; EventLoop::coarseNow when empty. Tests move time with it.
    std::function<Clock::time_point()> now;
  };

  explicit Resolver(server::EventLoop& loop, Options options = {});
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // `host`'s addresses, each with `port`, or why there are none. Call from a task on the loop.
  server::Task<Resolution> resolve(const std::string& host, std::uint16_t port);

  struct State;  // the c-ares channel, its sockets and the answers, defined in resolver.cpp

 private:
  std::unique_ptr<State> state_;
};

}  // namespace costgate::upstream
