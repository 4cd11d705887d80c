#include "costgate/cache/completion_stream.h"

namespace costgate::cache {
namespace {

using nlohmann::json;

constexpr auto kReplaceInvalidUtf8 = json::error_handler_t::replace;

std::string dump(const json& value) { return value.dump(-1, ' ', false, kReplaceInvalidUtf8); }

// The text of a replayed stream goes out in pieces of about this many bytes, cut after a space.
constexpr std::size_t kPieceBytes = 24;

// `object[key]` if it is there and `wanted(it)`, else `fallback`. Answers come from backends, and
// json::value() would throw on a member of another type than its default's.
template <typename Wanted>
json memberOr(const json& object, const char* key, Wanted wanted, json fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && wanted(*it) ? *it : fallback;
}
const auto kIsString = [](const json& value) { return value.is_string(); };
const auto kIsNumber = [](const json& value) { return value.is_number(); };
const auto kIsObject = [](const json& value) { return value.is_object(); };
const auto kAny = [](const json&) { return true; };

}  // namespace

void StreamAssembler::add(std::string_view data) {
  if (broken_ || done_) return;
  if (data == "[DONE]") {
    done_ = true;
    return;
  }
  json chunk = json::parse(data, nullptr, false);
  if (!chunk.is_object()) {
    broken_ = true;
    return;
  }
  if (first_.is_null()) first_ = chunk;
  if (auto usage = chunk.find("usage"); usage != chunk.end() && usage->is_object()) {
    usage_ = *usage;
  }
  auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array()) return;
  for (const json& choice : *choices) {
    // One choice, index 0 (or none said): anything else is not an answer the cache can keep.
    if (!choice.is_object()) {
      broken_ = true;
      return;
    }
    if (auto index = choice.find("index"); index != choice.end() && *index != 0) {
      broken_ = true;
      return;
    }
    if (auto delta = choice.find("delta"); delta != choice.end() && delta->is_object()) {
      if (auto role = delta->find("role"); role != delta->end() && role->is_string()) {
        role_ = role->get<std::string>();
      }
      if (auto content = delta->find("content"); content != delta->end() && content->is_string()) {
        content_ += content->get_ref<const std::string&>();
        has_content_ = true;
      }
      if (auto refusal = delta->find("refusal"); refusal != delta->end() && refusal->is_string()) {
        refusal_ += refusal->get_ref<const std::string&>();
        has_refusal_ = true;
      }
      if (auto calls = delta->find("tool_calls"); calls != delta->end() && calls->is_array()) {
        // Kept as the deltas came; the filter never stores an answer with tool calls by default.
        for (const json& call : *calls) tool_calls_.push_back(call);
      }
    }
    if (auto finish = choice.find("finish_reason"); finish != choice.end() && !finish->is_null()) {
      finish_reason_ = *finish;
    }
  }
}

std::optional<std::string> StreamAssembler::completion() const {
  if (!done_ || broken_ || !first_.is_object()) return std::nullopt;
  json message = {{"role", role_},
                  {"content", has_content_ ? json(content_) : json(nullptr)},
                  {"refusal", has_refusal_ ? json(refusal_) : json(nullptr)}};
  if (!tool_calls_.empty()) message["tool_calls"] = tool_calls_;
  json completion = {{"id", memberOr(first_, "id", kIsString, "")},
                     {"object", "chat.completion"},
                     {"created", memberOr(first_, "created", kIsNumber, 0)},
                     {"model", memberOr(first_, "model", kIsString, "")},
                     {"choices", json::array({{{"index", 0},
                                               {"message", std::move(message)},
                                               {"logprobs", nullptr},
                                               {"finish_reason", finish_reason_}}})}};
  for (const char* key : {"system_fingerprint", "service_tier"}) {
    if (auto value = first_.find(key); value != first_.end()) completion[key] = *value;
  }
  if (!usage_.is_null()) completion["usage"] = usage_;
  return dump(completion);
}

std::optional<std::string> replayAsStream(std::string_view completion, bool include_usage) {
  json whole = json::parse(completion, nullptr, false);
  if (!whole.is_object()) return std::nullopt;
  auto choices = whole.find("choices");
  if (choices == whole.end() || !choices->is_array() || choices->size() != 1 ||
      !(*choices)[0].is_object()) {
    return std::nullopt;
  }
  const json& choice = (*choices)[0];
  const json message = memberOr(choice, "message", kIsObject, json::object());
  json base = {{"id", memberOr(whole, "id", kIsString, "")},
               {"object", "chat.completion.chunk"},
               {"created", memberOr(whole, "created", kIsNumber, 0)},
               {"model", memberOr(whole, "model", kIsString, "")}};
  for (const char* key : {"system_fingerprint", "service_tier"}) {
    if (auto value = whole.find(key); value != whole.end()) base[key] = *value;
  }
  std::string out;
  auto send = [&](json delta, json finish_reason, bool with_usage_null) {
    json chunk = base;
    chunk["choices"] = json::array({{{"index", 0},
                                     {"delta", std::move(delta)},
                                     {"logprobs", nullptr},
                                     {"finish_reason", std::move(finish_reason)}}});
    if (with_usage_null) chunk["usage"] = nullptr;
    out += "data: " + dump(chunk) + "\n\n";
  };
  send({{"role", memberOr(message, "role", kIsString, "assistant")},
        {"content", ""},
        {"refusal", nullptr}},
       nullptr, include_usage);
  for (const char* key : {"content", "refusal"}) {
    auto text = message.find(key);
    if (text == message.end() || !text->is_string()) continue;
    const std::string& value = text->get_ref<const std::string&>();
    std::size_t at = 0;
    while (at < value.size()) {
      std::size_t end = std::min(value.size(), at + kPieceBytes);
      // After a space when there is one ahead, and never inside a UTF-8 character.
      if (auto space = value.find(' ', end); space != std::string::npos && space < end + 16) {
        end = space + 1;
      }
      while (end < value.size() && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) ++end;
      send({{key, value.substr(at, end - at)}}, nullptr, include_usage);
      at = end;
    }
  }
  if (auto calls = message.find("tool_calls"); calls != message.end() && calls->is_array()) {
    json deltas = json::array();
    for (std::size_t i = 0; i < calls->size(); ++i) {
      json call = (*calls)[i];
      if (!call.is_object()) continue;  // operator[] would throw on a string or a number
      call["index"] = i;
      deltas.push_back(std::move(call));
    }
    send({{"tool_calls", std::move(deltas)}}, nullptr, include_usage);
  }
  send(json::object(), memberOr(choice, "finish_reason", kAny, "stop"), include_usage);
  if (include_usage) {
    json chunk = base;
    chunk["choices"] = json::array();
    chunk["usage"] = memberOr(whole, "usage", kAny, nullptr);
    out += "data: " + dump(chunk) + "\n\n";
  }
  out += "data: [DONE]\n\n";
  return out;
}

}  // namespace costgate::cache
