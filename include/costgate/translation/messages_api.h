#pragma once
// Anthropic's Messages API (POST /v1/messages) carried over OpenAI's chat completions, so a
// Messages client (Claude Code, @anthropic-ai/sdk) goes through the same filters, router and
// backends as a chat client. Plain functions over parsed JSON: the gateway translates the request
// once on the way in and the answer (or each stream chunk, messages_stream.h) on the way out.
// docs/api-translation.md has the field-by-field table, including what cannot be carried.

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <variant>

namespace costgate::translation {

// A request the translation cannot carry: answered 400 with `message`, naming `param`.
struct Untranslatable {
  std::string message;
  std::string param;
};

// A Messages API request body -> the chat completions body that asks the same. Fields chat has no
// place for and that only tune sampling (top_k, thinking, cache_control) are dropped; fields whose
// loss would change the answer (server tools, documents, MCP servers) are Untranslatable.
std::variant<nlohmann::json, Untranslatable> chatRequestOfMessages(const nlohmann::json& request);

// A chat.completion answer -> the Messages API message the client expects. `model` is the model
// the client asked for (Anthropic's SDKs echo it back).
nlohmann::json messageOfChatCompletion(const nlohmann::json& completion, std::string_view model);

// Chat's finish_reason -> Messages' stop_reason.
std::string_view stopReasonOf(std::string_view finish_reason);

// An OpenAI-shaped error (status and body) -> the body Anthropic's API would send for it:
// {"type":"error","error":{"type":...,"message":...}}, so the SDK raises its usual error class.
std::string messagesErrorBody(int status, std::string_view openai_error_body);

// The Messages usage of a chat usage object: input_tokens excludes the cached prefix, which is
// reported as cache_read_input_tokens.
nlohmann::json messagesUsageOf(const nlohmann::json& chat_usage);

}  // namespace costgate::translation
