#include "costgate/upstream/upstream_client.h"

#include "costgate/server/deadline.h"
#include "costgate/server/write_now.h"

#include <sys/socket.h>

#include <array>
#include <cctype>
#include <charconv>
#include <stdexcept>
#include <variant>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "costgate/http1/body.h"
#include "costgate/http1/head.h"
#include "costgate/http1/input_buffer.h"

namespace costgate::upstream {

namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;
using server::Deadline;
using server::Executor;
using server::kAwait;
using server::Socket;
using server::Task;
constexpr std::size_t kMaxResponseHeaderBytes = 64 * 1024;
// A read is never offered less room than this.
constexpr std::size_t kMinReadBytes = 4 * 1024;

using PlainStream = Socket;
using TlsStream = ssl::stream<Socket>;

// ---- Backend ----

namespace {

std::string hostHeader(const config::BackendConfig& config) {
  bool default_port = (config.scheme == "https" && config.port == 443) ||
                      (config.scheme == "http" && config.port == 80);
  std::string host =
      config.host.find(':') != std::string::npos ? "[" + config.host + "]" : config.host;
  return default_port ? host : host + ":" + std::to_string(config.port);
}

}  // namespace

Backend::Backend(config::BackendConfig config) : config_(std::move(config)) {
  fixed_headers_ =
      "Host: " + hostHeader(config_) + "\r\nUser-Agent: costgate/" COSTGATE_VERSION "\r\n";
  if (!config_.api_key.empty()) {
    fixed_headers_ += "Authorization: Bearer " + config_.api_key + "\r\n";
  }
  if (config_.scheme != "https") return;
  tls_context_ = std::make_unique<ssl::context>(ssl::context::tls_client);
  tls_context_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                            ssl::context::no_tlsv1_1);
  if (!config_.verify_tls) {
    tls_context_->set_verify_mode(ssl::verify_none);
    return;
  }
  tls_context_->set_verify_mode(ssl::verify_peer);
  error_code ec;
  if (config_.ca_file.empty()) {
    tls_context_->set_default_verify_paths(ec);
  } else {
    tls_context_->load_verify_file(config_.ca_file, ec);
  }
  if (ec) {
    throw std::runtime_error("backend '" + config_.name +
                             "': cannot load CA certificates: " + ec.message());
  }
}

// ---- connections and their pool ----

namespace {

Failure failureFrom(error_code ec, std::string_view during) {
  FailureKind kind =
      ec == net::error::operation_aborted ? FailureKind::Cancelled : FailureKind::Reset;
  return Failure{kind, std::string(during) + ": " + ec.message()};
}

bool closedByPeer(error_code ec) {
  return ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == ssl::error::stream_truncated;
}

struct Connection {
  Connection(const Executor& executor, const Backend& backend)
      : stream(backend.tls()
                   ? Stream(std::in_place_type<TlsStream>, executor, *backend.tlsContext())
                   : Stream(std::in_place_type<PlainStream>, executor)),
        deadline(lowest()),
        buffer(16 * 1024) {}

  Socket& lowest() {
    if (auto* tls = std::get_if<TlsStream>(&stream)) return tls->next_layer();
    return std::get<PlainStream>(stream);
  }
  // Runs `operation(stream)` on whichever stream type this connection has.
  template <class Operation>
  auto on(Operation&& operation) {
    return std::visit(std::forward<Operation>(operation), stream);
  }
  // An idle pooled connection is dead if the peer closed it or sent anything unasked.
  bool stillOpen() {
    auto& socket = lowest();
    if (!socket.is_open()) return false;
    char probe;
    ssize_t n = ::recv(socket.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  void close() {
    error_code ignored;
    lowest().close(ignored);
  }
  // Reads what has arrived into `buffer`: co_await it, then commit() the bytes read. Not a
  // coroutine itself, so a read costs no frame of its own.
  auto readSome() {
    char* at = buffer.prepare(kMinReadBytes);
    return on([&](auto& stream) {
      return stream.async_read_some(net::buffer(at, buffer.writable()), kAwait);
    });
  }
  // The failure for an operation that ended with `ec`.
  Failure failure(error_code ec, std::string_view during) const {
    if (ec == net::error::operation_aborted && deadline.expired()) {
      return Failure{FailureKind::Timeout, std::string(during) + ": timed out"};
    }
    return failureFrom(ec, during);
  }

  using Stream = std::variant<PlainStream, TlsStream>;
  Stream stream;
  Deadline deadline;
  http1::InputBuffer buffer;
  std::chrono::steady_clock::time_point idle_since;
};

bool isIpLiteral(const std::string& host) {
  error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

class ConnectionPool {
  static constexpr std::chrono::milliseconds kTrustedIdle{1000};

 public:
  explicit ConnectionPool(std::size_t max_idle) : max_idle_(max_idle) {}

  std::unique_ptr<Connection> takeIdle() {
    auto now = Deadline::coarseNow();
    while (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      // Backends close idle connections after seconds, not milliseconds; a recently used one is
      // taken without the probe's syscall, and the retry in start() covers the rare miss.
      if (now - connection->idle_since < kTrustedIdle || connection->stillOpen()) {
        return connection;
      }
    }
    return nullptr;
  }
  void giveBack(std::unique_ptr<Connection> connection) {
    if (idle_.size() < max_idle_ && connection->buffer.size() == 0) {
      connection->idle_since = Deadline::coarseNow();
      idle_.push_back(std::move(connection));
    }
  }
  std::size_t idle() const { return idle_.size(); }

 private:
  std::size_t max_idle_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

// ---- Exchange ----

struct Exchange::State {
  ConnectionPool* pool = nullptr;
  std::unique_ptr<Connection> connection;
  http1::Head head;
  http1::Framing framing;
  http1::BodyDecoder decoder;
  bool keep_alive = false;
  std::chrono::milliseconds read_timeout{0};
  std::unique_ptr<char[]> stream_buffer;  // readSome's pieces; allocated on first use
  bool ended = false;
  bool cancelled = false;
  bool failed = false;

  // The body has ended: the connection can serve another call if the backend allows it.
  void finish() {
    ended = true;
    if (!connection) return;
    if (keep_alive && !cancelled && !failed) pool->giveBack(std::move(connection));
    connection.reset();
  }
  BodyPiece fail(Failure failure) {
    failed = true;
    connection.reset();
    return BodyPiece{{}, false, std::move(failure)};
  }
  // The next piece if it needs no read: the end, a failure, or body bytes already buffered (most
  // bodies arrive with their head). nullopt when a read is needed.
  std::optional<BodyPiece> readyPiece(char* data, std::size_t size) {
    if (ended || decoder.done()) {
      finish();
      return BodyPiece{{}, true, std::nullopt};
    }
    if (!connection || cancelled) {
      return BodyPiece{{}, false, Failure{FailureKind::Cancelled, "the call was cancelled"}};
    }
    auto& buffered = connection->buffer;
    if (buffered.size() == 0) return std::nullopt;
    auto step = decoder.decode(buffered.data(), data, size);
    buffered.consume(step.consumed);
    if (step.invalid) {
      return fail(
          Failure{FailureKind::Protocol, "parsing the backend's response: bad chunked encoding"});
    }
    if (step.produced == 0 && !step.done) return std::nullopt;
    if (step.done) finish();
    return BodyPiece{std::string_view(data, step.produced), step.done, std::nullopt};
  }
};

Exchange::Exchange(std::unique_ptr<State> state) : state_(std::move(state)) {}
Exchange::~Exchange() = default;

int Exchange::status() const { return state_->head.status(); }

std::string_view Exchange::header(std::string_view name) const { return state_->head.get(name); }

void Exchange::forEachHeader(
    const std::function<void(std::string_view, std::string_view)>& visit) const {
  for (std::size_t i = 0; i < state_->head.fieldCount(); ++i) {
    auto field = state_->head.field(i);
    visit(field.name, field.value);
  }
}

bool Exchange::isEventStream() const {
  std::string_view type = header("content-type");
  return type.substr(0, 17) == "text/event-stream";
}

Task<BodyPiece> Exchange::readMoreInto(char* data, std::size_t size) {
  State& s = *state_;
  for (;;) {
    s.connection->deadline.expiresAfter(s.read_timeout);
    auto [ec, n] = co_await s.connection->readSome();
    s.connection->buffer.commit(n);
    s.connection->deadline.clear();
    if (!ec) {
      if (auto piece = s.readyPiece(data, size)) co_return std::move(*piece);
      continue;  // only framing arrived so far
    }
    if (s.cancelled) {
      co_return s.fail(Failure{FailureKind::Cancelled, "the call was cancelled"});
    }
    if (closedByPeer(ec) && s.decoder.endsAtClose()) {
      s.keep_alive = false;
      s.finish();
      co_return BodyPiece{{}, true, std::nullopt};
    }
    co_return s.fail(s.connection->failure(ec, "reading the backend's response"));
  }
}

Task<BodyPiece> Exchange::readSome() {
  constexpr std::size_t kPieceBytes = 16 * 1024;
  // Not zeroed, and only for streamed bodies: whole bodies are read straight into their string.
  if (!state_->stream_buffer) state_->stream_buffer.reset(new char[kPieceBytes]);
  if (auto piece = state_->readyPiece(state_->stream_buffer.get(), kPieceBytes)) {
    co_return std::move(*piece);
  }
  co_return co_await readMoreInto(state_->stream_buffer.get(), kPieceBytes);
}

Task<std::optional<Failure>> Exchange::readAll(std::string& out, std::size_t limit) {
  State& s = *state_;
  for (;;) {
    // Room for what the next step can produce, no more: growing the string zero-fills it.
    std::size_t room = 16 * 1024;
    if (s.framing.mode == http1::Framing::Length) {
      room = static_cast<std::size_t>(std::min<std::uint64_t>(s.decoder.remaining(), room));
    } else if (s.connection && s.connection->buffer.size() > 0) {
      room = s.connection->buffer.size();  // decoding never makes the bytes more
    }
    std::size_t used = out.size();
    room = std::min(room, limit + 1 - used);
    out.resize(used + room);
    BodyPiece piece;
    if (auto ready = s.readyPiece(out.data() + used, room)) {
      piece = std::move(*ready);
    } else {
      piece = co_await readMoreInto(out.data() + used, room);
    }
    out.resize(used + piece.data.size());
    if (piece.failure) co_return piece.failure;
    if (out.size() > limit) {
      cancel();
      co_return Failure{FailureKind::TooLarge,
                        "the backend's response exceeds " + std::to_string(limit) + " bytes"};
    }
    if (piece.done) co_return std::nullopt;
  }
}

void Exchange::cancel() {
  State& s = *state_;
  s.cancelled = true;
  if (s.connection) s.connection->close();
}

// ---- UpstreamClient ----

UpstreamClient::UpstreamClient() = default;
UpstreamClient::~UpstreamClient() = default;

namespace {

class UpstreamClientService : public net::execution_context::service {
 public:
  using key_type = UpstreamClientService;
  static inline net::execution_context::id id;
  explicit UpstreamClientService(net::execution_context& context) : service(context) {}
  void shutdown() override { client.reset(); }
  std::unique_ptr<UpstreamClient> client = std::make_unique<UpstreamClient>();
};

}  // namespace

UpstreamClient& UpstreamClient::of(net::execution_context& context) {
  // use_service locks a registry; remember the answer for this thread's context.
  thread_local net::execution_context* cached_context = nullptr;
  thread_local UpstreamClient* cached_client = nullptr;
  if (cached_context != &context) {
    cached_client = net::use_service<UpstreamClientService>(context).client.get();
    cached_context = &context;
  }
  return *cached_client;
}

ConnectionPool& UpstreamClient::poolFor(const Backend& backend) {
  for (auto& [key, pool] : pools_) {
    if (key == &backend) return *pool;
  }
  pools_.emplace_back(&backend,
                      std::make_unique<ConnectionPool>(backend.config().max_idle_connections));
  return *pools_.back().second;
}

std::size_t UpstreamClient::idleConnections(const Backend& backend) const {
  for (const auto& [key, pool] : pools_) {
    if (key == &backend) return pool->idle();
  }
  return 0;
}

namespace {

Task<std::optional<Failure>> connect(Connection& connection, const Backend& backend) {
  const auto& config = backend.config();
  auto executor = co_await net::this_coro::executor;
  net::ip::basic_resolver<tcp, Executor> resolver(executor);
  auto [resolve_ec, endpoints] =
      co_await resolver.async_resolve(config.host, std::to_string(config.port), kAwait);
  if (resolve_ec) {
    co_return Failure{FailureKind::Connect,
                      "cannot resolve backend host '" + config.host + "': " + resolve_ec.message()};
  }
  auto& lowest = connection.lowest();
  connection.deadline.expiresAfter(config.connect_timeout);
  auto [connect_ec, endpoint] = co_await net::async_connect(lowest, endpoints, kAwait);
  (void)endpoint;
  if (connect_ec) {
    bool timed_out = connection.deadline.expired();
    connection.deadline.clear();
    auto kind = timed_out ? FailureKind::Timeout : FailureKind::Connect;
    co_return Failure{kind, "cannot connect to backend '" + config.name + "' at " + config.host +
                                ":" + std::to_string(config.port) + ": " + connect_ec.message()};
  }
  error_code ignored;
  lowest.set_option(tcp::no_delay(true), ignored);
  lowest.non_blocking(true, ignored);  // for server::writeNow()
  if (!backend.tls()) {
    connection.deadline.clear();
    co_return std::nullopt;
  }

  auto& tls = std::get<TlsStream>(connection.stream);
  if (!isIpLiteral(config.host)) {
    // SNI: without it, virtual-hosted TLS backends present the wrong certificate.
    SSL_set_tlsext_host_name(tls.native_handle(), config.host.c_str());
  }
  if (config.verify_tls) tls.set_verify_callback(ssl::host_name_verification(config.host));
  connection.deadline.expiresAfter(config.connect_timeout);
  auto [handshake_ec] = co_await tls.async_handshake(ssl::stream_base::client, kAwait);
  bool timed_out = connection.deadline.expired();
  connection.deadline.clear();
  if (handshake_ec) {
    auto kind = timed_out ? FailureKind::Timeout : FailureKind::Tls;
    co_return Failure{
        kind, "TLS handshake with backend '" + config.name + "' failed: " + handshake_ec.message()};
  }
  co_return std::nullopt;
}

}  // namespace

Task<std::optional<Failure>> UpstreamClient::start(const Backend& backend, const Call& call,
                                                   std::unique_ptr<Exchange>& out) {
  const auto& config = backend.config();
  ConnectionPool& pool = poolFor(backend);
  auto executor = co_await net::this_coro::executor;

  // The request is serialized by hand into one buffer: Beast's generic serializer costs more
  // than the whole rest of a proxied call.
  std::string head;
  head.reserve(256 + backend.fixedHeaders().size() + 64 * call.headers.size());
  head.append(call.method).append(" ").append(config.base_path).append(call.path);
  head.append(" HTTP/1.1\r\n").append(backend.fixedHeaders());
  bool has_content_type = false;
  for (const auto& header : call.headers) {
    has_content_type = has_content_type || header.name == "content-type";
    head.append(header.name).append(": ").append(header.value).append("\r\n");
  }
  if (!call.body.empty() && !has_content_type) head.append("Content-Type: application/json\r\n");
  char length[24];
  head.append("Content-Length: ")
      .append(length, std::to_chars(length, length + sizeof(length), call.body.size()).ptr)
      .append("\r\n\r\n");

  // A pooled connection may have been closed by the backend just as we reused it; then the call
  // is retried once on a new connection, since the backend cannot have answered it.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> connection = attempt == 0 ? pool.takeIdle() : nullptr;
    bool reused = connection != nullptr;
    if (!connection) {
      connection = std::make_unique<Connection>(executor, backend);
      if (auto failure = co_await connect(*connection, backend)) co_return failure;
    }

    connection->deadline.expiresAfter(config.read_timeout);
    // A plain socket takes the request at once; TLS, or a remainder, goes the asynchronous way.
    server::PendingWrite write{{net::buffer(head), net::buffer(call.body)}, 0, {}};
    if (auto* plain = std::get_if<PlainStream>(&connection->stream)) {
      write = server::writeNow(*plain, head, call.body);
    }
    error_code write_ec = write.ec;
    if (!write.done()) {
      auto [ec, written] = co_await connection->on(
          [&](auto& stream) { return net::async_write(stream, write.rest, kAwait); });
      (void)written;
      write_ec = ec;
    }
    if (write_ec) {
      connection->deadline.clear();
      if (reused && !connection->deadline.expired()) continue;
      co_return connection->failure(write_ec,
                                    "sending the request to backend '" + config.name + "'");
    }

    auto state = std::make_unique<Exchange::State>();
    state->pool = &pool;
    state->read_timeout = config.read_timeout;
    std::optional<Failure> failure;
    bool retry = false;
    auto during = [&] { return "reading the response head from backend '" + config.name + "'"; };
    for (bool received = false;;) {
      auto& buffered = connection->buffer;
      auto parsed = http1::parseResponseHead(buffered.data(), kMaxResponseHeaderBytes, state->head);
      if (parsed.state == http1::ParseResult::Complete) {
        buffered.consume(parsed.consumed);
        if (state->head.status() < 200) continue;  // 100 Continue, 103 Early Hints: not the answer
        break;
      }
      if (parsed.state != http1::ParseResult::Incomplete) {
        failure = Failure{
            FailureKind::Protocol,
            during() + ": " +
                (parsed.state == http1::ParseResult::TooLarge
                     ? "the head exceeds " + std::to_string(kMaxResponseHeaderBytes) + " bytes"
                     : parsed.error)};
        break;
      }
      auto [read_ec, n] = co_await connection->readSome();
      buffered.commit(n);
      if (read_ec) {
        // A reused connection the backend closed before answering: it never saw the call.
        retry = reused && !received && buffered.size() == 0 && closedByPeer(read_ec);
        failure = connection->failure(read_ec, during());
        break;
      }
      received = true;
    }
    connection->deadline.clear();
    if (retry) continue;
    if (failure) co_return failure;
    std::string framing_error;
    auto framing = http1::responseFraming(state->head, framing_error);
    if (!framing) co_return Failure{FailureKind::Protocol, during() + ": " + framing_error};
    state->framing = *framing;
    state->decoder = http1::BodyDecoder(*framing);
    state->keep_alive = state->head.keepAlive() && framing->mode != http1::Framing::UntilClose;
    state->connection = std::move(connection);
    out = std::make_unique<Exchange>(std::move(state));
    co_return std::nullopt;
  }
  co_return Failure{FailureKind::Reset, "backend '" + config.name + "' closed the connection"};
}

}  // namespace costgate::upstream
