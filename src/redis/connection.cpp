#include "costgate/redis/connection.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "costgate/config/url.h"
#include "redis/hiredis_calls.h"

namespace costgate::redis {
namespace {

timeval timevalOf(std::chrono::milliseconds duration) {
  const long long ms = duration.count() > 0 ? duration.count() : 1;
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

Reply take(void* raw) {
  Reply reply = replyOf(*static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

constexpr config::UrlScheme kRedisScheme[] = {{"redis", 6379}};

// Why `url` cannot be a Redis address, or nothing: the password only (Redis before 6 has no user
// names, and AUTH is sent with the password alone), a database number as the path.
std::optional<Error> redisProblem(const config::Url& url, Address& address) {
  if (url.user) {
    if (!url.user->empty() || !url.password)
      return Error{"a password without a user name: redis://:password@host"};
    if (url.password->empty()) return Error{"empty password"};
    address.password = *url.password;
  }
  const std::string_view database = std::string_view(url.path).substr(url.path.empty() ? 0 : 1);
  if (database.empty()) return std::nullopt;
  const char* end = database.data() + database.size();
  const auto [stop, error] = std::from_chars(database.data(), end, address.db);
  if (error != std::errc{} || stop != end || address.db < 0)
    return Error{"the database is not a number"};
  return std::nullopt;
}

}  // namespace

std::variant<Address, Error> parseAddress(std::string_view text) {
  auto parsed = config::parseUrl(text, kRedisScheme);
  Address address;
  std::optional<Error> problem;
  if (const auto* failed = std::get_if<Error>(&parsed)) {
    problem = *failed;
  } else {
    problem = redisProblem(std::get<config::Url>(parsed), address);
  }
  if (problem)
    return Error{"expected redis://[:password@]host[:port][/db] (" + problem->message + ")"};
  const config::Url& url = std::get<config::Url>(parsed);
  address.host = url.host;
  address.port = url.port;
  return address;
}

void Connection::Free::operator()(redisContext* context) const { redisFree(context); }

Connection::Connection(redisContext* context, std::string server)
    : context_(context), server_(std::move(server)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

std::variant<Connection, Error> Connection::open(const Address& address, Timeouts timeouts) {
  std::string server = address.host + ":" + std::to_string(address.port);
  redisContext* raw =
      redisConnectWithTimeout(address.host.c_str(), address.port, timevalOf(timeouts.connect));
  if (raw == nullptr) return Error{"cannot connect to Redis at " + server + ": out of memory"};
  Connection connection(raw, server);
  if (raw->err != 0) return Error{"cannot connect to Redis at " + server + ": " + raw->errstr};
  // Without this, the connect timeout bounds only the connect: a read would wait forever.
  if (redisSetTimeout(raw, timevalOf(timeouts.io)) != REDIS_OK) {
    return Error{"cannot set timeouts on the connection to Redis at " + server};
  }
  if (!address.password.empty()) {
    auto reply = connection.command({"AUTH", address.password});
    if (auto* error = std::get_if<Error>(&reply)) return *error;
    if (std::get<Reply>(reply).type == Reply::Type::kError) {
      return Error{"Redis at " + server +
                   " refused the password: " + std::get<Reply>(reply).string};
    }
  }
  if (address.db != 0) {
    const std::string db = std::to_string(address.db);
    auto reply = connection.command({"SELECT", db});
    if (auto* error = std::get_if<Error>(&reply)) return *error;
    if (std::get<Reply>(reply).type == Reply::Type::kError) {
      return Error{"Redis at " + server + " refused database " + db + ": " +
                   std::get<Reply>(reply).string};
    }
  }
  return connection;
}

Error Connection::failure() const {
  std::string reason;
  if (!context_ || context_->err == 0) {
    reason = "connection lost";
  } else if (context_->err == REDIS_ERR_IO &&
             (std::string_view(context_->errstr) == std::string_view(strerror(EAGAIN)))) {
    reason = "timed out";
  } else {
    reason = context_->errstr;
  }
  return Error{"Redis at " + server_ + ": " + reason};
}

std::variant<Reply, Error> Connection::command(const std::vector<std::string_view>& args) {
  appendCommand(args);
  return getReply();
}

void Connection::appendCommand(const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (std::string_view arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  // Only fails when out of memory; the context then reports the error on the next read.
  redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                         lengths.data());
}

std::variant<Reply, Error> Connection::getReply() {
  SigpipeSuppressed suppressed;
  void* raw = nullptr;
  if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) return failure();
  return take(raw);
}

std::variant<std::optional<Reply>, Error> Connection::pollReply(std::chrono::milliseconds wait,
                                                                int interrupt_fd) {
  SigpipeSuppressed suppressed;
  redisContext* context = context_.get();
  void* raw = nullptr;
  // One read may have brought several replies: hand out those already parsed first.
  if (redisGetReplyFromReader(context, &raw) != REDIS_OK) return failure();
  if (raw != nullptr) return std::optional<Reply>(take(raw));
  for (int done = 0; !done;) {
    if (redisBufferWrite(context, &done) != REDIS_OK) return failure();
  }
  pollfd ready[2] = {{context->fd, POLLIN, 0}, {interrupt_fd, POLLIN, 0}};
  int polled = ::poll(ready, interrupt_fd >= 0 ? 2 : 1, static_cast<int>(wait.count()));
  if (polled == 0 || (polled < 0 && errno == EINTR)) return std::optional<Reply>();
  if (polled < 0) return Error{"Redis at " + server_ + ": poll: " + strerror(errno)};
  if (ready[0].revents == 0) return std::optional<Reply>();  // interrupted
  // Readable (or closed, which the read reports): one read(2), which does not block now.
  if (redisBufferRead(context) != REDIS_OK) return failure();
  if (redisGetReplyFromReader(context, &raw) != REDIS_OK) return failure();
  if (raw != nullptr) return std::optional<Reply>(take(raw));
  return std::optional<Reply>();  // part of a reply: the rest comes with the next call
}

bool Connection::closedByServer() const {
  if (broken()) return true;
  pollfd ready{context_->fd, POLLIN, 0};
  return ::poll(&ready, 1, 0) != 0;
}

bool Connection::broken() const { return !context_ || context_->err != 0; }

int Connection::fd() const { return context_ ? context_->fd : -1; }

}  // namespace costgate::redis
