// The Messages <-> chat translation, field by field each way; the cases that cannot be carried.
#include "costgate/translation/messages_api.h"

#include <gtest/gtest.h>

namespace costgate::translation {
namespace {

using nlohmann::json;

json chatOf(const std::string& request) {
  auto translated = chatRequestOfMessages(json::parse(request));
  if (auto* error = std::get_if<Untranslatable>(&translated)) {
    ADD_FAILURE() << "refused: " << error->message << " (" << error->param << ")";
    return json();
  }
  return std::get<json>(translated);
}

Untranslatable refusalOf(const std::string& request) {
  auto translated = chatRequestOfMessages(json::parse(request));
  if (auto* error = std::get_if<Untranslatable>(&translated)) return *error;
  ADD_FAILURE() << "translated: " << std::get<json>(translated).dump();
  return {};
}

TEST(MessagesRequestTest, CarriesModelLimitsSamplingAndStops) {
  json chat = chatOf(R"({"model":"claude-x","max_tokens":300,"temperature":0.2,"top_p":0.9,
    "top_k":5,"stop_sequences":["END"],"metadata":{"user_id":"u-7"},
    "messages":[{"role":"user","content":"Hi"}]})");
  EXPECT_EQ(chat["model"], "claude-x");
  EXPECT_EQ(chat["max_tokens"], 300);
  EXPECT_EQ(chat["temperature"], 0.2);
  EXPECT_EQ(chat["top_p"], 0.9);
  EXPECT_EQ(chat["stop"], json::array({"END"}));
  EXPECT_EQ(chat["user"], "u-7");
  // Chat has no top_k: dropped, as documented.
  EXPECT_FALSE(chat.contains("top_k"));
  EXPECT_EQ(chat["messages"], json::parse(R"([{"role":"user","content":"Hi"}])"));
  EXPECT_FALSE(chat.contains("stream"));
}

TEST(MessagesRequestTest, SystemBlocksBecomeOneSystemMessageWithoutCacheControl) {
  json chat = chatOf(R"({"model":"m","max_tokens":5,"system":[{"type":"text","text":"Be brief."},
    {"type":"text","text":"Use metric units.","cache_control":{"type":"ephemeral"}}],
    "messages":[{"role":"user","content":"Hi"}]})");
  EXPECT_EQ(chat["messages"][0],
            json::parse(R"({"role":"system","content":"Be brief.\n\nUse metric units."})"));
  EXPECT_EQ(chat["messages"].size(), 2u);
}

TEST(MessagesRequestTest, ImagesBecomeImageUrlParts) {
  json chat = chatOf(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[
    {"type":"text","text":"What is this?"},
    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}},
    {"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}}]}]})");
  json content = chat["messages"][0]["content"];
  ASSERT_EQ(content.size(), 3u);
  EXPECT_EQ(content[0], json::parse(R"({"type":"text","text":"What is this?"})"));
  EXPECT_EQ(content[1]["image_url"]["url"], "data:image/png;base64,iVBOR");
  EXPECT_EQ(content[2]["image_url"]["url"], "https://example.com/a.jpg");
}

TEST(MessagesRequestTest, ToolUseAndToolResultBecomeToolCallsAndToolMessages) {
  json chat = chatOf(R"({"model":"m","max_tokens":50,"messages":[
    {"role":"user","content":"Weather in Oslo?"},
    {"role":"assistant","content":[{"type":"thinking","thinking":"...","signature":"s"},
      {"type":"text","text":"Checking."},
      {"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Oslo"}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1",
      "content":[{"type":"text","text":"-3C"}]},{"type":"text","text":"And tomorrow?"}]},
    {"role":"assistant","content":[{"type":"tool_use","id":"toolu_2","name":"weather","input":{}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_2","is_error":true,
      "content":"service down"}]}]})");
  json messages = chat["messages"];
  ASSERT_EQ(messages.size(), 6u) << messages.dump();
  EXPECT_EQ(messages[1]["content"], "Checking.");
  EXPECT_EQ(messages[1]["tool_calls"][0]["id"], "toolu_1");
  EXPECT_EQ(messages[1]["tool_calls"][0]["function"]["name"], "weather");
  EXPECT_EQ(json::parse(messages[1]["tool_calls"][0]["function"]["arguments"].get<std::string>()),
            json::parse(R"({"city":"Oslo"})"));
  // The tool's answer comes before the user's new text, as chat orders them.
  EXPECT_EQ(messages[2],
            json::parse(R"({"role":"tool","tool_call_id":"toolu_1","content":"-3C"})"));
  EXPECT_EQ(messages[3], json::parse(R"({"role":"user","content":"And tomorrow?"})"));
  EXPECT_TRUE(messages[4]["content"].is_null());
  EXPECT_EQ(messages[5]["content"], "Error: service down");
}

TEST(MessagesRequestTest, ToolsAndToolChoice) {
  json chat = chatOf(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],
    "tools":[{"name":"weather","description":"Forecast","input_schema":{"type":"object",
      "properties":{"city":{"type":"string"}}}}],
    "tool_choice":{"type":"tool","name":"weather","disable_parallel_tool_use":true}})");
  EXPECT_EQ(chat["tools"][0]["type"], "function");
  EXPECT_EQ(chat["tools"][0]["function"]["name"], "weather");
  EXPECT_EQ(chat["tools"][0]["function"]["description"], "Forecast");
  EXPECT_EQ(chat["tools"][0]["function"]["parameters"]["properties"]["city"]["type"], "string");
  EXPECT_EQ(chat["tool_choice"]["function"]["name"], "weather");
  EXPECT_EQ(chat["parallel_tool_calls"], false);
  for (auto [anthropic, openai] :
       {std::pair{"auto", "auto"}, std::pair{"any", "required"}, std::pair{"none", "none"}}) {
    json other = chatOf(std::string(R"({"model":"m","max_tokens":5,"messages":[],
      "tool_choice":{"type":")") +
                        anthropic + R"("}})");
    EXPECT_EQ(other["tool_choice"], openai) << anthropic;
  }
}

TEST(MessagesRequestTest, StreamAsksForUsage) {
  json chat = chatOf(R"({"model":"m","max_tokens":5,"stream":true,"messages":[]})");
  EXPECT_EQ(chat["stream"], true);
  EXPECT_EQ(chat["stream_options"]["include_usage"], true);
}

TEST(MessagesRequestTest, RefusesWhatCannotBeCarried) {
  EXPECT_EQ(refusalOf(R"({"model":"m","messages":[]})").param, "max_tokens");
  EXPECT_EQ(refusalOf(R"({"max_tokens":1,"messages":[]})").param, "model");
  EXPECT_EQ(refusalOf(R"({"model":"m","max_tokens":0,"messages":[]})").param, "max_tokens");
  EXPECT_EQ(refusalOf(R"({"model":"m","max_tokens":1})").param, "messages");
  EXPECT_EQ(refusalOf(R"({"model":"m","max_tokens":1,"messages":[{"role":"system",
    "content":"x"}]})")
                .param,
            "messages[0].role");
  EXPECT_EQ(refusalOf(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[
    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"x"}}]}]})")
                .param,
            "messages[0].content[0]");
  EXPECT_EQ(refusalOf(R"({"model":"m","max_tokens":1,"messages":[],
    "tools":[{"type":"web_search_20250305","name":"web_search"}]})")
                .param,
            "tools[0].type");
  EXPECT_EQ(refusalOf(R"({"model":"m","max_tokens":1,"messages":[],"mcp_servers":[{}]})").param,
            "mcp_servers");
  EXPECT_EQ(refusalOf(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[
    {"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{}}]}]}]})")
                .param,
            "messages[0].content[0].content");
  EXPECT_EQ(refusalOf(R"([1,2])").param, "");
}

TEST(MessagesAnswerTest, TextToolCallsStopReasonAndUsage) {
  json completion = json::parse(R"({"id":"chatcmpl-9","object":"chat.completion","model":"gpt-x",
    "choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant",
      "content":"Let me look.","tool_calls":[{"id":"call_1","type":"function","function":{
        "name":"weather","arguments":"{\"city\":\"Oslo\"}"}},{"id":"call_2","type":"function",
        "function":{"name":"broken","arguments":"not json"}}]}}],
    "usage":{"prompt_tokens":120,"completion_tokens":30,"prompt_tokens_details":{"cached_tokens":100}}})");
  json message = messageOfChatCompletion(completion, "claude-x");
  EXPECT_EQ(message["id"], "msg_chatcmpl-9");
  EXPECT_EQ(message["type"], "message");
  EXPECT_EQ(message["role"], "assistant");
  EXPECT_EQ(message["model"], "claude-x");
  EXPECT_EQ(message["stop_reason"], "tool_use");
  EXPECT_TRUE(message["stop_sequence"].is_null());
  ASSERT_EQ(message["content"].size(), 3u);
  EXPECT_EQ(message["content"][0], json::parse(R"({"type":"text","text":"Let me look."})"));
  EXPECT_EQ(message["content"][1]["input"], json::parse(R"({"city":"Oslo"})"));
  EXPECT_EQ(message["content"][1]["id"], "call_1");
  EXPECT_EQ(message["content"][2]["input"], json::parse(R"({"arguments":"not json"})"));
  EXPECT_EQ(message["usage"], json::parse(R"({"input_tokens":20,"cache_creation_input_tokens":0,
    "cache_read_input_tokens":100,"output_tokens":30})"));
}

TEST(MessagesAnswerTest, FinishReasons) {
  EXPECT_EQ(stopReasonOf("stop"), "end_turn");
  EXPECT_EQ(stopReasonOf("length"), "max_tokens");
  EXPECT_EQ(stopReasonOf("tool_calls"), "tool_use");
  EXPECT_EQ(stopReasonOf("content_filter"), "refusal");
}

TEST(MessagesErrorTest, StatusPicksTheAnthropicType) {
  std::string openai = R"({"error":{"message":"bad key","type":"invalid_request_error"}})";
  EXPECT_EQ(json::parse(messagesErrorBody(401, openai)),
            json::parse(R"({"type":"error","error":{"type":"authentication_error",
              "message":"bad key"}})"));
  EXPECT_EQ(json::parse(messagesErrorBody(429, openai))["error"]["type"], "rate_limit_error");
  EXPECT_EQ(json::parse(messagesErrorBody(503, "not json"))["error"]["type"], "api_error");
  EXPECT_EQ(json::parse(messagesErrorBody(400, openai))["error"]["type"], "invalid_request_error");
}

}  // namespace
}  // namespace costgate::translation
