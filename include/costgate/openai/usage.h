#pragma once
// The token usage a backend reports in a response body (`usage`, OpenAI's shape), as pricing
// counts it.

#include <cstdint>
#include <optional>
#include <string_view>

#include "costgate/jsonview/document.h"
#include "costgate/pricing/price.h"

namespace costgate::openai {

// The `usage` object of a chat completion, completion or embeddings response (or of a stream's
// final usage chunk); nullopt when there is none, it has no `prompt_tokens`, or a count is not a
// non-negative integer of at most 2^40 (a negative, fractional, string or absurd count makes the
// whole usage untrusted: the gateway then counts the call itself). Other missing or null counts
// are 0 (embeddings report no completion tokens).
std::optional<pricing::Usage> usageOf(const jsonview::Value& response);

// For the gateway's own count when a backend reports no usage: the characters of a request's
// prompt (chat `messages[].content`, text parts included; completions `prompt`; embeddings
// `input`; token ids count as the characters of one token each), of the text one streamed chunk
// carries (`choices[].delta` content, refusal and tool call names and arguments, or
// `choices[].text`), and of a whole answer's (`choices[].message`, likewise), as sent (escapes
// counted as written).
std::uint64_t promptCharacters(const jsonview::Value& request);
std::uint64_t chunkCharacters(const jsonview::Value& chunk);
std::uint64_t answerCharacters(const jsonview::Value& answer);
// A rough token count for `characters` of English text (about four per token), until the
// tokenizer gives exact ones.
std::uint64_t estimateTokens(std::uint64_t characters);

// Why an answer ended, as a metric label: "stop", "length", "tool_calls", "content_filter",
// "function_call" or "other" (any other value); empty when none is given (yet). Of the first
// choice that has one: of a parsed chunk or answer, or found in a whole answer's text without
// indexing it (the key cannot occur unescaped inside a JSON string).
std::string_view finishReasonOf(const jsonview::Value& answer_or_chunk);
std::string_view finishReasonIn(std::string_view answer_text);

// Whether a streamed request asked for the final usage chunk (stream_options.include_usage).
bool asksForUsage(const jsonview::Value& request);

}  // namespace costgate::openai
