#pragma once
// OpenAI's Responses API (POST /v1/responses) carried over chat completions, for backends that
// speak only chat. Plain functions over parsed JSON, as messages_api.h; docs/api-translation.md
// has the field-by-field table. A translated response is not stored: the gateway keeps no state,
// so previous_response_id (and GET /v1/responses/{id}) need a backend that keeps responses.

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <variant>

#include "costgate/translation/messages_api.h"  // Untranslatable

namespace costgate::translation {

// A Responses API request body -> the chat completions body that asks the same.
std::variant<nlohmann::json, Untranslatable> chatRequestOfResponses(const nlohmann::json& request);

// The parts of the request a response object echoes back (model, instructions, tools, limits...).
nlohmann::json responseEchoOf(const nlohmann::json& request);

// A chat.completion answer -> the Responses API's response object; `echo` from responseEchoOf.
nlohmann::json responseOfChatCompletion(const nlohmann::json& completion,
                                        const nlohmann::json& echo);

// The Responses usage of a chat usage object.
nlohmann::json responsesUsageOf(const nlohmann::json& chat_usage);

}  // namespace costgate::translation
