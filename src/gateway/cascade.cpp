// A router's cascade: the cheaper models tried first, each answer judged before it is served;
// the first accepted is served, and every attempt is charged. A whole answer is judged whole; a
// stream is held for its first tokens, judged on them, and then released or cancelled.

#include <nlohmann/json.hpp>

#include "costgate/gateway/backend_request.h"
#include "costgate/gateway/gateway.h"
#include "costgate/gateway/proxy_call.h"
#include "costgate/gateway/replies.h"
#include "costgate/openai/usage.h"

namespace costgate::gateway {

namespace {

using Clock = std::chrono::steady_clock;

// What the whole judged attempts are sent on top of the filters' edits: whole calls, whatever
// the client asked, and logprobs when the judge reads them.
MemberEdits wholeAttemptEdits(const pipeline::RequestContext& ctx) {
  MemberEdits edits = ctx.member_edits;
  edits.emplace_back("stream", "false");
  if (ctx.stream) edits.emplace_back("stream_options", "null");
  if (ctx.cascade->ask_logprobs) edits.emplace_back("logprobs", "true");
  return edits;
}

// ...and the held streams: the usage chunk (to charge what a cut stream used), and logprobs.
MemberEdits heldStreamEdits(const pipeline::RequestContext& ctx, const jsonview::Value& filtered) {
  MemberEdits edits = ctx.member_edits;
  edits.emplace_back("stream_options", streamOptionsWithUsage(filtered));
  if (ctx.cascade->ask_logprobs) edits.emplace_back("logprobs", "true");
  return edits;
}

// What each deployment of an attempt's model is sent: the body with `edits` and the
// deployment's own model name. The last body made is kept in `sent`: what the call is counted by
// should its backend report no usage (a cut stream never does). All three must outlive the call.
ModelCalls::BodyFor attemptBody(const jsonview::Value& filtered, const MemberEdits& edits,
                                std::string& sent) {
  return [&filtered, &edits, &sent](std::string_view backend_model) {
    MemberEdits with_model = edits;
    with_model.emplace_back("model", nlohmann::json(backend_model).dump());
    sent = bodyWith(filtered, with_model);
    return sent;
  };
}

bool asksForLogprobs(const jsonview::Value& body) {
  auto logprobs = body.find("logprobs");
  return logprobs && logprobs->kind() == jsonview::Kind::kBoolean && logprobs->boolean();
}

// The weightiest signal that failed ("mean_logprob,refusal" -> "mean_logprob"), or "score".
std::string escalationReason(const pipeline::Judgement& verdict) {
  return verdict.reason.empty() ? "score" : verdict.reason.substr(0, verdict.reason.find(','));
}

bool holdsStreams(const pipeline::RequestContext& ctx) {
  return ctx.stream && ctx.cascade->stream_hold_tokens > 0 && ctx.cascade->judge_partial;
}

}  // namespace

server::Task<bool> Gateway::runCascade(ProxyCall& call) {
  pipeline::RequestContext& ctx = call.ctx;
  pipeline::Cascade& cascade = *ctx.cascade;
  for (std::size_t i = 0; i + 1 < cascade.models.size(); ++i) {
    if (call.writer.clientGone()) co_return true;  // nobody to answer: no more calls to pay for
    // Not a conditional expression over two co_awaits: GCC 12 destroys its temporaries twice.
    std::optional<std::string> rejected;
    if (holdsStreams(ctx)) {
      rejected = co_await heldStreamAttempt(call, i);
    } else {
      rejected = co_await wholeAttempt(call, i);
    }
    if (!rejected) co_return true;
    cascade.escalations.push_back({cascade.models[i], cascade.models[i + 1], std::move(*rejected)});
  }
  ctx.response_headers.emplace_back("x-costgate-escalated",
                                    pipeline::describe(cascade.escalations));
  co_return call.writer.clientGone();
}

server::Task<std::optional<std::string>> Gateway::wholeAttempt(ProxyCall& call, std::size_t index) {
  const MemberEdits edits = wholeAttemptEdits(call.ctx);
  std::string sent;
  const ModelCalls::BodyFor body_for = attemptBody(*call.filtered, edits, sent);
  const auto started = Clock::now();
  ModelCalls::Answer answer;
  co_await calls_.call(call.ctx.cascade->models[index], call.path, body_for, call.headers, answer);
  call.attempts += answer.attempts;
  if (!answer.exchange || answer.exchange->status() != 200) co_return "error";
  std::optional<std::string> rejected = co_await judgeWhole(call, index, answer, started, sent);
  co_return rejected;
}

server::Task<std::optional<std::string>> Gateway::judgeWhole(ProxyCall& call, std::size_t index,
                                                             ModelCalls::Answer& answer,
                                                             Clock::time_point started,
                                                             std::string_view sent) {
  std::string body;
  if (co_await answer.exchange->readAll(body, kMaxWholeResponseBytes)) co_return "error";
  const pipeline::Judgement verdict = call.ctx.cascade->judge(body);
  auto document = jsonview::Document::parse(body);
  if (!document) co_return "error";
  // Without a usage from the backend, the gateway's own count, as for any call.
  prepareAccounting(call, sent);
  std::string_view source;
  const pricing::Usage usage = usageOrEstimate(body, document->root(), call.accounting, source);
  if (!verdict.accept) {
    chargeRejected(call, answer.model, usage, source);  // a weak answer is paid for all the same
    co_return escalationReason(verdict);
  }
  markServed(call, answer, index, verdict);
  call.record.finish_reason = openai::finishReasonOf(document->root());
  call.record.usage = usage;
  call.record.usage_source = source;
  if (const pricing::Price* price = calls_.priceOf(answer.model)) {
    call.record.cost = pricing::costOf(*price, usage);
  }
  co_await serveCascadeAnswer(call, answer, std::move(body));
  recordUpstreamTime(call, started);
  co_return std::nullopt;
}

server::Task<std::optional<std::string>> Gateway::heldStreamAttempt(ProxyCall& call,
                                                                    std::size_t index) {
  pipeline::RequestContext& ctx = call.ctx;
  const MemberEdits edits = heldStreamEdits(ctx, *call.filtered);
  std::string sent;
  const ModelCalls::BodyFor body_for = attemptBody(*call.filtered, edits, sent);
  const auto started = Clock::now();
  ModelCalls::Answer answer;
  co_await calls_.call(ctx.cascade->models[index], call.path, body_for, call.headers, answer);
  call.attempts += answer.attempts;
  if (!answer.exchange || answer.exchange->status() != 200) co_return "error";
  if (!answer.exchange->isEventStream()) {
    std::optional<std::string> rejected = co_await judgeWhole(call, index, answer, started, sent);
    co_return rejected;
  }

  upstream::Exchange& exchange = *answer.exchange;
  HeldStream held(ctx.cascade->stream_hold_tokens);
  held.hide_logprobs = ctx.cascade->ask_logprobs && !asksForLogprobs(*call.filtered);
  std::optional<pipeline::Judgement> verdict;
  bool failed = false;
  // While held, nothing watches the client as a relay does: one that leaves ends the hold.
  call.writer.watchForDisconnect([&exchange] { exchange.cancel(); });
  while (!verdict && !failed) {
    upstream::BodyPiece piece = co_await exchange.readSome();
    failed = piece.failure.has_value();
    if (!failed) {
      for (auto& sse : held.parser.feed(piece.data)) {
        if (held.add(std::move(sse)) && !verdict)
          verdict = ctx.cascade->judge_partial(held.partial());
      }
      failed = held.parser.overflowed() || held.broken();
    }
    if (!failed && piece.done) {
      if (auto last = held.parser.finish()) held.add(std::move(*last));
      held.endOfBody();
      // A stream cut off before its end, or an error in it, is a failed call, whatever its start.
      failed = held.broken() || !held.complete();
      if (!failed && !verdict) verdict = ctx.cascade->judge_partial(held.partial());
      // The judge must decide on the last part; one that does not has not accepted it.
      if (!failed && !verdict) verdict = pipeline::Judgement{false, 0, "score", -1};
    }
  }
  call.writer.stopWatching();
  failed = failed || call.writer.clientGone();
  prepareAccounting(call, sent);
  if (!failed && verdict->accept) {
    markServed(call, answer, index, *verdict);
    call.accounting.price = calls_.priceOf(answer.model);
    co_await relayStream(call, exchange, &held);
    recordUpstreamTime(call, started);
    co_return std::nullopt;
  }
  exchange.cancel();
  pricing::Usage used;
  if (held.usage()) {
    used = *held.usage();
  } else {  // cut off: the prompt and what it streamed until then, as a provider bills it
    used.prompt_tokens = call.accounting.promptTokens();
    used.completion_tokens = held.tokens();
  }
  chargeRejected(call, answer.model, used, held.usage() ? "backend" : "estimated");
  co_return failed ? "error" : escalationReason(*verdict);
}

void Gateway::markServed(ProxyCall& call, const ModelCalls::Answer& answer, std::size_t index,
                         pipeline::Judgement verdict) const {
  pipeline::RequestContext& ctx = call.ctx;
  ctx.cascade->served_index = index;
  ctx.cascade->served_verdict = std::move(verdict);
  call.record.model = ctx.served_model = answer.model;
  call.record.backend = ctx.backend = answer.backend;
  ctx.upstream_status = 200;
  ctx.response_headers.emplace_back("x-costgate-attempts", std::to_string(call.attempts));
  if (!ctx.cascade->escalations.empty()) {
    ctx.response_headers.emplace_back("x-costgate-escalated",
                                      pipeline::describe(ctx.cascade->escalations));
  }
}

void Gateway::prepareAccounting(ProxyCall& call, std::string_view sent) const {
  call.accounting.prompt_tokens = call.ctx.prompt_tokens;
  call.accounting.encoding = call.ctx.encoding;
  call.accounting.route = call.ctx.route;
  call.accounting.sent_body = sent;
}

void Gateway::chargeRejected(ProxyCall& call, const std::string& model, const pricing::Usage& usage,
                             std::string_view source) const {
  server::ExchangeRecord::SideCall side{model, usage, std::nullopt, source};
  if (const pricing::Price* price = calls_.priceOf(model))
    side.cost = pricing::costOf(*price, usage);
  call.record.side_calls.push_back(std::move(side));
}

void Gateway::recordUpstreamTime(ProxyCall& call, Clock::time_point started) {
  call.record.upstream_latency =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
  metrics_.observeUpstream(call.record.backend,
                           std::chrono::duration<double>(call.record.upstream_latency).count());
}

server::Task<> Gateway::serveCascadeAnswer(ProxyCall& call, const ModelCalls::Answer& answer,
                                           std::string body) {
  pipeline::RequestContext& ctx = call.ctx;
  if (ctx.cascade->ask_logprobs && !asksForLogprobs(*call.filtered)) body = withoutLogprobs(body);
  if (chain_.observesResponseBody()) chain_.onResponseBody(ctx, 200, body);
  server::Response response(200, "application/json", body);
  bool replayed = false;
  if (ctx.stream) {
    // The accepted answer, replayed to a streaming client as the stream it asked for, with the
    // cost comment before its [DONE] as any stream has.
    if (auto events = replayWithCost(body, call.accounting.client_asked_for_usage, call.record)) {
      response = server::Response(200, "text/event-stream; charset=utf-8", std::move(*events));
      response.add("Cache-Control", "no-cache");
      replayed = true;
    }
  }
  response.add("x-costgate-model", answer.model);
  addFilterHeaders(ctx, response);
  if (!replayed) addCostHeaders(call.record, response);
  co_await call.writer.send(std::move(response));
}

}  // namespace costgate::gateway
