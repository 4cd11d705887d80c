#pragma once
// Calls to model backends over HTTP/1.1 or HTTPS, with a keep-alive pool per backend per thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "costgate/config/config.h"
#include "costgate/server/event_loop.h"
#include "costgate/server/task.h"
#include "costgate/upstream/resolver.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace costgate::upstream {

// A backend as the data path uses it: its config and, for https, its TLS context. Built once per
// configuration and shared by all threads (an SSL_CTX is safe to share once set up).
class Backend {
 public:
  // Throws std::runtime_error at startup if the TLS settings cannot be loaded (bad CA file...).
  explicit Backend(config::BackendConfig config);
  const config::BackendConfig& config() const { return config_; }
  bool tls() const { return tls_context_ != nullptr; }
  SSL_CTX* tlsContext() const { return tls_context_.get(); }
  // The header lines every call to this backend carries (Host, its API key), each ending in CRLF.
  // User-Agent is added per call (UpstreamClient::start), folding in the client's.
  const std::string& fixedHeaders() const { return fixed_headers_; }
  // Expires with this backend (a reload replaces backends): each thread's pool of its connections
  // is then dropped, never handed to a new backend that happens to get its address.
  std::weak_ptr<const void> lifetime() const { return lifetime_; }

 private:
  std::shared_ptr<const int> lifetime_ = std::make_shared<const int>(0);
  config::BackendConfig config_;
  std::string fixed_headers_;
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> tls_context_;
};

enum class FailureKind {
  kConnect,    // resolve or TCP connect failed: the backend is unreachable
  kTls,        // the TLS handshake failed (untrusted certificate, wrong name...)
  kTimeout,    // connect, write or read took longer than the backend's timeout
  kReset,      // the backend closed the connection before the response was complete
  kProtocol,   // the backend sent something that is not valid HTTP
  kCancelled,  // we cancelled the call (the client went away)
  kTooLarge,   // a whole-body read exceeded its limit
};

struct Failure {
  FailureKind kind;
  std::string message;
};

// A header to send, viewing strings the caller keeps alive until start() returns.
struct Header {
  std::string_view name;  // lower-case
  std::string_view value;
};

struct Call {
  std::string method = "POST";
  std::string path;  // appended to the backend's base path, e.g. "/chat/completions"
  std::string body;
  // Sent as they are, but a user-agent, which follows costgate's own in its one User-Agent; the
  // backend's own key is added.
  std::vector<Header> headers;
};

// One piece of a response body: data (may be empty), or the end, or a failure.
struct BodyPiece {
  std::string_view data;
  bool done = false;
  std::optional<Failure> failure;
};

class ConnectionPool;

// One request/response with a backend. Obtain it from UpstreamClient::start; read the body with
// readSome() or readAll(). When the body was read to its end the connection goes back to the pool.
class Exchange {
 public:
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  int status() const;
  // The first response header named `lower_name`, or empty.
  std::string_view header(std::string_view lower_name) const;
  // Calls visit(lower-case name, value) for each response header.
  void forEachHeader(const std::function<void(std::string_view, std::string_view)>& visit) const;
  // True for text/event-stream responses.
  bool isEventStream() const;

  // Returns whatever body bytes arrive next; the view is valid until the next call.
  server::Task<BodyPiece> readSome();
  // Reads the rest of the body, failing with TooLarge past `limit` bytes.
  server::Task<std::optional<Failure>> readAll(std::string& out, std::size_t limit);
  // Closes the connection now; a pending read ends with Cancelled. Safe from a callback.
  void cancel();

  struct State;
  explicit Exchange(std::unique_ptr<State> state);

 private:
  // Once nothing buffered makes a piece: reads from the backend until something does.
  server::Task<BodyPiece> readMoreInto(char* data, std::size_t size);
  std::unique_ptr<State> state_;
};

// The connection pools of one worker thread. Use it only on that thread's loop.
class UpstreamClient {
 public:
  UpstreamClient();
  ~UpstreamClient();

  // The client of `loop`, which owns it: pooled connections close with the loop.
  static UpstreamClient& of(server::EventLoop& loop);

  // Sends the call and reads the response head. On success `out` holds the exchange.
  server::Task<std::optional<Failure>> start(const Backend& backend, const Call& call,
                                             std::unique_ptr<Exchange>& out);

  // Idle connections currently pooled for this backend (for tests and metrics).
  std::size_t idleConnections(const Backend& backend) const;

 private:
  ConnectionPool& poolFor(const Backend& backend);
  struct BackendPool {
    const Backend* backend;
    std::weak_ptr<const void> lifetime;  // the backend's
    std::unique_ptr<ConnectionPool> pool;
  };
  std::vector<BackendPool> pools_;
  std::unique_ptr<Resolver> resolver_;  // backend host names, on this loop
};

}  // namespace costgate::upstream
