#include "costgate/upstream/upstream_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "costgate/http1/body.h"
#include "costgate/http1/head.h"
#include "costgate/http1/input_buffer.h"
#include "costgate/server/socket.h"

namespace costgate::upstream {

using server::EventLoop;
using server::IoResult;
using server::Socket;
using server::Task;
constexpr std::size_t kMaxResponseHeaderBytes = 64 * 1024;
// A read is never offered less room than this.
constexpr std::size_t kMinReadBytes = 4 * 1024;

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

namespace {

// The text of OpenSSL's last error, with the certificate check's verdict when that failed.
std::string tlsErrorText(SSL* tls) {
  char text[256] = "unknown TLS error";
  if (unsigned long code = ERR_get_error()) ERR_error_string_n(code, text, sizeof(text));
  std::string message = text;
  if (tls) {
    long verdict = SSL_get_verify_result(tls);
    if (verdict != X509_V_OK) {
      message += std::string(" (") + X509_verify_cert_error_string(verdict) + ")";
    }
  }
  return message;
}

}  // namespace

Backend::Backend(config::BackendConfig config)
    : config_(std::move(config)), tls_context_(nullptr, &SSL_CTX_free) {
  fixed_headers_ = "Host: " + hostHeader(config_) + "\r\n";
  if (!config_.api_key.empty()) {
    fixed_headers_ += "Authorization: Bearer " + config_.api_key + "\r\n";
  }
  if (config_.scheme != "https") return;
  tls_context_.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* context = tls_context_.get();
  if (!context) throw std::runtime_error("cannot create a TLS context: " + tlsErrorText(nullptr));
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  // Writes are retried with the rest of the same buffer; let OpenSSL take part of one.
  SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!config_.verify_tls) {
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nullptr);
    return;
  }
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  int loaded = config_.ca_file.empty()
                   ? SSL_CTX_set_default_verify_paths(context)
                   : SSL_CTX_load_verify_locations(context, config_.ca_file.c_str(), nullptr);
  if (loaded != 1) {
    throw std::runtime_error("backend '" + config_.name +
                             "': cannot load CA certificates: " + tlsErrorText(nullptr));
  }
}

// ---- connections and their pool ----

namespace {

// The backend closed the connection (end of stream, reset, or TLS without close_notify).
bool closedByPeer(const IoResult& result) {
  return (result.error == 0 && result.bytes == 0) || result.error == ECONNRESET ||
         result.error == EPIPE;
}

struct Connection {
  Connection() : buffer(16 * 1024) {}

  // An idle pooled connection is dead if the peer closed it or sent anything unasked.
  bool stillOpen() {
    if (!socket.isOpen()) return false;
    char probe;
    ssize_t n = ::recv(socket.fd(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  void close() {
    tls.reset();
    socket.close();
  }
  // Reads what has arrived into `buffer`: co_await it, then commit() the bytes read.
  Socket::Read readSome() {
    char* at = buffer.prepare(kMinReadBytes);
    return socket.read(at, buffer.writable(), tls.get());
  }
  // The failure for an operation that ended with `result`.
  Failure failure(const IoResult& result, std::string_view during) const {
    if (result.error == ETIMEDOUT) {
      return Failure{FailureKind::kTimeout, std::string(during) + ": timed out"};
    }
    if (result.error == ECANCELED) {
      return Failure{FailureKind::kCancelled, std::string(during) + ": cancelled"};
    }
    if (result.error == 0) {
      return Failure{FailureKind::kReset, std::string(during) + ": the connection was closed"};
    }
    if (result.error == EPROTO && tls) {
      return Failure{FailureKind::kReset, std::string(during) + ": " + tlsErrorText(tls.get())};
    }
    return Failure{FailureKind::kReset,
                   std::string(during) + ": " + server::describeError(result.error)};
  }

  Socket socket;
  std::unique_ptr<SSL, void (*)(SSL*)> tls{nullptr, &SSL_free};  // freed before the socket closes
  http1::InputBuffer buffer;
  std::chrono::steady_clock::time_point idle_since;
};

bool isIpLiteral(const std::string& host) {
  unsigned char address[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), address) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), address) == 1;
}

}  // namespace

class ConnectionPool {
  static constexpr std::chrono::milliseconds kTrustedIdle{1000};

 public:
  explicit ConnectionPool(std::size_t max_idle) : max_idle_(max_idle) {}

  std::unique_ptr<Connection> takeIdle() {
    auto now = EventLoop::coarseNow();
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
      connection->idle_since = EventLoop::coarseNow();
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
      return BodyPiece{{}, false, Failure{FailureKind::kCancelled, "the call was cancelled"}};
    }
    auto& buffered = connection->buffer;
    if (buffered.size() == 0) return std::nullopt;
    auto step = decoder.decode(buffered.data(), data, size);
    buffered.consume(step.consumed);
    if (step.invalid) {
      return fail(
          Failure{FailureKind::kProtocol, "parsing the backend's response: bad chunked encoding"});
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
    s.connection->socket.expiresAfter(s.read_timeout);
    IoResult read = co_await s.connection->readSome();
    s.connection->buffer.commit(read.bytes);
    s.connection->socket.clearDeadline();
    if (s.cancelled) {
      co_return s.fail(Failure{FailureKind::kCancelled, "the call was cancelled"});
    }
    if (read.bytes > 0) {
      if (auto piece = s.readyPiece(data, size)) co_return std::move(*piece);
      continue;  // only framing arrived so far
    }
    // A body delimited by the close ends with it. Over TLS a reset may be that close (many
    // servers skip close_notify); over TCP a reset means the body was cut short.
    const bool closed = s.connection->tls ? closedByPeer(read) : read.error == 0;
    if (closed && s.decoder.endsAtClose()) {
      s.keep_alive = false;
      s.finish();
      co_return BodyPiece{{}, true, std::nullopt};
    }
    co_return s.fail(s.connection->failure(read, "reading the backend's response"));
  }
}

Task<BodyPiece> Exchange::readSome() {
  constexpr std::size_t kPieceBytes = 16 * 1024;
  // Not zeroed, and only for streamed bodies: whole bodies are read straight into their string.
  if (!state_->stream_buffer) state_->stream_buffer.reset(new char[kPieceBytes]);
  if (auto piece = state_->readyPiece(state_->stream_buffer.get(), kPieceBytes)) {
    co_return std::move(*piece);
  }
  // Not `co_return co_await`: GCC 12 may keep that awaiter off the frame (docs/architecture.md).
  BodyPiece piece = co_await readMoreInto(state_->stream_buffer.get(), kPieceBytes);
  co_return piece;
}

Task<std::optional<Failure>> Exchange::readAll(std::string& out, std::size_t limit) {
  State& s = *state_;
  for (;;) {
    // Past the limit, or declared to pass it (a length or chunk size): refused, in the latter
    // case before those bytes are read.
    if (out.size() > limit || s.decoder.remaining() > limit - out.size()) {
      cancel();
      co_return Failure{FailureKind::kTooLarge,
                        "the backend's response exceeds " + std::to_string(limit) + " bytes"};
    }
    // Room for what the next step can produce, no more: growing the string zero-fills it.
    std::size_t room = 16 * 1024;
    if (s.framing.mode == http1::Framing::kLength) {
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
    if (piece.done && out.size() <= limit) co_return std::nullopt;
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

UpstreamClient& UpstreamClient::of(EventLoop& loop) {
  UpstreamClient& client = loop.local<UpstreamClient>();
  if (!client.resolver_) client.resolver_ = std::make_unique<Resolver>(loop);
  return client;
}

ConnectionPool& UpstreamClient::poolFor(const Backend& backend) {
  for (auto& entry : pools_) {
    if (entry.backend == &backend && !entry.lifetime.expired()) return *entry.pool;
  }
  // Pools of backends a reload replaced go now (closing their idle connections).
  std::erase_if(pools_, [](const BackendPool& entry) { return entry.lifetime.expired(); });
  pools_.push_back({&backend, backend.lifetime(),
                    std::make_unique<ConnectionPool>(backend.config().max_idle_connections)});
  return *pools_.back().pool;
}

std::size_t UpstreamClient::idleConnections(const Backend& backend) const {
  for (const auto& entry : pools_) {
    if (entry.backend == &backend && !entry.lifetime.expired()) return entry.pool->idle();
  }
  return 0;
}

namespace {

Task<std::optional<Failure>> connect(Connection& connection, const Backend& backend,
                                     Resolver& resolver) {
  const auto& config = backend.config();
  Resolution resolved = co_await resolver.resolve(config.host, config.port);
  if (resolved.addresses.empty()) {
    co_return Failure{FailureKind::kConnect,
                      "cannot resolve backend host '" + config.host + "': " + resolved.error};
  }
  auto& socket = connection.socket;
  int connect_error = 0;
  bool timed_out = false;
  for (const auto& address : resolved.addresses) {
    socket = Socket::open(EventLoop::current(), address.storage.ss_family, connect_error);
    if (!socket.isOpen()) continue;
    socket.expiresAfter(config.connect_timeout);
    connect_error = co_await socket.connect(address.get(), address.size);
    socket.clearDeadline();
    if (connect_error == 0) break;
    timed_out = connect_error == ETIMEDOUT;
    socket.close();
  }
  if (connect_error != 0) {
    auto kind = timed_out ? FailureKind::kTimeout : FailureKind::kConnect;
    co_return Failure{kind, "cannot connect to backend '" + config.name + "' at " + config.host +
                                ":" + std::to_string(config.port) + ": " +
                                server::describeError(connect_error)};
  }
  int on = 1;
  ::setsockopt(socket.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  if (!backend.tls()) co_return std::nullopt;

  connection.tls.reset(SSL_new(backend.tlsContext()));
  SSL* tls = connection.tls.get();
  auto tls_failure = [&](FailureKind kind, const std::string& why) {
    return Failure{kind, "TLS handshake with backend '" + config.name + "' failed: " + why};
  };
  if (!tls || SSL_set_fd(tls, socket.fd()) != 1) {
    co_return tls_failure(FailureKind::kTls, tlsErrorText(tls));
  }
  if (isIpLiteral(config.host)) {
    if (config.verify_tls) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls), config.host.c_str());
  } else {
    // SNI: without it, virtual-hosted TLS backends present the wrong certificate.
    SSL_set_tlsext_host_name(tls, config.host.c_str());
    if (config.verify_tls) SSL_set1_host(tls, config.host.c_str());
  }
  socket.expiresAfter(config.connect_timeout);
  for (;;) {
    ERR_clear_error();
    int done = SSL_connect(tls);
    if (done == 1) break;
    int code = SSL_get_error(tls, done);
    if (code != SSL_ERROR_WANT_READ && code != SSL_ERROR_WANT_WRITE) {
      std::string why = code == SSL_ERROR_SYSCALL && ERR_peek_error() == 0
                            ? "the backend closed the connection"
                            : tlsErrorText(tls);
      socket.clearDeadline();
      co_return tls_failure(FailureKind::kTls, why);
    }
    // One co_await, in a statement of its own (GCC 12 mishandles awaiters in branches).
    IoResult waited = co_await socket.ready(code == SSL_ERROR_WANT_WRITE);
    if (waited.error) {
      socket.clearDeadline();
      co_return tls_failure(waited.error == ETIMEDOUT ? FailureKind::kTimeout : FailureKind::kTls,
                            server::describeError(waited.error));
    }
  }
  socket.clearDeadline();
  co_return std::nullopt;
}

}  // namespace

Task<std::optional<Failure>> UpstreamClient::start(const Backend& backend, const Call& call,
                                                   std::unique_ptr<Exchange>& out) {
  const auto& config = backend.config();
  ConnectionPool& pool = poolFor(backend);

  // The request is serialized by hand into one buffer: Beast's generic serializer costs more
  // than the whole rest of a proxied call.
  std::string head;
  head.reserve(256 + backend.fixedHeaders().size() + 64 * call.headers.size());
  head.append(call.method).append(" ").append(config.base_path).append(call.path);
  head.append(" HTTP/1.1\r\n").append(backend.fixedHeaders());
  // One User-Agent: ours, followed by the client's product list when one was forwarded.
  head.append("User-Agent: costgate/" COSTGATE_VERSION);
  for (const auto& header : call.headers) {
    if (header.name == "user-agent" && !header.value.empty()) head.append(" ").append(header.value);
  }
  head.append("\r\n");
  bool has_content_type = false;
  for (const auto& header : call.headers) {
    if (header.name == "user-agent") continue;
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
      connection = std::make_unique<Connection>();
      if (auto failure = co_await connect(*connection, backend, *resolver_)) co_return failure;
    }

    auto& socket = connection->socket;
    socket.expiresAfter(config.read_timeout);
    IoResult written = co_await socket.write(head, call.body, connection->tls.get());
    if (written.error) {
      socket.clearDeadline();
      if (reused && !socket.expired()) continue;
      co_return connection->failure(written,
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
      if (parsed.state == http1::ParseResult::kComplete) {
        buffered.consume(parsed.consumed);
        if (state->head.status() < 200) continue;  // 100 Continue, 103 Early Hints: not the answer
        break;
      }
      if (parsed.state != http1::ParseResult::kIncomplete) {
        failure = Failure{
            FailureKind::kProtocol,
            during() + ": " +
                (parsed.state == http1::ParseResult::kTooLarge
                     ? "the head exceeds " + std::to_string(kMaxResponseHeaderBytes) + " bytes"
                     : parsed.error)};
        break;
      }
      IoResult read = co_await connection->readSome();
      buffered.commit(read.bytes);
      if (read.error || read.bytes == 0) {
        // A reused connection the backend closed before answering: it never saw the call.
        retry = reused && !received && buffered.size() == 0 && closedByPeer(read);
        failure = connection->failure(read, during());
        break;
      }
      received = true;
    }
    socket.clearDeadline();
    if (retry) continue;
    if (failure) co_return failure;
    auto framed = http1::responseFraming(state->head);
    if (auto* error = std::get_if<Error>(&framed)) {
      co_return Failure{FailureKind::kProtocol, during() + ": " + error->message};
    }
    const http1::Framing framing = std::get<http1::Framing>(framed);
    state->framing = framing;
    state->decoder = http1::BodyDecoder(framing);
    state->keep_alive = state->head.keepAlive() && framing.mode != http1::Framing::kUntilClose;
    state->connection = std::move(connection);
    out = std::make_unique<Exchange>(std::move(state));
    co_return std::nullopt;
  }
  co_return Failure{FailureKind::kReset, "backend '" + config.name + "' closed the connection"};
}

}  // namespace costgate::upstream
