#include "costgate/gateway/client_api.h"

#include <nlohmann/json.hpp>

#include "costgate/jsonview/document.h"
#include "costgate/openai/request_validation.h"
#include "costgate/translation/messages_api.h"
#include "costgate/translation/responses_api.h"

namespace costgate::gateway {

std::string_view routeNameOf(ClientApi api) {
  switch (api) {
    case ClientApi::kAnthropicMessages:
      return "messages";
    case ClientApi::kOpenAiResponses:
      return "responses";
    case ClientApi::kChat:
      break;
  }
  return "chat_completions";
}

std::optional<openai::ApiError> translateToChat(ClientApi api, server::Request& request,
                                                AskedFor& asked) {
  if (api == ClientApi::kChat) return std::nullopt;
  // The strict parse first: it refuses what chat requests are refused for (a repeated member
  // name, which nlohmann would resolve silently) before the translation reads the body.
  auto document = jsonview::Document::parse(request.body);
  if (document) {
    if (auto repeated = openai::repeatedMemberError(document->root())) return repeated;
  }
  auto body = nlohmann::json::parse(request.body, nullptr, false);
  if (!document || body.is_discarded()) {
    return openai::invalidRequest(
        "We could not parse the JSON body of your request: it is not valid JSON", {},
        "invalid_json");
  }
  if (body.is_object() && body.contains("model") && body["model"].is_string()) {
    asked.model = body["model"].get<std::string>();
  }
  std::variant<nlohmann::json, translation::Untranslatable> chat;
  if (api == ClientApi::kOpenAiResponses) {
    chat = translation::chatRequestOfResponses(body);
    if (body.is_object()) asked.echo = translation::responseEchoOf(body);
  } else {
    chat = translation::chatRequestOfMessages(body);
  }
  if (auto* refused = std::get_if<translation::Untranslatable>(&chat)) {
    return openai::invalidRequest(refused->message, refused->param);
  }
  request.body =
      std::get<nlohmann::json>(chat).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return std::nullopt;
}

std::unique_ptr<translation::ReplyTranslation> repliesFor(ClientApi api, AskedFor asked) {
  switch (api) {
    case ClientApi::kAnthropicMessages:
      return translation::messagesReplies(std::move(asked.model));
    case ClientApi::kOpenAiResponses:
      return translation::responsesReplies(std::move(asked.echo));
    case ClientApi::kChat:
      break;
  }
  return nullptr;
}

std::optional<std::string> bearerFromApiKey(ClientApi api, const http1::Head& head) {
  if (api != ClientApi::kAnthropicMessages || head.has("authorization")) return std::nullopt;
  std::string_view key = head.get("x-api-key");
  if (key.empty()) return std::nullopt;
  return "Bearer " + std::string(key);
}

}  // namespace costgate::gateway
