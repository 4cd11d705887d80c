// costgate-mock: a fast stand-in for OpenAI's API, used by the gateway's tests and benchmarks.
// What it answers lives in responses.cpp (plain functions over JSON); this file only routes
// requests, applies the x-mock-* faults and writes to the socket.

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>

#include "costgate/mock/responses.h"
#include "costgate/mock/savings.h"
#include "costgate/server/http_server.h"

namespace {

namespace mock = costgate::mock;
namespace openai = costgate::openai;
namespace server = costgate::server;
using costgate::pipeline::Route;
using costgate::server::Request;
using costgate::server::Response;
using costgate::server::ResponseWriter;
using mock::json;

constexpr std::string_view kUsage = R"(usage: costgate-mock [options]

A mock OpenAI backend: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models,
/v1/models/{id}, Azure-style /openai/deployments/{name}/..., GET /health, and GET /mock/stats
(counters of what the mock saw: connections_accepted, requests, streams_started,
streams_completed, streams_cancelled, streams_stalled, resets, status_faults (every injected
error status), attempt_faults (those of x-mock-fail-attempts), shape_faults (answers bent by
refuse, uncertain, empty, invalid-json or finish-reason), untargeted (requests whose faults
x-mock-only-model dropped)).

Chat logprobs depend on the model: a name containing "small" answers a last user message
containing "[hard]" (any case) with every token's logprob in [-3.0, -1.2], anything else in
[-0.25, -0.01]; a name containing "large" always in [-0.25, -0.01]; other models in [-0.99, 0].

  --listen HOST:PORT          address to serve on (default 127.0.0.1:0; port 0 = any free port)
  --threads N                 worker threads (default 1; 0 = one per core)
  --chunks N                  content events per streamed choice (default 8)
  --chunk-delay-ms D          wait before each streamed content event (default 0)
  --latency-ms L              wait before answering (default 0)
  --reply-words W             words in every reply before max_tokens (default 40)
  --help                      this text

Every x-mock-NAME request header is also a flag --NAME or --fault-NAME that applies to every
request; a header overrides its flag:
  x-mock-status: S            answer with status S (400-599) and an OpenAI error body
                              (429 adds retry-after: 1, or x-mock-retry-after's); 200 = no fault
  x-mock-latency-ms: L        x-mock-chunks: N        x-mock-chunk-delay-ms: D
  x-mock-reply-words: W
  x-mock-reset: 1             reset the connection (RST) instead of answering
  x-mock-reset-after-chunks: K  stream K content events, then reset the connection
  x-mock-stall-after-chunks: K  stream K content events, then send nothing more
                              (a non-streamed answer is reset or stalled instead of sent)
  x-mock-echo-headers: 1      add "mock_received_headers" (lower-case names) to the JSON body
  x-mock-echo-body: 1         add "mock_received_body" (the parsed request) to the JSON body
  x-mock-fail-attempts: K     the first K requests carrying one x-request-id (required) fail
                              with x-mock-status (default 503); later ones succeed. The newest
                              10000 ids are remembered
  x-mock-retry-after: S       status faults carry retry-after: S (instead of 1 for 429)
Answer shapes (chat and completions, whole and streamed alike; applied before max_tokens):
  x-mock-refuse: 1            the text is "I'm sorry, but I can't help with that." (stop)
  x-mock-uncertain: 1         the text is "I'm not sure, but I think " and the usual words
  x-mock-empty: 1             the text is "" (stop)
  x-mock-finish-reason: R     finish_reason R: stop, length or content_filter
  x-mock-invalid-json: 1      the text is broken JSON, {"answer":"<the usual words> (unterminated)
  A chat request's response_format json_object or json_schema makes the text a JSON object,
  {"answer":"<the usual words>"}; with a schema whose "required" lists keys, exactly those keys
  with string values (the first the usual words, the others "mock").
  x-mock-only-model: M        the faults and shapes (status, fail-attempts, retry-after,
                              latency-ms, chunk-delay-ms, reset, reset-after-chunks,
                              stall-after-chunks and the answer shapes above), from headers or
                              flags alike, apply only when the request's model (body "model",
                              else the Azure deployment) is exactly M; other models are answered
                              normally. A cascade sends one set of headers to every model it tries
Realistic mode, for bench/savings (docs/benchmarks.md, "Savings on realistic traffic"):
  --savings-table FILE        chat answers follow the difficulty table FILE (written by
                              bench/savings/trace.mjs): models named *small* or *mini* are wrong
                              on its hard prompts (low logprobs, a hedge, broken JSON, or
                              confidently), others always right; each answer carries an opaque
                              token of its question and correctness (include/costgate/mock/
                              savings.h; the answer shapes above do not apply, the faults
                              and latency do). Prompt prefixes are cached per model (128-token
                              blocks, 1024 minimum: usage.prompt_tokens_details.cached_tokens),
                              answers take each tier's time (cheap 150 ms + 4 ms a token, strong
                              400 ms + 12 ms), streams go out a few tokens an event, GET /mock/stats
                              adds "models": the bill per model (calls, prompt_tokens,
                              cached_tokens, completion_tokens; a cancelled stream pays for the
                              tokens it emitted). POST /mock/stats/reset clears the bill and
                              the cached prefixes.
  --time-scale X              multiplies those times (default 1; 0.05 runs 20 times faster)
On start it prints one line, "costgate-mock listening on HOST:PORT", with the bound port.
)";

struct Settings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  unsigned threads = 1;
  mock::Behaviour defaults;
  std::string savings_table;  // --savings-table: empty = the usual mock
  double time_scale = 1.0;
};

// What the mock saw, for GET /mock/stats: tests use it to check that a gateway cancels upstream
// streams and reuses its connections. Relaxed atomics: nothing is ordered by them.
struct Stats {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> streams_started{0};
  std::atomic<std::uint64_t> streams_completed{0};
  std::atomic<std::uint64_t> streams_cancelled{0};  // the client left while events were due
  std::atomic<std::uint64_t> streams_stalled{0};    // x-mock-stall-after-chunks took effect
  std::atomic<std::uint64_t> resets{0};             // connections reset on purpose
  std::atomic<std::uint64_t> status_faults{0};      // injected error statuses, all causes
  std::atomic<std::uint64_t> attempt_faults{0};     // ... of which x-mock-fail-attempts
  std::atomic<std::uint64_t> shape_faults{0};       // answers bent by a ReplyShape
  std::atomic<std::uint64_t> untargeted{0};         // faults dropped by x-mock-only-model

  static void count(std::atomic<std::uint64_t>& counter) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
};

// Everything the handler shares across requests.
struct Service {
  Settings settings;
  Stats stats;
  mock::AttemptCounter attempts;                 // x-mock-fail-attempts, by x-request-id
  std::unique_ptr<mock::savings::Mode> savings;  // --savings-table only
  // Set before the server runs, read only by /mock/stats.
  const costgate::server::HttpServer* server = nullptr;
};

enum class Target { kGenerate, kModels, kModel, kHealth, kStats, kUnknown };

struct Destination {
  Target target = Target::kUnknown;
  Route route = Route::kChatCompletions;  // kGenerate: which one
  std::string_view model_id;              // GET /v1/models/{id}
  std::string_view deployment;            // Azure: the model when the body names none
};

Destination routeOf(std::string_view path) {
  // A generation route, `suffix` after /v1 or the Azure deployment.
  auto generation = [](std::string_view suffix, std::string_view deployment) -> Destination {
    if (suffix == "/chat/completions") {
      return {Target::kGenerate, Route::kChatCompletions, {}, deployment};
    }
    if (suffix == "/completions") return {Target::kGenerate, Route::kCompletions, {}, deployment};
    if (suffix == "/embeddings") return {Target::kGenerate, Route::kEmbeddings, {}, deployment};
    return {};
  };
  constexpr std::string_view kV1 = "/v1";
  constexpr std::string_view kModelPrefix = "/v1/models/";
  constexpr std::string_view kAzure = "/openai/deployments/";
  if (path == "/v1/models") return {Target::kModels, {}, {}, {}};
  if (path.starts_with(kModelPrefix) && path.size() > kModelPrefix.size()) {
    return {Target::kModel, {}, path.substr(kModelPrefix.size()), {}};
  }
  if (path.starts_with(kV1)) return generation(path.substr(kV1.size()), {});
  if (path == "/health" || path == "/healthz") return {Target::kHealth, {}, {}, {}};
  if (path == "/mock/stats") return {Target::kStats, {}, {}, {}};
  if (path.starts_with(kAzure)) {
    std::string_view rest = path.substr(kAzure.size());
    std::size_t slash = rest.find('/');
    if (slash == 0 || slash == std::string_view::npos) return {};
    return generation(rest.substr(slash), rest.substr(0, slash));
  }
  return {};
}

json receivedHeaders(const Request& request) {
  json headers = json::object();
  for (std::size_t i = 0; i < request.head.fieldCount(); ++i) {
    auto [name, value] = request.head.field(i);
    auto it = headers.find(name);
    if (it == headers.end()) {
      headers.emplace(std::string(name), std::string(value));
    } else {
      // Repeated headers are folded as HTTP allows: "a, b".
      it->get_ref<std::string&>().append(", ").append(value);
    }
  }
  return headers;
}

// Waits on behalf of one request, and stops waiting as soon as its client goes away so a stalled
// or slow answer never outlives the connection.
class Pause {
 public:
  explicit Pause(ResponseWriter& writer) : writer_(writer) {}
  ~Pause() { writer_.stopWatching(); }  // the watch refers to timer_
  Pause(const Pause&) = delete;
  Pause& operator=(const Pause&) = delete;

  // False if the client left (before or during the wait).
  server::Task<bool> wait(std::chrono::milliseconds duration) {
    if (!timer_) {
      timer_ = std::make_unique<server::Timer>(server::EventLoop::current());
      // The writer stops the watch when the exchange ends, before this Pause goes.
      writer_.watchForDisconnect([timer = timer_.get()] { timer->cancel(); });
    }
    if (writer_.clientGone()) co_return false;
    co_await timer_->wait(duration);
    co_return !writer_.clientGone();
  }

  // Waits until the client leaves or the server stops.
  server::Task<void> forever() {
    for (;;) {
      bool present = co_await wait(std::chrono::hours(1));
      if (!present) co_return;
    }
  }

 private:
  ResponseWriter& writer_;
  std::unique_ptr<server::Timer> timer_;
};

// One request being answered.
//
// co_await stands alone in a statement, its arguments named locals: GCC 12 miscompiles some
// temporaries there (a braced ApiError passed by const reference was freed twice) and a co_await
// in a loop condition (it trapped).
class Exchange {
 public:
  Exchange(Request& request, ResponseWriter& writer, const mock::Behaviour& behaviour, Stats& stats,
           mock::AttemptCounter& attempts, mock::savings::Mode* savings)
      : request_(request),
        writer_(writer),
        behaviour_(behaviour),
        stats_(stats),
        attempts_(attempts),
        savings_(savings),
        pause_(writer) {}

  server::Task<void> run(Destination destination);
  mock::Behaviour& behaviour() { return behaviour_; }
  void echoHeaders() { echo_headers_ = receivedHeaders(request_); }

  server::Task<void> sendError(const mock::ApiError& error,
                               std::string_view allow = std::string_view(),
                               std::optional<int> retry_after = std::nullopt) {
    std::string body = error.body();
    // Echoes are rare, so re-parsing the error body for them is fine.
    if (echoing()) body = withEcho(json::parse(body));
    Response response = jsonResponse(error.status, std::move(body));
    if (retry_after) response.add("Retry-After", std::to_string(*retry_after));
    if (!allow.empty()) response.add("Allow", allow);
    co_await writer_.send(std::move(response));
  }

 private:
  Response jsonResponse(int status, std::string body) {
    return Response(status, "application/json", std::move(body));
  }

  bool echoing() const { return !echo_headers_.is_null() || behaviour_.echo_body; }

  // `body` on the wire, with what x-mock-echo-headers and x-mock-echo-body add to it.
  std::string withEcho(json body) const {
    if (!echo_headers_.is_null()) body["mock_received_headers"] = echo_headers_;
    if (behaviour_.echo_body) body["mock_received_body"] = received_body_;
    return mock::toWire(body);
  }

  // How many content events go out before the injected reset or stall, if one is asked for.
  std::optional<int> failAfter() const {
    const auto& reset = behaviour_.reset_after_chunks;
    const auto& stall = behaviour_.stall_after_chunks;
    if (reset && stall) return std::min(*reset, *stall);
    return reset ? reset : stall;
  }

  // The reset or stall asked for; the reset wins a tie.
  server::Task<void> fail() {
    const auto& reset = behaviour_.reset_after_chunks;
    const auto& stall = behaviour_.stall_after_chunks;
    if (reset && (!stall || *reset <= *stall)) {
      Stats::count(stats_.resets);
      writer_.abort();
      co_return;
    }
    Stats::count(stats_.streams_stalled);
    co_await pause_.forever();
  }

  server::Task<void> sendOk(json body) {
    if (failAfter()) {
      co_await fail();
      co_return;
    }
    Response response = jsonResponse(200, withEcho(std::move(body)));
    co_await writer_.send(std::move(response));
  }

  server::Task<void> sendEvents(mock::SseEvents events);
  server::Task<void> generate(Route route, json body, std::string_view deployment);
  // The realistic mode's chat answer (--savings-table): scripted, cached, paced and billed.
  server::Task<void> generateRealistic(json body);
  // Waits `ms` (already scaled) milliseconds, whole ones; false if the client left.
  server::Task<bool> pace(double ms) {
    if (ms < 1) co_return !writer_.clientGone();
    bool present = co_await pause_.wait(std::chrono::milliseconds(static_cast<long>(ms)));
    co_return present;
  }
  // The injected error status this request answers with (x-mock-status, x-mock-fail-attempts).
  server::Task<void> sendStatusFault(int status, int attempt);

  Request& request_;
  ResponseWriter& writer_;
  mock::Behaviour behaviour_;
  Stats& stats_;
  mock::AttemptCounter& attempts_;
  mock::savings::Mode* savings_;  // null unless --savings-table
  // The realistic mode's stream: its model (billed per event) and pace; empty model = not paced.
  std::string paced_model_;
  mock::savings::Pace pace_;
  Pause pause_;
  json echo_headers_;   // null unless x-mock-echo-headers
  json received_body_;  // the parsed body, kept only for x-mock-echo-body
};

server::Task<void> Exchange::sendEvents(mock::SseEvents events) {
  if (echoing() && events.data.size() > 1) {
    // Echoes ride on the first event; rare, so re-parsing it is fine.
    events.data.front() = withEcho(json::parse(events.data.front()));
  }
  Response head(200, "text/event-stream; charset=utf-8");
  head.add("Cache-Control", "no-cache");
  bool sent = co_await writer_.beginStream(std::move(head));
  if (!sent) co_return;
  Stats::count(stats_.streams_started);

  // Index of the event that the injected fault replaces: after K content events, and never past
  // them, so the client always sees a stream without its end.
  std::size_t cut = events.data.size();
  if (std::optional<int> k = failAfter()) {
    cut = events.opening +
          std::min(static_cast<std::size_t>(*k), events.content_end - events.opening);
  }
  const auto delay = std::chrono::milliseconds(behaviour_.chunk_delay_ms);
  double owed_ms = 0;  // the realistic mode's pace not yet waited
  std::string frame;
  for (std::size_t i = 0; i < events.data.size(); ++i) {
    if (i == cut) {
      co_await fail();
      co_return;
    }
    bool content = i >= events.opening && i < events.content_end;
    if (content && delay.count() > 0) {
      bool present = co_await pause_.wait(delay);
      if (!present) {
        Stats::count(stats_.streams_cancelled);
        co_return;
      }
    }
    int tokens = content && !paced_model_.empty() ? events.content_tokens[i - events.opening] : 0;
    if (tokens > 0) {
      // Owed time is carried over, so events shorter than the timer's millisecond still add up.
      owed_ms += pace_.per_token_ms * tokens + (i == events.opening ? pace_.first_token_ms : 0);
      double waited = std::floor(owed_ms);
      owed_ms -= waited;
      bool present = co_await pace(waited);
      if (!present) {
        Stats::count(stats_.streams_cancelled);
        co_return;
      }
    }
    frame.assign("data: ").append(events.data[i]).append("\n\n");
    sent = co_await writer_.writeChunk(frame);
    if (!sent) {
      Stats::count(stats_.streams_cancelled);
      co_return;
    }
    // Billed once written, as a provider bills the tokens it generated before a cancel.
    if (tokens > 0) savings_->bill.completion(paced_model_, tokens);
  }
  sent = co_await writer_.endStream();
  if (sent) Stats::count(stats_.streams_completed);
}

server::Task<void> Exchange::sendStatusFault(int status, int attempt) {
  Stats::count(stats_.status_faults);
  mock::ApiError fault;
  if (behaviour_.fail_attempts > 0) {
    Stats::count(stats_.attempt_faults);
    fault = mock::attemptFault(status, attempt, behaviour_.fail_attempts);
  } else {
    fault = mock::statusFault(status);
  }
  std::optional<int> retry_after = mock::retryAfterSeconds(behaviour_, status);
  std::string_view no_allow;
  co_await sendError(fault, no_allow, retry_after);
}

server::Task<void> Exchange::generate(Route route, json body, std::string_view deployment) {
  constexpr std::string_view kBadJson =
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
      "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
      "sent was not valid JSON.)";
  if (body.is_discarded()) {
    mock::ApiError error = openai::invalidRequest(std::string(kBadJson));
    co_await sendError(error);
    co_return;
  }
  if (behaviour_.echo_body) received_body_ = body;
  if (!deployment.empty() && body.is_object() && !body.contains("model")) {
    body["model"] = deployment;  // Azure names the model in the path; the body may omit it
  }
  if (savings_ && route == Route::kChatCompletions && body.is_object()) {
    co_await generateRealistic(std::move(body));
    co_return;
  }
  mock::Answer answer = mock::answer(route, body, behaviour_.options);
  bool answered = !std::holds_alternative<mock::ApiError>(answer);
  if (answered && route != Route::kEmbeddings && behaviour_.options.shape.any()) {
    Stats::count(stats_.shape_faults);
  }
  if (auto* error = std::get_if<mock::ApiError>(&answer)) {
    co_await sendError(*error);
  } else if (auto* events = std::get_if<mock::SseEvents>(&answer)) {
    co_await sendEvents(std::move(*events));
  } else {
    json& whole = std::get<json>(answer);
    co_await sendOk(std::move(whole));
  }
}

server::Task<void> Exchange::generateRealistic(json body) {
  mock::Parsed<mock::ChatRequest> parsed = mock::parseChatRequest(body);
  if (auto* error = std::get_if<mock::ApiError>(&parsed)) {
    co_await sendError(*error);
    co_return;
  }
  mock::ChatRequest& request = std::get<mock::ChatRequest>(parsed);
  const mock::savings::Difficulty* entry = savings_->table.find(request.last_user_text);
  mock::savings::Script script = mock::savings::script(entry, request.model, request.json_reply,
                                                       behaviour_.options.reply_words);
  request.scripted_words = std::move(script.words);
  request.confidence = script.confidence;
  request.broken_json = script.broken_json;
  request.cached_tokens = savings_->cache.lookupAndRemember(
      mock::savings::prefixHashes(request.model, body["messages"]));
  savings_->bill.call(request.model, request.prompt_tokens, request.cached_tokens);
  mock::savings::Pace timing = mock::savings::paceOf(request.model, savings_->time_scale);
  mock::Stamp stamp = mock::newStamp("chatcmpl-");
  if (request.stream) {
    // A few tokens an event, as providers stream.
    constexpr int kTokensPerEvent = 3;
    mock::MockOptions options = behaviour_.options;
    int words = static_cast<int>(request.scripted_words->size());
    options.chunks = std::max(1, (words + kTokensPerEvent - 1) / kTokensPerEvent);
    paced_model_ = request.model;
    pace_ = timing;
    mock::SseEvents events = mock::chatChunks(request, options, stamp);
    co_await sendEvents(std::move(events));
    co_return;
  }
  json whole = mock::chatCompletion(request, behaviour_.options, stamp);
  int completion = whole["usage"]["completion_tokens"].get<int>();
  // A provider bills a whole answer it generated even if the client left meanwhile.
  savings_->bill.completion(request.model, completion);
  bool present = co_await pace(timing.first_token_ms + timing.per_token_ms * completion);
  if (!present) co_return;
  co_await sendOk(std::move(whole));
}

server::Task<void> Exchange::run(Destination destination) {
  bool post = request_.head.method() == "POST";
  bool get = request_.head.method() == "GET";
  // Parsed before the faults, as x-mock-only-model needs the model it names.
  json body(json::value_t::discarded);
  bool generating = destination.target == Target::kGenerate && post;
  if (generating) body = json::parse(request_.body, nullptr, /*allow_exceptions=*/false);
  std::string_view model =
      generating ? mock::requestModel(body, destination.deployment) : std::string_view();
  if (mock::dropFaultsUnlessTargeted(behaviour_, model)) Stats::count(stats_.untargeted);

  if (behaviour_.reset) {
    Stats::count(stats_.resets);
    writer_.abort();
    co_return;
  }
  if (behaviour_.latency_ms > 0) {
    bool present = co_await pause_.wait(std::chrono::milliseconds(behaviour_.latency_ms));
    if (!present) co_return;
  }
  int attempt = 0;
  if (behaviour_.fail_attempts > 0) {
    std::string_view request_id = request_.head.get("x-request-id");
    if (request_id.empty()) {
      mock::ApiError no_id = openai::invalidRequest(
          "x-mock-fail-attempts counts attempts by the x-request-id header, which is missing.",
          "x-request-id", "invalid_mock_header");
      co_await sendError(no_id);
      co_return;
    }
    attempt = attempts_.next(request_id);
  }
  if (int status = mock::faultStatus(behaviour_, attempt); status != 0) {
    co_await sendStatusFault(status, attempt);
    co_return;
  }
  switch (destination.target) {
    case Target::kGenerate:
      if (!post) break;
      co_await generate(destination.route, std::move(body), destination.deployment);
      co_return;
    case Target::kModels:
    case Target::kModel: {
      if (!get) break;
      json answer = destination.target == Target::kModels ? mock::models()
                                                          : mock::model(destination.model_id);
      co_await sendOk(std::move(answer));
      co_return;
    }
    case Target::kHealth:
    case Target::kStats:
      break;  // GET was answered before any fault
    case Target::kUnknown: {
      mock::ApiError unknown =
          openai::notFound("Invalid URL (" + std::string(request_.head.method()) + " " +
                               std::string(request_.head.target()) + ")",
                           {});
      co_await sendError(unknown);
      co_return;
    }
  }
  std::string_view allow = destination.target == Target::kGenerate ? "POST" : "GET";
  mock::ApiError not_allowed =
      openai::methodNotAllowed("Method " + std::string(request_.head.method()) +
                               " is not allowed for " + std::string(request_.head.target()) + ".");
  co_await sendError(not_allowed, allow);
}

std::string statsBody(const Service& service) {
  auto read = [](const std::atomic<std::uint64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  };
  const Stats& stats = service.stats;
  json body = {{"connections_accepted", service.server ? service.server->connectionsAccepted() : 0},
               {"requests", read(stats.requests)},
               {"streams_started", read(stats.streams_started)},
               {"streams_completed", read(stats.streams_completed)},
               {"streams_cancelled", read(stats.streams_cancelled)},
               {"streams_stalled", read(stats.streams_stalled)},
               {"resets", read(stats.resets)},
               {"status_faults", read(stats.status_faults)},
               {"attempt_faults", read(stats.attempt_faults)},
               {"shape_faults", read(stats.shape_faults)},
               {"untargeted", read(stats.untargeted)}};
  if (service.savings) body["models"] = service.savings->bill.report();
  return mock::toWire(body);
}

server::Task<void> serve(Service& service, Request& request, ResponseWriter& writer) {
  std::string_view target = request.head.target();
  Destination destination = routeOf(target.substr(0, target.find('?')));
  bool probe = destination.target == Target::kHealth || destination.target == Target::kStats;
  if (probe && request.head.method() == "GET") {
    // Probes bypass every injected fault and are not counted as requests.
    Response response(
        200, "application/json",
        destination.target == Target::kHealth ? R"({"status":"ok"})" : statsBody(service));
    co_await writer.send(std::move(response));
    co_return;
  }
  if (target == "/mock/stats/reset" && request.head.method() == "POST") {
    // Between the passes of a benchmark: the bill and the cached prefixes start again.
    if (service.savings) {
      service.savings->bill.reset();
      service.savings->cache.clear();
    }
    Response response(200, "application/json", R"({"reset":true})");
    co_await writer.send(std::move(response));
    co_return;
  }
  Stats::count(service.stats.requests);
  Exchange exchange(request, writer, service.settings.defaults, service.stats, service.attempts,
                    service.savings.get());
  std::optional<mock::ApiError> header_error;
  for (std::size_t i = 0; i < request.head.fieldCount(); ++i) {
    auto [name, value] = request.head.field(i);
    if (!mock::isMockHeader(name)) continue;
    auto error = mock::applyMockHeader(name, value, exchange.behaviour());
    if (error && !header_error) header_error = std::move(error);
  }
  if (exchange.behaviour().echo_headers) exchange.echoHeaders();
  if (header_error) {
    co_await exchange.sendError(*header_error);
    co_return;
  }
  co_await exchange.run(destination);
}

// ---- Command line ----

[[noreturn]] void usageError(const std::string& message) {
  std::fprintf(stderr, "costgate-mock: %s\n(see costgate-mock --help)\n", message.c_str());
  std::exit(2);
}

bool parseListen(std::string_view listen, Settings& settings) {
  std::size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // [::1]:8080
  }
  std::string_view port = listen.substr(colon + 1);
  unsigned value = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || port.empty() || error != std::errc() || end != port.data() + port.size() ||
      value > 65535) {
    return false;
  }
  settings.host = std::string(host);
  settings.port = static_cast<std::uint16_t>(value);
  return true;
}

Settings parseCommandLine(int argc, char** argv) {
  // The flags that map onto x-mock-* headers; the switches may stand without a value.
  constexpr std::string_view kMockFlags[] = {"status",
                                             "latency-ms",
                                             "chunks",
                                             "chunk-delay-ms",
                                             "reply-words",
                                             "reset-after-chunks",
                                             "stall-after-chunks",
                                             "reset",
                                             "echo-headers",
                                             "echo-body",
                                             "refuse",
                                             "uncertain",
                                             "empty",
                                             "invalid-json",
                                             "finish-reason",
                                             "fail-attempts",
                                             "retry-after",
                                             "only-model"};
  constexpr std::string_view kSwitches[] = {"reset",     "echo-headers", "echo-body",   "refuse",
                                            "uncertain", "empty",        "invalid-json"};
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
      std::exit(0);
    }
    if (!arg.starts_with("--")) usageError("unexpected argument '" + std::string(arg) + "'");
    std::string_view name = arg.substr(2);
    std::optional<std::string_view> value;
    if (std::size_t equals = name.find('='); equals != std::string_view::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
    }
    std::string_view mock_name = name.starts_with("fault-") ? name.substr(6) : name;
    bool is_switch =
        std::find(std::begin(kSwitches), std::end(kSwitches), mock_name) != std::end(kSwitches);
    if (!value) {
      if (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) {
        value = argv[++i];
      } else if (is_switch) {
        value = "1";
      } else {
        usageError("--" + std::string(name) + " needs a value");
      }
    }
    if (name == "listen") {
      if (!parseListen(*value, settings)) usageError("--listen wants HOST:PORT");
    } else if (name == "savings-table") {
      settings.savings_table = std::string(*value);
    } else if (name == "time-scale") {
      char* end = nullptr;
      std::string text(*value);
      double scale = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !(scale >= 0) || scale > 100) {
        usageError("--time-scale wants a number from 0 to 100");
      }
      settings.time_scale = scale;
    } else if (name == "threads") {
      unsigned threads = 0;
      auto [end, error] = std::from_chars(value->data(), value->data() + value->size(), threads);
      if (error != std::errc() || end != value->data() + value->size() || threads > 1024) {
        usageError("--threads wants a number from 0 to 1024");
      }
      settings.threads = threads;
    } else if (std::find(std::begin(kMockFlags), std::end(kMockFlags), mock_name) !=
               std::end(kMockFlags)) {
      if (auto error = mock::applyMockHeader("x-mock-" + std::string(mock_name), *value,
                                             settings.defaults)) {
        usageError("--" + std::string(name) + ": " + error->message);
      }
    } else {
      usageError("unknown option --" + std::string(name));
    }
  }
  return settings;
}

}  // namespace

int main(int argc, char** argv) {
  Service service{parseCommandLine(argc, argv), {}, {}, nullptr, nullptr};
  const Settings& settings = service.settings;
  if (!settings.savings_table.empty()) {
    auto table = mock::savings::DifficultyTable::load(settings.savings_table);
    if (auto* error = std::get_if<std::string>(&table)) usageError("--savings-table: " + *error);
    service.savings = std::make_unique<mock::savings::Mode>();
    service.savings->table = std::get<mock::savings::DifficultyTable>(std::move(table));
    service.savings->time_scale = settings.time_scale;
  }
  // Writes to a vanished client fail with EPIPE instead of killing the process.
  ::signal(SIGPIPE, SIG_IGN);
  // Signals are taken by sigwait() on the main thread only, not by the workers.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    costgate::server::HttpServer server(settings.host, settings.port, settings.threads,
                                        costgate::server::ServerLimits{},
                                        [&service](Request& request, ResponseWriter& writer) {
                                          return serve(service, request, writer);
                                        });
    // Worker threads start in run(), after this store.
    service.server = &server;

    // Tests read this line to learn the port: exactly one line, flushed at once.
    bool ipv6 = settings.host.find(':') != std::string::npos;
    std::printf("costgate-mock listening on %s%s%s:%u\n", ipv6 ? "[" : "", settings.host.c_str(),
                ipv6 ? "]" : "", static_cast<unsigned>(server.port()));
    std::fflush(stdout);

    std::thread runner([&server] { server.run(); });
    int received = 0;
    sigwait(&signals, &received);
    server.stop();
    runner.join();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "costgate-mock: %s\n", e.what());
    return 1;
  }
  return 0;
}
