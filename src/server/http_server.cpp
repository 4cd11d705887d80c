#include "costgate/server/http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <list>
#include <random>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include "costgate/http1/body.h"
#include "costgate/http1/input_buffer.h"
#include "costgate/openai/error.h"
#include "costgate/server/write_now.h"

namespace costgate::server {

using tcp = net::ip::tcp;
using boost::system::error_code;
using Acceptor = net::basic_socket_acceptor<tcp, Executor>;
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

Task<> runSession(Socket socket, const SessionEnv& env) {
  auto& sessions = env.sessions.live;
  auto self = sessions.insert(sessions.end(), {&socket, false});
  struct Leave {
    std::list<LiveSessions::Entry>& sessions;
    std::list<LiveSessions::Entry>::iterator self;
    ~Leave() { sessions.erase(self); }
  } leave{sessions, self};
  Deadline deadline(socket);
  http1::InputBuffer in(kReadBufferBytes);
  Request request;  // reused, so its buffers' capacity carries over to the next request
  // Reads what has arrived into `in`: co_await it, then commit() the bytes read.
  auto readMore = [&socket, &in] {
    char* at = in.prepare(kMinReadBytes);
    return socket.async_read_some(net::buffer(at, in.writable()), kAwait);
  };
  bool first_request = true;
  for (;;) {
    // A new connection gets the short header timeout (slow clients); an idle keep-alive one waits
    // longer for its next request, and then has the header timeout to finish it.
    deadline.expiresAfter(first_request ? env.limits.header_timeout : env.limits.idle_timeout);
    if (env.sessions.draining) break;
    self->idle = in.size() == 0;
    request.body.clear();
    http1::ParseResult head;
    bool client_left = false;
    for (;;) {
      head = http1::parseRequestHead(in.data(), env.limits.max_header_bytes, request.head);
      if (head.state != http1::ParseResult::Incomplete) break;
      auto [ec, n] = co_await readMore();
      in.commit(n);
      if (ec) {
        client_left = true;  // or sent nothing, or not a whole head, in time: nothing to answer
        break;
      }
      if (self->idle && !first_request) deadline.expiresAfter(env.limits.header_timeout);
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
    if (head.state == http1::ParseResult::TooLarge) {
      refusal = openai::ApiError{431,
                                 "invalid_request_error",
                                 "request headers are too large",
                                 {},
                                 "request_header_fields_too_large"};
    } else if (head.state == http1::ParseResult::Invalid) {
      refusal = openai::invalidRequest("malformed HTTP request: " + head.error);
    } else {
      in.consume(head.consumed);
      record.bytes_in = head.consumed;
      record.method = std::string(request.head.method());
      record.target = std::string(request.head.target());
      record.request_id = makeRequestId(request.head.get("x-request-id"));
      std::string framing_error;
      framing = http1::requestFraming(request.head, framing_error);
      if (!framing) {
        refusal = openai::invalidRequest("malformed HTTP request: " + framing_error);
      } else if (framing->mode == http1::Framing::Length &&
                 framing->length > env.limits.max_body_bytes) {
        refusal = too_large();  // a declared Content-Length over the limit is refused up front
      }
    }

    if (!refusal) {
      // The body usually came with the head: what is buffered is decoded without another
      // asynchronous step, and only what is still missing is read.
      http1::BodyDecoder decoder(*framing);
      if (framing->mode == http1::Framing::Length) {
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
          if (request.body.size() > env.limits.max_body_bytes) {
            refusal = too_large();
            break;
          }
          if (step.done) break;
        }
        if (expects_continue) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          deadline.expiresAfter(env.limits.body_timeout);
          co_await net::async_write(socket, net::buffer(kContinue), kAwait);
          expects_continue = false;
        }
        deadline.expiresAfter(env.limits.body_timeout);
        auto [ec, n] = co_await readMore();
        in.commit(n);
        if (ec == net::error::operation_aborted && deadline.expired()) {
          refusal = openai::ApiError{
              408, "invalid_request_error", "request body was not received in time", {}, "timeout"};
          break;
        }
        if (ec) {
          client_left = true;  // mid-body: there is no one to answer
          break;
        }
      }
      if (client_left) break;
    }

    if (refusal) {
      // The stream may be mid-message, so the connection cannot be reused.
      if (record.request_id.empty()) record.request_id = makeRequestId({});
      ResponseWriter writer(socket, deadline, record, false, env.limits.body_timeout);
      co_await writer.send(rejection(*refusal));
      finishRecord(record);
      if (env.observer) env.observer(record);
      break;
    }

    bool reusable = false;
    deadline.clear();  // the handler may wait on a backend for as long as that takes
    {
      ResponseWriter writer(socket, deadline, record, request.head.keepAlive(),
                            env.limits.idle_timeout);
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
    }
    finishRecord(record);
    if (env.observer) env.observer(record);
    if (!reusable || env.sessions.draining) break;
    first_request = false;
  }
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

Task<> acceptLoop(Acceptor& acceptor, const SessionEnv& env) {
  auto executor = co_await net::this_coro::executor;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kAwait);
    if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors or memory: back off instead of spinning on the error.
      Timer pause(executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(kAwait);
      continue;
    }
    env.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.non_blocking(true, ignored);  // for writeNow()
    net::co_spawn(executor, runSession(std::move(socket), env), net::detached);
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
      .append("x-request-id: ")
      .append(record_.request_id)
      .append("\r\n");
  if (!keep_alive_) head.append("Connection: close\r\n");
  head.append(framing).append("\r\n\r\n");
  return head;
}

bool ResponseWriter::write(std::string_view head, std::string_view body) {
  pending_ = writeNow(socket_, head, body);
  record_.bytes_out += pending_.written;
  if (!pending_.done()) return false;
  finish(pending_.ec);
  return true;
}

Task<bool> ResponseWriter::writeRest() {
  deadline_.expiresAfter(write_timeout_);
  auto [ec, bytes] = co_await net::async_write(socket_, pending_.rest, kAwait);
  deadline_.clear();
  record_.bytes_out += bytes;
  co_return finish(ec);
}

bool ResponseWriter::finish(error_code ec) {
  if (ec) {
    client_gone_ = true;
    if (record_.error.empty()) {
      record_.error = deadline_.expired() ? "client did not read the response in time"
                                          : "client write failed: " + ec.message();
    }
  }
  return !ec;
}

Task<bool> ResponseWriter::send(Response response) {
  if (client_gone_ || responded_) co_return false;
  char framing[40] = "Content-Length: ";
  constexpr std::size_t kPrefix = std::char_traits<char>::length("Content-Length: ");
  char* end = std::to_chars(framing + kPrefix, framing + sizeof(framing), response.body.size()).ptr;
  std::string head = headFor(response, std::string_view(framing, end - framing));
  if (write(head, response.body)) co_return !client_gone_;
  co_return co_await writeRest();
}

Task<bool> ResponseWriter::beginStream(Response head) {
  if (client_gone_ || responded_) co_return false;
  streaming_ = true;
  std::string serialized = headFor(head, "Transfer-Encoding: chunked");
  if (write(serialized, {})) co_return !client_gone_;
  co_return co_await writeRest();
}

Task<bool> ResponseWriter::writeChunk(std::string_view data) {
  if (client_gone_ || !streaming_ || ended_) co_return false;
  if (data.empty()) co_return true;
  char size_line[24];
  int length = std::snprintf(size_line, sizeof(size_line), "%zx\r\n", data.size());
  std::string framed;
  framed.reserve(data.size() + 2);
  framed.append(data).append("\r\n");
  if (write(std::string_view(size_line, length), framed)) co_return !client_gone_;
  co_return co_await writeRest();
}

Task<bool> ResponseWriter::endStream() {
  if (client_gone_ || !streaming_ || ended_) co_return false;
  ended_ = true;
  if (write("0\r\n\r\n", {})) co_return !client_gone_;
  co_return co_await writeRest();
}

void ResponseWriter::watchForDisconnect(std::function<void()> on_gone) {
  stopWatching();
  auto active = std::make_shared<bool>(true);
  watch_active_ = active;
  // Waiting for readability consumes nothing, so a pipelined next request stays in the socket.
  struct Watch {
    std::shared_ptr<bool> active;
    ResponseWriter* writer;
    std::function<void()> on_gone;
    void operator()(error_code ec) {
      if (!*active) return;  // the handler has returned; the writer may be gone
      auto& socket = writer->socket_;
      if (!ec) {
        char probe;
        ssize_t n = ::recv(socket.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0) return;  // the client sent more (pipelining): it is still there
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          socket.async_wait(tcp::socket::wait_read, std::move(*this));
          return;
        }
      }
      *active = false;
      writer->client_gone_ = true;
      if (writer->record_.error.empty()) writer->record_.error = "client disconnected";
      on_gone();
    }
  };
  socket_.async_wait(tcp::socket::wait_read, Watch{active, this, std::move(on_gone)});
}

void ResponseWriter::stopWatching() {
  if (!watch_active_) return;
  if (*watch_active_) {
    *watch_active_ = false;
    error_code ignored;
    socket_.cancel(ignored);
  }
  watch_active_.reset();
}

void ResponseWriter::abort() {
  stopWatching();
  aborted_ = true;
  client_gone_ = true;
  error_code ignored;
  socket_.set_option(net::socket_base::linger(true, 0), ignored);
  socket_.close(ignored);
}

// ---- HttpServer ----

struct HttpServer::Worker {
  Worker(net::io_context& context, const ServerLimits& limits, const Handler& handler,
         const ExchangeObserver& observer, std::atomic<std::uint64_t>& connections_accepted)
      : acceptor(context.get_executor()),
        env{limits, handler, observer, connections_accepted, sessions} {}
  Acceptor acceptor;
  LiveSessions sessions;
  SessionEnv env;
  std::thread thread;
};

HttpServer::HttpServer(const std::string& host, std::uint16_t port, unsigned threads,
                       ServerLimits limits, Handler handler, ExchangeObserver observer)
    : limits_(limits), handler_(std::move(handler)), observer_(std::move(observer)) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  net::io_context resolver_context;
  tcp::resolver resolver(resolver_context);
  tcp::endpoint endpoint = *resolver
                                .resolve(host, std::to_string(port),
                                         tcp::resolver::passive | tcp::resolver::numeric_service)
                                .begin();
  using ReusePort = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  for (unsigned i = 0; i < threads; ++i) {
    // Sockets and timers are only ever used by the thread that runs their context, so the
    // reactor's per-descriptor locking can go; the scheduler keeps its own, since the resolver's
    // thread posts completions into it.
    contexts_.push_back(std::make_unique<net::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
    auto worker = std::make_unique<Worker>(*contexts_.back(), limits_, handler_, observer_,
                                           connections_accepted_);
    auto& acceptor = worker->acceptor;
    acceptor.open(endpoint.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.set_option(ReusePort(true));
    acceptor.bind(endpoint);
    acceptor.listen(net::socket_base::max_listen_connections);
    if (i == 0) {
      port_ = acceptor.local_endpoint().port();
      endpoint.port(port_);  // with port 0, every worker must share the port the first one got
    }
    workers_.push_back(std::move(worker));
  }
}

HttpServer::~HttpServer() {
  stop();
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

void HttpServer::run() {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    net::co_spawn(contexts_[i]->get_executor(), acceptLoop(workers_[i]->acceptor, workers_[i]->env),
                  net::detached);
  }
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    workers_[i]->thread = std::thread([context = contexts_[i].get()] { context->run(); });
  }
  contexts_[0]->run();
  for (std::size_t i = 1; i < workers_.size(); ++i) workers_[i]->thread.join();
}

namespace {

// Stops accepting, closes idle connections, lets requests in flight finish (streams included)
// until `timeout`, then stops the worker's context.
Task<> drain(Acceptor& acceptor, LiveSessions& sessions, net::io_context& context,
             std::chrono::milliseconds timeout) {
  sessions.draining = true;
  error_code ignored;
  acceptor.close(ignored);
  for (auto& session : sessions.live) {
    if (session.idle) session.socket->cancel(ignored);
  }
  auto until = std::chrono::steady_clock::now() + timeout;
  Timer pause(co_await net::this_coro::executor);
  while (!sessions.live.empty() && std::chrono::steady_clock::now() < until) {
    pause.expires_after(std::chrono::milliseconds(20));
    co_await pause.async_wait(kAwait);
  }
  context.stop();
}

}  // namespace

void HttpServer::stop(std::chrono::milliseconds drain_timeout) {
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    if (drain_timeout.count() <= 0) {
      contexts_[i]->stop();
      continue;
    }
    net::co_spawn(contexts_[i]->get_executor(),
                  drain(workers_[i]->acceptor, workers_[i]->sessions, *contexts_[i], drain_timeout),
                  net::detached);
  }
}

}  // namespace costgate::server
