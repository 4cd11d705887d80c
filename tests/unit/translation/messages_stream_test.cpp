// A chat stream turned into the Messages API's event sequence.
#include "costgate/translation/messages_stream.h"

#include <gtest/gtest.h>

#include "costgate/openai/sse.h"

namespace costgate::translation {
namespace {

using nlohmann::json;

struct Event {
  std::string type;
  json data;
};

std::vector<Event> eventsOf(const std::string& text) {
  openai::SseParser parser;
  std::vector<Event> events;
  for (const auto& event : parser.feed(text)) {
    json data = json::parse(event.data);
    EXPECT_EQ(data["type"], event.event) << "the event name and the data's type agree";
    events.push_back({event.event, data});
  }
  return events;
}

std::vector<std::string> typesOf(const std::vector<Event>& events) {
  std::vector<std::string> types;
  for (const auto& event : events) types.push_back(event.type);
  return types;
}

json chunk(const std::string& delta, const std::string& finish = "") {
  json choice = {{"index", 0}, {"delta", json::parse(delta)}};
  choice["finish_reason"] = finish.empty() ? json(nullptr) : json(finish);
  return {{"id", "chatcmpl-1"}, {"object", "chat.completion.chunk"}, {"choices", {choice}}};
}

TEST(MessagesStreamTest, TextStreamHasTheWholeEventSequence) {
  MessagesStream stream("claude-x");
  std::string out;
  out += stream.onChunk(chunk(R"({"role":"assistant","content":""})"));
  out += stream.onChunk(chunk(R"({"content":"Hel"})"));
  out += stream.onChunk(chunk(R"({"content":"lo"})"));
  out += stream.onChunk(chunk(R"({})", "stop"));
  out += stream.onChunk(json::parse(R"({"id":"chatcmpl-1","choices":[],"usage":{
    "prompt_tokens":12,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}}})"));
  out += stream.finish();
  EXPECT_EQ(stream.finish(), "");
  auto events = eventsOf(out);
  EXPECT_EQ(typesOf(events),
            (std::vector<std::string>{"message_start", "content_block_start", "content_block_delta",
                                      "content_block_delta", "content_block_stop", "message_delta",
                                      "message_stop"}));
  EXPECT_EQ(events[0].data["message"]["model"], "claude-x");
  EXPECT_EQ(events[0].data["message"]["id"], "msg_chatcmpl-1");
  EXPECT_EQ(events[1].data["content_block"], json::parse(R"({"type":"text","text":""})"));
  EXPECT_EQ(events[2].data["delta"], json::parse(R"({"type":"text_delta","text":"Hel"})"));
  EXPECT_EQ(events[5].data["delta"]["stop_reason"], "end_turn");
  EXPECT_EQ(events[5].data["usage"]["input_tokens"], 8);
  EXPECT_EQ(events[5].data["usage"]["cache_read_input_tokens"], 4);
  EXPECT_EQ(events[5].data["usage"]["output_tokens"], 2);
}

TEST(MessagesStreamTest, ToolCallsBecomeToolUseBlocksWithJsonDeltas) {
  MessagesStream stream("m");
  std::string out;
  out += stream.onChunk(chunk(R"({"content":"Checking."})"));
  out += stream.onChunk(chunk(R"({"tool_calls":[{"index":0,"id":"call_a","type":"function",
    "function":{"name":"weather","arguments":""}}]})"));
  out += stream.onChunk(chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]})"));
  out +=
      stream.onChunk(chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"ty\":1}"}}]})"));
  out += stream.onChunk(chunk(R"({"tool_calls":[{"index":1,"id":"call_b","type":"function",
    "function":{"name":"time","arguments":"{}"}}]})"));
  out += stream.onChunk(chunk(R"({})", "tool_calls"));
  out += stream.finish();
  auto events = eventsOf(out);
  std::vector<std::string> starts;
  std::string first_call_json;
  for (const auto& event : events) {
    if (event.type == "content_block_start") starts.push_back(event.data["content_block"]["type"]);
    if (event.type == "content_block_delta" && event.data["index"] == 1) {
      first_call_json += event.data["delta"]["partial_json"].get<std::string>();
    }
  }
  EXPECT_EQ(starts, (std::vector<std::string>{"text", "tool_use", "tool_use"}));
  EXPECT_EQ(json::parse(first_call_json), json::parse(R"({"city":1})"));
  EXPECT_EQ(events[4].data["content_block"]["id"], "call_a");
  EXPECT_EQ(events[4].data["content_block"]["name"], "weather");
  EXPECT_EQ(events[4].data["content_block"]["input"], json::object());
  // Every block started is stopped, in order, before message_delta.
  int open = -1;
  for (const auto& event : events) {
    if (event.type == "content_block_start") open = event.data["index"];
    if (event.type == "content_block_stop") {
      EXPECT_EQ(event.data["index"], open);
      open = -1;
    }
  }
  EXPECT_EQ(open, -1);
  EXPECT_EQ(events[events.size() - 2].data["delta"]["stop_reason"], "tool_use");
}

TEST(MessagesStreamTest, AnEmptyStreamStillStartsAndStops) {
  MessagesStream stream("m");
  auto events = eventsOf(stream.finish());
  EXPECT_EQ(typesOf(events),
            (std::vector<std::string>{"message_start", "message_delta", "message_stop"}));
  EXPECT_EQ(events[1].data["usage"]["output_tokens"], 0);
}

TEST(MessagesStreamTest, LengthStopAndErrorEvent) {
  MessagesStream stream("m");
  std::string out = stream.onChunk(chunk(R"({"content":"abc"})", "length"));
  out += stream.finish();
  auto events = eventsOf(out);
  EXPECT_EQ(events[events.size() - 2].data["delta"]["stop_reason"], "max_tokens");
  auto error = eventsOf(
      MessagesStream::errorEvent(529, R"({"error":{"message":"busy","type":"api_error"}})"));
  ASSERT_EQ(error.size(), 1u);
  EXPECT_EQ(error[0].data["error"]["type"], "overloaded_error");
  EXPECT_EQ(error[0].data["error"]["message"], "busy");
}

}  // namespace
}  // namespace costgate::translation
