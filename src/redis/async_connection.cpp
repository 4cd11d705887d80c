#include "costgate/redis/async_connection.h"

#include <hiredis/async.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "redis/hiredis_calls.h"

namespace costgate::redis {

using Steady = std::chrono::steady_clock;

struct AsyncConnection::Pending {
  AsyncConnection* owner;
  Done done;
  Steady::time_point deadline;
  bool setup = false;  // AUTH or SELECT: refused, the connection is of no use
};

namespace {

AsyncConnection& ownerOf(void* data) { return *static_cast<AsyncConnection*>(data); }

std::string serverName(const Address& address) {
  return address.host + ":" + std::to_string(address.port);
}

}  // namespace

AsyncConnection::AsyncConnection(server::EventLoop& loop, Address address,
                                 std::chrono::milliseconds timeout)
    : loop_(loop), address_(std::move(address)), timeout_(timeout), timer_(loop) {
  ready_set_ = server::Socket(loop, ::epoll_create1(EPOLL_CLOEXEC));
  ready_set_.watchReadable([this] { processReady(); });
}

AsyncConnection::~AsyncConnection() {
  // Every command in flight gets its callback (an Error) and the context is gone after this.
  if (context_ != nullptr) redisAsyncFree(context_);
  for (Pending* pending : std::exchange(in_flight_, {})) {
    pending->done(Error{"the connection to Redis was closed"});
    delete pending;
  }
}

void AsyncConnection::command(std::vector<std::string> args, Done done) {
  if (context_ == nullptr && !connect()) {
    failLater(std::move(done), "Redis at " + serverName(address_) + " cannot be reached");
    return;
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* pending = new Pending{this, std::move(done), Steady::now() + timeout_};
  if (redisAsyncCommandArgv(context_, &AsyncConnection::onReply, pending,
                            static_cast<int>(argv.size()), argv.data(),
                            lengths.data()) != REDIS_OK) {
    failLater(std::move(pending->done), "Redis at " + serverName(address_) + " cannot be reached");
    delete pending;
    return;
  }
  in_flight_.push_back(pending);
  if (!expiring_) {
    expiring_ = true;
    loop_.spawn(expireLate());
  }
}

bool AsyncConnection::connect() {
  if (Steady::now() - last_failure_ < kRetryAfter) return false;
  redisAsyncContext* context = redisAsyncConnect(address_.host.c_str(), address_.port);
  if (context == nullptr || context->err != 0) {
    if (context != nullptr) redisAsyncFree(context);
    last_failure_ = Steady::now();
    return false;
  }
  context_ = context;
  fd_ = context->c.fd;
  context->data = this;
  context->ev.data = this;
  context->ev.addRead = [](void* data) { ownerOf(data).watchInterest(EPOLLIN, true); };
  context->ev.delRead = [](void* data) { ownerOf(data).watchInterest(EPOLLIN, false); };
  context->ev.addWrite = [](void* data) { ownerOf(data).watchInterest(EPOLLOUT, true); };
  context->ev.delWrite = [](void* data) { ownerOf(data).watchInterest(EPOLLOUT, false); };
  context->ev.cleanup = [](void* data) {
    AsyncConnection& self = ownerOf(data);
    if (self.fd_ >= 0 && self.interest_ != 0) {
      ::epoll_ctl(self.ready_set_.fd(), EPOLL_CTL_DEL, self.fd_, nullptr);
    }
    self.fd_ = -1;
    self.interest_ = 0;
    self.context_ = nullptr;
  };
  redisAsyncSetConnectCallback(context, [](const redisAsyncContext* connected, int status) {
    if (status != REDIS_OK) ownerOf(connected->data).last_failure_ = Steady::now();
  });
  // Sent first on the new connection; a refusal ends it (the callback of setup commands).
  auto setup = [this](std::vector<std::string> args) {
    const std::size_t before = in_flight_.size();
    command(std::move(args), {});
    if (in_flight_.size() > before) in_flight_.back()->setup = true;
  };
  if (!address_.password.empty()) setup({"AUTH", address_.password});
  if (address_.db != 0) setup({"SELECT", std::to_string(address_.db)});
  return true;
}

void AsyncConnection::watchInterest(int events, bool on) {
  if (fd_ < 0) return;
  const int wanted = on ? (interest_ | events) : (interest_ & ~events);
  if (wanted == interest_) return;
  epoll_event event{};
  event.events = static_cast<std::uint32_t>(wanted);
  event.data.fd = fd_;
  const int operation = interest_ == 0 ? EPOLL_CTL_ADD
                        : wanted == 0  ? EPOLL_CTL_DEL
                                       : EPOLL_CTL_MOD;
  ::epoll_ctl(ready_set_.fd(), operation, fd_, &event);
  interest_ = wanted;
}

// The loop's edge on ready_set_ says hiredis's socket is ready; ready_set_ is level-triggered, so
// asking until it has nothing left to report leaves no event behind for a later edge to miss.
void AsyncConnection::processReady() {
  epoll_event events[4];
  for (;;) {
    const int count = ::epoll_wait(ready_set_.fd(), events, static_cast<int>(std::size(events)), 0);
    if (count <= 0) return;
    for (int i = 0; i < count && context_ != nullptr; ++i) {
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) redisAsyncHandleRead(context_);
      if (context_ != nullptr && (events[i].events & EPOLLOUT)) {
        SigpipeSuppressed quiet;
        redisAsyncHandleWrite(context_);
      }
    }
  }
}

void AsyncConnection::onReply(redisAsyncContext* context, void* reply, void* data) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(data));
  AsyncConnection& self = *pending->owner;
  std::erase(self.in_flight_, pending.get());
  std::variant<Reply, Error> result =
      reply != nullptr ? std::variant<Reply, Error>(replyOf(*static_cast<redisReply*>(reply)))
                       : Error{"no answer from Redis at " + serverName(self.address_) +
                               " (connection lost or timed out)"};
  const auto* answer = std::get_if<Reply>(&result);
  if (pending->setup && (answer == nullptr || answer->type == Reply::Type::kError)) {
    self.last_failure_ = Steady::now();
    redisAsyncFree(context);  // deferred by hiredis until this callback returns
  }
  if (pending->done) pending->done(std::move(result));
}

void AsyncConnection::dropConnection() {
  if (context_ != nullptr) redisAsyncFree(context_);  // its callbacks fail what is in flight
  for (Pending* pending : std::exchange(in_flight_, {})) {
    failLater(std::move(pending->done), "no answer from Redis at " + serverName(address_));
    delete pending;
  }
}

server::Task<> AsyncConnection::expireLate() {
  while (!in_flight_.empty()) {
    const auto wait = in_flight_.front()->deadline - Steady::now();
    if (wait <= Steady::duration::zero()) {
      dropConnection();
      continue;
    }
    co_await timer_.wait(wait);
  }
  expiring_ = false;
}

void AsyncConnection::failLater(Done done, std::string why) {
  if (!done) return;
  loop_.post([done = std::move(done), why = std::move(why)] { done(Error{why}); });
}

AsyncConnection& AsyncConnection::ofThisLoop(const Address& address,
                                             std::chrono::milliseconds timeout) {
  using Connections = std::map<std::string, std::unique_ptr<AsyncConnection>>;
  server::EventLoop& loop = server::EventLoop::current();
  Connections& connections = loop.local<Connections>();
  const std::string key = serverName(address) + "/" + std::to_string(address.db) + "/" +
                          address.password + "/" + std::to_string(timeout.count());
  std::unique_ptr<AsyncConnection>& connection = connections[key];
  if (!connection) connection = std::make_unique<AsyncConnection>(loop, address, timeout);
  return *connection;
}

SendLater AsyncConnection::onEachLoop(const Address& address, std::chrono::milliseconds timeout) {
  return [address, timeout](std::vector<std::string> args, Answered done) {
    ofThisLoop(address, timeout).command(std::move(args), std::move(done));
  };
}

}  // namespace costgate::redis
