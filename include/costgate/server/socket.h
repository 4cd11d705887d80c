#pragma once
// A non-blocking socket on an EventLoop, with awaitable reads, writes, accepts and connects, and
// a deadline. Like nginx, it tracks whether the socket may have more to give (a read that filled
// less than its buffer drained it) and only then tries the syscall; otherwise it waits for epoll's
// next edge. So a request costs no read that finds nothing.
//
// One read-side and one write-side operation may be pending at a time. Results are values:
// `error` is an errno value (ETIMEDOUT once the deadline passed, ECANCELED after cancel()), and a
// read of 0 bytes without error is the peer's end of stream.

#include <sys/socket.h>
#include <sys/uio.h>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "costgate/server/event_loop.h"
#include "costgate/server/task.h"

typedef struct ssl_st SSL;

namespace costgate::server {

struct IoResult {
  std::size_t bytes = 0;
  int error = 0;
};

// Text for an IoResult's error.
std::string describeError(int error);

class Socket {
 public:
  // An operation waiting for the socket; perform() tries it once and says whether it finished.
  class Operation {
   public:
    virtual ~Operation() = default;
    virtual bool perform(Socket& socket) = 0;
    IoResult result;
    std::coroutine_handle<> waiter;
    // A TLS read that OpenSSL needs to write for (or a write that needs a read) waits for the
    // other direction's edge.
    bool waits_for_other_side = false;
    // Finished without waiting, but suspended all the same (EventLoop::continueInline()).
    bool finished = false;
  };

  Socket() = default;
  // Takes ownership of `fd`, which must be non-blocking.
  Socket(EventLoop& loop, int fd);
  // A new non-blocking TCP socket of `family` (AF_INET, AF_INET6); !isOpen() on failure.
  static Socket open(EventLoop& loop, int family, int& error);
  ~Socket() { close(); }
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool isOpen() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  EventLoop& loop() const { return *loop_; }

  struct Read : Operation {
    Socket& socket;
    char* data;
    std::size_t size;
    SSL* tls;
    Read(Socket& s, char* d, std::size_t n, SSL* t) : socket(s), data(d), size(n), tls(t) {}
    bool perform(Socket& s) override;
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h) { socket.suspend(socket.reader_, this, h); }
    IoResult await_resume() const { return result; }
  };
  struct Write : Operation {
    Socket& socket;
    iovec parts[2];
    SSL* tls;
    Write(Socket& s, std::string_view head, std::string_view body, SSL* t);
    bool perform(Socket& s) override;
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h) { socket.suspend(socket.writer_, this, h); }
    IoResult await_resume() const { return result; }
  };
  // The next readiness edge (for code that does its own reads or writes, like OpenSSL).
  struct Readiness : Operation {
    Socket& socket;
    bool write_side;
    Readiness(Socket& s, bool w) : socket(s), write_side(w) {}
    bool perform(Socket&) override { return true; }
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h) {
      socket.suspend(write_side ? socket.writer_ : socket.reader_, this, h);
    }
    IoResult await_resume() const { return result; }
  };
  struct Accept : Operation {
    Socket& socket;
    explicit Accept(Socket& s) : socket(s) {}
    bool perform(Socket& s) override;  // result.bytes holds the new descriptor
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h) { socket.suspend(socket.reader_, this, h); }
    IoResult await_resume() const { return result; }
  };

  // Reads what has arrived, up to `size` bytes, waiting for something if nothing has. With
  // `tls`, reads through that OpenSSL session (which owns this socket's descriptor).
  Read read(char* data, std::size_t size, SSL* tls = nullptr) { return {*this, data, size, tls}; }
  // Sends all of `head` then `body`, waiting for room when the peer reads slowly. Without a
  // wait (the usual case) it is one sendmsg and no suspension.
  Write write(std::string_view head, std::string_view body = {}, SSL* tls = nullptr) {
    return {*this, head, body, tls};
  }
  // The next readiness edge on the read side, or the write side.
  Readiness ready(bool write_side) { return {*this, write_side}; }
  Readiness writable() { return {*this, true}; }
  // A listening socket's next connection: result.bytes is its descriptor (non-blocking).
  Accept accept() { return Accept(*this); }
  // Connects to `address`; 0 or an errno value.
  Task<int> connect(const sockaddr* address, socklen_t length);

  // Pending and later operations fail with ETIMEDOUT once `timeout` from now has passed (give or
  // take coarseNow()'s tick). Setting a deadline only stores a time: the loop's timer for this
  // socket moves only when the deadline moves earlier.
  void expiresAfter(std::chrono::milliseconds timeout);
  void clearDeadline() { deadline_ = EventLoop::Clock::time_point::max(); }
  bool expired() const { return expired_; }

  // Ends the pending operations with `error`; their waiters resume at the loop's next turn.
  void cancel(int error);
  // Calls `on_readable` at each readiness edge on the read side while no read is pending (data,
  // end of stream, or an error); once at once if the socket may be readable already.
  void watchReadable(std::function<void()> on_readable);
  void stopWatching() { on_readable_ = nullptr; }
  // Whether the read side may have something (data, end of stream, an error) without waiting.
  bool mayBeReadable() const { return may_read_; }

  void shutdownSend();
  // Ends both directions as a departed peer would: reads see the end of the stream (a watcher is
  // called), writes fail. The descriptor stays open until close().
  void shutdownBoth();
  // Cancels pending operations (ECANCELED) and closes the descriptor.
  void close();
  // Closes with a reset (RST) instead of an orderly end.
  void reset();

 private:
  friend class EventLoop;
  // Parks `operation` until its edge, or, finished already, has its waiter resumed at the loop's
  // next turn.
  void suspend(Operation*& slot, Operation* operation, std::coroutine_handle<> waiter);
  // An await_ready() for an operation tried at once: `tried` says whether it finished.
  bool finishedAtOnce(Operation& operation, bool tried);
  // Fails an operation that cannot start: closed socket, or deadline passed.
  bool refuse(Operation& operation) const;
  void onEvents(std::uint32_t events, std::uint64_t key);
  void onDeadline(EventLoop::Clock::time_point when);
  // Makes sure the loop wakes this socket by its deadline.
  void arm();

  EventLoop* loop_ = nullptr;
  int fd_ = -1;
  std::uint64_t key_ = 0;
  bool may_read_ = true;
  bool may_write_ = true;
  bool peer_closed_ = false;  // the peer's end of stream (or an error) was signalled
  bool expired_ = false;
  Operation* reader_ = nullptr;
  Operation* writer_ = nullptr;
  std::function<void()> on_readable_;
  EventLoop::Clock::time_point deadline_ = EventLoop::Clock::time_point::max();
  EventLoop::Clock::time_point armed_for_ = EventLoop::Clock::time_point::max();
};

}  // namespace costgate::server
