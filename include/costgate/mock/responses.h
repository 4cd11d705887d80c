#pragma once
// What costgate-mock answers, as plain functions over parsed JSON: no sockets, no Boost, so the
// unit tests check the wire format directly and the server part (src/mock/main.cpp) stays thin.
//
// Every answer is deterministic given the request (only ids and `created` vary), so tests can
// predict contents and token counts:
//
// - Reply text: "Mock reply to: <first 60 bytes of the last user message>" split into words and
//   padded with words from a fixed filler list to exactly MockOptions::reply_words words, then cut
//   to max_tokens / max_completion_tokens words (finish_reason "length" when cut, else "stop").
//   Choice i of n starts its filler list i words further on, so the n choices differ but have the
//   same length.
// - Token counts are word counts, not BPE, so tests can do the arithmetic by hand:
//     chat prompt_tokens       = whitespace-separated words over all message text + 3 per message
//     completions prompt_tokens = whitespace-separated words over all prompts (a token array
//                                 counts its length)
//     completion_tokens        = words emitted, summed over all choices
//     embeddings prompt_tokens = words over all inputs (a token array counts its length)
//   Whitespace is ASCII: space, \t, \n, \v, \f, \r. Message content may be a string, null, or an
//   array of parts of which only {"type":"text","text":...} parts count.
// - Streams: every choice's words are cut into min(chunks, words) content events of (nearly)
//   equal word counts; the content events concatenate to exactly the non-streamed text.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "costgate/openai/error.h"
#include "costgate/pipeline/request_context.h"

namespace costgate::mock {

using json = nlohmann::json;

// Process-wide defaults from the command line; some can be overridden per request by headers.
struct MockOptions {
  int reply_words = 40;  // words in every reply before max_tokens truncation
  int chunks = 8;        // content events per streamed choice (fewer if the reply is shorter)
};

// An error in the shape OpenAI returns, with the HTTP status it goes out with; body() is the
// {"error":{"message","type","param","code"}} it answers with.
using ApiError = openai::ApiError;

// The error a fault-injected status replies with, typed as OpenAI types that status (429 ->
// "requests"/"rate_limit_exceeded", 5xx -> "server_error", ...).
ApiError statusFault(int status);

// What identifies one response; every chunk of a stream repeats it.
struct Stamp {
  std::string id;
  std::int64_t created = 0;
};
// A random id with `prefix` ("chatcmpl-", "cmpl-") and the current Unix time.
Stamp newStamp(std::string_view prefix);

// The system_fingerprint every chat response carries.
inline constexpr std::string_view kSystemFingerprint = "fp_c0575a7e00";

// Either the parsed request or why it is invalid (400 unless the error says otherwise).
template <typename T>
using Parsed = std::variant<T, ApiError>;

// ---- POST /v1/chat/completions ----

struct ChatRequest {
  std::string model;
  std::string last_user_text;  // text of the last "user" message (parts joined by a space)
  int messages = 0;
  int prompt_tokens = 0;
  int n = 1;
  std::optional<int> max_tokens;  // the smaller of max_tokens and max_completion_tokens
  bool logprobs = false;
  int top_logprobs = 0;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

Parsed<ChatRequest> parseChatRequest(const json& body);
// The chat.completion object.
json chatCompletion(const ChatRequest& request, const MockOptions& options, const Stamp& stamp);

// The `data:` payloads of a stream, in order, the last one "[DONE]". Content events are
// data[opening, content_end); fault injection counts only those.
struct SseEvents {
  std::vector<std::string> data;
  std::size_t opening = 0;      // events before the first content event (chat: one role delta
                                // per choice)
  std::size_t content_end = 0;  // index of the first event after the content events
};
// chat.completion.chunk events: role deltas, content deltas, a finish_reason delta per choice,
// then (include_usage only) one usage chunk with "choices": [], then [DONE]. With include_usage
// every earlier chunk carries "usage": null, as OpenAI's do.
SseEvents chatChunks(const ChatRequest& request, const MockOptions& options, const Stamp& stamp);

// ---- POST /v1/completions (legacy) ----

struct CompletionRequest {
  std::string model;
  std::vector<std::string> prompts;  // one choice group per prompt; token arrays as "1 2 3"
  int prompt_tokens = 0;
  int n = 1;
  std::optional<int> max_tokens;
  std::optional<int> logprobs;  // legacy: how many top alternatives per token, 0..5
  bool stream = false;
  bool include_usage = false;
};

Parsed<CompletionRequest> parseCompletionRequest(const json& body);
// The text_completion object: n choices per prompt, index = prompt * n + choice.
json completion(const CompletionRequest& request, const MockOptions& options, const Stamp& stamp);
// text_completion chunks: content events, a finish_reason event per choice (text ""), then the
// usage chunk (include_usage only), then [DONE].
SseEvents completionChunks(const CompletionRequest& request, const MockOptions& options,
                           const Stamp& stamp);

// ---- POST /v1/embeddings ----

struct EmbeddingsRequest {
  std::string model;
  // What seeds each vector: the text itself, or "tokens:1,2,3" for a token array.
  std::vector<std::string> seeds;
  int prompt_tokens = 0;
  int dimensions = 8;
  bool base64 = false;
};

Parsed<EmbeddingsRequest> parseEmbeddingsRequest(const json& body);
json embeddings(const EmbeddingsRequest& request);
// A deterministic unit vector for `seed`: the sum of a pseudo-random vector per word, so texts
// sharing words are alike.
std::vector<float> embeddingVector(std::string_view seed, int dimensions);
// Little-endian float32 bytes, base64-encoded: OpenAI's encoding_format "base64".
std::string base64Floats(const std::vector<float>& values);

// ---- GET /v1/models, GET /v1/models/{id} ----

json models();
// The mock serves any model name, so any id has a model object.
json model(std::string_view id);

// ---- POST to a generation route ----

// What one POST answers: a JSON body, a stream, or an error.
using Answer = std::variant<json, SseEvents, ApiError>;
// Parses `body` for `route` and answers it: chat and completions stream when the request asks.
Answer answer(pipeline::Route route, const json& body, const MockOptions& options);

// ---- How one request is answered: CLI defaults, then x-mock-* headers ----

// Every x-mock-NAME header is also a command-line flag --NAME (or --fault-NAME) that sets it for
// every request; a header overrides its flag.
struct Behaviour {
  MockOptions options;     // x-mock-reply-words, x-mock-chunks
  int latency_ms = 0;      // x-mock-latency-ms: wait before answering
  int chunk_delay_ms = 0;  // x-mock-chunk-delay-ms: wait before each content event
  int status = 0;          // x-mock-status: answer with this error status (200 = no fault)
  std::optional<int> reset_after_chunks;  // x-mock-reset-after-chunks: RST after K content events
  std::optional<int> stall_after_chunks;  // x-mock-stall-after-chunks: go silent after K events
  bool reset = false;                     // x-mock-reset: RST instead of any response
  bool echo_headers = false;  // x-mock-echo-headers: add "mock_received_headers" to the body
  bool echo_body = false;     // x-mock-echo-body: add "mock_received_body" to the body
};

// True for names starting with "x-mock-", in any case.
bool isMockHeader(std::string_view name);
// Applies one x-mock-* header (`name` in lower case) to `behaviour`. An unknown name or a bad
// value is an error (400) naming the header, so a typo in a test fails loudly.
std::optional<ApiError> applyMockHeader(std::string_view name, std::string_view value,
                                        Behaviour& behaviour);

// ---- Shared by the request parsers and the server ----

// Compact JSON; invalid UTF-8 (say, from a header echoed back) is replaced, never thrown on.
std::string toWire(const json& body);

// Whitespace-separated words in `text` (ASCII whitespace).
int countWords(std::string_view text);
// The reply's words for choice `choice` before max_tokens truncation.
std::vector<std::string> replyWords(std::string_view last_user_text, int choice,
                                    const MockOptions& options);

}  // namespace costgate::mock
