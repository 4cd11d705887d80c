#include "costgate/server/http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <list>
#include <random>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "costgate/openai/error.h"

namespace costgate::server {

namespace beast = boost::beast;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Acceptor = net::basic_socket_acceptor<tcp, Executor>;
constexpr std::size_t kReadBufferBytes = 8 * 1024;

namespace {

bool isSafeIdChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == ':';
}

// Answers for requests the server rejects before any handler sees them.
Response rejection(const openai::ApiError& error) {
  Response response{static_cast<http::status>(error.status), 11};
  response.set(http::field::content_type, "application/json");
  response.body() = error.body();
  return response;
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
  beast::flat_buffer buffer;
  // Beast sizes each read by the buffer's free capacity, starting at 512 bytes: a typical
  // request would then take two reads.
  buffer.reserve(kReadBufferBytes);
  bool first_request = true;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(env.limits.max_header_bytes));
    parser.body_limit(env.limits.max_body_bytes);

    // A new connection gets the short header timeout (slow clients); an idle keep-alive one waits
    // longer for its next request.
    deadline.expiresAfter(first_request ? env.limits.header_timeout : env.limits.idle_timeout);
    if (env.sessions.draining) break;
    self->idle = true;
    auto [head_ec, head_bytes] = co_await http::async_read_header(socket, buffer, parser, kAwait);
    self->idle = false;

    ExchangeRecord record;
    record.started = std::chrono::steady_clock::now();
    record.bytes_in = head_bytes;
    std::optional<openai::ApiError> refusal;
    auto too_large = [&] {
      return openai::ApiError{413,
                              "invalid_request_error",
                              "request body exceeds the limit of " +
                                  std::to_string(env.limits.max_body_bytes) + " bytes",
                              {},
                              "request_too_large"};
    };
    if (head_ec == http::error::body_limit) {
      refusal = too_large();  // a declared Content-Length over the limit is refused up front
    } else if (head_ec == http::error::header_limit) {
      refusal = openai::ApiError{431,
                                 "invalid_request_error",
                                 "request headers are too large",
                                 {},
                                 "request_header_fields_too_large"};
    } else if (head_ec && head_ec != http::error::end_of_stream && head_ec != net::error::eof &&
               head_ec != net::error::connection_reset &&
               head_ec != net::error::operation_aborted && head_bytes > 0) {
      refusal = openai::invalidRequest("malformed HTTP request: " + head_ec.message());
    } else if (head_ec) {
      break;  // the client left, or sent nothing in time: nothing to answer
    }

    if (!refusal) {
      auto& head = parser.get();
      record.method = std::string(head.method_string());
      record.target = std::string(head.target());
      record.request_id = makeRequestId(head["x-request-id"]);
      // The body usually came with the head: parse what is buffered now, without another
      // asynchronous step, and read only what is still missing.
      if (!parser.is_done() && buffer.size() > 0) {
        parser.eager(true);
        error_code put_ec;
        std::size_t used = parser.put(buffer.data(), put_ec);
        buffer.consume(used);
        record.bytes_in += used;
        if (put_ec == http::error::body_limit) {
          refusal = too_large();
        } else if (put_ec && put_ec != http::error::need_more) {
          refusal = openai::invalidRequest("malformed HTTP request body: " + put_ec.message());
        }
      }
      if (!refusal && !parser.is_done()) {
        if (beast::iequals(head[http::field::expect], "100-continue")) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          deadline.expiresAfter(env.limits.body_timeout);
          co_await net::async_write(socket, net::buffer(kContinue), kAwait);
        }
        deadline.expiresAfter(env.limits.body_timeout);
        auto [body_ec, body_bytes] = co_await http::async_read(socket, buffer, parser, kAwait);
        record.bytes_in += body_bytes;
        if (body_ec == http::error::body_limit) {
          refusal = too_large();
        } else if (body_ec == net::error::operation_aborted && deadline.expired()) {
          refusal = openai::ApiError{
              408, "invalid_request_error", "request body was not received in time", {}, "timeout"};
        } else if (body_ec) {
          if (body_ec == http::error::end_of_stream || body_ec == net::error::eof ||
              body_ec == net::error::connection_reset || body_ec == http::error::partial_message) {
            break;
          }
          refusal = openai::invalidRequest("malformed HTTP request body: " + body_ec.message());
        }
      }
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

    Request& request = parser.get();
    bool reusable = false;
    deadline.clear();  // the handler may wait on a backend for as long as that takes
    {
      ResponseWriter writer(socket, deadline, record, request.keep_alive(),
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
  record_.status = response.result_int();
  // The status line and fields, serialized by hand, and the fields every response gets appended
  // as text rather than inserted into Beast's field list: both cost more than the rest of a small
  // proxied response.
  std::string head;
  head.reserve(256);
  head.append("HTTP/1.1 ").append(std::to_string(response.result_int())).append(" ");
  std::string_view reason = response.reason();
  if (reason.empty()) reason = http::obsolete_reason(response.result());
  head.append(reason).append("\r\n");
  for (const auto& field : response) {
    head.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
  }
  head.append("x-request-id: ").append(record_.request_id).append("\r\n");
  if (!keep_alive_) head.append("Connection: close\r\n");
  head.append(framing).append("\r\n\r\n");
  return head;
}

Task<bool> ResponseWriter::write(std::string_view head, std::string_view body) {
  const std::array<net::const_buffer, 2> message = {net::buffer(head), net::buffer(body)};
  deadline_.expiresAfter(write_timeout_);
  auto [ec, bytes] = co_await net::async_write(socket_, message, kAwait);
  deadline_.clear();
  record_.bytes_out += bytes;
  if (ec) {
    client_gone_ = true;
    if (record_.error.empty()) {
      record_.error = deadline_.expired() ? "client did not read the response in time"
                                          : "client write failed: " + ec.message();
    }
  }
  co_return !ec;
}

Task<bool> ResponseWriter::send(Response response) {
  if (client_gone_ || responded_) co_return false;
  std::string head = headFor(response, "Content-Length: " + std::to_string(response.body().size()));
  co_return co_await write(head, response.body());
}

Task<bool> ResponseWriter::beginStream(Response head) {
  if (client_gone_ || responded_) co_return false;
  streaming_ = true;
  co_return co_await write(headFor(head, "Transfer-Encoding: chunked"), {});
}

Task<bool> ResponseWriter::writeChunk(std::string_view data) {
  if (client_gone_ || !streaming_ || ended_) co_return false;
  if (data.empty()) co_return true;
  char size_line[24];
  int length = std::snprintf(size_line, sizeof(size_line), "%zx\r\n", data.size());
  std::string framed;
  framed.reserve(data.size() + 2);
  framed.append(data).append("\r\n");
  co_return co_await write(std::string_view(size_line, length), framed);
}

Task<bool> ResponseWriter::endStream() {
  if (client_gone_ || !streaming_ || ended_) co_return false;
  ended_ = true;
  co_return co_await write("0\r\n\r\n", {});
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
