#include "costgate/gateway/gateway.h"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "costgate/gateway/replies.h"

namespace costgate::gateway {

namespace {

struct ProxyPath {
  std::string_view path;
  pipeline::Route route;  // what the filters and the backend see
  ClientApi api;          // what the client speaks
};
constexpr std::array<ProxyPath, 5> kProxyPaths = {{
    {"/v1/chat/completions", pipeline::Route::kChatCompletions, ClientApi::kChat},
    {"/v1/completions", pipeline::Route::kCompletions, ClientApi::kChat},
    {"/v1/embeddings", pipeline::Route::kEmbeddings, ClientApi::kChat},
    {"/v1/messages", pipeline::Route::kChatCompletions, ClientApi::kAnthropicMessages},
    {"/v1/responses", pipeline::Route::kChatCompletions, ClientApi::kOpenAiResponses},
}};

std::string_view pathOf(std::string_view target) { return target.substr(0, target.find('?')); }

server::Task<> answer(server::ResponseWriter& writer, server::Response response) {
  co_await writer.send(std::move(response));
}

}  // namespace

bool isProxiedPath(std::string_view path) {
  return std::any_of(kProxyPaths.begin(), kProxyPaths.end(),
                     [path](const ProxyPath& candidate) { return candidate.path == path; });
}

Gateway::Gateway(config::GatewayConfig config, pipeline::Chain chain, Records& records)
    : config_(std::move(config)),
      browser_(config_.server),
      chain_(std::move(chain)),
      calls_(config_, records.metrics()),
      records_(records),
      metrics_(records.metrics()) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& [name, model] : config_.models) {
    data.push_back({{"id", name},
                    {"object", "model"},
                    {"created", records_.startedUnix()},
                    {"owned_by", model.owned_by}});
  }
  models_body_ = nlohmann::json{{"object", "list"}, {"data", std::move(data)}}.dump();
}

// Not a coroutine itself: the proxied call, the common case, runs without an extra frame.
server::Task<> Gateway::handle(server::Request& request, server::ResponseWriter& writer) {
  const std::string_view path = pathOf(request.head.target());
  if (auto refused = browserCheck(request, path, writer))
    return answer(writer, std::move(*refused));
  if (request.head.method() == "POST") {
    if (path == "/v1/messages/count_tokens") return answer(writer, countMessageTokens(request));
    for (const auto& candidate : kProxyPaths) {
      if (path == candidate.path)
        return proxy(shared_from_this(), candidate.route, candidate.api, request, writer);
    }
  }
  return answerLocally(shared_from_this(), request, writer);
}

std::optional<server::Response> Gateway::browserCheck(const server::Request& request,
                                                      std::string_view path,
                                                      server::ResponseWriter& writer) const {
  const http1::Head& head = request.head;
  std::size_t hosts = 0;
  std::string_view origin;
  bool origin_refused = false;
  for (std::size_t i = 0; i < head.fieldCount(); ++i) {
    const http1::Field field = head.field(i);
    if (field.name == "host") {
      ++hosts;
      if (!browser_.hostAllowed(field.value)) {
        return errorResponse(openai::permissionDenied(
            "Host '" + std::string(field.value.substr(0, 100)) +
                "' is not served: add it to server.allowed_hosts (a name the gateway does not "
                "know may be a DNS-rebinding page's)",
            {}, "host_not_allowed"));
      }
    } else if (field.name == "origin") {
      origin_refused = origin_refused || !origin.empty() || !browser_.originAllowed(field.value);
      origin = field.value;
    }
  }
  if (hosts > 1) return errorResponse(openai::invalidRequest("more than one Host header"));
  if (origin_refused) {
    return errorResponse(openai::permissionDenied(
        "Origin '" + std::string(origin.substr(0, 100)) +
            "' may not call this gateway: add it to server.allowed_origins",
        {}, "origin_not_allowed"));
  }
  if (!origin.empty()) {
    if (head.method() == "OPTIONS" && head.has("access-control-request-method")) {
      return preflightResponse(
          origin, head.get("access-control-request-headers"),
          http1::trimWhitespace(head.get("access-control-request-private-network")) == "true");
    }
    allowOrigin(writer, origin);
  }
  if (head.method() == "POST" && isProxiedPath(path) &&
      !isJsonContentType(head.get("content-type"))) {
    return errorResponse(
        openai::ApiError{415,
                         "invalid_request_error",
                         "Content-Type must be application/json, got " +
                             (head.has("content-type")
                                  ? "'" + std::string(head.get("content-type").substr(0, 100)) + "'"
                                  : std::string("none")),
                         {},
                         "unsupported_media_type"});
  }
  return std::nullopt;
}

}  // namespace costgate::gateway
