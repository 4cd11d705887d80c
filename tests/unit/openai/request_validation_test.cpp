#include "costgate/openai/request_validation.h"

#include <gtest/gtest.h>

namespace costgate::openai {
namespace {

using nlohmann::json;
using pipeline::Route;

json chat() { return json::parse(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})"); }

// The `param` of the error for `body`, or "ok" when it is accepted.
std::string problemParam(Route route, const json& body) {
  std::string text = body.dump();
  auto document = jsonview::Document::parse(text);
  EXPECT_TRUE(document);
  auto error = validateRequest(route, document->root());
  if (!error) return "ok";
  EXPECT_EQ(error->status, 400);
  EXPECT_EQ(error->type, "invalid_request_error");
  EXPECT_FALSE(error->message.empty());
  return error->param.empty() ? "(none)" : error->param;
}

TEST(RequestValidation, AcceptsWellFormedRequests) {
  EXPECT_EQ(problemParam(Route::kChatCompletions, chat()), "ok");
  json full = chat();
  full.update(json::parse(R"({"stream":true,"stream_options":{"include_usage":true},
      "temperature":0.5,"top_p":1,"n":2,"max_tokens":10,"max_completion_tokens":10,"stop":["x"],
      "user":"u","metadata":{"a":"b"},"logprobs":true,"top_logprobs":3,"seed":7,"tools":[],
      "presence_penalty":-1,"frequency_penalty":2,"response_format":{"type":"text"}})"));
  EXPECT_EQ(problemParam(Route::kChatCompletions, full), "ok");
  EXPECT_EQ(problemParam(Route::kCompletions, json::parse(R"({"model":"m","prompt":"p"})")), "ok");
  EXPECT_EQ(problemParam(Route::kEmbeddings, json::parse(R"({"model":"m","input":["a"]})")), "ok");
  json rich = chat();
  rich.update(json::parse(R"({"messages":[{"role":"user","name":"ann","content":[
      {"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"https://x/y.png"}},
      {"type":"input_audio","input_audio":{}}]},
      {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
      "function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"ok"}],
      "tools":[{"type":"function","function":{"name":"f","parameters":{}}}],
      "tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false,
      "metadata":{"feature":"search"}})"));
  EXPECT_EQ(problemParam(Route::kChatCompletions, rich), "ok");
  rich["tool_choice"] = "auto";
  EXPECT_EQ(problemParam(Route::kChatCompletions, rich), "ok");
  // null means "not given" for optional fields, as OpenAI accepts it.
  json nulls = chat();
  nulls["temperature"] = nullptr;
  EXPECT_EQ(problemParam(Route::kChatCompletions, nulls), "ok");
}

TEST(RequestValidation, NamesTheOffendingField) {
  auto with = [](const char* field, json value) {
    json body = chat();
    body[field] = std::move(value);
    return problemParam(Route::kChatCompletions, body);
  };
  EXPECT_EQ(with("model", 3), "model");
  EXPECT_EQ(with("model", ""), "model");
  EXPECT_EQ(with("messages", "hi"), "messages");
  EXPECT_EQ(with("messages", json::array()), "messages");
  EXPECT_EQ(with("messages", json::array({1})), "messages[0]");
  EXPECT_EQ(with("messages", json::parse(R"([{"content":"x"}])")), "messages[0].role");
  EXPECT_EQ(with("messages", json::parse(R"([{"role":"robot","content":"x"}])")),
            "messages[0].role");
  EXPECT_EQ(with("messages", json::parse(R"([{"role":"user","content":5}])")),
            "messages[0].content");
  EXPECT_EQ(with("temperature", "hot"), "temperature");
  EXPECT_EQ(with("temperature", 2.5), "temperature");
  EXPECT_EQ(with("top_p", -0.1), "top_p");
  EXPECT_EQ(with("n", 1.5), "n");
  EXPECT_EQ(with("n", 0), "n");
  EXPECT_EQ(with("max_tokens", 0), "max_tokens");
  EXPECT_EQ(with("max_tokens", "10"), "max_tokens");
  EXPECT_EQ(with("stream", "yes"), "stream");
  EXPECT_EQ(with("stream_options", json::parse(R"({"include_usage":"yes"})")),
            "stream_options.include_usage");
  EXPECT_EQ(with("stop", json::array({"a", "b", "c", "d", "e"})), "stop");
  EXPECT_EQ(with("stop", json::array({1})), "stop");
  EXPECT_EQ(with("metadata", "x"), "metadata");
  EXPECT_EQ(with("top_logprobs", 21), "top_logprobs");
  EXPECT_EQ(with("metadata", json::parse(R"({"feature":7})")), "metadata.feature");
  EXPECT_EQ(with("parallel_tool_calls", "yes"), "parallel_tool_calls");
}

// What the token counts, the router and the cache read inside messages and tools is checked,
// so each of them sees only the shapes OpenAI accepts.
TEST(RequestValidation, NamesTheOffendingPartOfAMessageOrTool) {
  auto message = [](const char* text) {
    json body = chat();
    body["messages"] = json::array({json::parse(text)});
    return problemParam(Route::kChatCompletions, body);
  };
  EXPECT_EQ(message(R"({"role":"user","content":["x"]})"), "messages[0].content[0]");
  EXPECT_EQ(message(R"({"role":"user","content":[{"text":"x"}]})"), "messages[0].content[0].type");
  EXPECT_EQ(message(R"({"role":"user","content":[{"type":"text","text":"a"},{"type":"text"}]})"),
            "messages[0].content[1].text");
  EXPECT_EQ(message(R"({"role":"user","content":[{"type":"image_url","image_url":"u"}]})"),
            "messages[0].content[0].image_url");
  EXPECT_EQ(message(R"({"role":"user","content":[{"type":"image_url","image_url":{}}]})"),
            "messages[0].content[0].image_url.url");
  EXPECT_EQ(message(R"({"role":"user","content":"x","name":["ann"]})"), "messages[0].name");
  EXPECT_EQ(message(R"({"role":"assistant","tool_calls":{}})"), "messages[0].tool_calls");
  EXPECT_EQ(message(R"({"role":"assistant","tool_calls":["c"]})"), "messages[0].tool_calls[0]");
  EXPECT_EQ(message(R"({"role":"tool","content":"x","tool_call_id":1})"),
            "messages[0].tool_call_id");
  auto with = [](const char* field, const char* value) {
    json body = chat();
    body[field] = json::parse(value);
    return problemParam(Route::kChatCompletions, body);
  };
  EXPECT_EQ(with("tools", R"([{"type":"function","function":{"name":"f"}},"g"])"), "tools[1]");
  EXPECT_EQ(with("tools", R"([{"function":{"name":"f"}}])"), "tools[0].type");
  EXPECT_EQ(with("tools", R"([{"type":"function"}])"), "tools[0].function");
  EXPECT_EQ(with("tools", R"([{"type":"function","function":{"name":1}}])"),
            "tools[0].function.name");
  EXPECT_EQ(with("tool_choice", "1"), "tool_choice");
  EXPECT_EQ(with("tool_choice", "{}"), "tool_choice.type");
  EXPECT_EQ(with("response_format", "{}"), "response_format.type");
  EXPECT_EQ(problemParam(Route::kEmbeddings, json::parse(R"({"model":"m","input":"x","user":1})")),
            "user");
}

TEST(RequestValidation, ChecksEachRoutesRequiredInput) {
  EXPECT_EQ(problemParam(Route::kChatCompletions, json::parse(R"({"model":"m"})")), "messages");
  EXPECT_EQ(problemParam(Route::kCompletions, json::parse(R"({"model":"m"})")), "prompt");
  EXPECT_EQ(problemParam(Route::kEmbeddings, json::parse(R"({"model":"m","input":[]})")), "input");
  EXPECT_EQ(problemParam(Route::kEmbeddings, json::parse(R"({"model":"m","input":3})")), "input");
  EXPECT_EQ(problemParam(Route::kChatCompletions, json::parse(R"({"messages":[]})")), "model");
  EXPECT_EQ(problemParam(Route::kChatCompletions, json::array()), "(none)");
}

TEST(RequestValidation, ReportsTheModelAndStreamFlag) {
  auto document = jsonview::Document::parse(
      R"({"model":"m\u00e9","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(document);
  RequestBasics basics;
  EXPECT_FALSE(validateRequest(Route::kChatCompletions, document->root(), &basics));
  EXPECT_EQ(basics.model, "m\xC3\xA9");
  EXPECT_TRUE(basics.stream);
  auto plain = jsonview::Document::parse(R"({"model":"m","stream":null,"prompt":"p"})");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(validateRequest(Route::kCompletions, plain->root(), &basics));
  EXPECT_EQ(basics.model, "m");
  EXPECT_FALSE(basics.stream);
}

TEST(RequestValidation, SaysWhatIsWrong) {
  auto message = [](const char* text) {
    auto document = jsonview::Document::parse(text);
    EXPECT_TRUE(document);
    auto error = validateRequest(Route::kChatCompletions, document->root());
    return error ? error->message : std::string("ok");
  };
  const char* kMessages = R"("messages":[{"role":"user","content":"hi"}])";
  EXPECT_EQ(message((std::string(R"({"model":"m","temperature":2.5,)") + kMessages + "}").c_str()),
            "'temperature' must be between 0 and 2");
  EXPECT_EQ(message((std::string(R"({"model":"m","n":"2",)") + kMessages + "}").c_str()),
            "'n' must be an integer, got a string");
  EXPECT_EQ(
      message((std::string(R"({"model":"m","n":99999999999999999999,)") + kMessages + "}").c_str()),
      "'n' must be between 1 and 128");
  EXPECT_EQ(message(R"({"model":"m","messages":[{"role":"us\u0065r"},{"role":"bot"}]})"),
            "'messages[1].role' must be one of system, developer, user, assistant, tool, "
            "function; got 'bot'");
  EXPECT_EQ(message(R"({"model":"m","messages":[{"role":"user","content":{}}]})"),
            "'messages[0].content' must be a string or an array of content parts, got an object");
}

TEST(RequestValidation, RefusesRepeatedMemberNamesAnywhere) {
  // The error for `text` on the chat route: "code param: message", or "ok".
  auto refusal = [](std::string_view text) {
    auto document = jsonview::Document::parse(text);
    EXPECT_TRUE(document) << text;
    auto error = validateRequest(Route::kChatCompletions, document->root());
    if (!error) return std::string("ok");
    EXPECT_EQ(error->status, 400);
    EXPECT_EQ(error->type, "invalid_request_error");
    return error->code + " " + error->param + ": " + error->message;
  };
  const std::string messages = R"("messages":[{"role":"user","content":"hi"}])";
  EXPECT_EQ(
      refusal(R"({"model":"m",)" + messages + R"(,"max_tokens":999999,"max_tokens":5})"),
      "duplicate_member max_tokens: duplicate member \"max_tokens\" at 'max_tokens': a member "
      "name may appear only once in an object");
  for (const char* repeated :
       {R"("model":"a","model":"b",)", R"("n":1,"n":2,)", R"("stream":false,"stream":true,)",
        R"("max\u005ftokens":1,"max_tokens":2,)"}) {
    EXPECT_TRUE(
        refusal(std::string("{") + repeated + messages + "}").starts_with("duplicate_member"))
        << repeated;
  }
  EXPECT_TRUE(refusal(R"({"model":"m",)" + messages + "," + messages + "}")
                  .starts_with("duplicate_member messages:"));
  EXPECT_TRUE(refusal(R"({"model":"m","messages":[{"role":"user","content":"a","role":"system"}]})")
                  .starts_with("duplicate_member messages[0].role:"));
  EXPECT_TRUE(refusal(R"({"model":"m",)" + messages +
                      R"(,"tools":[{"type":"function","function":{"name":"f","parameters":)"
                      R"({"type":"object","type":"array"}}}]})")
                  .starts_with("duplicate_member tools[0].function.parameters.type:"));
  EXPECT_TRUE(refusal(R"({"model":"m",)" + messages +
                      R"(,"response_format":{"type":"json_object","type":"text"}})")
                  .starts_with("duplicate_member response_format.type:"));
  EXPECT_TRUE(refusal(R"({"model":"m",)" + messages + R"(,"metadata":{"team":"a","team":"b"}})")
                  .starts_with("duplicate_member metadata.team:"));
  // Repeated values under distinct names are fine.
  EXPECT_EQ(refusal(R"({"model":"m",)" + messages + R"(,"metadata":{"a":"x","b":"x"}})"), "ok");
  // A long name is cut in the message.
  const std::string long_name(300, 'k');
  const std::string error =
      refusal(R"({"model":"m",)" + messages + ",\"" + long_name + "\":1,\"" + long_name + "\":2}");
  EXPECT_TRUE(error.starts_with("duplicate_member")) << error;
  EXPECT_LT(error.size(), 300u);
}

TEST(RequestValidation, RefusesControlCharactersInTheModelName) {
  auto param = [](std::string_view text) {
    auto document = jsonview::Document::parse(text);
    EXPECT_TRUE(document) << text;
    auto error = validateRequest(Route::kChatCompletions, document->root());
    return error ? error->param + " " + error->code : std::string("ok");
  };
  const std::string rest = R"(,"messages":[{"role":"user","content":"hi"}]})";
  for (const char* model : {R"(gpt-4o\n)", R"(gpt\u0000x)", R"(a\tb)", R"(\u001f)", "a\x7f",
                            R"(a\u007f)", R"(x\r\nHost: evil)"}) {
    EXPECT_EQ(param(std::string(R"({"model":")") + model + "\"" + rest), "model invalid_value")
        << model;
  }
  // Other characters, escaped or not, are names like any.
  for (const char* model : {"gpt-4o", R"(m\u00e9)", "caf\xC3\xA9", R"(a\/b)", "a b"}) {
    EXPECT_EQ(param(std::string(R"({"model":")") + model + "\"" + rest), "ok") << model;
  }
  // Embeddings and completions too.
  auto embedding = jsonview::Document::parse(R"({"model":"e\n","input":"x"})");
  ASSERT_TRUE(embedding);
  EXPECT_TRUE(validateRequest(Route::kEmbeddings, embedding->root()));
}

TEST(ApiErrorShape, HasExactlyTheFourFieldsWithNulls) {
  json error = json::parse(invalidRequest("bad", "", "").body());
  ASSERT_TRUE(error.contains("error"));
  EXPECT_EQ(error["error"].size(), 4u);
  EXPECT_EQ(error["error"]["message"], "bad");
  EXPECT_EQ(error["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(error["error"]["param"].is_null());
  EXPECT_TRUE(error["error"]["code"].is_null());
  json with = json::parse(notFound("no model", "model_not_found").body());
  EXPECT_EQ(with["error"]["code"], "model_not_found");
  // Invalid UTF-8 in a message is replaced, never thrown.
  EXPECT_TRUE(json::accept(invalidRequest(std::string("bad \xff byte")).body()));
}

}  // namespace
}  // namespace costgate::openai
