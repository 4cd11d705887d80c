#pragma once
// An HTTP/1.1 server: one EventLoop and one SO_REUSEPORT listener per worker thread, so a
// connection and everything its requests do (upstream calls included) stay on one thread.
// Shared by the gateway and the mock backend; the handler decides what each request means.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "costgate/http1/head.h"
#include "costgate/http1/response.h"
#include "costgate/server/event_loop.h"
#include "costgate/server/exchange_record.h"
#include "costgate/server/socket.h"
#include "costgate/server/task.h"

namespace costgate::server {

using Response = http1::Response;

// One request as a handler receives it: the parsed head (header names lower-case) and the whole
// body, its transfer coding undone.
struct Request {
  http1::Head head;
  std::string body;
};

struct ServerLimits {
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
};

// The handler's way to answer one request. Each call returns false once the client is gone.
class ResponseWriter {
 public:
  // `head_only` answers a HEAD request: every response goes out as its head alone (with the
  // Content-Length its body would have), as HTTP requires, so the connection stays in step.
  ResponseWriter(Socket& socket, ExchangeRecord& record, bool keep_alive,
                 std::chrono::milliseconds write_timeout, bool head_only = false)
      : socket_(socket),
        record_(record),
        keep_alive_(keep_alive),
        head_only_(head_only),
        write_timeout_(write_timeout) {}
  ~ResponseWriter();
  ResponseWriter(const ResponseWriter&) = delete;
  ResponseWriter& operator=(const ResponseWriter&) = delete;

  // Sends a whole response; sets content-length (none on a 204 or 304), keep-alive and
  // x-request-id.
  Task<bool> send(Response response);
  // Sends the head of a chunked response (the body of `head` is ignored).
  Task<bool> beginStream(Response head);
  // Sends one chunk now; an empty chunk is skipped.
  Task<bool> writeChunk(std::string_view data);
  // Sends the terminating chunk.
  Task<bool> endStream();
  // Calls on_gone once if the client closes or resets the connection, until stopWatching() or
  // the end of the exchange.
  void watchForDisconnect(std::function<void()> on_gone);
  void stopWatching();
  // Resets the connection at once (RST), e.g. for the mock's fault injection.
  void abort();
  // Adds a header line to every response this writer sends (CORS fields, decided before the
  // handler knows what it will answer). Call before responding.
  void addField(std::string_view name, std::string_view value) { extra_.add(name, value); }

  bool responded() const { return responded_; }
  bool clientGone() const { return client_gone_; }
  ExchangeRecord& record() { return record_; }
  // True when the connection can carry another request after this one.
  bool reusable() const {
    return keep_alive_ && !client_gone_ && !aborted_ && (!streaming_ || ended_);
  }

 private:
  // Sends head then body, within the write timeout.
  Socket::Write write(std::string_view head, std::string_view body);
  // Records what a write did; returns whether it succeeded.
  bool finish(IoResult written);
  // The serialized head: status line, the response's fields, x-request-id, Connection when
  // closing, and `framing` (Content-Length or Transfer-Encoding). Marks the writer as responded.
  std::string headFor(const Response& response, std::string_view framing);

  Socket& socket_;
  ExchangeRecord& record_;
  bool keep_alive_;
  bool head_only_;
  std::chrono::milliseconds write_timeout_;
  Response extra_;  // fields added to every response (addField)
  bool responded_ = false;
  bool streaming_ = false;
  bool ended_ = false;
  bool aborted_ = false;
  bool client_gone_ = false;
  bool watching_ = false;
};

// Runs once per request on the connection's thread. It must answer through the writer unless the
// client is gone; if it returns without answering, the server sends a 500.
using Handler = std::function<Task<>(Request&, ResponseWriter&)>;
// Runs after every exchange, including the ones the server answered itself (400, 413, 431).
using ExchangeObserver = std::function<void(const ExchangeRecord&)>;
// Makes the id every response carries as x-request-id; `client_id` is the client's own, if any.
std::string makeRequestId(std::string_view client_id);

class HttpServer {
 public:
  // Binds on all threads now (throws on failure); serving starts with run().
  HttpServer(const std::string& host, std::uint16_t port, unsigned threads, ServerLimits limits,
             Handler handler, ExchangeObserver observer = {});
  ~HttpServer();

  // The port actually bound (useful when constructed with port 0).
  std::uint16_t port() const { return port_; }
  unsigned threads() const { return static_cast<unsigned>(loops_.size()); }
  // Connections accepted since start, on all threads.
  std::uint64_t connectionsAccepted() const { return connections_accepted_.load(); }
  // See EventLoop::setBusyPoll; call before run().
  void setBusyPoll(std::chrono::microseconds window);
  // Serves on all worker threads until stop(); returns when they have ended.
  void run();
  // Safe to call from any thread. With a drain timeout, stops accepting and lets requests in
  // flight finish first (for at most that long); without, stops at once.
  void stop(std::chrono::milliseconds drain_timeout = std::chrono::milliseconds(0));

 private:
  struct Worker;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::uint16_t port_ = 0;
  ServerLimits limits_;
  Handler handler_;
  ExchangeObserver observer_;
  std::atomic<std::uint64_t> connections_accepted_{0};
};

}  // namespace costgate::server
