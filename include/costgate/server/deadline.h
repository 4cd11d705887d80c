#pragma once
// Timeouts for a socket without a timer operation per read or write: setting a deadline only
// stores a time. One timer per socket wakes at the earliest deadline that can have passed, and
// cancels the socket's pending operations if it really has; they then fail with
// operation_aborted, and expired() tells a timeout from other cancellations.

#include <chrono>
#include <memory>

#include "costgate/server/task.h"

namespace costgate::server {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Deadline(Socket& socket);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  // Now, to within the kernel's tick (a few milliseconds): enough for timeouts of seconds, and
  // cheaper than steady_clock::now(), which several steps of every request would otherwise call.
  static Clock::time_point coarseNow();

  // Operations pending after `timeout` from now (give or take coarseNow()'s tick) are cancelled.
  void expiresAfter(std::chrono::milliseconds timeout);
  // No deadline until the next expiresAfter().
  void clear();
  // True once the deadline passed and the socket's operations were cancelled for it. The next
  // expiresAfter() resets it.
  bool expired() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace costgate::server
