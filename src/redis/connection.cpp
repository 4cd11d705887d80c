#include "costgate/redis/connection.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

namespace costgate::redis {
namespace {

// hiredis writes with write(2): to a server that went away that raises SIGPIPE, which kills a
// process that does not ignore it (tests, any embedder of this library). Blocked for the calls
// that may write, and a SIGPIPE they raised is taken off the thread before it is unblocked.
class SigpipeSuppressed {
 public:
  SigpipeSuppressed() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
  }
  ~SigpipeSuppressed() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec now{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &now) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeSuppressed(const SigpipeSuppressed&) = delete;
  SigpipeSuppressed& operator=(const SigpipeSuppressed&) = delete;

 private:
  sigset_t pipe_;
  sigset_t previous_;
  bool was_pending_ = false;
};

timeval timevalOf(std::chrono::milliseconds duration) {
  const long long ms = duration.count() > 0 ? duration.count() : 1;
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

Reply replyOf(const redisReply& raw) {
  Reply reply;
  switch (raw.type) {
    case REDIS_REPLY_STRING:
      reply.type = Reply::Type::kString;
      reply.string.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_STATUS:
      reply.type = Reply::Type::kStatus;
      reply.string.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_ERROR:
      reply.type = Reply::Type::kError;
      reply.string.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_INTEGER:
      reply.type = Reply::Type::kInteger;
      reply.integer = raw.integer;
      break;
    case REDIS_REPLY_ARRAY:
      reply.type = Reply::Type::kArray;
      reply.elements.reserve(raw.elements);
      for (std::size_t i = 0; i < raw.elements; ++i)
        reply.elements.push_back(replyOf(*raw.element[i]));
      break;
    default:
      reply.type = Reply::Type::kNil;
      break;
  }
  return reply;
}

Reply take(void* raw) {
  Reply reply = replyOf(*static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

std::optional<int> hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

std::optional<std::string> percentDecoded(std::string_view text) {
  std::string decoded;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    auto high = hexDigit(text[i + 1]);
    auto low = hexDigit(text[i + 2]);
    if (!high || !low) return std::nullopt;
    decoded += static_cast<char>(*high * 16 + *low);
    i += 2;
  }
  return decoded;
}

// Decimal digits only (no sign, no spaces) within [min, max].
std::optional<int> numberIn(std::string_view text, int min, int max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  long long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value < min || value > max) return std::nullopt;
  return static_cast<int>(value);
}

}  // namespace

std::variant<Address, std::string> parseAddress(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  const std::string quoted = "\"" + std::string(url) + "\"";
  if (!url.starts_with(kScheme)) return "a Redis address starts with redis://, not " + quoted;
  std::string_view rest = url.substr(kScheme.size());
  Address address;
  // The last '@' ends the password, which may then hold any other character.
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (!userinfo.starts_with(':')) {
      return "a Redis address takes a password without a user name (redis://:password@host), not " +
             quoted;
    }
    auto password = percentDecoded(userinfo.substr(1));
    if (!password) return "bad percent-encoding in the password of " + quoted;
    if (password->empty()) return "empty password in " + quoted;
    address.password = std::move(*password);
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return "a Redis address has no query or fragment: " + quoted;
  }
  std::string_view path;
  bool has_path = false;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    has_path = true;
  }
  std::string_view host = rest;
  std::string_view port;
  bool has_port = false;
  if (rest.starts_with('[')) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return "unclosed '[' in the host of " + quoted;
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return "unexpected text after the host of " + quoted;
      port = after.substr(1);
      has_port = true;
    }
  } else if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    has_port = true;
  }
  if (host.empty()) return "no host in " + quoted;
  address.host = std::string(host);
  if (has_port) {
    auto number = numberIn(port, 1, 65535);
    if (!number) return "the port of " + quoted + " is not a number from 1 to 65535";
    address.port = *number;
  }
  if (has_path && !path.empty()) {
    auto number = numberIn(path, 0, INT_MAX);
    if (!number) return "the database of " + quoted + " is not a number";
    address.db = *number;
  }
  return address;
}

void Connection::Free::operator()(redisContext* context) const { redisFree(context); }

Connection::Connection(redisContext* context, std::string server)
    : context_(context), server_(std::move(server)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

std::variant<Connection, std::string> Connection::open(const Address& address, Timeouts timeouts) {
  std::string server = address.host + ":" + std::to_string(address.port);
  redisContext* raw =
      redisConnectWithTimeout(address.host.c_str(), address.port, timevalOf(timeouts.connect));
  if (raw == nullptr) return "cannot connect to Redis at " + server + ": out of memory";
  Connection connection(raw, server);
  if (raw->err != 0) return "cannot connect to Redis at " + server + ": " + raw->errstr;
  // Without this, the connect timeout bounds only the connect: a read would wait forever.
  if (redisSetTimeout(raw, timevalOf(timeouts.io)) != REDIS_OK) {
    return "cannot set timeouts on the connection to Redis at " + server;
  }
  if (!address.password.empty()) {
    auto reply = connection.command({"AUTH", address.password});
    if (auto* error = std::get_if<std::string>(&reply)) return *error;
    if (std::get<Reply>(reply).type == Reply::Type::kError) {
      return "Redis at " + server + " refused the password: " + std::get<Reply>(reply).string;
    }
  }
  if (address.db != 0) {
    const std::string db = std::to_string(address.db);
    auto reply = connection.command({"SELECT", db});
    if (auto* error = std::get_if<std::string>(&reply)) return *error;
    if (std::get<Reply>(reply).type == Reply::Type::kError) {
      return "Redis at " + server + " refused database " + db + ": " +
             std::get<Reply>(reply).string;
    }
  }
  return connection;
}

std::string Connection::failure() const {
  std::string reason;
  if (!context_ || context_->err == 0) {
    reason = "connection lost";
  } else if (context_->err == REDIS_ERR_IO &&
             (std::string_view(context_->errstr) == std::string_view(strerror(EAGAIN)))) {
    reason = "timed out";
  } else {
    reason = context_->errstr;
  }
  return "Redis at " + server_ + ": " + reason;
}

std::variant<Reply, std::string> Connection::command(const std::vector<std::string_view>& args) {
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

std::variant<Reply, std::string> Connection::getReply() {
  SigpipeSuppressed suppressed;
  void* raw = nullptr;
  if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) return failure();
  return take(raw);
}

std::variant<std::optional<Reply>, std::string> Connection::pollReply(
    std::chrono::milliseconds wait, int interrupt_fd) {
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
  if (polled < 0) return "Redis at " + server_ + ": poll: " + strerror(errno);
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
