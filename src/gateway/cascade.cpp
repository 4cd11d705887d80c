// A router's cascade: the cheaper models tried first, each answer whole and judged before any of
// it is sent; the first accepted is served, and every attempt is charged.

#include <nlohmann/json.hpp>

#include "costgate/cache/completion_stream.h"
#include "costgate/gateway/backend_request.h"
#include "costgate/gateway/gateway.h"
#include "costgate/gateway/proxy_call.h"
#include "costgate/gateway/replies.h"
#include "costgate/openai/usage.h"

namespace costgate::gateway {

namespace {

// What the judged attempts are sent on top of the filters' edits: whole calls, whatever the
// client asked, and logprobs when the judge reads them.
MemberEdits judgedAttemptEdits(const pipeline::RequestContext& ctx) {
  MemberEdits edits = ctx.member_edits;
  edits.emplace_back("stream", "false");
  if (ctx.stream) edits.emplace_back("stream_options", "null");
  if (ctx.cascade->ask_logprobs) edits.emplace_back("logprobs", "true");
  return edits;
}

bool asksForLogprobs(const jsonview::Value& body) {
  auto logprobs = body.find("logprobs");
  return logprobs && logprobs->kind() == jsonview::Kind::kBoolean && logprobs->boolean();
}

// The weightiest signal that failed ("mean_logprob,refusal" -> "mean_logprob"), or "score".
std::string escalationReason(const pipeline::Judgement& verdict) {
  return verdict.reason.empty() ? "score" : verdict.reason.substr(0, verdict.reason.find(','));
}

}  // namespace

server::Task<bool> Gateway::runCascade(ProxyCall& call) {
  pipeline::RequestContext& ctx = call.ctx;
  pipeline::Cascade& cascade = *ctx.cascade;
  const MemberEdits edits = judgedAttemptEdits(ctx);
  for (std::size_t i = 0; i + 1 < cascade.models.size(); ++i) {
    const std::string model = cascade.models[i];
    auto body_for = [&](std::string_view backend_model) {
      MemberEdits with_model = edits;
      with_model.emplace_back("model", nlohmann::json(backend_model).dump());
      return bodyWith(*call.filtered, with_model);
    };
    ModelCalls::Answer answer;
    co_await calls_.call(model, call.path, body_for, call.headers, answer);
    call.attempts += answer.attempts;
    std::string reason = "error";
    std::string body;
    std::optional<upstream::Failure> failure;
    if (answer.exchange && answer.exchange->status() == 200) {
      failure = co_await answer.exchange->readAll(body, kMaxWholeResponseBytes);
    }
    if (answer.exchange && answer.exchange->status() == 200 && !failure) {
      const pipeline::Judgement verdict = cascade.judge(body);
      auto document = jsonview::Document::parse(body);
      auto usage = document ? openai::usageOf(document->root()) : std::nullopt;
      if (verdict.accept) {
        co_await serveCascadeAnswer(call, answer, std::move(body), usage);
        co_return true;
      }
      reason = escalationReason(verdict);
      if (usage) {  // the weak answer was paid for all the same
        server::ExchangeRecord::SideCall side{answer.model, *usage, std::nullopt};
        if (const pricing::Price* price = calls_.priceOf(answer.model)) {
          side.cost = pricing::costOf(*price, *usage);
        }
        call.record.side_calls.push_back(std::move(side));
      }
    }
    cascade.escalations.push_back({model, cascade.models[i + 1], reason});
  }
  ctx.response_headers.emplace_back("x-costgate-escalated",
                                    pipeline::describe(cascade.escalations));
  co_return false;
}

server::Task<> Gateway::serveCascadeAnswer(ProxyCall& call, const ModelCalls::Answer& answer,
                                           std::string body, std::optional<pricing::Usage> usage) {
  pipeline::RequestContext& ctx = call.ctx;
  if (ctx.cascade->ask_logprobs && !asksForLogprobs(*call.filtered)) body = withoutLogprobs(body);
  call.record.model = ctx.served_model = answer.model;
  call.record.backend = ctx.backend = answer.backend;
  ctx.upstream_status = 200;
  ctx.response_headers.emplace_back("x-costgate-attempts", std::to_string(call.attempts));
  if (!ctx.cascade->escalations.empty()) {
    ctx.response_headers.emplace_back("x-costgate-escalated",
                                      pipeline::describe(ctx.cascade->escalations));
  }
  if (chain_.observesResponseBody()) chain_.onResponseBody(ctx, 200, body);
  if (usage) {
    call.record.usage = usage;
    call.record.usage_source = "backend";
    if (const pricing::Price* price = calls_.priceOf(answer.model)) {
      call.record.cost = pricing::costOf(*price, *usage);
    }
  }
  server::Response response(200, "application/json", body);
  if (ctx.stream) {
    // The accepted answer, replayed to a streaming client as the stream it asked for.
    if (auto events = cache::replayAsStream(body, call.accounting.client_asked_for_usage)) {
      response = server::Response(200, "text/event-stream; charset=utf-8", std::move(*events));
      response.add("Cache-Control", "no-cache");
    }
  }
  response.add("x-costgate-model", answer.model);
  addFilterHeaders(ctx, response);
  co_await call.writer.send(std::move(response));
}

}  // namespace costgate::gateway
