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
// - Logprobs (chat, `logprobs: true`) depend on the requested model, so a cascading router's
//   confidence check can be tested (modelConfidence()). Every value is a hash of the token and
//   its position, in hundredths:
//     model name containing "small" (any case), last user message containing "[hard]" (any
//       case): low,  every token in [-3.00, -1.20] (mean about -2.1)
//     "small" without "[hard]", or a name containing "large": high, in [-0.25, -0.01]
//     any other model (and legacy completions): in [-0.99, 0.00] (mean about -0.5)
//   ("small" wins over "large".) top_logprobs lists the emitted token first, then alternatives
//   one nat apart, so every alternative is below the chosen token. A stream's content events
//   carry the logprobs of their own tokens, the same values as the whole answer.
// - Answer shapes (ReplyShape; x-mock-refuse, -uncertain, -empty, -invalid-json,
//   -finish-reason) bend every choice's text before max_tokens truncation, and a response_format
//   of type json_object or json_schema makes it a JSON object; streams carry the same text.
// - costgate-mock --savings-table FILE (savings.h) scripts chat answers from a difficulty table
//   instead (ChatRequest::scripted_words): no answer shapes then, the same word counts.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "costgate/openai/error.h"
#include "costgate/pipeline/request_context.h"

namespace costgate::mock {

using json = nlohmann::json;

// The fixed texts of the answer shapes, so tests (and a router's tests) can match them.
inline constexpr std::string_view kRefusal = "I'm sorry, but I can't help with that.";
inline constexpr std::string_view kHedge = "I'm not sure, but I think ";

// How every choice's text is bent, to give a router each answer it must judge. Applied in this
// order: refuse, else empty, else the usual words with uncertain's hedge before them, wrapped as
// JSON when the request's response_format asks for it or invalid_json is set; then max_tokens
// truncation (a cut JSON answer is broken, as a real model's is); then finish_reason.
struct ReplyShape {
  bool refuse = false;     // x-mock-refuse: the text is kRefusal (finish_reason "stop")
  bool uncertain = false;  // x-mock-uncertain: the text is kHedge, then the usual words
  bool empty = false;      // x-mock-empty: the text is "" (finish_reason "stop")
  // x-mock-invalid-json: the text is a JSON object cut off inside its first string,
  // {"answer":"Mock reply to: ... (with or without response_format).
  bool invalid_json = false;
  // x-mock-finish-reason: "stop", "length" or "content_filter" replaces the finish_reason;
  // empty = the usual one.
  std::string finish_reason;

  // Whether any shape is asked for.
  bool any() const {
    return refuse || uncertain || empty || invalid_json || !finish_reason.empty();
  }
};

// Process-wide defaults from the command line; some can be overridden per request by headers.
struct MockOptions {
  int reply_words = 40;  // words in every reply before max_tokens truncation
  int chunks = 8;        // content events per streamed choice (fewer if the reply is shorter)
  ReplyShape shape;      // chat and legacy completions
};

// How sure the mock's model is of its tokens: the range of its logprobs (see above).
enum class Confidence { kDefault, kHigh, kLow };
// The confidence of `model` answering `last_user_text`: kLow for a "small" model given a "[hard]"
// message, kHigh for other "small" and for "large" models, kDefault otherwise.
Confidence modelConfidence(std::string_view model, std::string_view last_user_text);

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

// The function call the mock makes when the request offers tools and the conversation ends with
// the user (after a tool's answer it answers in words): the tool tool_choice names, else the
// first; arguments fill the schema's required properties ("mock" strings, 1, true, null).
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text
};

struct ChatRequest {
  std::string model;
  std::optional<ToolCall> tool_call;
  std::string last_user_text;  // text of the last "user" message (parts joined by a space)
  int messages = 0;
  int prompt_tokens = 0;
  int n = 1;
  std::optional<int> max_tokens;  // the smaller of max_tokens and max_completion_tokens
  bool logprobs = false;
  int top_logprobs = 0;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // response_format json_object or json_schema: every choice's text is a JSON object,
  // {"answer":"<the usual words>"}.
  bool json_reply = false;
  // json_schema: the schema's top-level "required" string keys, in order, without repeats. When
  // there are any, the object holds exactly these keys, each with a string: the first the usual
  // words, the others "mock" (so a strict schema's additionalProperties: false holds too).
  std::vector<std::string> json_required;
  // Set by the realistic mode (savings.h) after parsing: the reply's words instead of the usual
  // ones (max_tokens still applies, answer shapes do not), how sure the model is instead of
  // modelConfidence(), whether a JSON reply is cut off, and the usage's cached_tokens.
  std::optional<std::vector<std::string>> scripted_words;
  std::optional<Confidence> confidence;
  bool broken_json = false;
  int cached_tokens = 0;
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
  // Words carried by each content event (data[opening + i]), to pace and bill a stream by them.
  std::vector<int> content_tokens;
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
  // x-mock-fail-attempts: the first K requests with one x-request-id fail with x-mock-status
  // (503 without it), later ones succeed; 0 = off.
  int fail_attempts = 0;
  std::optional<int> retry_after;  // x-mock-retry-after: seconds in a status fault's Retry-After
  // x-mock-only-model: the faults and shapes apply only to requests for this model (a cascade
  // sends the same headers to every model it tries).
  std::optional<std::string> only_model;
};

// True for names starting with "x-mock-", in any case.
bool isMockHeader(std::string_view name);
// Applies one x-mock-* header (`name` in lower case) to `behaviour`. An unknown name or a bad
// value is an error (400) naming the header, so a typo in a test fails loudly.
std::optional<ApiError> applyMockHeader(std::string_view name, std::string_view value,
                                        Behaviour& behaviour);

// The model a generation request names: its body's "model", else the Azure deployment in its
// path; empty when neither does (or the body is not an object).
std::string_view requestModel(const json& body, std::string_view deployment);
// Applies x-mock-only-model: when it names another model than `model`, clears every fault and
// answer shape (status, fail-attempts, retry-after, latency, chunk delay, resets, stalls, the
// ReplyShape) and returns true, so the request is answered normally. Reply words, chunks and the
// echoes stay.
bool dropFaultsUnlessTargeted(Behaviour& behaviour, std::string_view model);

// The error status a request fails with, or 0. With x-mock-fail-attempts K, the request's
// `attempt` (1 = the first with its x-request-id) fails when it is at most K, with x-mock-status or
// 503; without it, x-mock-status fails every request.
int faultStatus(const Behaviour& behaviour, int attempt);
// The Retry-After seconds a status fault carries: x-mock-retry-after, else 1 for a 429.
std::optional<int> retryAfterSeconds(const Behaviour& behaviour, int status);
// The error an attempt that x-mock-fail-attempts fails answers with: statusFault(status), its
// message naming the attempt.
ApiError attemptFault(int status, int attempt, int fail_attempts);

// Counts the requests seen per x-request-id for x-mock-fail-attempts, shared by all server
// threads. Only the newest `capacity` ids are remembered: past that the one seen first is dropped,
// so a long benchmark cannot grow it without bound.
class AttemptCounter {
 public:
  static constexpr std::size_t kDefaultCapacity = 10'000;
  AttemptCounter() = default;
  explicit AttemptCounter(std::size_t capacity) : capacity_(capacity) {}

  // Counts one more request with `request_id`; returns how many there were, this one included.
  int next(std::string_view request_id);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::size_t capacity_ = kDefaultCapacity;
  std::unordered_map<std::string, int> attempts_;
  std::deque<std::string> first_seen_;  // the ids in attempts_, oldest first
};

// ---- Shared by the request parsers and the server ----

// Compact JSON; invalid UTF-8 (say, from a header echoed back) is replaced, never thrown on.
std::string toWire(const json& body);

// Whitespace-separated words in `text` (ASCII whitespace).
int countWords(std::string_view text);
// The reply's words for choice `choice` before max_tokens truncation.
std::vector<std::string> replyWords(std::string_view last_user_text, int choice,
                                    const MockOptions& options);

}  // namespace costgate::mock
