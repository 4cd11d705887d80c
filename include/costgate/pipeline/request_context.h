#pragma once
// Everything one request carries through the filter chain. Plain data: no sockets, no Beast.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "costgate/jsonview/document.h"
#include "costgate/log/fields.h"
#include "costgate/pipeline/signal.h"
#include "costgate/pricing/price.h"
#include "costgate/tokenizer/encoding.h"

namespace costgate::pipeline {

enum class Route { kChatCompletions, kCompletions, kEmbeddings };

std::string_view routeName(Route route);
// The route's path under a backend's base_path (which ends in "/v1"): "/chat/completions"...
std::string_view backendPathOf(Route route);

// Header names are lower-case; values as received.
using HeaderList = std::vector<std::pair<std::string, std::string>>;
// The same, viewing the request, which outlives its context.
using RequestHeaders = std::vector<std::pair<std::string_view, std::string_view>>;

// A reply the gateway produces itself instead of calling a backend (an error, a cache hit...).
struct LocalReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  HeaderList headers;
};

// Who pays for a request. Values are raw (bounded in length); metric labels are derived later.
struct Tags {
  std::string feature;
  std::string team;
  std::string env;
  std::string user;
};

// A count of tokens, and whether some part of it was estimated rather than counted exactly.
struct TokenCount {
  std::int64_t tokens = 0;
  bool estimated = false;

  TokenCount& operator+=(const TokenCount& other) {
    tokens += other.tokens;
    estimated = estimated || other.estimated;
    return *this;
  }
};

// Tokens a filter took out of a request, under which of its policies.
struct TokenSaving {
  std::string_view filter;  // the filter's name (static storage)
  std::string policy;
  std::int64_t tokens = 0;
};

// A reply a filter gave in place of a backend call (a cache hit): what that call used, by whom it
// would have been billed, and what it would have cost now. Billed at nothing; the saving counts.
struct SparedCall {
  pricing::Usage usage;
  std::optional<pricing::Nanos> saved;  // none for a model without a price
  std::string_view source;              // the record's usage_source, e.g. "cache" (static)
};

enum class FilterStatus {
  // Go on to the next filter, and to the backend after the last one.
  kContinue,
  // Stop here and send ctx.local_reply to the client; later filters' onRequest and the backend are
  // skipped, but onComplete still runs for every filter.
  kRespond,
  // Stop here until what ctx.awaited names is done (the gateway does it), then run its `resume`.
  kWait,
};

// What a filter that returned FilterStatus::kWait waits for. The gateway does it (filters do no
// I/O), then runs the filter's continuation (Awaited::resume).
struct AwaitSignal {
  std::shared_ptr<Signal> signal;        // another request's work ending
  std::chrono::milliseconds timeout{0};  // waited for at most this long
};
// An embedding of `input` by the gateway model `model` (a call to its backend's /v1/embeddings);
// the answer goes to RequestContext::embedding.
struct EmbeddingCall {
  std::string model;
  std::string input;
};
struct RequestContext;
struct Awaited {
  std::variant<AwaitSignal, EmbeddingCall> what;
  // Where the filter goes on once `what` is done (or timed out): returns as onRequest does, and
  // may wait again. It runs on the request's thread, with the context it was given.
  std::function<FilterStatus(RequestContext&)> resume;
};

// The answer to an EmbeddingCall.
struct Embedding {
  std::optional<std::vector<float>> vector;  // nullopt when the call failed
  std::optional<pricing::Usage> usage;       // what the call used, as its backend reported
};

// A router's verdict on one answer of a cascade.
struct Judgement {
  bool accept = true;
  double score = 1;    // 0 to 1; accepted at or above the policy's threshold
  std::string reason;  // the signals that failed, most weighty first ("mean_logprob,refusal")
  double margin = 1;   // score - threshold: how far above (or below, negative) the line it is
};

// The start of a streamed answer held back while a cascade judges it: what its content events
// carried so far.
struct PartialAnswer {
  std::string_view text;                          // the content so far
  const std::vector<double>* logprobs = nullptr;  // its tokens' logprobs, when they were sent
  std::size_t tokens = 0;                         // content tokens so far (counted or estimated)
  bool has_tool_calls = false;
  std::string_view finish_reason;  // set when the stream ended within the hold
  // True when the hold is over (enough tokens, or the stream ended): the judge must decide.
  bool last = false;
};

// A cascade's move from a judged-weak (or failed) answer to the next model.
struct Escalation {
  std::string from;
  std::string to;
  std::string reason;  // the weightiest signal that failed, "score" or "error"
};

// The models a router asks the gateway to try in turn, cheapest first: each answer but the last
// is judged, and the first accepted is served; every attempt is charged.
struct Cascade {
  std::vector<std::string> models;  // gateway model names; the request's model is the first
  // Judges a whole 200 chat.completion (the body as the backend sent it). Must be thread-safe and
  // must outlive the request (it views the filter's configuration).
  std::function<Judgement(std::string_view completion)> judge;
  bool ask_logprobs = false;  // add logprobs to the judged attempts (removed if the client
                              // did not ask for them)
  std::string tier;           // for the record and the metrics
  // Streams: each cheaper model's stream is held for its first `stream_hold_tokens` content
  // tokens and judged by `judge_partial` (called after every event while held: nullopt = not
  // decided yet, and it must decide when PartialAnswer::last); accepted, the held events are
  // released and the rest streams through; rejected, the call is cancelled and the next model
  // tried. 0 (or no judge_partial): a streaming request's attempts are whole calls, judged by
  // `judge`, and the accepted answer is replayed as a stream. Same thread-safety as `judge`.
  std::size_t stream_hold_tokens = 0;
  std::function<std::optional<Judgement>(const PartialAnswer&)> judge_partial;
  std::vector<Escalation> escalations;  // set by the gateway as it goes
  // Set by the gateway: which of `models` served (none when no model answered), and the verdict
  // it was served on (none for the last model, served unjudged).
  std::optional<std::size_t> served_index;
  std::optional<Judgement> served_verdict;
};

// The escalations as one line: "a->b: reason, b->c: reason".
std::string describe(const std::vector<Escalation>& escalations);

// What a request was charged in the end: its call and every side call.
struct Charge {
  pricing::Nanos cost = 0;
  std::int64_t tokens = 0;  // input + output, as the backends reported them
};

struct RequestContext {
  using Clock = std::chrono::steady_clock;

  // Set by the server before the chain runs.
  std::string request_id;
  Route route = Route::kChatCompletions;
  RequestHeaders headers;
  // The request body's index, for reading (always set; valid during onRequest). It shows the body
  // as the last replaceBody() left it, without the setMember() edits.
  std::optional<jsonview::Value> request_index;
  // The tokenizer of the requested model; null when the model is unknown or counts no tokens.
  const tokenizer::Encoding* encoding = nullptr;
  // The requested model's price; null when it has none or the model is unknown.
  const pricing::Price* price = nullptr;
  // What the backend is sent as "model" for the requested model (its backend_model); empty when
  // the model is unknown. Views the configuration, which outlives the request.
  std::string_view backend_model;
  std::string model;    // body["model"] as the client sent it
  bool stream = false;  // body["stream"] == true
  Clock::time_point received_at{};

  // Set by filters.
  // Top-level members to set in the forwarded body, as JSON text, in order (a later edit of the
  // same key wins). Re-splicing the body is much cheaper than re-serializing a DOM.
  std::vector<std::pair<std::string, std::string>> member_edits;
  // The whole body a filter rewrote (replaceBody), and its index; empty when none did.
  std::string replaced_body;
  std::optional<jsonview::Document> replaced_index;
  // The request's input tokens as last counted (openai::countPrompt); a filter that changes the
  // input updates or resets it.
  std::optional<TokenCount> prompt_tokens;
  std::vector<TokenSaving> savings;
  // Headers filters add to the response sent to the client.
  HeaderList response_headers;
  // Fields for the request's access-log line.
  log::Fields log;
  // Set with Respond by a filter whose reply stands in for a backend call.
  std::optional<SparedCall> spared;
  // State a filter keeps between its hooks for this request (see state()).
  std::vector<std::pair<const void*, std::shared_ptr<void>>> filter_state;
  Tags tags;
  // The name of the gateway key the request came with (the tagging filter's api_keys), never the
  // key itself; empty without one. Budgets and policies may match it.
  std::string api_key_name;
  // Which gateway key it was (a digest prefix, never the key), whether or not it has a name;
  // empty without one. Caches keep each key's entries apart by it.
  std::string api_key_id;
  // The tags as metric label values: a tag's value, or "other" when the tagging filter has an
  // allow-list for it that does not name the value. Empty when no filter tagged the request.
  Tags tag_labels;
  std::optional<LocalReply> local_reply;  // set together with FilterStatus::kRespond
  std::optional<Awaited> awaited;         // set together with FilterStatus::kWait
  // Set by a filter before the router for a request that should go to the strongest model its
  // router would try (e.g. "repeat": the cache holds only an unverified cheap answer to this
  // question, and a verified one will answer every repeat after it); empty: no such wish. Static.
  std::string_view wants_final_model;
  // Set by a filter that sent the request to a cheaper model than it would otherwise get, with
  // nothing to judge its answer (a budget's degrade, a router's pre-routed stream): why (static).
  // Such an answer is not one a cache should replay as the request's answer.
  std::string_view downgraded;
  // Set by a router for a request that should try cheaper models first (the gateway runs it).
  std::optional<Cascade> cascade;
  // Set by the gateway after an EmbeddingCall.
  std::optional<Embedding> embedding;

  // Set by the dispatcher.
  std::string backend;       // name of the backend that served
  std::string served_model;  // the gateway model name that served
  int upstream_status = 0;   // 0 when no backend was called
  Charge charged;            // set just before onComplete
  // The served call's usage as its backend reported it (or as the gateway estimated it); set
  // just before onComplete, none when no backend answered (a local reply, a failure).
  std::optional<pricing::Usage> served_usage;
  std::string finish_reason;  // the served answer's first choice's, when known

  // Returns the first header with this lower-case name, or nullopt.
  std::optional<std::string_view> header(std::string_view lower_name) const;
  // Sets top-level member `key` (a plain ASCII name) to `json` in the forwarded body.
  void setMember(std::string key, std::string json);
  // The JSON text setMember() last gave `key`, or nullptr.
  const std::string* editedMember(std::string_view key) const;
  // Replaces the whole body with `json` (a valid JSON object: the caller built it) and re-indexes
  // it; member edits made so far still apply on top. Returns false, changing nothing, when `json`
  // does not parse.
  bool replaceBody(std::string json);
  // The tokens all filters saved.
  std::int64_t tokensSaved() const;
  // The state `filter` keeps for this request, or null when it made none: the hooks after
  // onRequest use it, so a request the filter let pass costs no allocation.
  template <class T>
  T* findState(const void* filter) {
    for (auto& [owner, value] : filter_state) {
      if (owner == filter) return static_cast<T*>(value.get());
    }
    return nullptr;
  }
  // The state `filter` keeps for this request, made (default-constructed) on first use.
  template <class T>
  T& state(const void* filter) {
    if (T* found = findState<T>(filter)) return *found;
    auto made = std::make_shared<T>();
    filter_state.emplace_back(filter, made);
    return *made;
  }
};

}  // namespace costgate::pipeline
