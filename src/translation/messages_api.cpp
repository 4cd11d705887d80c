#include "costgate/translation/messages_api.h"

#include "json_fields.h"

#include <optional>
#include <utility>

namespace costgate::translation {
namespace {

using nlohmann::json;

// What one Messages content block or message turns into; an error stops the whole translation.
using Translated = std::variant<json, Untranslatable>;

// An image block's source -> chat's image_url part.
Translated imagePartOf(const json& block, const std::string& param) {
  const json* source = block.contains("source") ? &block["source"] : nullptr;
  if (!source || !source->is_object()) return Untranslatable("image block without a source", param);
  std::string type = stringAt(*source, "type");
  std::string url;
  if (type == "base64") {
    url = "data:" + stringAt(*source, "media_type") + ";base64," + stringAt(*source, "data");
  } else if (type == "url") {
    url = stringAt(*source, "url");
  } else {
    return Untranslatable("image source type '" + type + "' cannot be sent to this model", param);
  }
  return json{{"type", "image_url"}, {"image_url", {{"url", std::move(url)}}}};
}

// A tool_result's content (a string, or text and image blocks) -> the text of chat's tool message.
// Chat tool messages carry text only, so an image in a tool result cannot be carried.
std::variant<std::string, Untranslatable> toolResultText(const json& block,
                                                         const std::string& param) {
  auto content = block.find("content");
  std::string text;
  if (content == block.end() || content->is_null()) {
    text = "";
  } else if (content->is_string()) {
    text = content->get<std::string>();
  } else if (content->is_array()) {
    for (const json& part : *content) {
      if (!part.is_object() || stringAt(part, "type") != "text") {
        return Untranslatable("a tool_result can carry only text to this model",
                              param + ".content");
      }
      if (!text.empty()) text += "\n";
      text += stringAt(part, "text");
    }
  } else {
    return Untranslatable("tool_result content must be a string or an array of blocks", param);
  }
  // Chat has no is_error flag; the model is told in the text, as Anthropic's own docs suggest.
  if (block.value("is_error", false)) text = "Error: " + text;
  return text;
}

// The chat messages of one Messages turn: a user turn may become several (tool results are
// messages of their own in chat), an assistant turn one with tool_calls.
struct TurnParts {
  json content = json::array();  // text and image parts
  json tool_calls = json::array();
  json tool_messages = json::array();
};

std::optional<Untranslatable> addBlock(const json& block, const std::string& role,
                                       const std::string& param, TurnParts& parts) {
  if (!block.is_object()) return Untranslatable("content blocks must be objects", param);
  std::string type = stringAt(block, "type");
  if (type == "text") {
    parts.content.push_back({{"type", "text"}, {"text", stringAt(block, "text")}});
  } else if (type == "image") {
    if (role != "user") return Untranslatable("images can only be sent in user turns", param);
    Translated image = imagePartOf(block, param);
    if (auto* error = std::get_if<Untranslatable>(&image)) return *error;
    parts.content.push_back(std::move(std::get<json>(image)));
  } else if (type == "tool_use") {
    if (role != "assistant")
      return Untranslatable("tool_use blocks belong to assistant turns", param);
    json input = block.contains("input") ? block["input"] : json::object();
    parts.tool_calls.push_back(
        {{"id", stringAt(block, "id")},
         {"type", "function"},
         {"function", {{"name", stringAt(block, "name")}, {"arguments", jsonText(input)}}}});
  } else if (type == "tool_result") {
    if (role != "user") return Untranslatable("tool_result blocks belong to user turns", param);
    auto text = toolResultText(block, param);
    if (auto* error = std::get_if<Untranslatable>(&text)) return *error;
    parts.tool_messages.push_back({{"role", "tool"},
                                   {"tool_call_id", stringAt(block, "tool_use_id")},
                                   {"content", std::move(std::get<std::string>(text))}});
  } else if (type == "thinking" || type == "redacted_thinking") {
    // A model's earlier reasoning: only Anthropic's models can read it back; chat drops it.
  } else {
    return Untranslatable("content block type '" + type + "' cannot be sent to this model", param);
  }
  return std::nullopt;
}

// Chat content: a plain string when the turn is one text block (what every chat backend accepts).
json chatContentOf(json parts) {
  if (parts.size() == 1 && parts[0]["type"] == "text") return parts[0]["text"];
  return parts;
}

std::optional<Untranslatable> addTurn(const json& turn, std::size_t at, json& messages) {
  std::string param = "messages[" + std::to_string(at) + "]";
  if (!turn.is_object()) return Untranslatable("each message must be an object", param);
  std::string role = stringAt(turn, "role");
  if (role != "user" && role != "assistant") {
    return Untranslatable("role must be 'user' or 'assistant'", param + ".role");
  }
  auto content = turn.find("content");
  if (content == turn.end()) return Untranslatable("a message needs content", param + ".content");
  if (content->is_string()) {
    messages.push_back({{"role", role}, {"content", *content}});
    return std::nullopt;
  }
  if (!content->is_array()) return Untranslatable("content must be a string or an array", param);
  TurnParts parts;
  for (std::size_t i = 0; i < content->size(); ++i) {
    std::string block_param = param + ".content[" + std::to_string(i) + "]";
    if (auto error = addBlock((*content)[i], role, block_param, parts)) return error;
  }
  // Tool results answer the previous assistant turn's calls, so they come first in chat.
  for (json& tool_message : parts.tool_messages) messages.push_back(std::move(tool_message));
  if (parts.content.empty() && parts.tool_calls.empty()) return std::nullopt;
  json message = {{"role", role}};
  message["content"] = parts.content.empty() ? json(nullptr) : chatContentOf(parts.content);
  if (!parts.tool_calls.empty()) message["tool_calls"] = std::move(parts.tool_calls);
  messages.push_back(std::move(message));
  return std::nullopt;
}

std::variant<std::string, Untranslatable> systemTextOf(const json& system) {
  if (system.is_string()) return system.get<std::string>();
  if (!system.is_array())
    return Untranslatable("system must be a string or an array of blocks", "system");
  std::string text;
  for (const json& block : system) {
    if (!block.is_object() || stringAt(block, "type") != "text") {
      return Untranslatable("system blocks must be text blocks", "system");
    }
    if (!text.empty()) text += "\n\n";
    text += stringAt(block, "text");
  }
  return text;
}

Translated toolOf(const json& tool, std::size_t at) {
  std::string param = "tools[" + std::to_string(at) + "]";
  if (!tool.is_object()) return Untranslatable("each tool must be an object", param);
  // Client tools have no type or "custom"; typed ones (web_search_..., bash_..., computer_...)
  // run on Anthropic's side, and no chat model can run them.
  std::string type = stringAt(tool, "type");
  if (!type.empty() && type != "custom") {
    return Untranslatable("tool type '" + type + "' runs only on Anthropic's models",
                          param + ".type");
  }
  json function = {{"name", stringAt(tool, "name")},
                   {"parameters", tool.contains("input_schema") ? tool["input_schema"]
                                                                : json{{"type", "object"}}}};
  if (tool.contains("description")) function["description"] = tool["description"];
  return json{{"type", "function"}, {"function", std::move(function)}};
}

std::optional<Untranslatable> addToolChoice(const json& choice, json& chat) {
  if (!choice.is_object()) return Untranslatable("tool_choice must be an object", "tool_choice");
  std::string type = stringAt(choice, "type");
  if (type == "auto") {
    chat["tool_choice"] = "auto";
  } else if (type == "any") {
    chat["tool_choice"] = "required";
  } else if (type == "none") {
    chat["tool_choice"] = "none";
  } else if (type == "tool") {
    chat["tool_choice"] = {{"type", "function"},
                           {"function", {{"name", stringAt(choice, "name")}}}};
  } else {
    return Untranslatable("tool_choice type '" + type + "' is not known", "tool_choice.type");
  }
  if (choice.value("disable_parallel_tool_use", false)) chat["parallel_tool_calls"] = false;
  return std::nullopt;
}

std::optional<Untranslatable> addMessages(const json& request, json& chat) {
  json messages = json::array();
  if (auto system = request.find("system"); system != request.end() && !system->is_null()) {
    auto text = systemTextOf(*system);
    if (auto* error = std::get_if<Untranslatable>(&text)) return *error;
    messages.push_back({{"role", "system"}, {"content", std::get<std::string>(text)}});
  }
  auto turns = request.find("messages");
  if (turns == request.end() || !turns->is_array()) {
    return Untranslatable("messages: an array of messages is required", "messages");
  }
  for (std::size_t i = 0; i < turns->size(); ++i) {
    if (auto error = addTurn((*turns)[i], i, messages)) return error;
  }
  chat["messages"] = std::move(messages);
  return std::nullopt;
}

std::optional<Untranslatable> addTools(const json& request, json& chat) {
  if (auto tools = request.find("tools"); tools != request.end() && !tools->is_null()) {
    if (!tools->is_array()) return Untranslatable("tools must be an array", "tools");
    json chat_tools = json::array();
    for (std::size_t i = 0; i < tools->size(); ++i) {
      Translated tool = toolOf((*tools)[i], i);
      if (auto* error = std::get_if<Untranslatable>(&tool)) return *error;
      chat_tools.push_back(std::move(std::get<json>(tool)));
    }
    if (!chat_tools.empty()) chat["tools"] = std::move(chat_tools);
  }
  if (auto choice = request.find("tool_choice"); choice != request.end() && !choice->is_null()) {
    return addToolChoice(*choice, chat);
  }
  return std::nullopt;
}

// The sampling and limit fields that mean the same in both APIs, under their chat names.
void addSettings(const json& request, json& chat) {
  chat["model"] = request.value("model", json(""));
  if (request.contains("max_tokens")) chat["max_tokens"] = request["max_tokens"];
  for (const char* same : {"temperature", "top_p"}) {
    if (request.contains(same) && !request[same].is_null()) chat[same] = request[same];
  }
  if (auto stop = request.find("stop_sequences"); stop != request.end() && !stop->is_null()) {
    chat["stop"] = *stop;
  }
  if (auto metadata = request.find("metadata");
      metadata != request.end() && metadata->is_object()) {
    if (std::string user = stringAt(*metadata, "user_id"); !user.empty()) chat["user"] = user;
  }
  if (request.value("stream", false)) {
    chat["stream"] = true;
    // The Messages stream ends with usage; chat sends it only when asked.
    chat["stream_options"] = {{"include_usage", true}};
  }
}

}  // namespace

std::variant<json, Untranslatable> chatRequestOfMessages(const json& request) {
  if (!request.is_object()) return Untranslatable("the body must be a JSON object", "");
  if (!request.contains("model") || !request["model"].is_string()) {
    return Untranslatable("model: a string is required", "model");
  }
  if (!request.contains("max_tokens") || !request["max_tokens"].is_number_integer() ||
      request["max_tokens"].get<std::int64_t>() < 1) {
    return Untranslatable("max_tokens: a positive integer is required", "max_tokens");
  }
  for (const char* carried_nowhere : {"mcp_servers", "container"}) {
    if (request.contains(carried_nowhere) && !request[carried_nowhere].is_null()) {
      return Untranslatable(std::string(carried_nowhere) + " runs only on Anthropic's models",
                            carried_nowhere);
    }
  }
  json chat = json::object();
  addSettings(request, chat);
  if (auto error = addMessages(request, chat)) return *error;
  if (auto error = addTools(request, chat)) return *error;
  return chat;
}

std::string_view stopReasonOf(std::string_view finish_reason) {
  if (finish_reason == "length") return "max_tokens";
  if (finish_reason == "tool_calls" || finish_reason == "function_call") return "tool_use";
  if (finish_reason == "content_filter") return "refusal";
  return "end_turn";
}

json messagesUsageOf(const json& chat_usage) {
  std::int64_t prompt = integerAt(chat_usage, "prompt_tokens");
  std::int64_t cached = 0;
  if (const json* details = memberAt(chat_usage, "prompt_tokens_details")) {
    cached = std::min(integerAt(*details, "cached_tokens"), prompt);
  }
  return {{"input_tokens", prompt - cached},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", cached},
          {"output_tokens", integerAt(chat_usage, "completion_tokens")}};
}

json messageOfChatCompletion(const json& completion, std::string_view model) {
  json content = json::array();
  std::string finish = "stop";
  const json* message = nullptr;
  if (auto choices = completion.find("choices");
      choices != completion.end() && choices->is_array() && !choices->empty()) {
    const json& choice = choices->front();
    if (choice.is_object()) {
      finish = stringAt(choice, "finish_reason");
      if (auto found = choice.find("message"); found != choice.end() && found->is_object()) {
        message = &*found;
      }
    }
  }
  if (message) {
    if (std::string text = stringAt(*message, "content"); !text.empty()) {
      content.push_back({{"type", "text"}, {"text", std::move(text)}});
    }
    if (auto calls = message->find("tool_calls"); calls != message->end() && calls->is_array()) {
      for (const json& call : *calls) {
        if (!call.is_object() || !call.contains("function")) continue;
        const json& function = call["function"];
        // A model's arguments are JSON text, Messages' input an object; text that is not an
        // object is kept whole under "arguments" rather than lost.
        json input = json::parse(stringAt(function, "arguments"), nullptr, false);
        if (!input.is_object()) input = {{"arguments", stringAt(function, "arguments")}};
        content.push_back({{"type", "tool_use"},
                           {"id", stringAt(call, "id")},
                           {"name", stringAt(function, "name")},
                           {"input", std::move(input)}});
      }
    }
  }
  std::string id = stringAt(completion, "id");
  return {{"id", id.rfind("msg_", 0) == 0 ? id : "msg_" + id},
          {"type", "message"},
          {"role", "assistant"},
          {"model", std::string(model)},
          {"content", std::move(content)},
          {"stop_reason", stopReasonOf(finish)},
          {"stop_sequence", nullptr},
          {"usage", messagesUsageOf(completion.value("usage", json::object()))}};
}

std::string messagesErrorBody(int status, std::string_view openai_error_body) {
  std::string message = "request failed";
  json parsed = json::parse(openai_error_body, nullptr, false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    if (std::string text = stringAt(parsed["error"], "message"); !text.empty()) message = text;
  }
  // The types Anthropic's API documents for each status; the SDKs pick their class by status.
  std::string type = status == 401   ? "authentication_error"
                     : status == 403 ? "permission_error"
                     : status == 404 ? "not_found_error"
                     : status == 413 ? "request_too_large"
                     : status == 429 ? "rate_limit_error"
                     : status == 529 ? "overloaded_error"
                     : status >= 500 ? "api_error"
                                     : "invalid_request_error";
  return jsonText({{"type", "error"}, {"error", {{"type", type}, {"message", message}}}});
}

}  // namespace costgate::translation
