#include "costgate/server/http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <list>
#include <random>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "costgate/http1/body.h"
#include "costgate/http1/input_buffer.h"
#include "costgate/openai/error.h"

namespace costgate::server {

constexpr std::size_t kReadBufferBytes = 8 * 1024;
// A read is never offered less room than this: a typical request then arrives in one read.
constexpr std::size_t kMinReadBytes = 4 * 1024;

namespace {

bool isSafeIdChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == ':';
}

// Answers for requests the server rejects before any handler sees them.
Response rejection(const openai::ApiError& error) {
  return Response(error.status, "application/json", error.body());
}

// The sessions of one worker, for draining on shutdown. Touched only on the worker's thread.
struct LiveSessions {
  struct Entry {
    Socket* socket;
    bool idle;  // waiting for its next request: safe to close at once
  };
  std::list<Entry> live;  // one node per connection, not per request
  bool draining = false;
};

struct SessionEnv {
  const ServerLimits& limits;
  const Handler& handler;
  const ExchangeObserver& observer;
  std::atomic<std::uint64_t>& connections_accepted;
  LiveSessions& sessions;
};

void finishRecord(ExchangeRecord& record) {
  record.latency = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - record.started);
}

// A lingering close, as nginx makes one: closing a socket with unread input sends a reset, which
// may destroy the reply just written before the client reads it (a client still sending a body
// that was refused early, or requests pipelined behind a last one). So after the reply and our
// FIN, what still arrives is read and dropped until the client closes or pauses, within bounds
// that keep a client from holding the connection (or a core) for long: past them the reset is
// the client's own doing.
struct LingerBounds {
  std::chrono::milliseconds quiet;  // a pause this long ends it: the client is reading
  std::chrono::milliseconds at_most;
  std::size_t max_bytes;
};
constexpr LingerBounds kLinger{std::chrono::seconds(1), std::chrono::seconds(10), 64 * 1024 * 1024};

Task<> discardUntilQuiet(Socket& socket, LingerBounds bounds) {
  const auto until = std::chrono::steady_clock::now() + bounds.at_most;
  char scratch[16 * 1024];
  std::size_t dropped = 0;
  while (std::chrono::steady_clock::now() < until && dropped < bounds.max_bytes) {
    socket.expiresAfter(std::min(bounds.quiet, std::chrono::ceil<std::chrono::milliseconds>(
                                                   until - std::chrono::steady_clock::now())));
    IoResult read = co_await socket.read(scratch, sizeof(scratch));
    if (read.error || read.bytes == 0) break;
    dropped += read.bytes;
  }
  socket.clearDeadline();
}

// Whether the client sent bytes not read yet (a request pipelined behind the last one answered).
bool unreadBytesWaiting(Socket& socket) {
  char probe;
  return ::recv(socket.fd(), &probe, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

Task<> runSession(Socket socket, const SessionEnv& env) {
  auto& sessions = env.sessions.live;
  auto self = sessions.insert(sessions.end(), {&socket, false});
  struct Leave {
    std::list<LiveSessions::Entry>& sessions;
    std::list<LiveSessions::Entry>::iterator self;
    ~Leave() { sessions.erase(self); }
  } leave{sessions, self};
  http1::InputBuffer in(kReadBufferBytes);
  Request request;  // reused, so its buffers' capacity carries over to the next request
  // Reads what has arrived into `in`: co_await it, then commit() the bytes read.
  auto readMore = [&socket, &in] {
    char* at = in.prepare(kMinReadBytes);
    return socket.read(at, in.writable());
  };
  bool first_request = true;
  bool unread_input = false;  // a refused request may still be arriving
  for (;;) {
    // A new connection gets the short header timeout (slow clients); an idle keep-alive one waits
    // longer for its next request, and then has the header timeout to finish it.
    socket.expiresAfter(first_request ? env.limits.header_timeout : env.limits.idle_timeout);
    if (env.sessions.draining) break;
    self->idle = in.size() == 0;
    request.body.clear();
    http1::ParseResult head;
    bool client_left = false;
    for (;;) {
      head = http1::parseRequestHead(in.data(), env.limits.max_header_bytes, request.head);
      if (head.state != http1::ParseResult::kIncomplete) break;
      IoResult read = co_await readMore();
      in.commit(read.bytes);
      if (read.error || read.bytes == 0) {
        client_left = true;  // or sent nothing, or not a whole head, in time: nothing to answer
        break;
      }
      if (self->idle && !first_request) socket.expiresAfter(env.limits.header_timeout);
      self->idle = false;
    }
    self->idle = false;
    if (client_left) break;

    ExchangeRecord record;
    record.started = std::chrono::steady_clock::now();
    std::optional<openai::ApiError> refusal;
    auto too_large = [&] {
      return openai::ApiError{413,
                              "invalid_request_error",
                              "request body exceeds the limit of " +
                                  std::to_string(env.limits.max_body_bytes) + " bytes",
                              {},
                              "request_too_large"};
    };
    std::optional<http1::Framing> framing;
    if (head.state == http1::ParseResult::kTooLarge) {
      refusal = openai::ApiError{431,
                                 "invalid_request_error",
                                 "request headers are too large",
                                 {},
                                 "request_header_fields_too_large"};
    } else if (head.state == http1::ParseResult::kInvalid) {
      refusal = openai::invalidRequest("malformed HTTP request: " + head.error);
    } else {
      in.consume(head.consumed);
      record.bytes_in = head.consumed;
      record.method = std::string(request.head.method());
      record.target = std::string(request.head.target());
      record.request_id = makeRequestId(request.head.get("x-request-id"));
      auto framed = http1::requestFraming(request.head);
      if (auto* error = std::get_if<Error>(&framed)) {
        refusal = openai::invalidRequest("malformed HTTP request: " + error->message);
      } else {
        framing = std::get<http1::Framing>(framed);
        // A declared Content-Length over the limit is refused up front.
        if (framing->mode == http1::Framing::kLength &&
            framing->length > env.limits.max_body_bytes) {
          refusal = too_large();
        }
      }
    }

    if (!refusal) {
      // The body usually came with the head: what is buffered is decoded without another
      // asynchronous step, and only what is still missing is read.
      http1::BodyDecoder decoder(*framing);
      if (framing->mode == http1::Framing::kLength) {
        request.body.reserve(static_cast<std::size_t>(framing->length));
      }
      bool expects_continue = http1::hasToken(request.head.get("expect"), "100-continue");
      while (!decoder.done()) {
        if (in.size() > 0) {
          std::size_t used = request.body.size();
          request.body.resize(used + in.size());  // decoding never makes the bytes more
          auto step = decoder.decode(in.data(), request.body.data() + used, in.size());
          request.body.resize(used + step.produced);
          in.consume(step.consumed);
          record.bytes_in += step.consumed;
          if (step.invalid) {
            refusal = openai::invalidRequest("malformed HTTP request body: bad chunked encoding");
            break;
          }
          // A chunk is refused as soon as its size line says it would pass the limit, not
          // after its data was read.
          if (request.body.size() > env.limits.max_body_bytes ||
              decoder.remaining() > env.limits.max_body_bytes - request.body.size()) {
            refusal = too_large();
            break;
          }
          if (step.done) break;
        }
        if (expects_continue) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          socket.expiresAfter(env.limits.body_timeout);
          co_await socket.write(kContinue);
          expects_continue = false;
        }
        socket.expiresAfter(env.limits.body_timeout);
        IoResult read = co_await readMore();
        in.commit(read.bytes);
        if (read.error == ETIMEDOUT) {
          refusal = openai::ApiError{
              408, "invalid_request_error", "request body was not received in time", {}, "timeout"};
          break;
        }
        if (read.error || read.bytes == 0) {
          client_left = true;  // mid-body: there is no one to answer
          break;
        }
      }
      if (client_left) break;
    }

    if (refusal) {
      // The stream may be mid-message, so the connection cannot be reused.
      if (record.request_id.empty()) record.request_id = makeRequestId({});
      socket.clearDeadline();
      ResponseWriter writer(socket, record, false, env.limits.body_timeout,
                            record.method == "HEAD");
      co_await writer.send(rejection(*refusal));
      finishRecord(record);
      if (env.observer) env.observer(record);
      unread_input = true;
      break;
    }

    bool reusable = false;
    socket.clearDeadline();  // the handler may wait on a backend for as long as that takes
    {
      ResponseWriter writer(socket, record, request.head.keepAlive(), env.limits.idle_timeout,
                            request.head.method() == "HEAD");
      bool failed = false;
      try {
        co_await env.handler(request, writer);
      } catch (const std::exception& e) {
        failed = true;
        record.error = std::string("handler failed: ") + e.what();
      }
      if (!writer.responded() && !writer.clientGone()) {
        co_await writer.send(rejection(openai::serverError(
            500, failed ? "internal error" : "the request was not answered", "internal_error")));
      }
      reusable = writer.reusable();
      // Closing after this answer (Connection: close) with the client's next bytes unread would
      // reset the answer away.
      if (!reusable && !writer.clientGone())
        unread_input = in.size() > 0 || unreadBytesWaiting(socket);
    }
    finishRecord(record);
    if (env.observer) env.observer(record);
    if (!reusable || env.sessions.draining) break;
    first_request = false;
  }
  socket.shutdownSend();
  if (unread_input) co_await discardUntilQuiet(socket, kLinger);
  socket.close();
}

Task<> acceptLoop(Socket& listener, const SessionEnv& env) {
  EventLoop& loop = listener.loop();
  for (;;) {
    IoResult accepted = co_await listener.accept();
    if (!listener.isOpen()) {
      // Closed by a drain while this accept waited its turn (continueInline()) to resume.
      if (!accepted.error) ::close(static_cast<int>(accepted.bytes));
      co_return;
    }
    if (accepted.error) {
      // Out of descriptors or memory: back off instead of spinning on the error.
      co_await sleepFor(std::chrono::milliseconds(50));
      continue;
    }
    env.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    int fd = static_cast<int>(accepted.bytes);
    int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    loop.spawn(runSession(Socket(loop, fd), env));
  }
}

}  // namespace

std::string makeRequestId(std::string_view client_id) {
  if (!client_id.empty() && client_id.size() <= 128 &&
      std::all_of(client_id.begin(), client_id.end(), isSafeIdChar)) {
    return std::string(client_id);
  }
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = random();
    for (int i = 0; i < 16; ++i, bits >>= 4) id[half * 16 + i] = kHex[bits & 0xf];
  }
  return id;
}

// ---- ResponseWriter ----

ResponseWriter::~ResponseWriter() { stopWatching(); }

std::string ResponseWriter::headFor(const Response& response, std::string_view framing) {
  responded_ = true;
  record_.status = response.status;
  std::string head;
  head.reserve(128 + response.fields.size());
  char status[8];
  head.append("HTTP/1.1 ")
      .append(status, std::to_chars(status, status + sizeof(status), response.status).ptr)
      .append(" ")
      .append(http1::reasonPhrase(response.status))
      .append("\r\n")
      .append(response.fields)
      .append(extra_.fields)
      .append("x-request-id: ")
      .append(record_.request_id)
      .append("\r\n");
  if (!keep_alive_) head.append("Connection: close\r\n");
  if (!framing.empty()) head.append(framing).append("\r\n");
  head.append("\r\n");
  return head;
}

Socket::Write ResponseWriter::write(std::string_view head, std::string_view body) {
  socket_.expiresAfter(write_timeout_);
  return socket_.write(head, body);
}

bool ResponseWriter::finish(IoResult written) {
  socket_.clearDeadline();
  record_.bytes_out += written.bytes;
  if (written.error) {
    client_gone_ = true;
    if (record_.error.empty()) {
      record_.error = written.error == ETIMEDOUT
                          ? "client did not read the response in time"
                          : "client write failed: " + describeError(written.error);
    }
  }
  return !written.error;
}

Task<bool> ResponseWriter::send(Response response) {
  if (client_gone_ || responded_) co_return false;
  char framing[40] = "Content-Length: ";
  constexpr std::size_t kPrefix = std::char_traits<char>::length("Content-Length: ");
  char* end = std::to_chars(framing + kPrefix, framing + sizeof(framing), response.body.size()).ptr;
  // A 204 or 304 has no body and must not say it has one (RFC 9110 8.6).
  const bool bodiless = response.status == 204 || response.status == 304;
  std::string head =
      headFor(response, bodiless ? std::string_view() : std::string_view(framing, end - framing));
  IoResult written =
      co_await write(head, head_only_ || bodiless ? std::string_view() : response.body);
  co_return finish(written);
}

Task<bool> ResponseWriter::beginStream(Response head) {
  if (client_gone_ || responded_) co_return false;
  streaming_ = true;
  std::string serialized = headFor(head, "Transfer-Encoding: chunked");
  IoResult written = co_await write(serialized, {});
  co_return finish(written);
}

Task<bool> ResponseWriter::writeChunk(std::string_view data) {
  if (client_gone_ || !streaming_ || ended_) co_return false;
  if (data.empty() || head_only_) co_return true;
  char size_line[24];
  int length = std::snprintf(size_line, sizeof(size_line), "%zx\r\n", data.size());
  std::string framed;
  framed.reserve(data.size() + 2);
  framed.append(data).append("\r\n");
  IoResult written = co_await write(std::string_view(size_line, length), framed);
  co_return finish(written);
}

Task<bool> ResponseWriter::endStream() {
  if (client_gone_ || !streaming_ || ended_) co_return false;
  ended_ = true;
  if (head_only_) co_return true;
  IoResult written = co_await write("0\r\n\r\n", {});
  co_return finish(written);
}

void ResponseWriter::watchForDisconnect(std::function<void()> on_gone) {
  watching_ = true;
  // Peeking consumes nothing, so a pipelined next request stays in the socket.
  socket_.watchReadable([this, on_gone = std::move(on_gone)] {
    char probe;
    ssize_t n = ::recv(socket_.fd(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    stopWatching();
    if (n > 0) return;  // the client sent more (pipelining): it is still there
    client_gone_ = true;
    if (record_.error.empty()) record_.error = "client disconnected";
    on_gone();
  });
}

void ResponseWriter::stopWatching() {
  if (!watching_) return;
  watching_ = false;
  socket_.stopWatching();
}

void ResponseWriter::abort() {
  stopWatching();
  aborted_ = true;
  client_gone_ = true;
  socket_.reset();
}

// ---- HttpServer ----

struct HttpServer::Worker {
  Worker(const ServerLimits& limits, const Handler& handler, const ExchangeObserver& observer,
         std::atomic<std::uint64_t>& connections_accepted)
      : env{limits, handler, observer, connections_accepted, sessions} {}
  Socket listener;
  LiveSessions sessions;
  SessionEnv env;
  std::thread thread;
};

namespace {

// A listening socket on `address`, shared through SO_REUSEPORT by the workers; throws on failure.
int listenOn(const addrinfo& address) {
  int fd = ::socket(address.ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int on = 1;
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
      ::bind(fd, address.ai_addr, address.ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    std::string reason = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot listen: " + reason);
  }
  return fd;
}

std::uint16_t boundPort(int fd) {
  sockaddr_storage bound{};
  socklen_t size = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &size);
  return ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                           : reinterpret_cast<sockaddr_in&>(bound).sin_port);
}

}  // namespace

HttpServer::HttpServer(const std::string& host, std::uint16_t port, unsigned threads,
                       ServerLimits limits, Handler handler, ExchangeObserver observer)
    : limits_(limits), handler_(std::move(handler)), observer_(std::move(observer)) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int code = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(),
                               &hints, &found);
      code != 0) {
    throw std::runtime_error("cannot resolve listen address '" + host + "': " + gai_strerror(code));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> address(found, &::freeaddrinfo);
  for (unsigned i = 0; i < threads; ++i) {
    loops_.push_back(std::make_unique<EventLoop>());
    auto worker = std::make_unique<Worker>(limits_, handler_, observer_, connections_accepted_);
    int fd = listenOn(*address);
    if (i == 0) {
      port_ = boundPort(fd);
      // With port 0, every worker must share the port the first one got.
      auto* bound = address->ai_addr;
      if (bound->sa_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(bound)->sin6_port = htons(port_);
      } else {
        reinterpret_cast<sockaddr_in*>(bound)->sin_port = htons(port_);
      }
    }
    worker->listener = Socket(*loops_.back(), fd);
    workers_.push_back(std::move(worker));
  }
}

HttpServer::~HttpServer() {
  stop();
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
  // The loops' tasks refer to their worker's session list: the loops (and so the tasks) go
  // first, after the listeners, which need their loop to close.
  for (auto& worker : workers_) worker->listener.close();
  loops_.clear();
}

void HttpServer::setBusyPoll(std::chrono::microseconds window) {
  for (auto& loop : loops_) loop->setBusyPoll(window);
}

void HttpServer::run() {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    loops_[i]->spawn(acceptLoop(workers_[i]->listener, workers_[i]->env));
  }
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    workers_[i]->thread = std::thread([loop = loops_[i].get()] { loop->run(); });
  }
  loops_[0]->run();
  for (std::size_t i = 1; i < workers_.size(); ++i) workers_[i]->thread.join();
}

namespace {

// How long requests cut at the drain deadline get to finish as disconnected ones (logged,
// metered, charged and settled) before the loop stops.
constexpr std::chrono::milliseconds kCutGrace{2000};

// Waits until no session is live or `until` has passed.
Task<> sessionsEnd(LiveSessions& sessions, std::chrono::steady_clock::time_point until) {
  while (!sessions.live.empty() && std::chrono::steady_clock::now() < until) {
    co_await sleepFor(std::chrono::milliseconds(20));
  }
}

// Stops accepting, closes idle connections, lets requests in flight finish (streams included)
// until `timeout`. Then cuts what is left as a client that went away would (a stream stops being
// relayed and is charged for what it relayed), waits for that to finish, and stops the loop.
Task<> drain(Socket& listener, LiveSessions& sessions, std::chrono::milliseconds timeout) {
  sessions.draining = true;
  EventLoop& loop = listener.loop();
  listener.close();
  for (auto& session : sessions.live) {
    if (session.idle) session.socket->cancel(ECANCELED);
  }
  co_await sessionsEnd(sessions, std::chrono::steady_clock::now() + timeout);
  if (!sessions.live.empty()) {
    spdlog::warn("drain: {} request(s) still in flight at the deadline are cut as disconnected",
                 sessions.live.size());
    for (auto& session : sessions.live) session.socket->shutdownBoth();
    co_await sessionsEnd(sessions, std::chrono::steady_clock::now() + kCutGrace);
  }
  loop.stop();
}

}  // namespace

void HttpServer::stop(std::chrono::milliseconds drain_timeout) {
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    EventLoop& loop = *loops_[i];
    if (drain_timeout.count() <= 0) {
      loop.stop();
      continue;
    }
    Worker& worker = *workers_[i];
    loop.post([&loop, &worker, drain_timeout] {
      loop.spawn(drain(worker.listener, worker.sessions, drain_timeout));
    });
  }
}

}  // namespace costgate::server
