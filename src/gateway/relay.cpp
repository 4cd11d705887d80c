// A backend's answer to the client: whole (checked, observed by the filters, priced) or streamed
// event by event (with its charge settled however the stream ends).

#include "costgate/gateway/backend_request.h"
#include "costgate/gateway/gateway.h"
#include "costgate/gateway/proxy_call.h"
#include "costgate/gateway/replies.h"
#include "costgate/openai/sse.h"
#include "costgate/openai/usage.h"

namespace costgate::gateway {

namespace {

// Backend response headers worth passing on to the client.
bool relayedToClient(std::string_view name) {
  return name == "retry-after" || name.starts_with("x-ratelimit-") ||
         name == "openai-processing-ms";
}

// The error a whole answer gets instead of being relayed, or nullopt when it may be: a backend
// that refused the gateway's credentials (saying so as the backend did would tell the client its
// own key is wrong, and might echo ours), or a 200 that is not JSON (an HTML page from a proxy
// on the way, a truncated answer: relayed, it would pass for an answer nobody can price).
std::optional<openai::ApiError> unrelayable(const upstream::Exchange& exchange,
                                            const std::string& backend, bool json) {
  const int status = exchange.status();
  if (status == 401 || status == 403) {
    return openai::serverError(
        502,
        "The backend '" + backend + "' refused this gateway's credentials (HTTP " +
            std::to_string(status) + "); its api_key in the gateway's configuration needs fixing",
        "upstream_auth_error");
  }
  if (status == 200 && !json) {
    return openai::serverError(502,
                               "The backend '" + backend +
                                   "' answered 200 with a body that is not JSON (content-type: " +
                                   std::string(exchange.header("content-type")) + ")",
                               "upstream_protocol_error");
  }
  return std::nullopt;
}

}  // namespace

void Gateway::addRelayedHeaders(const ProxyCall& call, const upstream::Exchange& exchange,
                                server::Response& response) const {
  const std::string_view key = calls_.backendKey(call.ctx.backend);
  exchange.forEachHeader([&](std::string_view name, std::string_view value) {
    if (relayedToClient(name)) response.add(name, redacted(value, key));
  });
  // The backend got our id; only an id of its own is worth passing on.
  if (auto upstream_id = exchange.header("x-request-id");
      !upstream_id.empty() && upstream_id != call.ctx.request_id) {
    response.add("x-upstream-request-id", redacted(upstream_id, key));
  }
}

server::Task<> Gateway::relayWhole(ProxyCall& call, upstream::Exchange& exchange) {
  pipeline::RequestContext& ctx = call.ctx;
  std::string body;
  if (auto failure = co_await exchange.readAll(body, kMaxWholeResponseBytes)) {
    metrics_.countUpstreamFailure(ctx.backend, failureCode(failure->kind));
    call.record.error = failure->message;
    co_await call.writer.send(errorResponse(failureError(*failure)));
    co_return;
  }
  // Errors go back to the client as the backend sent them, and answers as they came, but never
  // with our key in them (a backend that echoes the request it got).
  redact(body, calls_.backendKey(ctx.backend));
  const int status = exchange.status();
  std::optional<jsonview::Document> answer;  // of `body`, for pricing
  if (status == 200) answer = jsonview::Document::parseMembers(body, kPricedMembers);
  if (auto refusal = unrelayable(exchange, ctx.backend, answer.has_value())) {
    redact(refusal->message, calls_.backendKey(ctx.backend));
    if (refusal->code == "upstream_protocol_error") {
      metrics_.countUpstreamFailure(ctx.backend, refusal->code);
    }
    call.record.error = refusal->message;
    co_await call.writer.send(errorResponse(*refusal));
    co_return;
  }
  if (chain_.observesResponseBody()) chain_.onResponseBody(ctx, status, body);
  bool replayed = false;
  if (status == 200) {
    priceWholeAnswer(body, answer->root(), call.accounting, call.record);  // before `body` moves
    call.record.finish_reason = openai::finishReasonIn(body);
    if (ctx.stream && ctx.route == pipeline::Route::kChatCompletions) {
      // The backend ignored `stream`: the client still gets the stream it asked for.
      if (auto events = replayWithCost(body, call.accounting.client_asked_for_usage, call.record)) {
        body = std::move(*events);
        replayed = true;
      }
    }
  }
  const std::string_view content_type =
      replayed ? "text/event-stream; charset=utf-8" : exchange.header("content-type");
  server::Response response(status, content_type.empty() ? "application/json" : content_type,
                            std::move(body));
  if (replayed) response.add("Cache-Control", "no-cache");
  addRelayedHeaders(call, exchange, response);
  response.add("x-costgate-model", ctx.served_model);
  addFilterHeaders(ctx, response);
  if (status == 200) addCostHeaders(call.record, response);
  co_await call.writer.send(std::move(response));
}

namespace {

// The events of one streamed answer on their way to the client: each is redacted, shown to the
// filters and collected for the next write; the usage chunk the gateway asked for on the
// client's behalf is hidden, and [DONE] is preceded by the cost comment.
class StreamRelay {
 public:
  StreamRelay(ProxyCall& call, const pipeline::Chain& chain, std::string_view backend_key,
              bool hide_logprobs)
      : call_(call),
        chain_(chain),
        key_(backend_key),
        hide_logprobs_(hide_logprobs),
        charge_(call.accounting, call.record) {}

  void relay(openai::SseEvent&& sse) {
    bool hide = false;
    if (sse.data == "[DONE]") {
      charge_.settle();
      out += costComment(call_.record);
    } else if (auto chunk = jsonview::Document::parse(sse.data)) {
      hide = observe(chunk->root());
      if (hide_logprobs_) sse.data = withoutLogprobs(sse.data);
    }
    redact(sse.data, key_);
    redact(sse.event, key_);
    pipeline::StreamEvent event{std::move(sse)};
    chain_.onChunk(call_.ctx, event);
    if (!event.drop && !hide) out += openai::serializeSse(event.sse);
  }

  std::string out;  // what the next write sends

 private:
  // Counts a chunk's text and usage; returns whether it is the usage-only chunk to hide.
  bool observe(const jsonview::Value& chunk) {
    const std::uint64_t characters = openai::chunkCharacters(chunk);
    charge_.relayed(characters);
    auto& record = call_.record;
    if (characters > 0 && record.time_to_first_token.count() == 0) {
      record.time_to_first_token = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - record.started);
    }
    if (record.finish_reason.empty()) record.finish_reason = openai::finishReasonOf(chunk);
    auto usage = openai::usageOf(chunk);
    if (!usage) return false;
    charge_.reported(*usage);
    auto choices = chunk.find("choices");
    return !call_.accounting.client_asked_for_usage &&
           (!choices || (choices->isArray() && choices->size() == 0));
  }

  ProxyCall& call_;
  const pipeline::Chain& chain_;
  std::string_view key_;
  bool hide_logprobs_;
  StreamCharge charge_;
};

}  // namespace

server::Task<> Gateway::relayStream(ProxyCall& call, upstream::Exchange& exchange,
                                    HeldStream* held) {
  ClientWriter& writer = call.writer;
  server::Response head(200, "text/event-stream; charset=utf-8");
  head.add("Cache-Control", "no-cache").add("x-costgate-model", call.ctx.served_model);
  addFilterHeaders(call.ctx, head);
  addRelayedHeaders(call, exchange, head);
  StreamRelay relay(call, chain_, calls_.backendKey(call.ctx.backend), held && held->hide_logprobs);
  if (!co_await writer.beginStream(std::move(head))) {
    exchange.cancel();
    // What a cascade held was read all the same: it is charged (the relay counts it).
    if (held) {
      for (auto& sse : held->takeEvents()) relay.relay(std::move(sse));
    }
    metrics_.countStream("client_gone");
    co_return;
  }
  // Waiting on the backend, we would not notice the client leaving until the next write;
  // the watch cancels the backend call as soon as it does.
  writer.watchForDisconnect([&exchange] { exchange.cancel(); });
  // The watch refers to `exchange`, which the caller destroys after this returns.
  struct StopWatching {
    ClientWriter& writer;
    ~StopWatching() { writer.stopWatching(); }
  } stop_watching{writer};

  openai::SseParser own_parser;
  openai::SseParser& parser = held ? held->parser : own_parser;
  if (held) {  // what a cascade held while judging it goes first
    relay.out.clear();
    for (auto& sse : held->takeEvents()) relay.relay(std::move(sse));
    if (!relay.out.empty() && !co_await writer.writeChunk(relay.out)) {
      exchange.cancel();
      metrics_.countStream("client_gone");
      co_return;
    }
    if (held->ended()) {
      metrics_.countStream(co_await writer.endStream() ? "completed" : "client_gone");
      co_return;
    }
  }
  for (;;) {
    upstream::BodyPiece piece = co_await exchange.readSome();
    // Only whole events are relayed, so an error event after a broken stream always parses.
    relay.out.clear();
    std::optional<upstream::Failure> failure = std::move(piece.failure);
    if (!failure) {
      for (auto& sse : parser.feed(piece.data)) relay.relay(std::move(sse));
      if (parser.overflowed()) {
        // An event without end: what a stream may make the gateway hold is bounded.
        exchange.cancel();
        failure =
            upstream::Failure{upstream::FailureKind::kTooLarge,
                              "an event of the backend's stream exceeds " +
                                  std::to_string(openai::SseParser::kMaxEventBytes) + " bytes"};
      } else if (piece.done) {
        if (auto last = parser.finish()) relay.relay(std::move(*last));
      }
    }
    if (failure) {
      co_await endBrokenStream(call, *failure, relay.out);
      co_return;
    }
    if (!relay.out.empty() && !co_await writer.writeChunk(relay.out)) {
      exchange.cancel();
      metrics_.countStream("client_gone");
      co_return;
    }
    if (piece.done) break;
  }
  metrics_.countStream(co_await writer.endStream() ? "completed" : "client_gone");
}

server::Task<> Gateway::endBrokenStream(ProxyCall& call, const upstream::Failure& failure,
                                        std::string& out) {
  if (call.writer.clientGone()) {
    metrics_.countStream("client_gone");
    co_return;
  }
  // Tell the client in-band, after the events that were whole: the status line has gone out.
  metrics_.countStream("upstream_failed");
  metrics_.countUpstreamFailure(call.ctx.backend, failureCode(failure.kind));
  call.record.error = failure.message;
  const openai::ApiError error =
      openai::serverError(502, "the backend's stream broke off: " + failure.message,
                          std::string(failureCode(failure.kind)));
  out += "data: " + error.body() + "\n\n";
  co_await call.writer.writeChunk(out);
  co_await call.writer.endStream();
}

}  // namespace costgate::gateway
