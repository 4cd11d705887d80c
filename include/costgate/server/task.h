#pragma once
// The coroutine type of the server, the upstream client and the mock: a lazy task that starts
// when awaited and resumes its awaiter when it ends (symmetric transfer, so chains of tasks use no
// stack). A task that nobody awaits is started with EventLoop::spawn(), which owns it until it
// ends or the loop is destroyed.

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

namespace costgate::server {

class EventLoop;

namespace detail {

// What every task's promise holds: who to resume at the end, and, for a spawned task, its place
// in the loop's list of live tasks (destroyed with the loop if still running).
struct PromiseBase {
  std::coroutine_handle<> continuation;
  std::exception_ptr error;
  EventLoop* owner = nullptr;  // set for spawned tasks only
  PromiseBase* prev = nullptr;
  PromiseBase* next = nullptr;
  std::coroutine_handle<> self;

  std::suspend_always initial_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

// Defined in event_loop.cpp: unlinks a spawned task from its loop and destroys its frame.
void finishSpawned(PromiseBase& promise) noexcept;

struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  template <class Promise>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> done) noexcept {
    PromiseBase& promise = done.promise();
    if (promise.owner) {
      finishSpawned(promise);
      return std::noop_coroutine();
    }
    return promise.continuation ? promise.continuation : std::noop_coroutine();
  }
  void await_resume() const noexcept {}
};

// What a task's promise keeps of its result, by result type.
template <class T>
struct ResultPromise : PromiseBase {
  std::optional<T> value;
  template <class U>
  void return_value(U&& result) {
    value.emplace(std::forward<U>(result));
  }
  T take() { return std::move(*value); }
};

template <>
struct ResultPromise<void> : PromiseBase {
  void return_void() {}
  void take() {}
};

}  // namespace detail

template <class T = void>
class [[nodiscard]] Task {
 public:
  struct promise_type : detail::ResultPromise<T> {
    Task get_return_object() { return Task(Handle::from_promise(*this)); }
    detail::FinalAwaiter final_suspend() noexcept { return {}; }
  };
  using Handle = std::coroutine_handle<promise_type>;

  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  ~Task() {
    if (handle_) handle_.destroy();
  }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    handle_.promise().continuation = awaiter;
    return handle_;
  }
  T await_resume() {
    auto& promise = handle_.promise();
    if (promise.error) std::rethrow_exception(promise.error);
    return promise.take();
  }
  // Gives up ownership of the frame (for EventLoop::spawn).
  Handle release() { return std::exchange(handle_, {}); }

 private:
  explicit Task(Handle handle) : handle_(handle) {}
  Handle handle_;
};

}  // namespace costgate::server
