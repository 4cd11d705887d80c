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

}  // namespace
}  // namespace costgate::openai
