#pragma once
// One event loop per worker thread: an edge-triggered epoll set, the timers of its sockets and
// sleeping tasks, and the tasks spawned on it. Everything a connection does (its requests, their
// upstream calls) runs on the loop that accepted it, so nothing on the data path takes a lock.
//
// Own loop rather than Asio's: per proxied request Asio made a speculative read that found nothing
// (EAGAIN) on each socket and spent about as much again in its scheduler; bench/load measured the
// difference as the gap between costgate and nginx (docs/benchmarks.md).

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "costgate/server/task.h"

namespace costgate::server {

class Socket;

// Work handed to a loop from other threads. Shared, so a thread that outlives the loop (one firing
// a filter's signal) can still post: its work is then dropped.
class Mailbox {
 public:
  explicit Mailbox(int event_fd) : event_fd_(event_fd) {}
  // Runs `work` on the loop's thread soon; false if the loop is gone.
  bool post(std::function<void()> work);

 private:
  friend class EventLoop;
  std::mutex mutex_;
  std::vector<std::function<void()>> work_;
  int event_fd_;
  bool open_ = true;
};

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;

  EventLoop();
  // Destroys the tasks still running on it (their sockets close), then its per-loop objects.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // The loop whose run() is on this thread's stack. Only valid inside its tasks.
  static EventLoop& current();
  // Now, to within the kernel's tick (a few milliseconds): enough for timeouts, and cheaper than
  // Clock::now(), which several steps of every request would otherwise call.
  static Clock::time_point coarseNow();

  // Runs tasks, I/O and timers on the calling thread until stop().
  void run();
  // After a turn that had work, keep polling (yielding the CPU between polls) for up to `window`
  // before sleeping in epoll_wait. Under load the next event nearly always comes within tens of
  // microseconds, and a thread that did not sleep needs no wake-up: on the 2-core benchmark
  // machine the sleep/wake-up pair was the largest single cost of a proxied request. An idle
  // loop still sleeps. Zero turns it off. Set before run().
  void setBusyPoll(std::chrono::microseconds window) { busy_poll_ = window; }
  // Makes run() return soon. Safe from any thread.
  void stop();
  // Runs `work` on the loop's thread. Safe from any thread.
  void post(std::function<void()> work) { mailbox_->post(std::move(work)); }
  const std::shared_ptr<Mailbox>& mailbox() const { return mailbox_; }

  // Starts `task` on this loop (at its next turn), owned by the loop until it ends. Call on the
  // loop's thread, or before run().
  void spawn(Task<> task);
  // Resumes `waiter` at the loop's next turn, not inside the caller: used to wake a task from
  // code that may itself be running inside another task.
  void resumeSoon(std::coroutine_handle<> waiter) { ready_.push_back(waiter); }
  // For an operation that finished without waiting (a read of bytes already there): whether its
  // task may go on at once: false for the kInlineSteps-th such step in a row since the loop last
  // resumed a task, which must go through resumeSoon() instead (the count starts over). A task that
  // never waits (pipelined requests all buffered, a large body all arrived) resumes its awaiters
  // inside one another, and where the compiler does not make those resumptions tail calls (GCC
  // without optimisation, or under AddressSanitizer) each step grows the stack: unbounded, it
  // overflowed. The trip through the loop also lets the loop's other tasks in.
  bool continueInline() { return ++inline_steps_ < kInlineSteps; }

  // An object of type T kept per loop and destroyed with it, after its tasks (e.g. the upstream
  // connection pools, whose sockets must close before the loop does).
  template <class T>
  T& local() {
    static const char key = 0;  // one address per T
    for (auto& [owner, value] : locals_) {
      if (owner == &key) return static_cast<Local<T>&>(*value).value;
    }
    locals_.emplace_back(&key, std::make_unique<Local<T>>());
    return static_cast<Local<T>&>(*locals_.back().second).value;
  }

 private:
  friend class Socket;
  friend class Timer;
  friend void detail::finishSpawned(detail::PromiseBase& promise) noexcept;

  struct LocalBase {
    virtual ~LocalBase() = default;
  };
  template <class T>
  struct Local : LocalBase {
    T value;
  };
  struct Slot {
    Socket* socket = nullptr;
    std::uint32_t generation = 0;
  };
  struct TimerState;
  // A wake-up: either a socket's deadline (slot, generation) or a Timer's (timer, round).
  struct Due {
    Clock::time_point when;
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    std::shared_ptr<TimerState> timer;
    std::uint64_t round = 0;
  };

  // Sockets register here; events carry slot and generation, so an event for a socket closed
  // earlier in the same batch is recognised and dropped.
  std::uint64_t add(Socket* socket, int fd);
  void remove(std::uint64_t key);
  void moved(std::uint64_t key, Socket* socket) { slots_[key & 0xffffffff].socket = socket; }
  Socket* lookup(std::uint64_t key) const;
  void schedule(Due due);
  void dispatch(std::uint64_t key, std::uint32_t events);
  void runDue();
  void runReady();
  void runPosted();
  // Resumes a task from the loop itself (fresh stack): the inline-step count starts over.
  void resumeFromLoop(std::coroutine_handle<> waiter) {
    inline_steps_ = 0;
    waiter.resume();
  }
  int waitMilliseconds() const;
  // Polls without sleeping for up to busy_poll_; the events found, or 0.
  int poll(epoll_event* events, int capacity);

  int epoll_fd_ = -1;
  std::shared_ptr<Mailbox> mailbox_;
  std::atomic<bool> stopping_{false};
  std::chrono::microseconds busy_poll_{0};
  bool busy_ = false;  // the last turn had events
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<Due> due_;  // a min-heap on `when`
  std::vector<std::coroutine_handle<>> ready_;
  std::vector<std::coroutine_handle<>> resuming_;  // runReady()'s batch: ready_ as the turn began
  static constexpr int kInlineSteps = 32;
  int inline_steps_ = 0;
  detail::PromiseBase* spawned_ = nullptr;  // the live spawned tasks, a doubly linked list
  std::vector<std::pair<const void*, std::unique_ptr<LocalBase>>> locals_;
};

// A wait of a given length that can be cut short. One waiter at a time; use on the loop's thread.
class Timer {
 public:
  explicit Timer(EventLoop& loop);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  struct Wait {
    Timer& timer;
    EventLoop::Clock::duration duration;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> waiter);
    bool await_resume() const noexcept;
  };
  // co_await: true when `duration` passed, false when cancel() ended the wait first.
  Wait wait(EventLoop::Clock::duration duration) { return Wait{*this, duration}; }
  // Ends the current wait, if any (its waiter resumes at the loop's next turn).
  void cancel();

 private:
  EventLoop& loop_;
  std::shared_ptr<EventLoop::TimerState> state_;
};

// Waits `duration` on the current loop.
Task<> sleepFor(EventLoop::Clock::duration duration);

}  // namespace costgate::server
