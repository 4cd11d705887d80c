// The proxy sequence: parse -> filter chain -> dispatch (cascade, model call) -> relay ->
// complete. Each step is a function of its own; the state they share is a ProxyCall.

#include <nlohmann/json.hpp>

#include "costgate/gateway/backend_request.h"
#include "costgate/gateway/gateway.h"
#include "costgate/gateway/proxy_call.h"
#include "costgate/gateway/replies.h"
#include "costgate/gateway/signal_wait.h"
#include "costgate/openai/request_validation.h"
#include "costgate/openai/usage.h"

namespace costgate::gateway {

namespace {

using Clock = std::chrono::steady_clock;
using pipeline::FilterStatus;

// The model the filters left the request with (a router's or a budget's choice), else the
// client's.
std::string modelAfterFilters(const pipeline::RequestContext& ctx) {
  if (const std::string* model = ctx.editedMember("model")) {
    auto name = nlohmann::json::parse(*model, nullptr, false);
    if (name.is_string()) return name.get<std::string>();
  }
  return ctx.model;
}

// Savings count only for calls that go to a backend: a refused request saved nothing.
void recordSavings(ProxyCall& call) {
  for (const auto& saving : call.ctx.savings) {
    call.record.token_savings.push_back({saving.filter, saving.policy, saving.tokens});
  }
}

}  // namespace

server::Task<> Gateway::proxy([[maybe_unused]] std::shared_ptr<Gateway> self, pipeline::Route route,
                              ClientApi api, server::Request& request,
                              server::ResponseWriter& writer) {
  AskedFor asked;
  std::optional<openai::ApiError> error = translateToChat(api, request, asked);
  ProxyCall call(route, writer, repliesFor(api, std::move(asked)));
  if (api != ClientApi::kChat) {
    call.record.route = routeNameOf(api);
    call.client_authorization = bearerFromApiKey(api, request.head);
  }
  if (!error) error = parse(call, request);
  if (error) {
    co_await call.writer.send(errorResponse(*error));
    co_return;
  }
  const FilterStatus decision = co_await runChain(call);
  if (decision == FilterStatus::kRespond) {
    co_await replyLocally(call);
  } else {
    co_await dispatch(call, request);
  }
  complete(call);
}

std::optional<openai::ApiError> Gateway::parse(ProxyCall& call,
                                               const server::Request& request) const {
  pipeline::RequestContext& ctx = call.ctx;
  // Checking, filters and forwarding need only this index of the body, never a DOM.
  call.document = jsonview::Document::parse(request.body);
  if (!call.document) {
    return openai::invalidRequest(
        "We could not parse the JSON body of your request: it is not valid JSON", {},
        "invalid_json");
  }
  const jsonview::Value body = call.document->root();
  openai::RequestBasics basics;
  if (auto problem = openai::validateRequest(ctx.route, body, &basics)) return problem;
  ctx.model = std::move(basics.model);
  ctx.stream = basics.stream;
  ctx.request_index = body;
  call.record.stream = ctx.stream;
  if (ctx.stream) call.accounting.client_asked_for_usage = openai::asksForUsage(body);
  if (const config::ModelRoute* model = calls_.model(ctx.model)) {
    ctx.encoding = model->encoding.get();
    ctx.price = calls_.priceOf(ctx.model);
    ctx.backend_model = model->backend_model;
  }
  ctx.headers.reserve(request.head.fieldCount() + 1);
  for (std::size_t i = 0; i < request.head.fieldCount(); ++i) {
    auto field = request.head.field(i);
    ctx.headers.emplace_back(field.name, field.value);
  }
  if (call.client_authorization)
    ctx.headers.emplace_back("authorization", *call.client_authorization);
  return std::nullopt;
}

server::Task<FilterStatus> Gateway::runChain(ProxyCall& call) {
  pipeline::RequestContext& ctx = call.ctx;
  std::size_t position = 0;
  FilterStatus decision = chain_.onRequest(ctx, position);
  while (decision == FilterStatus::kWait && ctx.awaited) {
    const pipeline::Awaited awaited = std::move(*ctx.awaited);
    ctx.awaited.reset();
    co_await fulfil(call, awaited);
    decision = chain_.resume(ctx, position, awaited.resume);
  }
  // The body as the filters left it; the index must not outlive onRequest (it may view the
  // client's body, which is moved into the backend call).
  call.filtered = *ctx.request_index;
  ctx.request_index.reset();
  if (ctx.prompt_tokens) call.record.prompt_tokens_counted = ctx.prompt_tokens->tokens;
  // Requests the chain answered itself are attributed too.
  call.record.tag_labels = {ctx.tag_labels.feature, ctx.tag_labels.team, ctx.tag_labels.env};
  recordSpared(ctx, call.record);
  co_return decision == FilterStatus::kContinue ? FilterStatus::kContinue : FilterStatus::kRespond;
}

server::Task<> Gateway::fulfil(ProxyCall& call, const pipeline::Awaited& awaited) {
  if (const auto* wait = std::get_if<pipeline::AwaitSignal>(&awaited.what)) {
    co_await waitFor(*wait->signal, wait->timeout);
    co_return;
  }
  const auto& embedding = std::get<pipeline::EmbeddingCall>(awaited.what);
  call.ctx.embedding.emplace();
  co_await calls_.embed(embedding, call.ctx.request_id, *call.ctx.embedding, call.record);
}

server::Task<> Gateway::replyLocally(ProxyCall& call) {
  if (!call.ctx.local_reply) {  // a filter that stopped without a reply, or waited for nothing
    call.ctx.local_reply = pipeline::LocalReply{
        500,
        "application/json",
        openai::serverError(500, "a filter stopped the request without a reply", "internal_error")
            .body(),
        {}};
  }
  const pipeline::LocalReply& local = *call.ctx.local_reply;
  server::Response response(local.status, local.content_type, local.body);
  for (const auto& [name, value] : local.headers) response.add(name, value);
  co_await call.writer.send(std::move(response));
}

server::Task<> Gateway::dispatch(ProxyCall& call, server::Request& request) {
  pipeline::RequestContext& ctx = call.ctx;
  ctx.model = modelAfterFilters(ctx);
  call.headers = clientHeaders(ctx);
  call.path = std::string(pipeline::backendPathOf(ctx.route));
  const bool cascades = ctx.cascade && ctx.cascade->models.size() > 1 && calls_.serves(ctx.model);
  if (cascades) {
    recordSavings(call);
    if (co_await runCascade(call)) co_return;
    // Every cheaper answer was judged too weak: the last model answers as any request's would.
    ctx.model = ctx.cascade->models.back();
    ctx.setMember("model", nlohmann::json(ctx.model).dump());
  }
  const config::ModelRoute* model = calls_.model(ctx.model);
  if (!model) {
    call.record.model = "unknown";
    ctx.local_reply = {404, "application/json", modelNotFound(ctx.model).body(), {}};
    co_await replyLocally(call);
    co_return;
  }
  if (!cascades) recordSavings(call);
  call.record.model = ctx.served_model = ctx.model;
  call.record.backend = ctx.backend = model->backend;
  if (model->backend_model != ctx.model) {
    ctx.setMember("model", nlohmann::json(model->backend_model).dump());
  }
  if (ctx.stream && !call.accounting.client_asked_for_usage) {
    // A stream's usage comes only in a final chunk that must be asked for: ask, and hide it.
    ctx.setMember("stream_options", streamOptionsWithUsage(*call.filtered));
  }
  // The cascade's last model answers now (the filters that observe the answer read it).
  if (ctx.cascade) ctx.cascade->served_index = ctx.cascade->models.size() - 1;
  co_await callAndRelay(call, forwardedBody(ctx, *call.filtered, request.body));
  if (ctx.cascade && ctx.upstream_status != 200) ctx.cascade->served_index.reset();
}

server::Task<> Gateway::callAndRelay(ProxyCall& call, std::string body) {
  pipeline::RequestContext& ctx = call.ctx;
  const std::string primary_model = calls_.model(ctx.model)->backend_model;
  // For the gateway's own count, should the backend report no usage.
  call.accounting.prompt_tokens = ctx.prompt_tokens;
  call.accounting.encoding = ctx.encoding;
  call.accounting.route = ctx.route;
  call.accounting.sent_body = body;
  // Another deployment or a fallback model is sent its own model name.
  auto body_for = [&body, &primary_model](std::string_view backend_model) {
    return backend_model == primary_model ? body : withModel(body, backend_model);
  };
  const auto upstream_started = Clock::now();
  ModelCalls::Answer answer;
  co_await calls_.call(ctx.model, call.path, body_for, call.headers, answer);
  call.attempts += answer.attempts;
  ctx.response_headers.emplace_back("x-costgate-attempts", std::to_string(call.attempts));
  if (!answer.exchange) {
    call.record.error = answer.failure ? answer.failure->message : "no deployment to call";
    // Named, not a conditional inside co_await: GCC 12 destroys such temporaries twice.
    const openai::ApiError error = failureError(answer.failure.value_or(
        upstream::Failure{upstream::FailureKind::kConnect,
                          "every deployment of " + ctx.model + " is set aside after failures"}));
    co_await call.writer.send(errorResponse(error));
    co_return;
  }
  call.accounting.price = calls_.priceOf(answer.model);  // a fallback's own price
  call.record.model = ctx.served_model = answer.model;
  call.record.backend = ctx.backend = answer.backend;
  upstream::Exchange& exchange = *answer.exchange;
  ctx.upstream_status = exchange.status();
  if (exchange.status() == 200 && exchange.isEventStream()) {
    co_await relayStream(call, exchange);
  } else {
    co_await relayWhole(call, exchange);
  }
  recordUpstreamTime(call, upstream_started);
}

void Gateway::complete(ProxyCall& call) const {
  call.ctx.charged = chargeOf(call.record);
  if (call.record.usage && !call.record.spared) call.ctx.served_usage = call.record.usage;
  call.ctx.finish_reason = call.record.finish_reason;
  chain_.onComplete(call.ctx);
  call.record.fields.merge(std::move(call.ctx.log));
}

}  // namespace costgate::gateway
