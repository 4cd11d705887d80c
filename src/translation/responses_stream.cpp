#include "costgate/translation/responses_stream.h"

#include "costgate/translation/responses_api.h"
#include "json_fields.h"

namespace costgate::translation {

using nlohmann::json;

void ResponsesStream::add(std::string& out, const char* type, json data) {
  data["type"] = type;
  data["sequence_number"] = sequence_++;
  out.append("event: ").append(type).append("\ndata: ").append(jsonText(data)).append("\n\n");
}

json ResponsesStream::response(const char* status) const {
  json response = echo_;
  response["id"] = id_;
  response["object"] = "response";
  response["created_at"] = created_;
  response["status"] = status;
  response["error"] = nullptr;
  response["incomplete_details"] = nullptr;
  response["output"] = output_;
  response["usage"] = nullptr;
  return response;
}

void ResponsesStream::start(const json& chunk, std::string& out) {
  started_ = true;
  id_ = "resp_" + stringAt(chunk, "id");
  created_ = integerAt(chunk, "created");
  add(out, "response.created", {{"response", response("in_progress")}});
  add(out, "response.in_progress", {{"response", response("in_progress")}});
}

void ResponsesStream::openText(std::string& out) {
  closeItem(out);
  open_ = Item::kText;
  item_id_ = "msg_" + id_.substr(5) + "_" + std::to_string(output_.size());
  text_.clear();
  const int index = static_cast<int>(output_.size());
  add(out, "response.output_item.added",
      {{"output_index", index},
       {"item",
        {{"type", "message"},
         {"id", item_id_},
         {"status", "in_progress"},
         {"role", "assistant"},
         {"content", json::array()}}}});
  add(out, "response.content_part.added",
      {{"item_id", item_id_},
       {"output_index", index},
       {"content_index", 0},
       {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", json::array()}}}});
}

void ResponsesStream::openCall(const json& call, std::string& out) {
  closeItem(out);
  open_ = Item::kCall;
  std::string call_id = stringAt(call, "id");
  item_id_ = "fc_" + call_id;
  const json* function = memberAt(call, "function");
  call_ = {
      {"type", "function_call"}, {"id", item_id_},
      {"call_id", call_id},      {"name", function ? stringAt(*function, "name") : std::string()},
      {"arguments", ""},         {"status", "in_progress"}};
  add(out, "response.output_item.added",
      {{"output_index", static_cast<int>(output_.size())}, {"item", call_}});
}

void ResponsesStream::closeItem(std::string& out) {
  const int index = static_cast<int>(output_.size());
  if (open_ == Item::kText) {
    json part = {{"type", "output_text"}, {"text", text_}, {"annotations", json::array()}};
    add(out, "response.output_text.done",
        {{"item_id", item_id_}, {"output_index", index}, {"content_index", 0}, {"text", text_}});
    add(out, "response.content_part.done",
        {{"item_id", item_id_}, {"output_index", index}, {"content_index", 0}, {"part", part}});
    output_.push_back({{"type", "message"},
                       {"id", item_id_},
                       {"status", "completed"},
                       {"role", "assistant"},
                       {"content", json::array({part})}});
  } else if (open_ == Item::kCall) {
    add(out, "response.function_call_arguments.done",
        {{"item_id", item_id_}, {"output_index", index}, {"arguments", call_["arguments"]}});
    call_["status"] = "completed";
    output_.push_back(call_);
  } else {
    return;
  }
  add(out, "response.output_item.done", {{"output_index", index}, {"item", output_.back()}});
  open_ = Item::kNone;
  open_tool_call_ = -1;
}

std::string ResponsesStream::onChunk(const json& chunk) {
  std::string out;
  if (finished_ || !chunk.is_object()) return out;
  if (!started_) start(chunk, out);
  if (const json* usage = memberAt(chunk, "usage"); usage && usage->is_object()) usage_ = *usage;
  const json* choices = memberAt(chunk, "choices");
  if (!choices || !choices->is_array() || choices->empty()) return out;
  const json& choice = choices->front();
  if (const json* delta = memberAt(choice, "delta")) {
    for (const char* field : {"content", "refusal"}) {
      std::string text = stringAt(*delta, field);
      if (text.empty()) continue;
      if (open_ != Item::kText) openText(out);
      text_ += text;
      add(out, "response.output_text.delta",
          {{"item_id", item_id_},
           {"output_index", static_cast<int>(output_.size())},
           {"content_index", 0},
           {"delta", text}});
    }
    const json* calls = memberAt(*delta, "tool_calls");
    for (const json& call : calls && calls->is_array() ? *calls : json::array()) {
      int chat_index = static_cast<int>(integerAt(call, "index"));
      if (open_ != Item::kCall || chat_index != open_tool_call_) {
        openCall(call, out);
        open_tool_call_ = chat_index;
      }
      const json* function = memberAt(call, "function");
      std::string arguments = function ? stringAt(*function, "arguments") : std::string();
      if (arguments.empty()) continue;
      call_["arguments"] = call_["arguments"].get<std::string>() + arguments;
      add(out, "response.function_call_arguments.delta",
          {{"item_id", item_id_},
           {"output_index", static_cast<int>(output_.size())},
           {"delta", arguments}});
    }
  }
  if (std::string finish = stringAt(choice, "finish_reason"); !finish.empty()) {
    finish_reason_ = finish;
  }
  return out;
}

std::string ResponsesStream::finish() {
  std::string out;
  if (finished_) return out;
  if (!started_) start(json::object(), out);
  finished_ = true;
  closeItem(out);
  const bool cut = finish_reason_ == "length";
  json final_response = response(cut ? "incomplete" : "completed");
  if (cut) final_response["incomplete_details"] = {{"reason", "max_output_tokens"}};
  final_response["usage"] = responsesUsageOf(usage_);
  add(out, cut ? "response.incomplete" : "response.completed",
      {{"response", std::move(final_response)}});
  return out;
}

std::string ResponsesStream::failed(int status, std::string_view openai_error_body) {
  std::string out;
  if (finished_) return out;
  finished_ = true;
  json parsed = json::parse(openai_error_body, nullptr, false);
  const json* error = memberAt(parsed, "error");
  std::string code = error ? stringAt(*error, "code") : std::string();
  std::string message = error ? stringAt(*error, "message") : std::string("the stream failed");
  // Responses' error event; `error` too, which the openai SDKs raise as an APIError.
  add(out, "error",
      {{"code", code.empty() ? json(nullptr) : json(code)},
       {"message", message},
       {"param", nullptr},
       {"error",
        {{"type", status >= 500 ? "server_error" : "invalid_request_error"},
         {"code", code.empty() ? json(nullptr) : json(code)},
         {"message", message}}}});
  return out;
}

}  // namespace costgate::translation
