#include "costgate/http1/body.h"

#include <gtest/gtest.h>

#include <string>

namespace costgate::http1 {
namespace {

Head requestHead(const std::string& fields) {
  Head head;
  std::string bytes = "POST / HTTP/1.1\r\n" + fields + "\r\n";
  EXPECT_EQ(parseRequestHead(bytes, 4096, head).state, ParseResult::kComplete) << fields;
  return head;
}

std::optional<Framing> framingOf(const std::string& fields) {
  auto framing = requestFraming(requestHead(fields));
  if (auto* found = std::get_if<Framing>(&framing)) return *found;
  return std::nullopt;
}

TEST(Http1Framing, ReadsTheRequestsFraming) {
  EXPECT_EQ(framingOf("")->mode, Framing::kNone);
  EXPECT_EQ(framingOf("Content-Length: 0\r\n")->mode, Framing::kNone);
  EXPECT_EQ(framingOf("Content-Length: 12\r\n")->length, 12u);
  EXPECT_EQ(framingOf("Content-Length: 12\r\nContent-Length: 12\r\n")->length, 12u);
  EXPECT_EQ(framingOf("Content-Length: 12, 12\r\n")->length, 12u);
  EXPECT_EQ(framingOf("Transfer-Encoding: Chunked\r\n")->mode, Framing::kChunked);
}

TEST(Http1Framing, RefusesAmbiguousRequests) {
  for (const char* fields :
       {"Content-Length: 12\r\nContent-Length: 13\r\n", "Content-Length: -1\r\n",
        "Content-Length: 1x\r\n", "Content-Length:\r\n", "Content-Length: 99999999999999999999\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"}) {
    auto framing = requestFraming(requestHead(fields));
    ASSERT_TRUE(std::holds_alternative<Error>(framing)) << fields;
    EXPECT_FALSE(std::get<Error>(framing).message.empty());
  }
}

TEST(Http1Framing, ReadsTheResponsesFraming) {
  auto framing = [](const char* bytes) {
    Head head;
    EXPECT_EQ(parseResponseHead(bytes, 4096, head).state, ParseResult::kComplete);
    return std::get<Framing>(responseFraming(head)).mode;
  };
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\n\r\n"), Framing::kUntilClose);
  EXPECT_EQ(framing("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"), Framing::kNone);
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), Framing::kLength);
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), Framing::kChunked);
}

// Feeds `wire` in pieces of `piece` bytes into an output of `room` bytes per call.
std::string decodeAll(Framing framing, const std::string& wire, std::size_t piece, std::size_t room,
                      bool& done, bool& invalid, std::string* rest = nullptr) {
  BodyDecoder decoder(framing);
  std::string body;
  std::string pending;
  std::size_t fed = 0;
  done = invalid = false;
  while (!done && !invalid) {
    if (fed < wire.size()) {
      pending += wire.substr(fed, piece);
      fed += piece;
    }
    std::string out(room, '\0');
    auto step = decoder.decode(pending, out.data(), room);
    body.append(out.data(), step.produced);
    pending.erase(0, step.consumed);
    done = step.done;
    invalid = step.invalid;
    if (fed >= wire.size() && step.consumed == 0 && step.produced == 0 && !done) break;
  }
  if (rest) *rest = pending + (fed < wire.size() ? wire.substr(fed) : "");
  return body;
}

TEST(Http1BodyDecoder, DecodesChunkedBodiesSplitAnywhere) {
  std::string wire = "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  for (std::size_t piece : {1u, 2u, 3u, 7u, 100u}) {
    for (std::size_t room : {1u, 4u, 64u}) {
      bool done = false, invalid = false;
      std::string rest;
      std::string body = decodeAll({Framing::kChunked, 0}, wire, piece, room, done, invalid, &rest);
      EXPECT_TRUE(done) << piece << "/" << room;
      EXPECT_FALSE(invalid);
      EXPECT_EQ(body, "hello 0123456789");
      EXPECT_EQ(rest, "NEXT");
    }
  }
}

TEST(Http1BodyDecoder, RefusesMalformedChunks) {
  for (const char* wire : {"x\r\n", "\r\n", "5\r\nhelloXX", "5\nhello\r\n",
                           "5\r\nhello\r\n0\r\n\rX", "fffffffffffffffff\r\n"}) {
    bool done = false, invalid = false;
    decodeAll({Framing::kChunked, 0}, wire, 100, 64, done, invalid);
    EXPECT_TRUE(invalid) << wire;
  }
}

// The server refuses a chunk whose size alone passes the body limit before reading its data:
// remaining() tells, as soon as the size line is read, how much the chunk will hold.
TEST(Http1BodyDecoder, TellsTheSizeOfTheChunkInProgress) {
  BodyDecoder decoder({Framing::kChunked, 0});
  char out[16];
  auto step = decoder.decode("5\r\nhel", out, sizeof(out));
  EXPECT_EQ(step.produced, 3u);
  EXPECT_EQ(decoder.remaining(), 2u);
  step = decoder.decode("lo\r\n10000000\r\n", out, sizeof(out));
  EXPECT_FALSE(step.invalid);
  EXPECT_EQ(decoder.remaining(), 0x10000000u);
  BodyDecoder partial({Framing::kChunked, 0});
  partial.decode("1000", out, sizeof(out));  // the size line so far: never more than the chunk
  EXPECT_EQ(partial.remaining(), 0x1000u);
}

TEST(Http1BodyDecoder, StopsAtTheLength) {
  bool done = false, invalid = false;
  std::string rest;
  EXPECT_EQ(decodeAll({Framing::kLength, 5}, "helloGET", 3, 2, done, invalid, &rest), "hello");
  EXPECT_TRUE(done);
  EXPECT_EQ(rest, "GET");
  BodyDecoder until_close({Framing::kUntilClose, 0});
  char out[8];
  auto step = until_close.decode("abc", out, sizeof(out));
  EXPECT_EQ(step.produced, 3u);
  EXPECT_FALSE(step.done);
  EXPECT_TRUE(until_close.endsAtClose());
}

}  // namespace
}  // namespace costgate::http1
