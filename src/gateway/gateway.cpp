#include "costgate/gateway/gateway.h"

#include <array>
#include <chrono>
#include <cmath>
#include <random>

#include <openssl/crypto.h>

#include "costgate/cache/completion_stream.h"
#include "costgate/dashboard/page.h"
#include "costgate/filters/budget/budget_filter.h"
#include "costgate/jsonview/document.h"
#include "costgate/jsonview/splice.h"
#include "costgate/openai/error.h"
#include "costgate/openai/prompt_tokens.h"
#include "costgate/openai/request_validation.h"
#include "costgate/openai/sse.h"
#include "costgate/openai/usage.h"
#include "costgate/pricing/price.h"
#include "costgate/upstream/retry_policy.h"

namespace costgate::gateway {

using nlohmann::json;
using pipeline::RequestContext;
using server::Request;
using server::Response;
using server::ResponseWriter;
using Clock = std::chrono::steady_clock;

namespace {

// Whole (non-streamed) backend answers larger than this are refused rather than buffered.
constexpr std::size_t kMaxWholeResponseBytes = 64 * 1024 * 1024;

Response jsonResponse(int status, std::string body) {
  return Response(status, "application/json", std::move(body));
}

Response errorResponse(const openai::ApiError& error) {
  return jsonResponse(error.status, error.body());
}

// What the filters did to the request, for the client.
void addFilterHeaders(const RequestContext& ctx, Response& response) {
  for (const auto& [name, value] : ctx.response_headers) response.add(name, value);
  if (std::int64_t saved = ctx.tokensSaved(); saved > 0) {
    response.add("x-costgate-tokens-saved", std::to_string(saved));
  }
}

// Client headers that must not reach a backend: hop-by-hop ones, the client's credentials (the
// backend gets the gateway's own key), our own controls, and encodings we could not read.
bool forwardable(std::string_view name) {
  static constexpr std::array<std::string_view, 17> kDropped = {"host",
                                                                "connection",
                                                                "keep-alive",
                                                                "proxy-connection",
                                                                "te",
                                                                "trailer",
                                                                "transfer-encoding",
                                                                "upgrade",
                                                                "content-length",
                                                                "authorization",
                                                                "proxy-authorization",
                                                                "api-key",
                                                                "x-api-key",
                                                                "cookie",
                                                                "accept-encoding",
                                                                "expect",
                                                                "x-request-id"};
  if (name.starts_with("x-costgate-") || name.starts_with("openai-")) return false;
  return std::find(kDropped.begin(), kDropped.end(), name) == kDropped.end();
}

// Backend response headers worth passing on to the client.
bool relayedToClient(std::string_view name) {
  return name == "retry-after" || name.starts_with("x-ratelimit-") ||
         name == "openai-processing-ms";
}

std::string_view failureCode(upstream::FailureKind kind) {
  switch (kind) {
    case upstream::FailureKind::Connect:
      return "upstream_unreachable";
    case upstream::FailureKind::Tls:
      return "upstream_tls_error";
    case upstream::FailureKind::Timeout:
      return "upstream_timeout";
    case upstream::FailureKind::Reset:
      return "upstream_reset";
    case upstream::FailureKind::Protocol:
      return "upstream_protocol_error";
    case upstream::FailureKind::Cancelled:
      return "cancelled";
    case upstream::FailureKind::TooLarge:
      return "upstream_response_too_large";
  }
  return "upstream_error";
}

openai::ApiError failureError(const upstream::Failure& failure) {
  int status = failure.kind == upstream::FailureKind::Timeout ? 504 : 502;
  return openai::serverError(status, failure.message, std::string(failureCode(failure.kind)));
}

std::string_view pathOf(std::string_view target) { return target.substr(0, target.find('?')); }

// Every occurrence of `secret` in `text` replaced.
void redact(std::string& text, std::string_view secret) {
  if (secret.empty()) return;
  constexpr std::string_view kRedacted = "[redacted]";
  for (auto at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + kRedacted.size())) {
    text.replace(at, secret.size(), kRedacted);
  }
}

std::string redacted(std::string_view text, std::string_view secret) {
  std::string copy(text);
  redact(copy, secret);
  return copy;
}

// What a whole answer used and cost, as the client sees it in headers.
void addCostHeaders(const server::ExchangeRecord& record, Response& response) {
  if (!record.usage) return;
  response.add("x-costgate-tokens-in", std::to_string(record.usage->prompt_tokens));
  response.add("x-costgate-tokens-out", std::to_string(record.usage->completion_tokens));
  if (record.cost) response.add("x-costgate-cost-usd", pricing::formatUsd(*record.cost));
}

openai::ApiError modelNotFound(std::string_view model) {
  return openai::notFound(
      "The model '" + std::string(model) + "' does not exist or is not served by this gateway",
      "model_not_found");
}

// `body` (a JSON object) with its "model" member set to `model`.
std::string withModel(const std::string& body, std::string_view model) {
  auto document = jsonview::Document::parse(body);
  if (!document) return body;
  const std::pair<std::string, std::string> edit{"model", json(model).dump()};
  return jsonview::withMembers(document->root(), std::span(&edit, 1));
}

// A chat.completion without the logprobs the gateway asked for to judge it (OpenAI sends null
// when they were not asked for): each choice's logprobs text is replaced in place, the rest of
// the bytes copied as they are.
std::string withoutLogprobs(const std::string& completion) {
  auto document = jsonview::Document::parse(completion);
  auto choices =
      document && document->root().isObject() ? document->root().find("choices") : std::nullopt;
  if (!choices || !choices->isArray()) return completion;
  std::string out;
  out.reserve(completion.size());
  std::size_t copied = 0;
  for (const jsonview::Value& choice : choices->elements()) {
    auto logprobs = choice.isObject() ? choice.find("logprobs") : std::nullopt;
    if (!logprobs || logprobs->isNull()) continue;
    const std::string_view raw = logprobs->raw();
    const auto at = static_cast<std::size_t>(raw.data() - completion.data());
    out.append(completion, copied, at - copied).append("null");
    copied = at + raw.size();
  }
  out.append(completion, copied);
  return out;
}

// Resumes when `signal` fires (on any thread) or `timeout` passes, whichever comes first.
server::Task<> waitFor(pipeline::Signal& signal, std::chrono::milliseconds timeout) {
  auto& loop = server::EventLoop::current();
  server::Timer timer(loop);
  // The fire may come from another loop's thread: it posts to this loop, which cancels the wait
  // if it is still on (the pointer is cleared, on this thread, before the timer goes).
  auto waiting = std::make_shared<server::Timer*>(&timer);
  struct ClearOnExit {
    std::shared_ptr<server::Timer*> waiting;
    ~ClearOnExit() { *waiting = nullptr; }
  } clear{waiting};
  signal.onFire([mailbox = loop.mailbox(), waiting] {
    mailbox->post([waiting] {
      if (*waiting) (*waiting)->cancel();
    });
  });
  bool timed_out = co_await timer.wait(timeout);
  (void)timed_out;  // either way the filter runs again and looks for itself
}

// The first embedding of a /v1/embeddings answer, scaled to unit length; nullopt when the answer
// has none or it is all zeros.
std::optional<std::vector<float>> firstEmbedding(const jsonview::Value& answer) {
  auto data = answer.find("data");
  if (!data || !data->isArray() || data->size() == 0) return std::nullopt;
  const jsonview::Value first = data->elements()[0];
  auto values = first.isObject() ? first.find("embedding") : std::nullopt;
  if (!values || !values->isArray() || values->size() == 0) return std::nullopt;
  std::vector<float> vector;
  vector.reserve(values->size());
  double norm = 0;
  for (const jsonview::Value& value : values->elements()) {
    if (!value.isNumber()) return std::nullopt;
    vector.push_back(static_cast<float>(value.number()));
    norm += static_cast<double>(vector.back()) * vector.back();
  }
  if (!(norm > 0) || !std::isfinite(norm)) return std::nullopt;
  const auto scale = static_cast<float>(1 / std::sqrt(norm));
  for (float& value : vector) value *= scale;
  return vector;
}

}  // namespace

Records::Records(const std::string& access_log_path) : access_log_(access_log_path) {}

Gateway::Gateway(config::GatewayConfig config, pipeline::Chain chain, Records& records)
    : config_(std::move(config)),
      chain_(std::move(chain)),
      records_(records),
      metrics_(records.metrics()) {
  for (const auto& [name, backend] : config_.backends) {
    backends_.emplace(name, std::make_unique<upstream::Backend>(backend));
  }
  json data = json::array();
  const auto& upstream = config_.upstream;
  upstream::DeploymentPool::Options health;
  health.eject_after = static_cast<int>(upstream.eject_after_failures);
  health.cooldown = upstream.eject_cooldown;
  for (const auto& [name, model] : config_.models) {
    Route route{&model, {}, nullptr};
    std::vector<int> weights;
    for (const auto& deployment : model.deployments) {
      route.backends.push_back(backends_.at(deployment.backend).get());
      weights.push_back(static_cast<int>(deployment.weight));
    }
    route.pool = std::make_unique<upstream::DeploymentPool>(std::move(weights), health);
    routes_.emplace(name, std::move(route));
    data.push_back({{"id", name},
                    {"object", "model"},
                    {"created", records_.startedUnix()},
                    {"owned_by", model.owned_by}});
  }
  models_body_ = json{{"object", "list"}, {"data", std::move(data)}}.dump();
}

Response Gateway::modelsResponse(std::string_view target) const {
  std::string_view path = pathOf(target);
  if (path == "/v1/models") return jsonResponse(200, models_body_);
  std::string_view id = path.substr(std::string_view("/v1/models/").size());
  auto route = routes_.find(id);
  if (route == routes_.end()) return errorResponse(modelNotFound(id));
  return jsonResponse(200, json{{"id", route->first},
                                {"object", "model"},
                                {"created", records_.startedUnix()},
                                {"owned_by", route->second.model->owned_by}}
                               .dump());
}

namespace {

struct ProxyPath {
  std::string_view path;
  pipeline::Route route;
};
constexpr std::array<ProxyPath, 3> kProxyPaths = {{
    {"/v1/chat/completions", pipeline::Route::ChatCompletions},
    {"/v1/completions", pipeline::Route::Completions},
    {"/v1/embeddings", pipeline::Route::Embeddings},
}};

}  // namespace

// Not a coroutine itself: the proxied call, the common case, runs without an extra frame.
server::Task<> Gateway::handle(Request& request, ResponseWriter& writer) {
  std::string_view path = pathOf(request.head.target());
  if (request.head.method() == "POST") {
    for (const auto& candidate : kProxyPaths) {
      if (path == candidate.path)
        return proxy(shared_from_this(), candidate.route, request, writer);
    }
  }
  return answerLocally(shared_from_this(), request, writer);
}

server::Task<> Gateway::answerLocally([[maybe_unused]] std::shared_ptr<Gateway> self,
                                      Request& request, ResponseWriter& writer) {
  std::string_view path = pathOf(request.head.target());
  bool get = request.head.method() == "GET";
  for (const auto& candidate : kProxyPaths) {
    if (path != candidate.path) continue;
    auto response = errorResponse(
        openai::methodNotAllowed("Method " + std::string(request.head.method()) +
                                 " is not allowed on " + std::string(path) + "; use POST"));
    response.add("Allow", "POST");
    co_await writer.send(std::move(response));
    co_return;
  }

  Response response;
  writer.record().route = "admin";
  // Spend by team, budgets and (when asked) the metrics are for operators, not for tenants.
  const bool guarded = path.starts_with("/admin/") || path.starts_with("/costgate/") ||
                       (path == "/metrics" && config_.admin.protect_metrics);
  if (get && guarded && (config_.admin.key_digest || path.starts_with("/admin/"))) {
    if (auto refused = adminRefusal(request)) {
      co_await writer.send(std::move(*refused));
      co_return;
    }
  }
  if (get && path == "/healthz") {
    response = jsonResponse(200, R"({"status":"ok"})");
  } else if (get && path == "/readyz") {
    response = jsonResponse(200, R"({"status":"ready"})");
  } else if (get && path == "/costgate/spend") {
    response = jsonResponse(200, records_.spendJson());
  } else if (get && path == "/costgate/summary") {
    response = jsonResponse(200, metrics_.summaryJson());
  } else if (get && path == "/dashboard") {
    response = dashboard::response();
  } else if (get && path == "/admin/budgets") {
    Response admin = co_await budgetsResponse();
    co_await writer.send(std::move(admin));
    co_return;
  } else if (get && path == "/metrics") {
    response = Response(200, "text/plain; version=0.0.4; charset=utf-8", metrics_.serialize());
  } else if (get && (path == "/v1/models" || path.starts_with("/v1/models/"))) {
    writer.record().route = "models";
    response = modelsResponse(request.head.target());
  } else {
    writer.record().route = "unknown";
    response = errorResponse(openai::notFound(
        "Unknown request URL: " + std::string(request.head.method()) + " " + std::string(path),
        "unknown_url"));
  }
  co_await writer.send(std::move(response));
}

std::optional<Response> Gateway::adminRefusal(const Request& request) const {
  std::string_view given;
  for (std::size_t i = 0; i < request.head.fieldCount(); ++i) {
    auto field = request.head.field(i);
    if (field.name == "x-costgate-admin-key") given = field.value;
    if (field.name == "authorization" && field.value.starts_with("Bearer ")) {
      given = field.value.substr(7);
    }
  }
  if (!config_.admin.key_digest) {
    return errorResponse(openai::permissionDenied(
        "Admin endpoints are off: set admin.api_key in the configuration", {}, "admin_disabled"));
  }
  // Digests compared in constant time: neither the key's length nor how much of a guess matched
  // shows in the answer's timing.
  const crypto::Sha256Digest digest = crypto::sha256(given);
  if (given.empty() ||
      CRYPTO_memcmp(digest.data(), config_.admin.key_digest->data(), digest.size()) != 0) {
    openai::ApiError error{401,
                           "invalid_request_error",
                           given.empty() ? "This endpoint needs the admin key (Authorization: "
                                           "Bearer ADMIN_KEY)"
                                         : "Incorrect admin key",
                           {},
                           given.empty() ? "missing_admin_key" : "invalid_admin_key"};
    Response refusal = errorResponse(error);
    refusal.add("WWW-Authenticate", "Bearer");
    return refusal;
  }
  return std::nullopt;
}

server::Task<Response> Gateway::budgetsResponse() {
  const filters::budget::BudgetFilter* filter = nullptr;
  for (std::size_t i = 0; i < chain_.size() && !filter; ++i) {
    filter = dynamic_cast<const filters::budget::BudgetFilter*>(&chain_.at(i));
  }
  json budgets = json::array();
  if (filter) {
    auto status = std::make_shared<std::optional<std::vector<filters::budget::BudgetStatus>>>();
    auto done = std::make_shared<pipeline::Signal>();
    filter->statusAsync(status, done);
    co_await waitFor(*done, std::chrono::milliseconds(3000));
    if (!done->fired() || !*status) {
      co_return errorResponse(
          openai::serverError(503, "The budget ledger is unreachable", "budget_unavailable"));
    }
    for (const auto& budget : **status) {
      budgets.push_back({{"name", budget.name},
                         {"window", budget.window},
                         {"spent_usd", pricing::formatUsd(budget.spent)},
                         {"reserved_usd", pricing::formatUsd(budget.reserved)},
                         {"limit_usd", pricing::formatUsd(budget.limit)},
                         {"state", budget.state},
                         {"resets_at", std::chrono::duration_cast<std::chrono::seconds>(
                                           budget.resets.time_since_epoch())
                                           .count()}});
    }
  }
  co_return jsonResponse(200, json{{"budgets", std::move(budgets)}}.dump());
}

server::Task<> Gateway::proxy([[maybe_unused]] std::shared_ptr<Gateway> self, pipeline::Route route,
                              Request& request, ResponseWriter& writer) {
  auto& record = writer.record();
  record.route = pipeline::routeName(route);

  RequestContext ctx;
  ctx.request_id = record.request_id;
  ctx.route = route;
  ctx.received_at = record.started;
  // Checking and routing need only an index of the body; the DOM is built for filters, which may
  // read and edit it, and costs more than everything else on an empty chain.
  auto document = jsonview::Document::parse(request.body);
  if (!document) {
    co_await writer.send(errorResponse(openai::invalidRequest(
        "We could not parse the JSON body of your request: it is not valid JSON", {},
        "invalid_json")));
    co_return;
  }
  jsonview::Value body = document->root();
  openai::RequestBasics basics;
  if (auto problem = openai::validateRequest(route, body, &basics)) {
    co_await writer.send(errorResponse(*problem));
    co_return;
  }
  ctx.model = std::move(basics.model);
  ctx.stream = basics.stream;
  record.stream = ctx.stream;
  CallAccounting accounting;
  if (ctx.stream) accounting.client_asked_for_usage = openai::asksForUsage(body);
  ctx.request_index = body;
  if (chain_.usesBody()) ctx.body = json::parse(request.body);
  if (auto requested = routes_.find(ctx.model); requested != routes_.end()) {
    ctx.encoding = requested->second.model->encoding.get();
    if (requested->second.model->price) ctx.price = &*requested->second.model->price;
    ctx.backend_model = requested->second.model->backend_model;
  }
  ctx.headers.reserve(request.head.fieldCount());
  for (std::size_t i = 0; i < request.head.fieldCount(); ++i) {
    auto field = request.head.field(i);
    ctx.headers.emplace_back(field.name, field.value);
  }

  auto reply_locally = [&]() -> server::Task<> {
    const auto& local = *ctx.local_reply;
    Response response(local.status, local.content_type, local.body);
    for (const auto& [name, value] : local.headers) response.add(name, value);
    co_await writer.send(std::move(response));
  };

  std::size_t position = 0;
  pipeline::FilterStatus decision = chain_.onRequest(ctx, position);
  while (decision == pipeline::FilterStatus::Wait && ctx.awaited) {
    co_await fulfil(ctx, record);
    decision = chain_.onRequest(ctx, position);
  }
  if (decision == pipeline::FilterStatus::Wait) decision = pipeline::FilterStatus::Respond;
  // The body as the filters left it, for building what is forwarded.
  jsonview::Value filtered = *ctx.request_index;
  ctx.request_index.reset();  // it may view request.body, which is forwarded (moved) below
  if (ctx.prompt_tokens) record.prompt_tokens_counted = ctx.prompt_tokens->tokens;
  // Requests the chain answered itself are attributed too.
  for (const auto& [name, value] :
       std::initializer_list<std::pair<const char*, const std::string*>>{
           {"feature", &ctx.tags.feature}, {"team", &ctx.tags.team}, {"env", &ctx.tags.env}}) {
    if (!value->empty()) record.annotations.emplace_back(name, *value);
  }
  record.tag_labels = {ctx.tag_labels.feature, ctx.tag_labels.team, ctx.tag_labels.env};
  if (ctx.cache) recordCacheOutcome(ctx, record);
  if (ctx.budget) {
    const pipeline::BudgetOutcome& budget = *ctx.budget;
    for (const auto& state : budget.budgets) {
      const int level = state.state == "warn"      ? 1
                        : state.state == "degrade" ? 2
                        : state.state == "open"    ? 3
                                                   : 0;
      record.budgets.push_back({state.name, state.spent, state.limit, level});
    }
    record.budget_rejected = budget.rejected;
    record.budget_rate_limited = budget.rate_limited;
    record.budget_degraded = budget.degraded;
    record.budget_ledger_error = budget.ledger_error;
    if (!budget.rejected.empty()) record.annotations.emplace_back("refused_by", budget.rejected);
    if (!budget.degraded.empty()) record.annotations.emplace_back("degraded_by", budget.degraded);
    if (budget.ledger_error) record.annotations.emplace_back("budget_ledger", "unavailable");
  }
  if (decision == pipeline::FilterStatus::Respond) {
    if (!ctx.local_reply) {
      ctx.local_reply = pipeline::LocalReply{
          500,
          "application/json",
          openai::serverError(500, "a filter stopped the request without a reply", "internal_error")
              .body(),
          {}};
    }
    co_await reply_locally();
    complete(ctx, record);
    co_return;
  }

  // A filter may have changed the model (routing), so the lookup happens after the chain.
  if (auto model = ctx.body.find("model");
      ctx.body.is_object() && model != ctx.body.end() && model->is_string()) {
    ctx.model = model->get<std::string>();
  }
  if (const std::string* model = ctx.editedMember("model")) {
    if (json name = json::parse(*model, nullptr, false); name.is_string()) ctx.model = name;
  }
  if (!ctx.route_tier.empty() || !ctx.route_rule.empty()) {
    metrics_.countRouteDecision(ctx.route_tier.empty() ? "none" : ctx.route_tier, ctx.route_rule);
    // Not "route": the record has one (the API route), and a line must not repeat a key.
    record.annotations.emplace_back("route_decision", ctx.route_tier + ":" + ctx.route_rule);
  }
  std::vector<upstream::Header> headers;
  headers.reserve(ctx.headers.size() + 1);
  for (const auto& [name, value] : ctx.headers) {
    if (forwardable(name)) headers.push_back({name, value});
  }
  headers.push_back({"x-request-id", ctx.request_id});
  std::string path(pathOf(request.head.target()).substr(3));  // drop "/v1": base_path has it
  int attempts = 0;
  if (ctx.cascade && ctx.cascade->models.size() > 1 && routes_.contains(ctx.model)) {
    bool served = co_await runCascade(ctx, filtered, path, headers, accounting, writer, attempts);
    if (served) {
      complete(ctx, record);
      co_return;
    }
    // Every cheaper answer was judged too weak: the last model answers as any request's would.
    ctx.model = ctx.cascade->models.back();
    ctx.setMember("model", json(ctx.model).dump());
  }

  auto found = routes_.find(ctx.model);
  if (found == routes_.end()) {
    record.model = "unknown";
    ctx.local_reply =
        pipeline::LocalReply{404, "application/json", modelNotFound(ctx.model).body(), {}};
    co_await reply_locally();
    complete(ctx, record);
    co_return;
  }
  const Route& target = found->second;
  // Savings count only for calls that go to a backend: a refused request saved nothing.
  for (const auto& saving : ctx.savings) {
    record.token_savings.push_back({saving.filter, saving.policy, saving.tokens});
  }
  record.model = ctx.model;
  record.backend = target.model->backend;
  ctx.backend = target.model->backend;
  ctx.served_model = ctx.model;

  const std::string& primary_model = target.model->backend_model;
  if (primary_model != ctx.model) ctx.setMember("model", json(primary_model).dump());
  if (ctx.stream && !accounting.client_asked_for_usage) {
    // A stream's usage comes only in a final chunk that must be asked for: ask, and hide it.
    auto options = filtered.find("stream_options");
    if (options && options->isObject() && options->size() > 0) {
      json merged = json::parse(options->raw());
      merged["include_usage"] = true;
      ctx.setMember("stream_options", merged.dump());
    } else {
      ctx.setMember("stream_options", R"({"include_usage":true})");
    }
  }
  const std::string primary_body = forwardedBody(ctx, filtered, request.body);
  // For the gateway's own count, should the backend report no usage.
  accounting.prompt_tokens = ctx.prompt_tokens;
  accounting.encoding = ctx.encoding;
  accounting.route = route;
  accounting.sent_body = primary_body;
  // Another deployment or a fallback model is sent its own model name.
  auto body_for = [&primary_body, &primary_model](std::string_view backend_model) {
    return backend_model == primary_model ? primary_body : withModel(primary_body, backend_model);
  };

  auto upstream_started = Clock::now();
  ModelCall answer;
  co_await callModel(ctx.model, path, body_for, headers, answer);
  attempts += answer.attempts;
  ctx.response_headers.emplace_back("x-costgate-attempts", std::to_string(attempts));
  if (!answer.exchange) {
    record.error = answer.failure ? answer.failure->message : "no deployment to call";
    // Named, not a conditional inside co_await: GCC 12 destroys such temporaries twice.
    openai::ApiError error = failureError(answer.failure.value_or(
        upstream::Failure{upstream::FailureKind::Connect,
                          "every deployment of " + ctx.model + " is set aside after failures"}));
    Response response = errorResponse(error);
    co_await writer.send(std::move(response));
    complete(ctx, record);
    co_return;
  }
  if (answer.model != ctx.model) {  // a fallback answered: charge its price
    record.model = answer.model;
    const Route& fallback = routes_.at(answer.model);
    accounting.price = fallback.model->price ? &*fallback.model->price : nullptr;
  } else if (target.model->price) {
    accounting.price = &*target.model->price;
  }
  record.backend = answer.backend;
  ctx.backend = answer.backend;
  ctx.served_model = answer.model;
  upstream::Exchange& exchange = *answer.exchange;
  ctx.upstream_status = exchange.status();

  if (exchange.status() == 200 && exchange.isEventStream()) {
    co_await relayStream(ctx, exchange, writer, std::move(accounting));
  } else {
    co_await relayWhole(ctx, exchange, writer, accounting);
  }
  record.upstream_latency =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - upstream_started);
  metrics_.observeUpstream(record.backend,
                           std::chrono::duration<double>(record.upstream_latency).count());
  complete(ctx, record);
}

server::Task<bool> Gateway::runCascade(RequestContext& ctx, const jsonview::Value& filtered,
                                       const std::string& path,
                                       const std::vector<upstream::Header>& headers,
                                       const CallAccounting& accounting, ResponseWriter& writer,
                                       int& attempts) {
  auto& record = writer.record();
  const pipeline::Cascade& cascade = *ctx.cascade;
  const bool client_asked_logprobs = [&] {
    auto logprobs = filtered.find("logprobs");
    return logprobs && logprobs->kind() == jsonview::Kind::Boolean && logprobs->boolean();
  }();
  // The judged attempts are whole calls, whatever the client asked: the answer is judged before
  // any of it is sent.
  std::vector<std::pair<std::string, std::string>> edits = ctx.member_edits;
  edits.emplace_back("stream", "false");
  if (ctx.stream) edits.emplace_back("stream_options", "null");
  if (cascade.ask_logprobs) edits.emplace_back("logprobs", "true");
  std::string escalated;
  for (std::size_t i = 0; i + 1 < cascade.models.size(); ++i) {
    const std::string& model = cascade.models[i];
    const std::string& next = cascade.models[i + 1];
    auto body_for = [&](std::string_view backend_model) {
      auto with_model = edits;
      with_model.emplace_back("model", json(backend_model).dump());
      return bodyWith(ctx, filtered, with_model);
    };
    ModelCall call;
    co_await callModel(model, path, body_for, headers, call);
    attempts += call.attempts;
    std::string reason = "error";
    std::string answer;
    if (call.exchange && call.exchange->status() == 200) {
      auto failure = co_await call.exchange->readAll(answer, kMaxWholeResponseBytes);
      if (!failure) {
        const pipeline::Judgement verdict = cascade.judge(answer);
        auto document = jsonview::Document::parse(answer);
        auto usage = document ? openai::usageOf(document->root()) : std::nullopt;
        if (verdict.accept) {
          if (cascade.ask_logprobs && !client_asked_logprobs) answer = withoutLogprobs(answer);
          ctx.served_model = call.model;
          ctx.backend = call.backend;
          record.model = call.model;
          record.backend = call.backend;
          ctx.upstream_status = 200;
          ctx.response_headers.emplace_back("x-costgate-attempts", std::to_string(attempts));
          if (!escalated.empty())
            ctx.response_headers.emplace_back("x-costgate-escalated", escalated);
          if (chain_.observesResponseBody()) chain_.onResponseBody(ctx, 200, answer);
          Response response(200, "application/json", answer);
          if (ctx.stream) {
            // The accepted answer, replayed to a streaming client as the stream it asked for.
            auto events = cache::replayAsStream(answer, accounting.client_asked_for_usage);
            if (events) {
              response = Response(200, "text/event-stream; charset=utf-8", std::move(*events));
              response.add("Cache-Control", "no-cache");
            }
          }
          response.add("x-costgate-model", call.model);
          addFilterHeaders(ctx, response);
          if (usage) {
            record.usage = usage;
            record.usage_source = "backend";
            const Route& served = routes_.at(call.model);
            if (served.model->price) record.cost = pricing::costOf(*served.model->price, *usage);
          }
          co_await writer.send(std::move(response));
          co_return true;
        }
        reason =
            verdict.reason.empty() ? "score" : verdict.reason.substr(0, verdict.reason.find(','));
        if (usage) {  // the weak answer was paid for all the same
          server::ExchangeRecord::SideCall side{call.model, *usage, std::nullopt};
          const Route& tried = routes_.at(call.model);
          if (tried.model->price) side.cost = pricing::costOf(*tried.model->price, *usage);
          record.side_calls.push_back(std::move(side));
        }
      }
    }
    metrics_.countEscalation(model, next, reason);
    escalated += (escalated.empty() ? "" : ", ") + model + "->" + next + ": " + reason;
  }
  ctx.response_headers.emplace_back("x-costgate-escalated", escalated);
  record.annotations.emplace_back("escalated", escalated);
  co_return false;
}

void Gateway::complete(RequestContext& ctx, const server::ExchangeRecord& record) const {
  pipeline::Charge charge;
  charge.cost = record.cost.value_or(0);
  if (record.usage && record.usage_source != "cache") {
    charge.tokens =
        static_cast<std::int64_t>(record.usage->prompt_tokens + record.usage->completion_tokens);
  }
  for (const auto& side : record.side_calls) {
    charge.cost = pricing::addSaturating(charge.cost, side.cost.value_or(0));
    charge.tokens +=
        static_cast<std::int64_t>(side.usage.prompt_tokens + side.usage.completion_tokens);
  }
  ctx.charged = charge;
  chain_.onComplete(ctx);
}

server::Task<> Gateway::callModel(
    std::string model, std::string path,
    std::function<std::string(std::string_view backend_model)> body_for,
    const std::vector<upstream::Header>& headers, ModelCall& out) {
  const config::UpstreamPolicy& policy = config_.upstream;
  upstream::RetryPolicy retry{.max_attempts = static_cast<int>(policy.attempts),
                              .base_delay = policy.base_delay,
                              .max_delay = policy.max_delay,
                              .max_retry_after = policy.retry_after_cap};
  thread_local std::mt19937_64 random{std::random_device{}()};
  auto& client = upstream::UpstreamClient::of(server::EventLoop::current());
  std::vector<std::string> chain{model};
  if (auto found = routes_.find(model); found != routes_.end()) {
    chain.insert(chain.end(), found->second.model->fallbacks.begin(),
                 found->second.model->fallbacks.end());
  }
  std::string last_fault;
  for (std::size_t link = 0; link < chain.size(); ++link) {
    auto found = routes_.find(chain[link]);
    if (found == routes_.end()) continue;
    const Route& route = found->second;
    if (link > 0) metrics_.countFallback(chain[link - 1], chain[link], last_fault);
    const bool last_link = link + 1 == chain.size();
    std::vector<bool> tried(route.backends.size(), false);
    for (int attempt = 1; attempt <= retry.max_attempts; ++attempt) {
      const auto now = std::chrono::steady_clock::now();
      // Another deployment than those tried, else any serving one; the last resort of the last
      // model is a deployment set aside (better tried than failing without a try).
      auto lease = route.pool->acquire(now, &tried);
      if (!lease) lease = route.pool->acquire(now);
      if (!lease && last_link) lease = route.pool->acquireAny(now);
      if (!lease) break;
      const std::size_t index = lease->index();
      tried[index] = true;
      const config::Deployment& deployment = route.model->deployments[index];
      upstream::Call call;
      call.path = path;
      call.body = body_for(deployment.backend_model);
      call.headers = headers;
      ++out.attempts;
      std::unique_ptr<upstream::Exchange> exchange;
      auto failure = co_await client.start(*route.backends[index], call, exchange);
      const int status = failure ? 0 : exchange->status();
      const auto fault = upstream::classify(
          failure ? std::optional<upstream::FailureKind>(failure->kind) : std::nullopt, status);
      if (failure) metrics_.countUpstreamFailure(deployment.backend, failureCode(failure->kind));
      const bool retry_it = upstream::retryable(fault);
      if (retry_it) {
        lease->failed(std::chrono::steady_clock::now());
      } else if (fault != upstream::FaultClass::kCancelled) {
        lease->succeeded(std::chrono::steady_clock::now());
      }
      const auto health = route.pool->status(index, std::chrono::steady_clock::now());
      metrics_.setBackendHealth(chain[link], deployment.backend,
                                health.state != upstream::DeploymentPool::State::kEjected,
                                health.outstanding);
      // What the call came to, kept as the answer unless a later attempt does better.
      out.model = chain[link];
      out.backend = deployment.backend;
      out.failure = std::move(failure);
      out.exchange = std::move(exchange);
      out.lease = std::move(lease);
      if (!retry_it) co_return;
      last_fault = out.failure     ? std::string(failureCode(out.failure->kind))
                   : status == 429 ? "rate_limited"
                                   : "status_" + std::to_string(status);
      if (attempt == retry.max_attempts) break;
      std::optional<std::chrono::milliseconds> retry_after;
      if (out.exchange) {
        if (auto ms = upstream::parseRetryAfterMs(out.exchange->header("retry-after-ms"))) {
          retry_after = ms;
        } else if (auto header = out.exchange->header("retry-after"); !header.empty()) {
          retry_after = upstream::parseRetryAfter(header, std::chrono::system_clock::now());
        }
      }
      auto delay = upstream::backoffDelay(retry, attempt, retry_after, random());
      if (!delay) break;  // the backend asks for longer than we wait: next model
      out.lease.reset();
      co_await server::sleepFor(*delay);
    }
  }
}

server::Task<> Gateway::fulfil(RequestContext& ctx, server::ExchangeRecord& record) {
  pipeline::Awaited awaited = std::move(*ctx.awaited);
  ctx.awaited.reset();
  if (auto* wait = std::get_if<pipeline::AwaitSignal>(&awaited)) {
    co_await waitFor(*wait->signal, wait->timeout);
    co_return;
  }
  const auto& request = std::get<pipeline::EmbeddingCall>(awaited);
  ctx.embedding = pipeline::Embedding{};
  if (!routes_.contains(request.model)) co_return;  // checked at load; a miss, not an error
  const std::vector<upstream::Header> headers{{"content-type", "application/json"},
                                              {"x-request-id", ctx.request_id}};
  auto body_for = [&request](std::string_view backend_model) {
    return json{{"model", backend_model}, {"input", request.input}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
  };
  ModelCall call;
  co_await callModel(request.model, "/embeddings", body_for, headers, call);
  if (!call.exchange || call.exchange->status() != 200) co_return;
  std::string body;
  if (auto failure = co_await call.exchange->readAll(body, kMaxWholeResponseBytes)) {
    metrics_.countUpstreamFailure(call.backend, failureCode(failure->kind));
    co_return;
  }
  auto document = jsonview::Document::parse(body);
  if (!document) co_return;
  ctx.embedding->vector = firstEmbedding(document->root());
  ctx.embedding->usage = openai::usageOf(document->root());
  if (ctx.embedding->usage) {
    server::ExchangeRecord::SideCall side{call.model, *ctx.embedding->usage, std::nullopt};
    const Route& served = routes_.at(call.model);
    if (served.model->price) side.cost = pricing::costOf(*served.model->price, side.usage);
    record.side_calls.push_back(std::move(side));
  }
}

server::Task<> Gateway::relayWhole(RequestContext& ctx, upstream::Exchange& exchange,
                                   ResponseWriter& writer, const CallAccounting& accounting) {
  std::string body;
  if (auto failure = co_await exchange.readAll(body, kMaxWholeResponseBytes)) {
    metrics_.countUpstreamFailure(ctx.backend, failureCode(failure->kind));
    writer.record().error = failure->message;
    co_await writer.send(errorResponse(failureError(*failure)));
    co_return;
  }
  int status = exchange.status();
  if (status == 401 || status == 403) {
    // The backend refused the gateway's credentials, not the client's: saying so as the backend
    // did would tell the client its own key is wrong (and might echo ours).
    writer.record().error =
        "the backend refused the gateway's key (HTTP " + std::to_string(status) + ")";
    co_await writer.send(errorResponse(openai::serverError(
        502,
        "The backend '" + ctx.backend + "' refused this gateway's credentials (HTTP " +
            std::to_string(status) + "); its api_key in the gateway's configuration needs fixing",
        "upstream_auth_error")));
    co_return;
  }
  // Errors go back to the client as the backend sent them, and answers as they came, but never
  // with our key in them (a backend that echoes the request it got).
  redact(body, backendKey(ctx.backend));
  std::optional<jsonview::Document> answer;  // of `body`, for pricing
  if (status == 200) {
    answer = jsonview::Document::parse(body);
    if (!answer) {
      // An HTML page from a proxy on the way, a truncated answer: relayed, it would pass for an
      // answer (and a cacheable one) that nobody can price.
      std::string what = "The backend '" + ctx.backend +
                         "' answered 200 with a body that is not JSON (content-type: " +
                         std::string(exchange.header("content-type")) + ")";
      redact(what, backendKey(ctx.backend));
      metrics_.countUpstreamFailure(ctx.backend, "upstream_protocol_error");
      writer.record().error = what;
      co_await writer.send(
          errorResponse(openai::serverError(502, std::move(what), "upstream_protocol_error")));
      co_return;
    }
  }
  // Successful answers pass through the filters.
  if (chain_.observesResponseBody()) chain_.onResponseBody(ctx, status, body);
  if (status == 200 && chain_.readsResponse()) {
    ctx.response = json::parse(body, nullptr, false);
    if (!ctx.response.is_discarded()) {
      chain_.onResponse(ctx);
      body = ctx.response.dump(-1, ' ', false, json::error_handler_t::replace);
      answer = jsonview::Document::parse(body);
    }
  }
  bool replayed = false;
  if (status == 200) {
    priceWholeAnswer(answer->root(), accounting, writer.record());  // while `answer` views `body`
    if (ctx.stream && ctx.route == pipeline::Route::ChatCompletions) {
      // The backend ignored `stream`: the client still gets the stream it asked for.
      if (auto events = cache::replayAsStream(body, accounting.client_asked_for_usage)) {
        body = std::move(*events);
        replayed = true;
      }
    }
  }
  std::string_view content_type =
      replayed ? "text/event-stream; charset=utf-8" : exchange.header("content-type");
  Response response(status, content_type.empty() ? "application/json" : content_type,
                    std::move(body));
  if (replayed) response.add("Cache-Control", "no-cache");
  exchange.forEachHeader([&](std::string_view name, std::string_view value) {
    if (relayedToClient(name)) response.add(name, redacted(value, backendKey(ctx.backend)));
  });
  // The backend got our id; only an id of its own is worth passing on.
  if (auto upstream_id = exchange.header("x-request-id");
      !upstream_id.empty() && upstream_id != ctx.request_id) {
    response.add("x-upstream-request-id", redacted(upstream_id, backendKey(ctx.backend)));
  }
  response.add("x-costgate-model", ctx.served_model);
  addFilterHeaders(ctx, response);
  if (status == 200) addCostHeaders(writer.record(), response);
  co_await writer.send(std::move(response));
}

void Gateway::recordCacheOutcome(const RequestContext& ctx, server::ExchangeRecord& record) {
  const pipeline::CacheOutcome& cache = *ctx.cache;
  record.cache_result = cache.result;
  record.cache_coalesced = cache.coalesced;
  record.cache_lookup_seconds = cache.lookup_seconds;
  record.cache_policy = cache.policy;
  record.cache_shared_store_up = cache.shared_store_up;
  record.cache_entries = cache.entries;
  record.cache_bytes = cache.bytes;
  if (!cache.usage) return;
  // A hit: the model that made the answer is the one charged for, at nothing.
  record.model = ctx.model;
  record.usage = cache.usage;
  record.usage_source = "cache";
  if (ctx.price) record.cost = 0;
  record.saved = cache.saved;
}

std::string Gateway::bodyWith(const RequestContext& ctx, const jsonview::Value& filtered,
                              std::span<const std::pair<std::string, std::string>> edits) {
  if (ctx.body_changed) {
    json body = ctx.body;
    for (const auto& [key, value] : edits) body[key] = json::parse(value);
    return body.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return jsonview::withMembers(filtered, edits);
}

std::string Gateway::forwardedBody(RequestContext& ctx, const jsonview::Value& filtered,
                                   std::string& client_body) {
  if (ctx.body_changed || !ctx.member_edits.empty()) {
    return bodyWith(ctx, filtered, ctx.member_edits);
  }
  if (!ctx.replaced_body.empty()) return std::move(ctx.replaced_body);
  // Nothing changed: the body goes out as the client sent it.
  return std::move(client_body);
}

void Gateway::priceWholeAnswer(const jsonview::Value& answer, const CallAccounting& accounting,
                               server::ExchangeRecord& record) {
  auto usage = openai::usageOf(answer);
  record.usage_source = usage ? "backend" : "estimated";
  if (!usage) {
    usage = pricing::Usage{};
    usage->prompt_tokens = accounting.promptTokens();
    usage->completion_tokens = openai::estimateTokens(openai::answerCharacters(answer));
  }
  record.usage = usage;
  if (accounting.price) record.cost = pricing::costOf(*accounting.price, *usage);
}

std::string_view Gateway::backendKey(std::string_view backend) const {
  auto found = backends_.find(std::string(backend));
  return found == backends_.end() ? std::string_view() : found->second->config().api_key;
}

std::uint64_t Gateway::CallAccounting::promptTokens() const {
  if (prompt_tokens) return static_cast<std::uint64_t>(prompt_tokens->tokens);
  auto sent = jsonview::Document::parse(sent_body);
  if (!sent) return 0;
  if (encoding) {
    return static_cast<std::uint64_t>(openai::countPrompt(route, sent->root(), *encoding).tokens);
  }
  return openai::estimateTokens(openai::promptCharacters(sent->root()));
}

namespace {

// What a stream is charged: the usage the backend reported, or else the gateway's count of the
// prompt and of the text relayed. Settled once, on whichever way the stream ends (a client that
// left mid-stream included).
class StreamCharge {
 public:
  StreamCharge(const Gateway::CallAccounting& accounting, server::ExchangeRecord& record)
      : accounting_(accounting), price_(accounting.price), record_(record) {}
  ~StreamCharge() { settle(); }
  StreamCharge(const StreamCharge&) = delete;
  StreamCharge& operator=(const StreamCharge&) = delete;

  void reported(const pricing::Usage& usage) { reported_ = usage; }
  void relayed(std::uint64_t characters) { completion_characters_ += characters; }
  void settle() {
    if (settled_) return;
    settled_ = true;
    pricing::Usage usage;
    if (reported_) {
      usage = *reported_;
      record_.usage_source = "backend";
    } else {
      usage.prompt_tokens = accounting_.promptTokens();
      usage.completion_tokens = openai::estimateTokens(completion_characters_);
      record_.usage_source = "estimated";
    }
    record_.usage = usage;
    if (price_) record_.cost = pricing::costOf(*price_, usage);
  }

 private:
  const Gateway::CallAccounting& accounting_;
  const pricing::Price* price_;
  server::ExchangeRecord& record_;
  std::optional<pricing::Usage> reported_;
  std::uint64_t completion_characters_ = 0;
  bool settled_ = false;
};

// An SSE comment (ignored by clients) with what a stream used and cost, sent before [DONE]:
// a stream's headers leave before its cost is known.
std::string costComment(const server::ExchangeRecord& record) {
  std::string comment = ": costgate usage=" + std::string(record.usage_source) +
                        " tokens_in=" + std::to_string(record.usage->prompt_tokens) +
                        " tokens_out=" + std::to_string(record.usage->completion_tokens);
  if (record.cost) comment += " cost_usd=" + pricing::formatUsd(*record.cost);
  return comment + "\n\n";
}

}  // namespace

server::Task<> Gateway::relayStream(RequestContext& ctx, upstream::Exchange& exchange,
                                    ResponseWriter& writer, CallAccounting accounting) {
  StreamCharge charge(accounting, writer.record());
  Response head(200, "text/event-stream; charset=utf-8");
  head.add("Cache-Control", "no-cache").add("x-costgate-model", ctx.served_model);
  addFilterHeaders(ctx, head);
  const std::string_view key = backendKey(ctx.backend);
  if (auto upstream_id = exchange.header("x-request-id");
      !upstream_id.empty() && upstream_id != ctx.request_id) {
    head.add("x-upstream-request-id", redacted(upstream_id, key));
  }
  if (!co_await writer.beginStream(std::move(head))) {
    exchange.cancel();
    metrics_.countStream("client_gone");
    co_return;
  }
  // Waiting on the backend, we would not notice the client leaving until the next write;
  // the watch cancels the backend call as soon as it does.
  writer.watchForDisconnect([&exchange] { exchange.cancel(); });
  // The watch refers to `exchange`, which the caller destroys after this returns.
  struct StopWatching {
    ResponseWriter& writer;
    ~StopWatching() { writer.stopWatching(); }
  } stop_watching{writer};

  openai::SseParser parser;
  std::string out;
  auto relay = [&](openai::SseEvent&& sse) {
    bool hide = false;
    if (sse.data == "[DONE]") {
      charge.settle();
      out += costComment(writer.record());
    } else if (auto chunk = jsonview::Document::parse(sse.data)) {
      auto root = chunk->root();
      std::uint64_t characters = openai::chunkCharacters(root);
      charge.relayed(characters);
      auto& record = writer.record();
      if (characters > 0 && record.time_to_first_token.count() == 0) {
        record.time_to_first_token = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - record.started);
      }
      if (auto usage = openai::usageOf(root)) {
        charge.reported(*usage);
        // The usage-only chunk the gateway asked for on the client's behalf.
        auto choices = root.find("choices");
        hide = !accounting.client_asked_for_usage &&
               (!choices || (choices->isArray() && choices->size() == 0));
      }
    }
    redact(sse.data, key);
    redact(sse.event, key);
    pipeline::StreamEvent event{std::move(sse)};
    chain_.onChunk(ctx, event);
    if (!event.drop && !hide) out += openai::serializeSse(event.sse);
  };
  for (;;) {
    upstream::BodyPiece piece = co_await exchange.readSome();
    // Only whole events are relayed, so an error event after a broken stream always parses.
    out.clear();
    std::optional<upstream::Failure> failure = std::move(piece.failure);
    if (!failure) {
      for (auto& sse : parser.feed(piece.data)) relay(std::move(sse));
      if (parser.overflowed()) {
        // An event without end: what a stream may make the gateway hold is bounded.
        exchange.cancel();
        failure =
            upstream::Failure{upstream::FailureKind::TooLarge,
                              "an event of the backend's stream exceeds " +
                                  std::to_string(openai::SseParser::kMaxEventBytes) + " bytes"};
      } else if (piece.done) {
        if (auto last = parser.finish()) relay(std::move(*last));
      }
    }
    if (failure) {
      if (writer.clientGone()) {
        metrics_.countStream("client_gone");
        co_return;
      }
      // Tell the client in-band, after the events that were whole: the status line has gone out.
      metrics_.countStream("upstream_failed");
      metrics_.countUpstreamFailure(ctx.backend, failureCode(failure->kind));
      writer.record().error = failure->message;
      openai::ApiError error =
          openai::serverError(502, "the backend's stream broke off: " + failure->message,
                              std::string(failureCode(failure->kind)));
      out += "data: " + error.body() + "\n\n";
      co_await writer.writeChunk(out);
      co_await writer.endStream();
      co_return;
    }
    if (!out.empty() && !co_await writer.writeChunk(out)) {
      exchange.cancel();
      metrics_.countStream("client_gone");
      co_return;
    }
    if (piece.done) break;
  }
  metrics_.countStream(co_await writer.endStream() ? "completed" : "client_gone");
}

void Records::observe(const server::ExchangeRecord& record) {
  access_log_.write(record);
  std::string_view route = record.route.empty() ? "invalid" : record.route;
  std::string_view model = record.model.empty() ? "none" : std::string_view(record.model);
  metrics::Attribution who{.feature = record.tag_labels.feature,
                           .team = record.tag_labels.team,
                           .env = record.tag_labels.env,
                           .model = model};
  using Seconds = std::chrono::duration<double>;
  metrics_.countRequest(who, route, record.status, Seconds(record.latency).count());
  if (record.upstream_latency.count() > 0) {
    auto overhead = std::max(record.latency - record.upstream_latency, decltype(record.latency){});
    metrics_.observeOverhead(route, Seconds(overhead).count());
  }
  if (record.time_to_first_token.count() > 0) {
    metrics_.observeTimeToFirstToken(model, Seconds(record.time_to_first_token).count());
  }
  // A cache hit used no tokens: its usage is what it saved, counted below.
  bool cached = record.usage_source == "cache";
  if (record.usage && !cached) metrics_.countUsage(who, *record.usage, record.cost);
  for (const auto& side : record.side_calls) {
    metrics::Attribution side_who = who;
    side_who.model = side.model;
    metrics_.countUsage(side_who, side.usage, side.cost);
    report::Call call{.tags = {record.tag_labels.feature, record.tag_labels.team,
                               record.tag_labels.env, side.model},
                      .tokens_in = side.usage.prompt_tokens,
                      .tokens_out = side.usage.completion_tokens,
                      .cost = side.cost.value_or(0),
                      .saved = 0};
    std::lock_guard lock(spend_mutex_);
    spend_.add(call);
  }
  for (const auto& saving : record.token_savings) {
    metrics_.countTokensSaved(who, saving.filter, saving.policy, saving.tokens);
  }
  metrics_.observeBudgets(record);
  if (!record.cache_result.empty()) {
    metrics_.countCacheLookup(who, {.result = record.cache_result,
                                    .policy = record.cache_policy,
                                    .lookup_seconds = record.cache_lookup_seconds,
                                    .saved = record.saved,
                                    .entries = record.cache_entries,
                                    .bytes = record.cache_bytes,
                                    .shared_store_up = record.cache_shared_store_up});
  }
  if (!record.backend.empty() || record.saved) {  // a call routed to a backend, or spared one
    report::Call call{.tags = {record.tag_labels.feature, record.tag_labels.team,
                               record.tag_labels.env, record.model},
                      .tokens_in = record.usage && !cached ? record.usage->prompt_tokens : 0,
                      .tokens_out = record.usage && !cached ? record.usage->completion_tokens : 0,
                      .cost = record.cost.value_or(0),
                      .saved = record.saved.value_or(0)};
    std::lock_guard lock(spend_mutex_);
    spend_.add(call);
  }
}

std::string Records::spendJson() const {
  std::string totals;
  {
    std::lock_guard lock(spend_mutex_);
    totals = spend_.json();
  }
  // The totals' object, with when they started counting in front.
  return "{\"since\":" + std::to_string(startedUnix()) + "," + totals.substr(1);
}

}  // namespace costgate::gateway
