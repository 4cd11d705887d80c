#include "costgate/server/event_loop.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <spdlog/spdlog.h>

#include "costgate/server/socket.h"

namespace costgate::server {

namespace {

thread_local EventLoop* running_loop = nullptr;
constexpr std::uint64_t kMailboxKey = ~std::uint64_t{0};
constexpr int kEventsPerWait = 256;

bool later(const auto& a, const auto& b) { return a.when > b.when; }

}  // namespace

struct EventLoop::TimerState {
  std::coroutine_handle<> waiter;
  std::uint64_t round = 0;  // which wait a Due belongs to
  bool fired = false;
};

// ---- tasks ----

void detail::finishSpawned(PromiseBase& promise) noexcept {
  EventLoop& loop = *promise.owner;
  if (promise.prev) {
    promise.prev->next = promise.next;
  } else {
    loop.spawned_ = promise.next;
  }
  if (promise.next) promise.next->prev = promise.prev;
  if (promise.error) {
    try {
      std::rethrow_exception(promise.error);
    } catch (const std::exception& e) {
      spdlog::error("a task ended with an exception: {}", e.what());
    } catch (...) {
      spdlog::error("a task ended with an unknown exception");
    }
  }
  promise.self.destroy();
}

void EventLoop::spawn(Task<> task) {
  auto handle = task.release();
  auto& promise = handle.promise();
  promise.owner = this;
  promise.self = handle;
  promise.next = spawned_;
  if (spawned_) spawned_->prev = &promise;
  spawned_ = &promise;
  ready_.push_back(handle);
}

// ---- mailbox ----

bool Mailbox::post(std::function<void()> work) {
  std::lock_guard lock(mutex_);
  if (!open_) return false;
  bool wake = work_.empty();
  work_.push_back(std::move(work));
  if (wake) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof(one));
  }
  return true;
}

// ---- the loop ----

EventLoop::EventLoop() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  int event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || event_fd < 0) {
    throw std::runtime_error(std::string("cannot create an event loop: ") + std::strerror(errno));
  }
  mailbox_ = std::make_shared<Mailbox>(event_fd);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kMailboxKey;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd, &event);
}

EventLoop::~EventLoop() {
  {
    std::lock_guard lock(mailbox_->mutex_);
    mailbox_->open_ = false;
    mailbox_->work_.clear();
  }
  // Tasks first: their sockets deregister from this loop as their frames go. A pending operation
  // lives in an inner frame, which goes before the frame owning its socket: forget them all now,
  // so no socket closing later writes into a freed operation.
  for (Slot& slot : slots_) {
    if (!slot.socket) continue;
    slot.socket->reader_ = nullptr;
    slot.socket->writer_ = nullptr;
    slot.socket->on_readable_ = nullptr;
  }
  EventLoop* previous = std::exchange(running_loop, this);
  while (spawned_) {
    auto* promise = spawned_;
    spawned_ = promise->next;
    if (spawned_) spawned_->prev = nullptr;
    promise->self.destroy();
  }
  ready_.clear();  // wake-ups for frames that no longer exist
  while (!locals_.empty()) locals_.pop_back();
  ready_.clear();
  due_.clear();
  running_loop = previous;
  ::close(mailbox_->event_fd_);
  ::close(epoll_fd_);
}

EventLoop& EventLoop::current() { return *running_loop; }

EventLoop::Clock::time_point EventLoop::coarseNow() {
  // steady_clock is CLOCK_MONOTONIC, which the coarse clock follows.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return Clock::time_point(std::chrono::seconds(now.tv_sec) +
                           std::chrono::nanoseconds(now.tv_nsec));
}

void EventLoop::run() {
  EventLoop* previous = std::exchange(running_loop, this);
  epoll_event events[kEventsPerWait];
  while (!stopping_.load(std::memory_order_relaxed)) {
    runReady();
    int timeout = waitMilliseconds();
    int n = timeout != 0 && busy_ && busy_poll_.count() > 0 ? poll(events, kEventsPerWait) : 0;
    if (n == 0) n = ::epoll_wait(epoll_fd_, events, kEventsPerWait, timeout);
    busy_ = n > 0;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kMailboxKey) {
        runPosted();
      } else {
        dispatch(events[i].data.u64, events[i].events);
      }
    }
    runDue();
  }
  running_loop = previous;
}

int EventLoop::poll(epoll_event* events, int capacity) {
  auto until = Clock::now() + busy_poll_;
  if (!due_.empty()) until = std::min(until, due_.front().when);  // a timer is due first
  for (;;) {
    int n = ::epoll_wait(epoll_fd_, events, capacity, 0);
    if (n != 0 || Clock::now() >= until || stopping_.load(std::memory_order_relaxed)) return n;
    // The CPU goes to whoever else is runnable (the backend, the clients); with nobody, the
    // next poll comes at once.
    ::sched_yield();
  }
}

void EventLoop::stop() {
  stopping_.store(true);
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(mailbox_->event_fd_, &one, sizeof(one));
}

void EventLoop::runReady() {
  // What resuming queues runs at the next turn, after the events and timers due by then: a task
  // sent round by continueInline() would otherwise run again at once, keeping them all waiting.
  // (waitMilliseconds() does not wait while ready_ has work.)
  std::swap(ready_, resuming_);
  for (std::coroutine_handle<> waiter : resuming_) resumeFromLoop(waiter);
  resuming_.clear();
}

void EventLoop::runPosted() {
  std::uint64_t count;
  [[maybe_unused]] auto n = ::read(mailbox_->event_fd_, &count, sizeof(count));
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(mailbox_->mutex_);
    work.swap(mailbox_->work_);
  }
  for (auto& item : work) item();
}

int EventLoop::waitMilliseconds() const {
  if (!ready_.empty()) return 0;
  if (due_.empty()) return -1;
  auto wait = due_.front().when - Clock::now();
  if (wait <= Clock::duration::zero()) return 0;
  // Rounded up: waking early would only find nothing due.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return static_cast<int>(std::min<long long>(ms, 60'000));
}

std::uint64_t EventLoop::add(Socket* socket, int fd) {
  std::uint32_t index;
  if (free_slots_.empty()) {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back({});
  } else {
    index = free_slots_.back();
    free_slots_.pop_back();
  }
  Slot& slot = slots_[index];
  slot.socket = socket;
  std::uint64_t key = (std::uint64_t{slot.generation} << 32) | index;
  // Edge-triggered for both directions, registered once: no epoll_ctl per operation.
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.u64 = key;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
  return key;
}

void EventLoop::remove(std::uint64_t key) {
  // Closing the descriptor removes it from the epoll set; the slot's new generation makes
  // events already fetched for it stale.
  std::uint32_t index = static_cast<std::uint32_t>(key);
  slots_[index].socket = nullptr;
  ++slots_[index].generation;
  free_slots_.push_back(index);
}

Socket* EventLoop::lookup(std::uint64_t key) const {
  const Slot& slot = slots_[static_cast<std::uint32_t>(key)];
  return slot.generation == static_cast<std::uint32_t>(key >> 32) ? slot.socket : nullptr;
}

void EventLoop::dispatch(std::uint64_t key, std::uint32_t events) {
  if (Socket* socket = lookup(key)) socket->onEvents(events, key);
}

void EventLoop::schedule(Due due) {
  due_.push_back(std::move(due));
  std::push_heap(due_.begin(), due_.end(), later<Due, Due>);
}

void EventLoop::runDue() {
  if (due_.empty()) return;
  auto now = Clock::now();
  while (!due_.empty() && due_.front().when <= now) {
    std::pop_heap(due_.begin(), due_.end(), later<Due, Due>);
    Due due = std::move(due_.back());
    due_.pop_back();
    if (due.timer) {
      auto& state = *due.timer;
      if (state.round != due.round || !state.waiter) continue;  // cancelled or superseded
      state.fired = true;
      resumeFromLoop(std::exchange(state.waiter, {}));
    } else {
      std::uint64_t key = (std::uint64_t{due.generation} << 32) | due.slot;
      if (Socket* socket = lookup(key)) socket->onDeadline(due.when);
    }
  }
}

// ---- Timer ----

Timer::Timer(EventLoop& loop) : loop_(loop), state_(std::make_shared<EventLoop::TimerState>()) {}

Timer::~Timer() {
  ++state_->round;
  state_->waiter = {};
}

void Timer::Wait::await_suspend(std::coroutine_handle<> waiter) {
  auto& state = *timer.state_;
  state.waiter = waiter;
  state.fired = false;
  EventLoop::Due due;
  due.when = EventLoop::Clock::now() + duration;
  due.timer = timer.state_;
  due.round = ++state.round;
  timer.loop_.schedule(std::move(due));
}

bool Timer::Wait::await_resume() const noexcept { return timer.state_->fired; }

void Timer::cancel() {
  auto& state = *state_;
  if (!state.waiter) return;
  ++state.round;
  state.fired = false;
  loop_.resumeSoon(std::exchange(state.waiter, {}));
}

Task<> sleepFor(EventLoop::Clock::duration duration) {
  Timer timer(EventLoop::current());
  co_await timer.wait(duration);
}

}  // namespace costgate::server
