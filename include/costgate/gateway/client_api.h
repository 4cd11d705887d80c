#pragma once
// The APIs a client may speak besides chat completions. Their requests reach the filters and the
// backends as chat completions (translated on the way in), and their replies are translated back
// on the way out (client_writer.h), so every filter works on every API unchanged.

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>

#include "costgate/openai/error.h"
#include "costgate/server/http_server.h"
#include "costgate/translation/reply_translation.h"

namespace costgate::gateway {

enum class ClientApi { kChat, kAnthropicMessages, kOpenAiResponses };

// What the translation of the replies needs of the client's request.
struct AskedFor {
  std::string model;
  nlohmann::json echo;  // Responses: what the response object repeats of the request
};

// The route name the access log and metrics show for a client's API.
std::string_view routeNameOf(ClientApi api);

// Rewrites `request.body` into the chat completions body that asks the same, and fills `asked`.
// Returns the error to answer (400) when the body cannot be carried; nothing to do for kChat.
std::optional<openai::ApiError> translateToChat(ClientApi api, server::Request& request,
                                                AskedFor& asked);

// The translation of the replies to a client of `api` (null for kChat).
std::unique_ptr<translation::ReplyTranslation> repliesFor(ClientApi api, AskedFor asked);

// The gateway key of a client of `api` when it is not sent as a bearer token (Anthropic's SDKs
// send x-api-key): the Authorization value the filters should see, or nullopt.
std::optional<std::string> bearerFromApiKey(ClientApi api, const http1::Head& head);

}  // namespace costgate::gateway
