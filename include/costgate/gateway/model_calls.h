#pragma once
// Calls to the gateway's models: each model's deployments (load-balanced, set aside after
// failures), retries with backoff, and fallback models. One per configuration, shared by every
// worker thread; a call runs on the calling thread's loop and its connection pool.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "costgate/config/config.h"
#include "costgate/gateway/backend_request.h"
#include "costgate/metrics/metrics.h"
#include "costgate/pipeline/request_context.h"
#include "costgate/server/exchange_record.h"
#include "costgate/server/task.h"
#include "costgate/upstream/deployment_pool.h"
#include "costgate/upstream/upstream_client.h"

namespace costgate::gateway {

// Whole (non-streamed) backend answers larger than this are refused rather than buffered.
inline constexpr std::size_t kMaxWholeResponseBytes = 64 * 1024 * 1024;

class ModelCalls {
 public:
  // Throws std::runtime_error when a backend's TLS settings cannot be loaded.
  ModelCalls(const config::GatewayConfig& config, metrics::Metrics& metrics);

  // How one call to a model came out.
  struct Answer {
    std::unique_ptr<upstream::Exchange> exchange;          // a response head arrived (any status)
    std::optional<upstream::DeploymentPool::Lease> lease;  // released when the call is done
    std::optional<upstream::Failure> failure;  // no deployment answered: the last failure
    std::string model;                         // who answered: a fallback's name after one
    std::string backend;
    int attempts = 0;
  };
  // What a deployment of `backend_model` is sent.
  using BodyFor = std::function<std::string(std::string_view backend_model)>;
  // Calls `model` (and its fallbacks) at `path`: the first deployment to answer with anything but
  // a retryable error (429, 5xx) wins; after the attempts run out, the last answer (or failure)
  // is the result. Each deployment's backend is sent the client's headers its forward_headers
  // allow. Counts fallbacks and deployment health in the metrics.
  server::Task<> call(std::string model, std::string path, BodyFor body_for,
                      const ClientHeaders& headers, Answer& out) const;
  // A filter's EmbeddingCall: the first embedding of the model's /v1/embeddings answer, scaled to
  // unit length, into `out` (no vector when the call failed); charged as a side call in `record`.
  server::Task<> embed(const pipeline::EmbeddingCall& request, std::string_view request_id,
                       pipeline::Embedding& out, server::ExchangeRecord& record) const;

  bool serves(std::string_view model) const { return routes_.find(model) != routes_.end(); }
  // The configured model named `model`, or null.
  const config::ModelRoute* model(std::string_view model) const;
  // Its price, or null when it has none or is not served.
  const pricing::Price* priceOf(std::string_view model) const;
  // The api_key of the backend named `backend`, or empty: never relayed to a client.
  std::string_view backendKey(std::string_view backend) const;

 private:
  struct Route {
    const config::ModelRoute* model;
    std::vector<const upstream::Backend*> backends;  // by deployment
    std::unique_ptr<upstream::DeploymentPool> pool;  // shared by every worker thread
  };
  // One attempt on one deployment of `route`; returns whether to try again.
  server::Task<bool> attempt(const std::string& model, const Route& route,
                             upstream::DeploymentPool::Lease lease, const upstream::Call& call,
                             Answer& out) const;

  const config::GatewayConfig& config_;
  metrics::Metrics& metrics_;
  std::map<std::string, std::unique_ptr<upstream::Backend>, std::less<>> backends_;
  std::map<std::string, Route, std::less<>> routes_;
};

}  // namespace costgate::gateway
