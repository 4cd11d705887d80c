#include "costgate/pipeline/request_context.h"

namespace costgate::pipeline {

std::string_view routeName(Route route) {
  switch (route) {
    case Route::kChatCompletions:
      return "chat_completions";
    case Route::kCompletions:
      return "completions";
    case Route::kEmbeddings:
      return "embeddings";
  }
  return "unknown";
}

std::string_view backendPathOf(Route route) {
  switch (route) {
    case Route::kChatCompletions:
      return "/chat/completions";
    case Route::kCompletions:
      return "/completions";
    case Route::kEmbeddings:
      return "/embeddings";
  }
  return "/chat/completions";
}

std::string describe(const std::vector<Escalation>& escalations) {
  std::string text;
  for (const auto& move : escalations) {
    text += (text.empty() ? "" : ", ") + move.from + "->" + move.to + ": " + move.reason;
  }
  return text;
}

std::optional<std::string_view> RequestContext::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return std::nullopt;
}

void RequestContext::setMember(std::string key, std::string json) {
  member_edits.emplace_back(std::move(key), std::move(json));
}

const std::string* RequestContext::editedMember(std::string_view key) const {
  for (auto it = member_edits.rbegin(); it != member_edits.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

bool RequestContext::replaceBody(std::string json) {
  // The new index must view the string in its final place: a moved std::string may move its
  // characters (short strings live inside the object).
  std::string previous = std::move(replaced_body);
  replaced_body = std::move(json);
  auto index = jsonview::Document::parse(replaced_body);
  if (!index) {
    replaced_body = std::move(previous);
    return false;
  }
  replaced_index = std::move(index);
  request_index = replaced_index->root();
  return true;
}

std::int64_t RequestContext::tokensSaved() const {
  std::int64_t total = 0;
  for (const auto& saving : savings) total += saving.tokens;
  return total;
}

}  // namespace costgate::pipeline
