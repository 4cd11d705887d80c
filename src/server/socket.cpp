#include "costgate/server/socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace costgate::server {

std::string describeError(int error) {
  switch (error) {
    case 0:
      return "end of stream";
    case ETIMEDOUT:
      return "timed out";
    case ECANCELED:
      return "cancelled";
    default:
      return std::strerror(error);
  }
}

Socket::Socket(EventLoop& loop, int fd) : loop_(&loop), fd_(fd) { key_ = loop.add(this, fd); }

Socket Socket::open(EventLoop& loop, int family, int& error) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  error = fd < 0 ? errno : 0;
  if (fd < 0) return Socket();
  return Socket(loop, fd);
}

Socket::Socket(Socket&& other) noexcept { *this = std::move(other); }

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this == &other) return *this;
  close();
  loop_ = other.loop_;
  fd_ = std::exchange(other.fd_, -1);
  key_ = other.key_;
  may_read_ = other.may_read_;
  may_write_ = other.may_write_;
  peer_closed_ = other.peer_closed_;
  expired_ = other.expired_;
  reader_ = std::exchange(other.reader_, nullptr);
  writer_ = std::exchange(other.writer_, nullptr);
  on_readable_ = std::move(other.on_readable_);
  deadline_ = other.deadline_;
  armed_for_ = std::exchange(other.armed_for_, EventLoop::Clock::time_point::max());
  if (fd_ >= 0) loop_->moved(key_, this);
  return *this;
}

// ---- operations ----

bool Socket::refuse(Operation& operation) const {
  if (fd_ < 0) {
    operation.result.error = ECANCELED;
    return true;
  }
  if (expired_) {
    operation.result.error = ETIMEDOUT;
    return true;
  }
  return false;
}

void Socket::suspend(Operation*& slot, Operation* operation, std::coroutine_handle<> waiter) {
  if (operation->finished) {
    loop_->resumeSoon(waiter);
    return;
  }
  operation->waiter = waiter;
  slot = operation;
}

bool Socket::finishedAtOnce(Operation& operation, bool tried) {
  operation.finished = tried;
  return tried && loop_->continueInline();
}

bool Socket::Read::perform(Socket& s) {
  if (tls) {
    ERR_clear_error();
    int n = SSL_read(tls, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
    if (n > 0) {
      result.bytes = static_cast<std::size_t>(n);
      return true;
    }
    switch (SSL_get_error(tls, n)) {
      case SSL_ERROR_WANT_READ:
        s.may_read_ = false;
        waits_for_other_side = false;
        return false;
      case SSL_ERROR_WANT_WRITE:  // e.g. a key update to answer while the send buffer is full
        s.may_write_ = false;
        waits_for_other_side = true;
        return false;
      case SSL_ERROR_ZERO_RETURN:
        return true;  // close_notify: end of stream
      case SSL_ERROR_SYSCALL:
        // Closed without close_notify: a truncation, reported like a reset.
        result.error = errno != 0 ? errno : ECONNRESET;
        return true;
      default:
        // OpenSSL 3 reports a close without close_notify this way: a truncation, like a reset.
        result.error = ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING
                           ? ECONNRESET
                           : EPROTO;
        return true;
    }
  }
  ssize_t n = ::recv(s.fd_, data, size, 0);
  if (n >= 0) {
    result.bytes = static_cast<std::size_t>(n);
    // A read that did not fill the buffer took everything there was (edge-triggered: the next
    // arrival raises a new edge), unless the peer's end already came with the same edge: then
    // the next read must still be tried, to see it. An end of stream stays readable.
    if (n > 0 && static_cast<std::size_t>(n) < size && !s.peer_closed_) s.may_read_ = false;
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    s.may_read_ = false;
    return false;
  }
  if (errno == EINTR) return perform(s);
  result.error = errno;
  return true;
}

bool Socket::Read::await_ready() {
  if (socket.refuse(*this)) return true;
  // OpenSSL may hold decrypted bytes the socket no longer shows, so a TLS read always tries.
  return socket.finishedAtOnce(*this, (tls || socket.may_read_) && perform(socket));
}

Socket::Write::Write(Socket& s, std::string_view head, std::string_view body, SSL* t)
    : socket(s), tls(t) {
  parts[0] = {const_cast<char*>(head.data()), head.size()};
  parts[1] = {const_cast<char*>(body.data()), body.size()};
}

bool Socket::Write::perform(Socket& s) {
  for (;;) {
    iovec* first = parts[0].iov_len > 0 ? &parts[0] : &parts[1];
    int count = first == &parts[0] && parts[1].iov_len > 0 ? 2 : 1;
    if (first->iov_len == 0) return true;
    ssize_t n;
    if (tls) {
      ERR_clear_error();
      int written = SSL_write(tls, first->iov_base, static_cast<int>(first->iov_len));
      if (written <= 0) {
        int code = SSL_get_error(tls, written);
        if (code == SSL_ERROR_WANT_WRITE || code == SSL_ERROR_WANT_READ) {
          waits_for_other_side = code == SSL_ERROR_WANT_READ;
          (waits_for_other_side ? s.may_read_ : s.may_write_) = false;
          return false;
        }
        result.error = code == SSL_ERROR_SYSCALL && errno != 0 ? errno : EPROTO;
        return true;
      }
      n = written;
    } else {
      msghdr message{};
      message.msg_iov = first;
      message.msg_iovlen = static_cast<std::size_t>(count);
      n = ::sendmsg(s.fd_, &message, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          s.may_write_ = false;
          return false;
        }
        result.error = errno;
        return true;
      }
    }
    result.bytes += static_cast<std::size_t>(n);
    auto advance = static_cast<std::size_t>(n);
    for (iovec& part : parts) {
      std::size_t used = std::min(advance, part.iov_len);
      part.iov_base = static_cast<char*>(part.iov_base) + used;
      part.iov_len -= used;
      advance -= used;
    }
    if (parts[0].iov_len + parts[1].iov_len == 0) return true;
  }
}

bool Socket::Write::await_ready() {
  if (socket.refuse(*this)) return true;
  return socket.finishedAtOnce(*this, (tls || socket.may_write_) && perform(socket));
}

bool Socket::Readiness::await_ready() { return socket.refuse(*this); }

bool Socket::Accept::perform(Socket& s) {
  for (;;) {
    int fd = ::accept4(s.fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      result.bytes = static_cast<std::size_t>(fd);
      return true;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      s.may_read_ = false;
      return false;
    }
    result.error = errno;
    return true;
  }
}

bool Socket::Accept::await_ready() {
  if (socket.refuse(*this)) return true;
  return socket.finishedAtOnce(*this, socket.may_read_ && perform(socket));
}

Task<int> Socket::connect(const sockaddr* address, socklen_t length) {
  if (fd_ < 0) co_return EBADF;
  if (::connect(fd_, address, length) == 0) co_return 0;
  if (errno != EINPROGRESS) co_return errno;
  for (;;) {
    IoResult waited = co_await writable();
    if (waited.error) co_return waited.error;
    int error = 0;
    socklen_t size = sizeof(error);
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error) co_return error;
    sockaddr_storage peer{};
    socklen_t peer_size = sizeof(peer);
    // A fresh socket can report writable before the handshake is done; connected means a peer.
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &peer_size) == 0) co_return 0;
  }
}

// ---- events, deadlines, cancellation ----

void Socket::onEvents(std::uint32_t events, std::uint64_t key) {
  EventLoop* loop = loop_;
  // Retries `waiting` if set; false once what ran closed or destroyed this socket.
  auto retry = [&](Operation*& waiting) {
    if (waiting && waiting->perform(*this))
      loop->resumeFromLoop(std::exchange(waiting, nullptr)->waiter);
    return loop->lookup(key) == this;
  };
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    may_read_ = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) peer_closed_ = true;
    if (writer_ && writer_->waits_for_other_side && !retry(writer_)) return;
    if (reader_) {
      if (!retry(reader_)) return;
    } else if (on_readable_) {
      auto watch = on_readable_;  // it may stop the watch, or close this socket
      watch();
      if (loop->lookup(key) != this) return;
    }
  }
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
    may_write_ = true;
    if (reader_ && reader_->waits_for_other_side && !retry(reader_)) return;
    retry(writer_);
  }
}

void Socket::expiresAfter(std::chrono::milliseconds timeout) {
  expired_ = false;
  deadline_ = EventLoop::coarseNow() + timeout;
  arm();
}

void Socket::arm() {
  // A later deadline leaves the wake-up where it is; when it comes, it moves to the deadline.
  if (deadline_ < armed_for_ && fd_ >= 0) {
    armed_for_ = deadline_;
    EventLoop::Due due;
    due.when = deadline_;
    due.slot = static_cast<std::uint32_t>(key_);
    due.generation = static_cast<std::uint32_t>(key_ >> 32);
    loop_->schedule(std::move(due));
  }
}

void Socket::onDeadline(EventLoop::Clock::time_point when) {
  if (when != armed_for_) return;  // superseded by an earlier wake-up
  armed_for_ = EventLoop::Clock::time_point::max();
  if (deadline_ == EventLoop::Clock::time_point::max()) return;
  // Compared with the wake-up's own time, not a clock: the loop woke because that time passed,
  // and the coarse clock may not show it yet (re-arming then would wake again at once).
  if (deadline_ > when) {
    arm();
    return;
  }
  expired_ = true;
  cancel(ETIMEDOUT);
}

void Socket::cancel(int error) {
  for (Operation** slot : {&reader_, &writer_}) {
    if (Operation* operation = std::exchange(*slot, nullptr)) {
      operation->result.error = error;
      loop_->resumeSoon(operation->waiter);
    }
  }
}

void Socket::watchReadable(std::function<void()> on_readable) {
  on_readable_ = std::move(on_readable);
  if (may_read_ && on_readable_) {
    auto watch = on_readable_;
    watch();
  }
}

void Socket::shutdownSend() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void Socket::shutdownBoth() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void Socket::close() {
  if (fd_ < 0) return;
  cancel(ECANCELED);
  on_readable_ = nullptr;
  loop_->remove(key_);
  ::close(std::exchange(fd_, -1));
}

void Socket::reset() {
  if (fd_ < 0) return;
  linger abort{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
  close();
}

}  // namespace costgate::server
