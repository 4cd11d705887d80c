#include "costgate/openai/sse.h"

#include <gtest/gtest.h>

namespace costgate::openai {
namespace {

TEST(SseParser, SplitsEventsAcrossArbitraryChunkBoundaries) {
  const std::string wire =
      "data: {\"a\":1}\n\n: keep-alive\n\nevent: error\ndata: x\ndata: y\r\n\r\ndata: [DONE]\n\n";
  for (std::size_t step = 1; step <= wire.size(); ++step) {
    SseParser parser;
    std::vector<SseEvent> events;
    for (std::size_t at = 0; at < wire.size(); at += step) {
      for (auto& event : parser.feed(std::string_view(wire).substr(at, step))) {
        events.push_back(std::move(event));
      }
    }
    EXPECT_FALSE(parser.finish().has_value());
    ASSERT_EQ(events.size(), 3u) << "step " << step;
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[1].event, "error");
    EXPECT_EQ(events[1].data, "x\ny");
    EXPECT_EQ(events[2].data, "[DONE]");
  }
}

TEST(SseParser, FinishReturnsAnEventMissingItsBlankLine) {
  SseParser parser;
  EXPECT_TRUE(parser.feed("data: tail").empty());
  auto last = parser.finish();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->data, "tail");
}

TEST(SseParser, SerializeRoundTrips) {
  SseEvent event{"error", "line1\nline2"};
  std::string wire = serializeSse(event);
  EXPECT_EQ(wire, "event: error\ndata: line1\ndata: line2\n\n");
  SseParser parser;
  auto events = parser.feed(wire);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "error");
  EXPECT_EQ(events[0].data, "line1\nline2");
}

// A backend that never ends an event (or a line) cannot make the parser hold more than
// kMaxEventBytes: it overflows, drops what it held and takes nothing more.
TEST(SseParser, OverflowsInsteadOfGrowingWithoutBound) {
  const std::string bytes(64 * 1024, 'x');
  // One line without end; then an event of many lines without the blank line that ends it.
  for (const std::string& piece : {bytes, bytes + "\ndata: "}) {
    SseParser parser;
    EXPECT_EQ(parser.feed("data: before\n\ndata: ").size(), 1u);
    std::size_t fed = 0;
    while (!parser.overflowed() && fed <= SseParser::kMaxEventBytes + piece.size()) {
      parser.feed(piece);
      fed += piece.size();
    }
    EXPECT_TRUE(parser.overflowed());
    EXPECT_LE(fed, SseParser::kMaxEventBytes + piece.size());
    EXPECT_TRUE(parser.feed("\n\ndata: after\n\n").empty());
    EXPECT_FALSE(parser.finish().has_value());
  }
  SseParser whole;
  EXPECT_EQ(whole.feed("data: " + std::string(1024 * 1024, 'y') + "\n\n").size(), 1u);
  EXPECT_FALSE(whole.overflowed());
}

}  // namespace
}  // namespace costgate::openai
