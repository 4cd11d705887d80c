#include "costgate/gateway/gateway.h"

#include <array>

#include <nlohmann/json.hpp>

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

}  // namespace

Gateway::Gateway(config::GatewayConfig config, pipeline::Chain chain, Records& records)
    : config_(std::move(config)),
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
  if (request.head.method() == "POST") {
    for (const auto& candidate : kProxyPaths) {
      if (path == candidate.path)
        return proxy(shared_from_this(), candidate.route, candidate.api, request, writer);
    }
  }
  return answerLocally(shared_from_this(), request, writer);
}

}  // namespace costgate::gateway
