// The Responses <-> chat translation, field by field each way; what cannot be carried; the stream.
#include "costgate/translation/responses_api.h"

#include <gtest/gtest.h>

#include "costgate/openai/sse.h"
#include "costgate/translation/responses_stream.h"

namespace costgate::translation {
namespace {

using nlohmann::json;

json chatOf(const std::string& request) {
  auto translated = chatRequestOfResponses(json::parse(request));
  if (auto* error = std::get_if<Untranslatable>(&translated)) {
    ADD_FAILURE() << "refused: " << error->message << " (" << error->param << ")";
    return json();
  }
  return std::get<json>(translated);
}

std::string refusedParam(const std::string& request) {
  auto translated = chatRequestOfResponses(json::parse(request));
  if (auto* error = std::get_if<Untranslatable>(&translated)) return error->param;
  ADD_FAILURE() << "translated: " << std::get<json>(translated).dump();
  return "";
}

TEST(ResponsesRequestTest, InstructionsInputAndSettings) {
  json chat = chatOf(R"({"model":"gpt-x","instructions":"Be brief.","input":"Hi",
    "max_output_tokens":100,"temperature":0.5,"top_p":0.8,"user":"u1","parallel_tool_calls":false,
    "reasoning":{"effort":"low","summary":"auto"},"store":true,"metadata":{"a":"b"}})");
  EXPECT_EQ(chat["model"], "gpt-x");
  EXPECT_EQ(chat["messages"], json::parse(R"([{"role":"system","content":"Be brief."},
    {"role":"user","content":"Hi"}])"));
  EXPECT_EQ(chat["max_tokens"], 100);
  EXPECT_EQ(chat["temperature"], 0.5);
  EXPECT_EQ(chat["top_p"], 0.8);
  EXPECT_EQ(chat["user"], "u1");
  EXPECT_EQ(chat["parallel_tool_calls"], false);
  EXPECT_EQ(chat["reasoning_effort"], "low");
  EXPECT_FALSE(chat.contains("store"));
  EXPECT_FALSE(chat.contains("metadata"));
}

TEST(ResponsesRequestTest, ItemsImagesFunctionCallsAndOutputs) {
  json chat = chatOf(R"({"model":"m","input":[
    {"role":"developer","content":"Use tools."},
    {"type":"message","role":"user","content":[{"type":"input_text","text":"What is this?"},
      {"type":"input_image","image_url":"data:image/png;base64,AAA","detail":"low"}]},
    {"type":"reasoning","id":"rs_1","summary":[]},
    {"type":"function_call","call_id":"call_1","name":"f","arguments":"{\"a\":1}"},
    {"type":"function_call","call_id":"call_2","name":"g","arguments":"{}"},
    {"type":"function_call_output","call_id":"call_1","output":"one"},
    {"type":"function_call_output","call_id":"call_2","output":"two"},
    {"role":"assistant","content":[{"type":"output_text","text":"Done."}]}]})");
  json messages = chat["messages"];
  ASSERT_EQ(messages.size(), 6u) << messages.dump();
  EXPECT_EQ(messages[0], json::parse(R"({"role":"system","content":"Use tools."})"));
  EXPECT_EQ(messages[1]["content"][1]["image_url"],
            json::parse(R"({"url":"data:image/png;base64,AAA","detail":"low"})"));
  EXPECT_EQ(messages[2]["role"], "assistant");
  ASSERT_EQ(messages[2]["tool_calls"].size(), 2u);
  EXPECT_EQ(messages[2]["tool_calls"][1]["function"]["name"], "g");
  EXPECT_EQ(messages[3], json::parse(R"({"role":"tool","tool_call_id":"call_1","content":"one"})"));
  EXPECT_EQ(messages[5], json::parse(R"({"role":"assistant","content":"Done."})"));
}

TEST(ResponsesRequestTest, ToolsToolChoiceAndTextFormat) {
  json chat = chatOf(R"({"model":"m","input":"x","tools":[{"type":"function","name":"f",
    "description":"d","parameters":{"type":"object"},"strict":true}],
    "tool_choice":{"type":"function","name":"f"},
    "text":{"format":{"type":"json_schema","name":"out","schema":{"type":"object"},"strict":true}}})");
  EXPECT_EQ(chat["tools"], json::parse(R"([{"type":"function","function":{"name":"f",
    "description":"d","parameters":{"type":"object"},"strict":true}}])"));
  EXPECT_EQ(chat["tool_choice"], json::parse(R"({"type":"function","function":{"name":"f"}})"));
  EXPECT_EQ(chat["response_format"], json::parse(R"({"type":"json_schema","json_schema":{
    "name":"out","schema":{"type":"object"},"strict":true}})"));
  EXPECT_EQ(chatOf(R"({"model":"m","input":"x","tool_choice":"required"})")["tool_choice"],
            "required");
  EXPECT_EQ(chatOf(R"({"model":"m","input":"x","text":{"format":{"type":"json_object"}}})")
                ["response_format"],
            json::parse(R"({"type":"json_object"})"));
  EXPECT_EQ(chatOf(R"({"model":"m","input":"x","stream":true})")["stream_options"],
            json::parse(R"({"include_usage":true})"));
}

TEST(ResponsesRequestTest, RefusesWhatCannotBeCarried) {
  EXPECT_EQ(refusedParam(R"({"input":"x"})"), "model");
  EXPECT_EQ(refusedParam(R"({"model":"m"})"), "input");
  EXPECT_EQ(refusedParam(R"({"model":"m","input":"x","previous_response_id":"resp_1"})"),
            "previous_response_id");
  EXPECT_EQ(refusedParam(R"({"model":"m","input":"x","tools":[{"type":"web_search"}]})"),
            "tools[0].type");
  EXPECT_EQ(refusedParam(R"({"model":"m","input":[{"type":"item_reference","id":"x"}]})"),
            "input[0].type");
  EXPECT_EQ(refusedParam(R"({"model":"m","input":[{"role":"user","content":[
    {"type":"input_file","file_id":"f"}]}]})"),
            "input[0].content[0]");
  EXPECT_EQ(refusedParam(R"({"model":"m","input":"x","max_output_tokens":0})"),
            "max_output_tokens");
  EXPECT_EQ(refusedParam(R"({"model":"m","input":[{"role":"tool","content":"x"}]})"),
            "input[0].role");
}

TEST(ResponsesAnswerTest, MessageFunctionCallUsageAndIncomplete) {
  json echo = responseEchoOf(json::parse(R"({"model":"gpt-x","input":"x","instructions":"I",
    "max_output_tokens":5,"store":true})"));
  EXPECT_EQ(echo["instructions"], "I");
  EXPECT_EQ(echo["store"], false);
  json response = responseOfChatCompletion(json::parse(R"({"id":"chatcmpl-1","created":7,
    "choices":[{"index":0,"finish_reason":"length","message":{"role":"assistant","content":"Hi",
      "tool_calls":[{"id":"call_9","type":"function","function":{"name":"f","arguments":"{}"}}]}}],
    "usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4},
      "completion_tokens_details":{"reasoning_tokens":2}}})"),
                                           echo);
  EXPECT_EQ(response["id"], "resp_chatcmpl-1");
  EXPECT_EQ(response["object"], "response");
  EXPECT_EQ(response["created_at"], 7);
  EXPECT_EQ(response["model"], "gpt-x");
  EXPECT_EQ(response["max_output_tokens"], 5);
  EXPECT_EQ(response["status"], "incomplete");
  EXPECT_EQ(response["incomplete_details"]["reason"], "max_output_tokens");
  ASSERT_EQ(response["output"].size(), 2u);
  EXPECT_EQ(response["output"][0]["content"][0]["text"], "Hi");
  EXPECT_EQ(response["output"][0]["content"][0]["type"], "output_text");
  EXPECT_EQ(response["output"][1]["call_id"], "call_9");
  EXPECT_EQ(response["usage"], json::parse(R"({"input_tokens":10,"input_tokens_details":{
    "cached_tokens":4},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":2},
    "total_tokens":15})"));
}

std::vector<json> eventsOf(const std::string& text) {
  openai::SseParser parser;
  std::vector<json> events;
  for (const auto& event : parser.feed(text)) {
    json data = json::parse(event.data);
    EXPECT_EQ(data["type"], event.event);
    events.push_back(data);
  }
  return events;
}

json chunk(const std::string& delta, const std::string& finish = "") {
  json choice = {{"index", 0}, {"delta", json::parse(delta)}};
  choice["finish_reason"] = finish.empty() ? json(nullptr) : json(finish);
  json out = {{"id", "c1"}, {"created", 5}, {"object", "chat.completion.chunk"}};
  out["choices"] = json::array({choice});
  return out;
}

TEST(ResponsesStreamTest, TextThenFunctionCallThenCompleted) {
  ResponsesStream stream(responseEchoOf(json::parse(R"({"model":"m","input":"x"})")));
  std::string out = stream.onChunk(chunk(R"({"role":"assistant","content":"Hel"})"));
  out += stream.onChunk(chunk(R"({"content":"lo"})"));
  out += stream.onChunk(chunk(R"({"tool_calls":[{"index":0,"id":"call_1","function":{
    "name":"f","arguments":"{\"a\""}}]})"));
  out += stream.onChunk(chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]})"));
  out += stream.onChunk(chunk(R"({})", "tool_calls"));
  out += stream.onChunk(json::parse(R"({"id":"c1","choices":[],"usage":{"prompt_tokens":3,
    "completion_tokens":4}})"));
  out += stream.finish();
  EXPECT_EQ(stream.finish(), "");
  auto events = eventsOf(out);
  std::vector<std::string> types;
  for (const auto& event : events) types.push_back(event["type"]);
  EXPECT_EQ(
      types,
      (std::vector<std::string>{
          "response.created", "response.in_progress", "response.output_item.added",
          "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
          "response.output_text.done", "response.content_part.done", "response.output_item.done",
          "response.output_item.added", "response.function_call_arguments.delta",
          "response.function_call_arguments.delta", "response.function_call_arguments.done",
          "response.output_item.done", "response.completed"}));
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i]["sequence_number"], i);
  EXPECT_EQ(events[6]["text"], "Hello");
  EXPECT_EQ(events[12]["arguments"], "{\"a\":1}");
  EXPECT_EQ(events[13]["output_index"], 1);
  const json& done = events.back()["response"];
  EXPECT_EQ(done["status"], "completed");
  EXPECT_EQ(done["id"], "resp_c1");
  EXPECT_EQ(done["output"].size(), 2u);
  EXPECT_EQ(done["usage"]["total_tokens"], 7);
}

TEST(ResponsesStreamTest, CutStreamIsIncompleteAndFailureIsAnErrorEvent) {
  ResponsesStream stream(responseEchoOf(json::parse(R"({"model":"m","input":"x"})")));
  std::string out = stream.onChunk(chunk(R"({"content":"abc"})", "length"));
  out += stream.finish();
  EXPECT_EQ(eventsOf(out).back()["type"], "response.incomplete");
  EXPECT_EQ(eventsOf(out).back()["response"]["incomplete_details"]["reason"], "max_output_tokens");

  ResponsesStream broken(responseEchoOf(json::parse(R"({"model":"m","input":"x"})")));
  std::string text = broken.onChunk(chunk(R"({"content":"abc"})"));
  text += broken.failed(502, R"({"error":{"message":"reset","code":"upstream_reset"}})");
  EXPECT_EQ(broken.finish(), "");
  auto events = eventsOf(text);
  EXPECT_EQ(events.back()["type"], "error");
  EXPECT_EQ(events.back()["code"], "upstream_reset");
  EXPECT_EQ(events.back()["message"], "reset");
}

}  // namespace
}  // namespace costgate::translation
