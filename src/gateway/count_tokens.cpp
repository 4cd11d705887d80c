// POST /v1/messages/count_tokens: Anthropic's token count of a Messages request, answered by the
// gateway without a backend call. The request is translated as /v1/messages would be and counted
// with the model's tokenizer, the way the gateway counts any chat request. For Claude models the
// tokenizer is not Anthropic's, so the count is an estimate, and the answer says so.

#include <nlohmann/json.hpp>

#include "costgate/gateway/gateway.h"
#include "costgate/gateway/replies.h"
#include "costgate/openai/prompt_tokens.h"
#include "costgate/translation/messages_api.h"

namespace costgate::gateway {

server::Response Gateway::countMessageTokens(const server::Request& request) const {
  auto error = [](int status, const openai::ApiError& problem) {
    return jsonResponse(status, translation::messagesErrorBody(status, problem.body()));
  };
  auto body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded()) {
    return error(400, openai::invalidRequest("The body of your request is not valid JSON"));
  }
  // count_tokens takes no max_tokens; the translation wants one.
  if (body.is_object() && !body.contains("max_tokens")) body["max_tokens"] = 1;
  auto chat = translation::chatRequestOfMessages(body);
  if (auto* refused = std::get_if<translation::Untranslatable>(&chat)) {
    return error(400, openai::invalidRequest(refused->message, refused->param));
  }
  const std::string model = std::get<nlohmann::json>(chat)["model"].get<std::string>();
  const config::ModelRoute* route = calls_.model(model);
  if (!route) return error(404, modelNotFound(model));
  if (!route->encoding) {
    return error(400, openai::invalidRequest("The model '" + model + "' counts no tokens here"));
  }
  const std::string text =
      std::get<nlohmann::json>(chat).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto document = jsonview::Document::parse(text);
  if (!document) return error(400, openai::invalidRequest("The request could not be counted"));
  const openai::PromptTokens counted =
      openai::countPrompt(pipeline::Route::kChatCompletions, document->root(), *route->encoding);
  server::Response response =
      jsonResponse(200, nlohmann::json{{"input_tokens", counted.tokens}}.dump());
  // Not Anthropic's tokenizer: a close estimate, which billing never uses (it takes the
  // backend's usage).
  response.add("x-costgate-token-count", "estimate");
  return response;
}

}  // namespace costgate::gateway
