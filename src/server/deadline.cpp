#include "costgate/server/deadline.h"

#include <time.h>

#include <cstdint>

namespace costgate::server {

// Shared with the pending timer handler, which may run after the Deadline is gone.
struct Deadline::State {
  explicit State(Socket& s) : socket(&s), timer(s.get_executor()) {}
  Socket* socket;  // null once the Deadline is destroyed
  Timer timer;
  Clock::time_point deadline = Clock::time_point::max();
  Clock::time_point armed_for = Clock::time_point::max();  // when the timer will wake, if armed
  bool expired = false;
  std::uint64_t generation = 0;  // tells a superseded wake-up from the current one

  static void arm(const std::shared_ptr<State>& state) {
    std::uint64_t generation = ++state->generation;
    state->armed_for = state->deadline;
    state->timer.expires_at(state->deadline);
    state->timer.async_wait([state, generation](boost::system::error_code ec) {
      if (generation != state->generation) return;
      state->armed_for = Clock::time_point::max();
      if (ec || !state->socket) return;
      if (state->deadline == Clock::time_point::max()) return;
      if (Clock::now() < state->deadline) {
        arm(state);  // the deadline moved later since the timer was set
        return;
      }
      state->expired = true;
      boost::system::error_code ignored;
      state->socket->cancel(ignored);
    });
  }
};

Deadline::Clock::time_point Deadline::coarseNow() {
  // steady_clock is CLOCK_MONOTONIC, which the coarse clock follows.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return Clock::time_point(std::chrono::seconds(now.tv_sec) +
                           std::chrono::nanoseconds(now.tv_nsec));
}

Deadline::Deadline(Socket& socket) : state_(std::make_shared<State>(socket)) {}

Deadline::~Deadline() {
  state_->socket = nullptr;
  state_->timer.cancel();
}

void Deadline::expiresAfter(std::chrono::milliseconds timeout) {
  state_->expired = false;
  state_->deadline = coarseNow() + timeout;
  // Only an earlier deadline needs the timer moved; a later one is handled when it wakes.
  if (state_->deadline < state_->armed_for) {
    if (state_->armed_for != Clock::time_point::max()) state_->timer.cancel();
    State::arm(state_);
  }
}

void Deadline::clear() { state_->deadline = Clock::time_point::max(); }

bool Deadline::expired() const { return state_->expired; }

}  // namespace costgate::server
