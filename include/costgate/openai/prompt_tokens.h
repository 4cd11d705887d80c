#pragma once
// A request's input in tokens, counted the way OpenAI bills it, from the body's index (no DOM).
//
// Chat (OpenAI's documented count for gpt-3.5-turbo-0613 and later, gpt-4*, gpt-4o*, o-series):
// each message costs 3 tokens plus the tokens of each of its string fields (role, content, name,
// ...), a `name` 1 more; the reply is primed with 3 more. Content parts count their text; image
// parts count by OpenAI's tile formula (85 for detail "low"; 85 + 170 per 512-px tile of the
// image scaled to fit 2048x2048 then 768 on its short side) when the image is a data URL whose
// size can be read, else as a 1024x1024 image and marked estimated. Tool definitions count by the
// formula OpenAI's cookbook documents for function calling; tool calls in assistant messages
// count their function names and arguments.

#include <cstdint>

#include "costgate/jsonview/document.h"
#include "costgate/pipeline/request_context.h"
#include "costgate/tokenizer/encoding.h"

namespace costgate::openai {

using PromptTokens = pipeline::TokenCount;

// One element of a chat request's `messages`, its per-message overhead included.
PromptTokens countChatMessage(const jsonview::Value& message, const tokenizer::Encoding& encoding);

// A chat request's `tools` (and legacy `functions`) array.
PromptTokens countTools(const jsonview::Value& tools, const tokenizer::Encoding& encoding);

// What a chat request's input costs outside its messages: tools, legacy functions, and the reply
// priming.
PromptTokens countChatOverhead(const jsonview::Value& body, const tokenizer::Encoding& encoding);

// The whole input of a request on `route`: chat messages + tools + reply priming; completions
// `prompt` (a string or an array of strings); embeddings `input` (a string or array of strings;
// arrays of token ids count one each).
PromptTokens countPrompt(pipeline::Route route, const jsonview::Value& body,
                         const tokenizer::Encoding& encoding);

// The priming every chat reply costs (<|start|>assistant<|message|>).
inline constexpr std::int64_t kReplyPrimingTokens = 3;

}  // namespace costgate::openai
