#include "costgate/http1/head.h"

#include <gtest/gtest.h>

#include <string>

namespace costgate::http1 {
namespace {

TEST(Http1Head, ParsesARequestAndLowerCasesNames) {
  std::string bytes =
      "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: gw\r\nContent-Type:  application/json \r\n"
      "X-Request-ID: abc\r\nEmpty:\r\n\r\n{\"body\":1}";
  Head head;
  ParseResult result = parseRequestHead(bytes, 1024, head);
  ASSERT_EQ(result.state, ParseResult::kComplete) << result.error;
  EXPECT_EQ(result.consumed, bytes.find("{"));
  EXPECT_EQ(head.method(), "POST");
  EXPECT_EQ(head.target(), "/v1/chat/completions?x=1");
  EXPECT_EQ(head.versionMinor(), 1);
  ASSERT_EQ(head.fieldCount(), 4u);
  EXPECT_EQ(head.field(1).name, "content-type");
  EXPECT_EQ(head.field(1).value, "application/json");
  EXPECT_EQ(head.get("x-request-id"), "abc");
  EXPECT_TRUE(head.has("empty"));
  EXPECT_EQ(head.get("empty"), "");
  EXPECT_FALSE(head.has("missing"));
  EXPECT_TRUE(head.keepAlive());
}

TEST(Http1Head, AcceptsTabsAndObsoleteTextInValues) {
  Head head;
  std::string bytes = "GET / HTTP/1.1\r\nA: 0123456789\tabcdef caf\xC3\xA9 and more text\r\n\r\n";
  ASSERT_EQ(parseRequestHead(bytes, 1024, head).state, ParseResult::kComplete);
  EXPECT_EQ(head.get("a"), "0123456789\tabcdef caf\xC3\xA9 and more text");
}

TEST(Http1Head, OwnsItsBytes) {
  std::string bytes = "GET /healthz HTTP/1.1\r\nA: b\r\n\r\n";
  Head head;
  ASSERT_EQ(parseRequestHead(bytes, 1024, head).state, ParseResult::kComplete);
  bytes.assign(bytes.size(), 'x');
  EXPECT_EQ(head.target(), "/healthz");
  EXPECT_EQ(head.get("a"), "b");
}

TEST(Http1Head, WaitsForTheBlankLineWithinTheLimit) {
  Head head;
  EXPECT_EQ(parseRequestHead("GET / HTTP/1.1\r\nA: b\r\n", 1024, head).state,
            ParseResult::kIncomplete);
  EXPECT_EQ(parseRequestHead(std::string(64, 'a'), 64, head).state, ParseResult::kTooLarge);
  std::string big = "GET / HTTP/1.1\r\nA: " + std::string(100, 'b') + "\r\n\r\n";
  EXPECT_EQ(parseRequestHead(big, 64, head).state, ParseResult::kTooLarge);
  EXPECT_EQ(parseRequestHead(big, big.size(), head).state, ParseResult::kComplete);
}

TEST(Http1Head, RefusesMalformedRequests) {
  for (const char* bad : {
           "GET /\r\n\r\n",                         // no version
           "GET / HTTP/2.0\r\n\r\n",                // not HTTP/1
           "GET  / HTTP/1.1\r\n\r\n",               // two spaces
           "G(T / HTTP/1.1\r\n\r\n",                // not a token
           "GET / HTTP/1.1\r\nA b: c\r\n\r\n",      // space in a name
           "GET / HTTP/1.1\r\nA : c\r\n\r\n",       // space before the colon
           "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",  // obsolete folding
           "GET / HTTP/1.1\r\nA: b\nc\r\n\r\n",     // bare LF
           "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",    // control character
           "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
           "GET / HTTP/1.1\r\nA: 0123456789abcdef\x01 past the first eight bytes\r\n\r\n",
           "GET / HTTP/1.1\r\nA: 0123456789abcdef\x7f\r\n\r\n",
       }) {
    Head head;
    ParseResult result = parseRequestHead(bad, 1024, head);
    EXPECT_EQ(result.state, ParseResult::kInvalid) << bad;
    EXPECT_FALSE(result.error.empty()) << bad;
  }
}

// A head with bare LF line endings never ends in CRLF CRLF: it is refused as soon as one
// arrives, not waited on until a timeout (or, from a backend, until the read timeout).
TEST(Http1Head, RefusesBareLineFeedsAtOnce) {
  Head head;
  for (const char* bad : {"GET / HTTP/1.1\nHost: x\n\n", "GET / HTTP/1.1\n",
                          "GET / HTTP/1.1\r\nA: b\n", "GET / HTTP/1.1\r\nA: b\r\n\n", "\n"}) {
    ParseResult result = parseRequestHead(bad, 1024, head);
    EXPECT_EQ(result.state, ParseResult::kInvalid) << bad;
    EXPECT_NE(result.error.find("bare LF"), std::string::npos) << bad;
  }
  EXPECT_EQ(parseResponseHead("HTTP/1.1 200 OK\nContent-Length: 0\n\n", 1024, head).state,
            ParseResult::kInvalid);
  // A CR whose LF has not arrived yet is not a bare LF.
  EXPECT_EQ(parseRequestHead("GET / HTTP/1.1\r", 1024, head).state, ParseResult::kIncomplete);
  EXPECT_EQ(parseRequestHead("GET / HTTP/1.1\r\nA: b\r\n\r", 1024, head).state,
            ParseResult::kIncomplete);
}

TEST(Http1Head, ParsesResponses) {
  Head head;
  std::string bytes = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\n\r\n";
  ASSERT_EQ(parseResponseHead(bytes, 1024, head).state, ParseResult::kComplete);
  EXPECT_EQ(head.status(), 429);
  EXPECT_EQ(head.reason(), "Too Many Requests");
  EXPECT_EQ(head.get("retry-after"), "3");
  ASSERT_EQ(parseResponseHead("HTTP/1.1 200\r\n\r\n", 1024, head).state, ParseResult::kComplete);
  EXPECT_EQ(head.status(), 200);
  for (const char* bad : {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n",
                          "HTTP/1.1 200 \x01\r\n\r\n", "ICY 200 OK\r\n\r\n"}) {
    EXPECT_EQ(parseResponseHead(bad, 1024, head).state, ParseResult::kInvalid) << bad;
  }
}

TEST(Http1Head, KnowsWhenTheConnectionStaysOpen) {
  auto keepAlive = [](const char* bytes) {
    Head head;
    EXPECT_EQ(parseRequestHead(bytes, 1024, head).state, ParseResult::kComplete);
    return head.keepAlive();
  };
  EXPECT_TRUE(keepAlive("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_FALSE(keepAlive("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"));
  EXPECT_FALSE(keepAlive("GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n"));
  EXPECT_FALSE(keepAlive("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(keepAlive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
}

}  // namespace
}  // namespace costgate::http1
