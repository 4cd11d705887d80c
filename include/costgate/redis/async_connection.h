#pragma once
// A connection to one Redis server driven by an event loop through hiredis's async API, for calls
// a request waits on (the budget's lease takes): commands are pipelined on one socket, and each
// reply comes back through a callback on the loop's thread, so no thread blocks on Redis. Use it
// on its loop's thread only.
//
// hiredis's socket sits in an epoll set of its own, level-triggered, that the loop watches (as
// the DNS resolver's sockets do), so no readiness is lost to the loop's edge triggering. hiredis
// 0.14 has no timeouts: every command gets a deadline, and when the oldest one passes the
// connection is dropped (replies come in order, so the rest would wait behind it) and every
// command in flight fails. A connection that failed or was dropped is made again at the next
// command, but not within kRetryAfter of a connect that failed: commands fail at once meanwhile,
// so a Redis that is down costs a request nothing but the error.

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "costgate/error.h"
#include "costgate/redis/connection.h"
#include "costgate/server/event_loop.h"
#include "costgate/server/socket.h"

struct redisAsyncContext;  // hiredis, kept out of this header

namespace costgate::redis {

class AsyncConnection {
 public:
  using Done = Answered;
  static constexpr std::chrono::milliseconds kRetryAfter{200};

  // Connects at the first command. `timeout` bounds each command, the connect included.
  AsyncConnection(server::EventLoop& loop, Address address, std::chrono::milliseconds timeout);
  // Fails the commands in flight (their callbacks run, with an Error).
  ~AsyncConnection();
  AsyncConnection(const AsyncConnection&) = delete;
  AsyncConnection& operator=(const AsyncConnection&) = delete;

  // Sends `args` (binary-safe); `done` runs exactly once, on the loop's thread and never inside
  // this call, with the reply (kError when the server refused the command) or why there is none.
  void command(std::vector<std::string> args, Done done);

  // The connection of this loop's thread to `address`, made at the first call and kept with the
  // loop. Call on a loop's thread.
  static AsyncConnection& ofThisLoop(const Address& address, std::chrono::milliseconds timeout);
  // Sends each command on ofThisLoop(address, timeout) of the loop it is called on.
  static SendLater onEachLoop(const Address& address, std::chrono::milliseconds timeout);

  struct Pending;  // a command in flight, defined in async_connection.cpp

 private:
  bool connect();
  void processReady();
  void watchInterest(int events, bool on);
  void dropConnection();
  server::Task<> expireLate();
  void failLater(Done done, std::string why);
  static void onReply(redisAsyncContext* context, void* reply, void* data);

  server::EventLoop& loop_;
  const Address address_;
  const std::chrono::milliseconds timeout_;
  redisAsyncContext* context_ = nullptr;
  int fd_ = -1;       // context_'s socket, in ready_set_
  int interest_ = 0;  // the EPOLLIN/EPOLLOUT hiredis asked for
  server::Socket ready_set_;
  server::Timer timer_;
  bool expiring_ = false;  // expireLate() is running
  std::chrono::steady_clock::time_point last_failure_{};
  std::deque<Pending*> in_flight_;  // in the order sent: replies come in that order
};

}  // namespace costgate::redis
