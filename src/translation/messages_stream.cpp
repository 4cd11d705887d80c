#include "costgate/translation/messages_stream.h"

#include "costgate/translation/messages_api.h"
#include "json_fields.h"

namespace costgate::translation {
namespace {

using nlohmann::json;

void addEvent(std::string& out, std::string_view type, const json& data) {
  out.append("event: ").append(type).append("\ndata: ");
  out.append(jsonText(data));
  out.append("\n\n");
}

}  // namespace

void MessagesStream::start(const json& chunk, std::string& out) {
  started_ = true;
  std::string id = chunk.is_object() ? stringAt(chunk, "id") : std::string();
  json message = {{"id", id.rfind("msg_", 0) == 0 ? id : "msg_" + id},
                  {"type", "message"},
                  {"role", "assistant"},
                  {"model", model_},
                  {"content", json::array()},
                  {"stop_reason", nullptr},
                  {"stop_sequence", nullptr},
                  // Chat streams count tokens only at the end: message_delta carries them.
                  {"usage", {{"input_tokens", 0}, {"output_tokens", 0}}}};
  addEvent(out, "message_start", {{"type", "message_start"}, {"message", std::move(message)}});
}

void MessagesStream::openBlock(Block kind, json content_block, std::string& out) {
  closeBlock(out);
  open_ = kind;
  ++index_;
  addEvent(out, "content_block_start",
           {{"type", "content_block_start"},
            {"index", index_},
            {"content_block", std::move(content_block)}});
}

void MessagesStream::closeBlock(std::string& out) {
  if (open_ == Block::kNone) return;
  addEvent(out, "content_block_stop", {{"type", "content_block_stop"}, {"index", index_}});
  open_ = Block::kNone;
  open_tool_call_ = -1;
}

void MessagesStream::onToolCallDelta(const json& call, std::string& out) {
  if (!call.is_object()) return;
  int chat_index = call.value("index", 0);
  const json function =
      call.contains("function") && call["function"].is_object() ? call["function"] : json::object();
  // A call's first delta has its id and name; the rest only add to its arguments.
  if (open_ != Block::kToolUse || chat_index != open_tool_call_) {
    openBlock(Block::kToolUse,
              {{"type", "tool_use"},
               {"id", stringAt(call, "id")},
               {"name", stringAt(function, "name")},
               {"input", json::object()}},
              out);
    open_tool_call_ = chat_index;
  }
  if (std::string arguments = stringAt(function, "arguments"); !arguments.empty()) {
    addEvent(out, "content_block_delta",
             {{"type", "content_block_delta"},
              {"index", index_},
              {"delta", {{"type", "input_json_delta"}, {"partial_json", std::move(arguments)}}}});
  }
}

std::string MessagesStream::onChunk(const json& chunk) {
  std::string out;
  if (finished_ || !chunk.is_object()) return out;
  if (!started_) start(chunk, out);
  if (auto usage = chunk.find("usage"); usage != chunk.end() && usage->is_object()) usage_ = *usage;
  auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array() || choices->empty()) return out;
  const json& choice = choices->front();
  if (!choice.is_object()) return out;
  if (auto delta = choice.find("delta"); delta != choice.end() && delta->is_object()) {
    // A refusal is the model's answer too: the client shows it as text.
    for (const char* field : {"content", "refusal"}) {
      std::string text = stringAt(*delta, field);
      if (text.empty()) continue;
      if (open_ != Block::kText) openBlock(Block::kText, {{"type", "text"}, {"text", ""}}, out);
      addEvent(out, "content_block_delta",
               {{"type", "content_block_delta"},
                {"index", index_},
                {"delta", {{"type", "text_delta"}, {"text", std::move(text)}}}});
    }
    if (auto calls = delta->find("tool_calls"); calls != delta->end() && calls->is_array()) {
      for (const json& call : *calls) onToolCallDelta(call, out);
    }
  }
  if (std::string finish = stringAt(choice, "finish_reason"); !finish.empty()) {
    stop_reason_ = std::string(stopReasonOf(finish));
  }
  return out;
}

std::string MessagesStream::finish() {
  std::string out;
  if (finished_) return out;
  if (!started_) start(json::object(), out);
  finished_ = true;
  closeBlock(out);
  addEvent(out, "message_delta",
           {{"type", "message_delta"},
            {"delta", {{"stop_reason", stop_reason_}, {"stop_sequence", nullptr}}},
            {"usage", messagesUsageOf(usage_)}});
  addEvent(out, "message_stop", {{"type", "message_stop"}});
  return out;
}

std::string MessagesStream::errorEvent(int status, std::string_view openai_error_body) {
  std::string out;
  addEvent(out, "error", json::parse(messagesErrorBody(status, openai_error_body)));
  return out;
}

}  // namespace costgate::translation
