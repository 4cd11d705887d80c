#include "costgate/translation/responses_api.h"

#include <optional>
#include <utility>

#include "json_fields.h"

namespace costgate::translation {
namespace {

using nlohmann::json;

// One part of a message item's content -> chat's content part.
std::variant<json, Untranslatable> partOf(const json& part, const std::string& param) {
  std::string type = stringAt(part, "type");
  if (type == "input_text" || type == "output_text" || type == "text") {
    return json{{"type", "text"}, {"text", stringAt(part, "text")}};
  }
  if (type == "input_image") {
    std::string url = stringAt(part, "image_url");
    if (url.empty())
      return Untranslatable(
          "an input_image needs an image_url here (file_id needs the "
          "Responses API at the backend)",
          param);
    json image = {{"url", url}};
    if (std::string detail = stringAt(part, "detail"); !detail.empty()) image["detail"] = detail;
    return json{{"type", "image_url"}, {"image_url", std::move(image)}};
  }
  if (type == "refusal") return json{{"type", "text"}, {"text", stringAt(part, "refusal")}};
  return Untranslatable("content type '" + type + "' cannot be sent to this model", param);
}

// A message item's content (a string or parts) -> chat content: a string when it is one text.
std::variant<json, Untranslatable> contentOf(const json& item, const std::string& param) {
  const json* content = memberAt(item, "content");
  if (!content) return json("");
  if (content->is_string()) return *content;
  if (!content->is_array()) return Untranslatable("content must be a string or an array", param);
  json parts = json::array();
  for (std::size_t i = 0; i < content->size(); ++i) {
    auto part = partOf((*content)[i], param + ".content[" + std::to_string(i) + "]");
    if (auto* error = std::get_if<Untranslatable>(&part)) return *error;
    parts.push_back(std::move(std::get<json>(part)));
  }
  if (parts.size() == 1 && parts[0]["type"] == "text") return parts[0]["text"];
  return parts;
}

// Consecutive function_call items are one assistant message with several tool_calls in chat.
void addFunctionCall(const json& item, json& messages) {
  json call = {
      {"id", stringAt(item, "call_id")},
      {"type", "function"},
      {"function", {{"name", stringAt(item, "name")}, {"arguments", stringAt(item, "arguments")}}}};
  if (!messages.empty()) {
    json& last = messages.back();
    if (last["role"] == "assistant" && last.contains("tool_calls")) {
      last["tool_calls"].push_back(std::move(call));
      return;
    }
  }
  messages.push_back(
      {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({call})}});
}

std::optional<Untranslatable> addItem(const json& item, std::size_t at, json& messages) {
  std::string param = "input[" + std::to_string(at) + "]";
  if (!item.is_object()) return Untranslatable("each input item must be an object", param);
  std::string type = stringAt(item, "type");
  if (type == "function_call") {
    addFunctionCall(item, messages);
    return std::nullopt;
  }
  if (type == "function_call_output") {
    const json* output = memberAt(item, "output");
    messages.push_back({{"role", "tool"},
                        {"tool_call_id", stringAt(item, "call_id")},
                        {"content", output && output->is_string() ? output->get<std::string>()
                                    : output                      ? jsonText(*output)
                                                                  : std::string()}});
    return std::nullopt;
  }
  if (type == "reasoning") return std::nullopt;  // a reasoning model's own; chat cannot take it
  if (!type.empty() && type != "message") {
    return Untranslatable("input item type '" + type + "' cannot be sent to this model",
                          param + ".type");
  }
  std::string role = stringAt(item, "role");
  if (role == "developer") role = "system";  // what every chat backend knows
  if (role != "user" && role != "assistant" && role != "system") {
    return Untranslatable("role must be user, assistant, system or developer", param + ".role");
  }
  auto content = contentOf(item, param);
  if (auto* error = std::get_if<Untranslatable>(&content)) return *error;
  messages.push_back({{"role", role}, {"content", std::move(std::get<json>(content))}});
  return std::nullopt;
}

std::optional<Untranslatable> addInput(const json& request, json& chat) {
  json messages = json::array();
  if (std::string instructions = stringAt(request, "instructions"); !instructions.empty()) {
    messages.push_back({{"role", "system"}, {"content", instructions}});
  }
  const json* input = memberAt(request, "input");
  if (!input) return Untranslatable("input is required", "input");
  if (input->is_string()) {
    messages.push_back({{"role", "user"}, {"content", *input}});
  } else if (input->is_array()) {
    for (std::size_t i = 0; i < input->size(); ++i) {
      if (auto error = addItem((*input)[i], i, messages)) return error;
    }
  } else {
    return Untranslatable("input must be a string or an array of items", "input");
  }
  chat["messages"] = std::move(messages);
  return std::nullopt;
}

std::optional<Untranslatable> addTools(const json& request, json& chat) {
  if (const json* tools = memberAt(request, "tools")) {
    if (!tools->is_array()) return Untranslatable("tools must be an array", "tools");
    json chat_tools = json::array();
    for (std::size_t i = 0; i < tools->size(); ++i) {
      const json& tool = (*tools)[i];
      std::string type = stringAt(tool, "type");
      if (type != "function") {
        // web_search, file_search, code_interpreter, mcp...: they run at OpenAI, not in a model.
        return Untranslatable(
            "tool type '" + type + "' runs only at a backend with the Responses API",
            "tools[" + std::to_string(i) + "].type");
      }
      json function = {{"name", stringAt(tool, "name")}};
      for (const char* same : {"description", "parameters", "strict"}) {
        if (const json* value = memberAt(tool, same)) function[same] = *value;
      }
      chat_tools.push_back({{"type", "function"}, {"function", std::move(function)}});
    }
    if (!chat_tools.empty()) chat["tools"] = std::move(chat_tools);
  }
  if (const json* choice = memberAt(request, "tool_choice")) {
    if (choice->is_string()) {
      chat["tool_choice"] = *choice;
    } else if (stringAt(*choice, "type") == "function") {
      chat["tool_choice"] = {{"type", "function"},
                             {"function", {{"name", stringAt(*choice, "name")}}}};
    } else {
      return Untranslatable("this tool_choice cannot be sent to this model", "tool_choice");
    }
  }
  return std::nullopt;
}

std::optional<Untranslatable> addTextFormat(const json& request, json& chat) {
  const json* text = memberAt(request, "text");
  const json* format = text ? memberAt(*text, "format") : nullptr;
  if (!format) return std::nullopt;
  std::string type = stringAt(*format, "type");
  if (type == "text") return std::nullopt;
  if (type == "json_object") {
    chat["response_format"] = {{"type", "json_object"}};
  } else if (type == "json_schema") {
    json schema = {{"name", stringAt(*format, "name")}};
    for (const char* same : {"schema", "strict", "description"}) {
      if (const json* value = memberAt(*format, same)) schema[same] = *value;
    }
    chat["response_format"] = {{"type", "json_schema"}, {"json_schema", std::move(schema)}};
  } else {
    return Untranslatable("text.format type '" + type + "' is not known", "text.format.type");
  }
  return std::nullopt;
}

void addSettings(const json& request, json& chat) {
  chat["model"] = stringAt(request, "model");
  if (const json* limit = memberAt(request, "max_output_tokens")) chat["max_tokens"] = *limit;
  for (const char* same : {"temperature", "top_p", "parallel_tool_calls", "user"}) {
    if (const json* value = memberAt(request, same)) chat[same] = *value;
  }
  // Chat's reasoning models take the effort alone; a summary of the reasoning has no place.
  if (const json* reasoning = memberAt(request, "reasoning")) {
    if (std::string effort = stringAt(*reasoning, "effort"); !effort.empty()) {
      chat["reasoning_effort"] = effort;
    }
  }
  if (const json* stream = memberAt(request, "stream");
      stream && stream->is_boolean() && stream->get<bool>()) {
    chat["stream"] = true;
    chat["stream_options"] = {{"include_usage", true}};
  }
}

}  // namespace

std::variant<json, Untranslatable> chatRequestOfResponses(const json& request) {
  if (!request.is_object()) return Untranslatable("the body must be a JSON object", "");
  if (stringAt(request, "model").empty())
    return Untranslatable("model: a string is required", "model");
  if (memberAt(request, "previous_response_id") || memberAt(request, "conversation")) {
    return Untranslatable(
        "previous_response_id needs a backend that keeps responses; this model's "
        "backend speaks only chat completions: send the whole input instead",
        memberAt(request, "conversation") ? "conversation" : "previous_response_id");
  }
  if (const json* limit = memberAt(request, "max_output_tokens");
      limit && (!limit->is_number_integer() || limit->get<std::int64_t>() < 1)) {
    return Untranslatable("max_output_tokens must be a positive integer", "max_output_tokens");
  }
  json chat = json::object();
  addSettings(request, chat);
  if (auto error = addInput(request, chat)) return *error;
  if (auto error = addTools(request, chat)) return *error;
  if (auto error = addTextFormat(request, chat)) return *error;
  return chat;
}

json responseEchoOf(const json& request) {
  json echo = {{"model", stringAt(request, "model")},
               {"instructions", nullptr},
               {"max_output_tokens", nullptr},
               {"parallel_tool_calls", true},
               {"previous_response_id", nullptr},
               {"reasoning", {{"effort", nullptr}, {"summary", nullptr}}},
               {"store", false},
               {"temperature", 1.0},
               {"text", {{"format", {{"type", "text"}}}}},
               {"tool_choice", "auto"},
               {"tools", json::array()},
               {"top_p", 1.0},
               {"truncation", "disabled"},
               {"user", nullptr},
               {"metadata", json::object()}};
  for (auto& [key, value] : echo.items()) {
    if (key == "store") continue;  // a translated response is never stored
    if (const json* asked = memberAt(request, key.c_str())) value = *asked;
  }
  return echo;
}

json responsesUsageOf(const json& chat_usage) {
  std::int64_t prompt = integerAt(chat_usage, "prompt_tokens");
  std::int64_t completion = integerAt(chat_usage, "completion_tokens");
  const json* prompt_details = memberAt(chat_usage, "prompt_tokens_details");
  const json* completion_details = memberAt(chat_usage, "completion_tokens_details");
  return {{"input_tokens", prompt},
          {"input_tokens_details",
           {{"cached_tokens", prompt_details ? integerAt(*prompt_details, "cached_tokens") : 0}}},
          {"output_tokens", completion},
          {"output_tokens_details",
           {{"reasoning_tokens",
             completion_details ? integerAt(*completion_details, "reasoning_tokens") : 0}}},
          {"total_tokens", prompt + completion}};
}

json responseOfChatCompletion(const json& completion, const json& echo) {
  json output = json::array();
  std::string finish = "stop";
  std::string id = stringAt(completion, "id");
  const json* choices = memberAt(completion, "choices");
  if (choices && choices->is_array() && !choices->empty()) {
    const json& choice = choices->front();
    finish = stringAt(choice, "finish_reason");
    const json* message = memberAt(choice, "message");
    std::string text = message ? stringAt(*message, "content") : std::string();
    if (!text.empty()) {
      output.push_back({{"type", "message"},
                        {"id", "msg_" + id},
                        {"status", "completed"},
                        {"role", "assistant"},
                        {"content", json::array({{{"type", "output_text"},
                                                  {"text", std::move(text)},
                                                  {"annotations", json::array()}}})}});
    }
    const json* calls = message ? memberAt(*message, "tool_calls") : nullptr;
    for (const json& call : calls && calls->is_array() ? *calls : json::array()) {
      const json* function = memberAt(call, "function");
      output.push_back({{"type", "function_call"},
                        {"id", "fc_" + stringAt(call, "id")},
                        {"call_id", stringAt(call, "id")},
                        {"name", function ? stringAt(*function, "name") : std::string()},
                        {"arguments", function ? stringAt(*function, "arguments") : std::string()},
                        {"status", "completed"}});
    }
  }
  json response = echo;
  response["id"] = "resp_" + id;
  response["object"] = "response";
  response["created_at"] = integerAt(completion, "created");
  const bool cut = finish == "length";
  response["status"] = cut ? "incomplete" : "completed";
  response["incomplete_details"] = cut ? json{{"reason", "max_output_tokens"}} : json(nullptr);
  response["error"] = nullptr;
  response["output"] = std::move(output);
  response["usage"] = responsesUsageOf(completion.value("usage", json::object()));
  return response;
}

}  // namespace costgate::translation
