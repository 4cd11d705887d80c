// The requests the gateway answers itself: health and readiness, metrics, the spend report and
// summary, the dashboard, the models list, the endpoints filters serve (admin key required), and
// 404/405 for anything else.

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include "costgate/crypto/sha256.h"
#include "costgate/dashboard/page.h"
#include "costgate/gateway/gateway.h"
#include "costgate/gateway/replies.h"
#include "costgate/gateway/signal_wait.h"
#include "costgate/pricing/price_table.h"

namespace costgate::gateway {

namespace {

using server::Request;
using server::Response;

std::string_view pathOf(std::string_view target) { return target.substr(0, target.find('?')); }

// The models list with the date of the built-in price table added, so that a client can tell how
// old the prices it is charged by may be. The list is serialized once per configuration (an object
// closed by '}'); the member goes in before that brace.
std::string withPriceTableDate(const std::string& models_body) {
  std::string body = models_body.substr(0, models_body.rfind('}'));
  return body + ",\"costgate_price_table\":\"" + std::string(pricing::kPriceTableDate) + "\"}";
}

// A model's prices as USD per million tokens, as the YAML writes them; null when unpriced.
nlohmann::json priceJson(const std::optional<pricing::Price>& price) {
  if (!price) return nullptr;
  return {{"input", pricing::formatUsd(price->input)},
          {"cached_input", pricing::formatUsd(price->cached_input.value_or(price->input))},
          {"output", pricing::formatUsd(price->output)}};
}

}  // namespace

server::Task<> Gateway::answerLocally([[maybe_unused]] std::shared_ptr<Gateway> self,
                                      Request& request, server::ResponseWriter& writer) {
  const std::string_view path = pathOf(request.head.target());
  // HEAD is GET without the body (the writer leaves it out), so health checks that use it work.
  const bool get = request.head.method() == "GET" || request.head.method() == "HEAD";
  writer.record().route = "admin";
  if (isProxiedPath(path)) {
    auto response = errorResponse(
        openai::methodNotAllowed("Method " + std::string(request.head.method()) +
                                 " is not allowed on " + std::string(path) + "; use POST"));
    response.add("Allow", "POST");
    co_await writer.send(std::move(response));
    co_return;
  }
  // Spend by team, budgets and (when asked) the metrics are for operators, not for tenants.
  const bool guarded = path.starts_with("/admin/") || path.starts_with("/costgate/") ||
                       (path == "/metrics" && config_.admin.protect_metrics);
  if (get && guarded && (config_.admin.key_digest || path.starts_with("/admin/"))) {
    if (auto refused = adminRefusal(request)) {
      co_await writer.send(std::move(*refused));
      co_return;
    }
  }
  for (const auto& endpoint : chain_.endpoints()) {
    if (!get || path != endpoint.path) continue;
    Response answer = co_await filterEndpoint(endpoint);
    co_await writer.send(std::move(answer));
    co_return;
  }
  std::optional<Response> response =
      get ? builtInEndpoint(path, request.head.target()) : std::nullopt;
  if (get && (path == "/v1/models" || path.starts_with("/v1/models/"))) {
    writer.record().route = "models";
  }
  if (!response) {
    writer.record().route = "unknown";
    response = errorResponse(openai::notFound(
        "Unknown request URL: " + std::string(request.head.method()) + " " + std::string(path),
        "unknown_url"));
  }
  co_await writer.send(std::move(*response));
}

std::optional<Response> Gateway::builtInEndpoint(std::string_view path,
                                                 std::string_view target) const {
  if (path == "/healthz") return jsonResponse(200, R"({"status":"ok"})");
  if (path == "/readyz") return jsonResponse(200, R"({"status":"ready"})");
  if (path == "/costgate/spend") return jsonResponse(200, records_.spendJson());
  if (path == "/costgate/summary") return jsonResponse(200, metrics_.summaryJson());
  if (path == "/dashboard") return dashboard::response();
  if (path == "/metrics") {
    return Response(200, "text/plain; version=0.0.4; charset=utf-8", metrics_.serialize());
  }
  if (path == "/v1/models" || path.starts_with("/v1/models/")) return modelsResponse(target);
  return std::nullopt;
}

server::Task<Response> Gateway::filterEndpoint(const pipeline::LocalEndpoint& endpoint) const {
  auto reply = std::make_shared<pipeline::LocalReply>();
  auto done = std::make_shared<pipeline::Signal>();
  endpoint.serve(reply, done);
  co_await waitFor(*done, endpoint.timeout);
  const pipeline::LocalReply& answer = done->fired() ? *reply : endpoint.unavailable;
  Response response(answer.status, answer.content_type, answer.body);
  for (const auto& [name, value] : answer.headers) response.add(name, value);
  co_return response;
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
  if (!given.empty() &&
      CRYPTO_memcmp(digest.data(), config_.admin.key_digest->data(), digest.size()) == 0) {
    return std::nullopt;
  }
  openai::ApiError error{401,
                         "invalid_request_error",
                         given.empty()
                             ? "This endpoint needs the admin key (Authorization: Bearer ADMIN_KEY)"
                             : "Incorrect admin key",
                         {},
                         given.empty() ? "missing_admin_key" : "invalid_admin_key"};
  Response refusal = errorResponse(error);
  refusal.add("WWW-Authenticate", "Bearer");
  return refusal;
}

Response Gateway::modelsResponse(std::string_view target) const {
  const std::string_view path = pathOf(target);
  if (path == "/v1/models") return jsonResponse(200, withPriceTableDate(models_body_));
  const std::string_view id = path.substr(std::string_view("/v1/models/").size());
  const config::ModelRoute* model = calls_.model(id);
  if (!model) return errorResponse(modelNotFound(id));
  return jsonResponse(200, nlohmann::json{{"id", id},
                                          {"object", "model"},
                                          {"created", records_.startedUnix()},
                                          {"owned_by", model->owned_by},
                                          {"costgate_price", priceJson(model->price)},
                                          {"costgate_price_table", pricing::kPriceTableDate}}
                               .dump());
}

}  // namespace costgate::gateway
