// The server's side of HTTP that no handler sees: HEAD answered with its head alone (the GET's
// Content-Length, no body, chunked or not), 204 without a length, and the connection in step
// afterwards.
#include "costgate/server/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "../support/in_process_gateway.h"

namespace costgate::server {
namespace {

Task<> answer(Request& request, ResponseWriter& writer) {
  if (request.head.target() == "/stream") {
    co_await writer.beginStream(Response(200, "text/event-stream"));
    co_await writer.writeChunk("data: one\n\n");
    co_await writer.endStream();
  } else if (request.head.target() == "/nothing") {
    co_await writer.send(Response(204));
  } else {
    co_await writer.send(Response(200, "application/json", R"({"status":"ok"})"));
  }
}

// Writes `requests` on one connection and returns all the server wrote until it closed.
std::string exchange(std::uint16_t port, const std::string& requests) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(::write(fd, requests.data(), requests.size()), static_cast<ssize_t>(requests.size()));
  std::string bytes;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof(buffer))) > 0;) bytes.append(buffer, n);
  ::close(fd);
  return bytes;
}

std::string request(std::string_view method, std::string_view target, bool last = false) {
  return std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n" +
         (last ? "Connection: close\r\n" : "") + "\r\n";
}

TEST(HttpServer, HeadGetsTheHeadOfGetWithItsLengthAndNoBodyAndTheConnectionStaysInStep) {
  test_data::ServerThread server(answer);
  const std::string get = exchange(server.port(), request("GET", "/healthz", true));
  const std::string both =
      exchange(server.port(), request("HEAD", "/healthz") + request("GET", "/healthz", true));
  const std::size_t head_end = both.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << both;
  const std::string head = both.substr(0, head_end + 4);
  EXPECT_EQ(head.find("HTTP/1.1 200 OK\r\n"), 0u) << head;
  EXPECT_NE(head.find("Content-Length: 15\r\n"), std::string::npos) << head;
  // No body: the next bytes are the GET's answer, body included.
  const std::string rest = both.substr(head_end + 4);
  EXPECT_EQ(rest.find("HTTP/1.1 200 OK\r\n"), 0u) << rest;
  EXPECT_TRUE(rest.ends_with(R"({"status":"ok"})")) << rest;
  EXPECT_TRUE(get.ends_with(R"({"status":"ok"})")) << get;
}

TEST(HttpServer, HeadOfAStreamIsItsHeadWithoutChunks) {
  test_data::ServerThread server(answer);
  const std::string both =
      exchange(server.port(), request("HEAD", "/stream") + request("GET", "/healthz", true));
  const std::size_t head_end = both.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << both;
  EXPECT_NE(both.substr(0, head_end).find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_EQ(both.substr(head_end + 4).find("HTTP/1.1 200 OK\r\n"), 0u) << both;
  EXPECT_EQ(both.find("data: one"), std::string::npos) << both;
}

TEST(HttpServer, A204HasNoLengthAndNoBody) {
  test_data::ServerThread server(answer);
  const std::string both =
      exchange(server.port(), request("GET", "/nothing") + request("GET", "/healthz", true));
  const std::size_t head_end = both.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << both;
  EXPECT_EQ(both.find("HTTP/1.1 204 No Content\r\n"), 0u) << both;
  EXPECT_EQ(both.substr(0, head_end).find("Content-Length"), std::string::npos) << both;
  EXPECT_EQ(both.substr(head_end + 4).find("HTTP/1.1 200 OK\r\n"), 0u) << both;
}

}  // namespace
}  // namespace costgate::server
