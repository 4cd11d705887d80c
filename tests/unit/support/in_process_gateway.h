#pragma once
// The gateway in the test's own process: its handler on an HttpServer thread, in front of a fake
// backend (another HttpServer thread) whose answers the test scripts. Both listen on 127.0.0.1 at
// a free port; a blocking client sends one request per connection.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "costgate/config/load.h"
#include "costgate/gateway/gateway.h"
#include "costgate/http1/body.h"
#include "costgate/http1/head.h"
#include "costgate/redis/async_connection.h"
#include "costgate/server/http_server.h"
#include "filters/registry.h"

namespace costgate::test_data {

// An HttpServer with one worker thread, serving until it is destroyed.
class ServerThread {
 public:
  explicit ServerThread(server::Handler handler, server::ExchangeObserver observer = {})
      : server_(std::make_unique<server::HttpServer>("127.0.0.1", 0, 1, server::ServerLimits{},
                                                     std::move(handler), std::move(observer))),
        thread_([this] { server_->run(); }) {}
  ~ServerThread() {
    server_->stop();
    thread_.join();
  }
  std::uint16_t port() const { return server_->port(); }

 private:
  std::unique_ptr<server::HttpServer> server_;
  std::thread thread_;
};

// A backend that answers what the test's script says and keeps what it was asked.
class FakeBackend {
 public:
  struct Asked {
    std::string path;
    std::string body;
  };
  struct Answer {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
  };
  using Script = std::function<Answer(const Asked&)>;

  explicit FakeBackend(Script script)
      : script_(std::move(script)),
        server_([this](server::Request& request, server::ResponseWriter& writer) {
          return answer(request, writer);
        }) {}

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()) + "/v1"; }
  std::vector<Asked> asked() const {
    std::lock_guard lock(mutex_);
    return asked_;
  }

 private:
  server::Task<> answer(server::Request& request, server::ResponseWriter& writer) {
    Asked asked{std::string(request.head.target()), request.body};
    {
      std::lock_guard lock(mutex_);
      asked_.push_back(asked);
    }
    Answer scripted = script_(asked);
    co_await writer.send(server::Response(scripted.status, scripted.content_type, scripted.body));
  }

  Script script_;
  mutable std::mutex mutex_;
  std::vector<Asked> asked_;
  ServerThread server_;  // last: it serves until destroyed, before what it uses
};

// What a client got back.
struct Reply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // its transfer coding undone

  std::string header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return "";
  }
};

// One request on a connection of its own, read to the end.
inline Reply send(std::uint16_t port, const std::string& path, const std::string& body,
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  std::string request =
      "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" +
      "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  request += "\r\n" + body;
  EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string bytes;
  char buffer[16384];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof(buffer))) > 0;) bytes.append(buffer, n);
  ::close(fd);

  Reply reply;
  http1::Head head;
  const auto parsed = http1::parseResponseHead(bytes, bytes.size(), head);
  EXPECT_EQ(parsed.state, http1::ParseResult::kComplete) << bytes;
  if (parsed.state != http1::ParseResult::kComplete) return reply;
  reply.status = head.status();
  for (std::size_t i = 0; i < head.fieldCount(); ++i) {
    reply.headers.emplace_back(head.field(i).name, head.field(i).value);
  }
  auto framing = http1::responseFraming(head);
  http1::BodyDecoder decoder(std::holds_alternative<http1::Framing>(framing)
                                 ? std::get<http1::Framing>(framing)
                                 : http1::Framing{});
  const std::string_view rest = std::string_view(bytes).substr(parsed.consumed);
  reply.body.resize(rest.size());
  const auto step = decoder.decode(rest, reply.body.data(), reply.body.size());
  reply.body.resize(step.produced);
  return reply;
}

// A gateway made from a configuration text, with its records kept for the test to read.
class InProcessGateway {
 public:
  explicit InProcessGateway(const std::string& yaml) : records_("") {
    auto loaded = config::parse(yaml, "gateway.yaml",
                                [](const std::string&) { return std::optional<std::string>(); });
    if (auto* error = std::get_if<config::ConfigError>(&loaded)) {
      ADD_FAILURE() << error->describe();
      return;
    }
    auto& config = std::get<config::GatewayConfig>(loaded);
    auto chain = pipeline::buildChain(
        config, filters::registry(),
        {records_.kept(), records_.metrics(), &redis::AsyncConnection::onEachLoop});
    if (auto* error = std::get_if<config::ConfigError>(&chain)) {
      ADD_FAILURE() << error->describe();
      return;
    }
    gateway_ = std::make_shared<gateway::Gateway>(
        std::move(config), std::get<pipeline::Chain>(std::move(chain)), records_);
    server_.emplace(
        [gateway = gateway_](server::Request& request, server::ResponseWriter& writer) {
          return gateway->handle(request, writer);
        },
        [this](const server::ExchangeRecord& record) {
          records_.observe(record);
          std::lock_guard lock(mutex_);
          observed_.push_back(record);
        });
  }

  Reply post(const std::string& path, const std::string& body,
             const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return send(server_->port(), path, body, headers);
  }

  // The record of the `n`th exchange (from 0), once the server has observed it.
  server::ExchangeRecord record(std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (observed_.size() > n) return observed_[n];
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "exchange " << n << " was never observed";
        return {};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  metrics::Metrics& metrics() { return records_.metrics(); }

 private:
  gateway::Records records_;
  std::shared_ptr<gateway::Gateway> gateway_;
  std::mutex mutex_;
  std::vector<server::ExchangeRecord> observed_;
  std::optional<ServerThread> server_;  // last: it serves until destroyed
};

}  // namespace costgate::test_data
