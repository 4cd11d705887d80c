#include "costgate/gateway/model_calls.h"

#include <cmath>
#include <random>

#include <nlohmann/json.hpp>

#include "costgate/gateway/replies.h"
#include "costgate/jsonview/document.h"
#include "costgate/openai/usage.h"
#include "costgate/upstream/retry_policy.h"

namespace costgate::gateway {

namespace {

using Clock = std::chrono::steady_clock;

upstream::RetryPolicy retryPolicyOf(const config::UpstreamPolicy& policy) {
  return {.max_attempts = static_cast<int>(policy.attempts),
          .base_delay = policy.base_delay,
          .max_delay = policy.max_delay,
          .max_retry_after = policy.retry_after_cap};
}

// What the last attempt's answer asks of the wait before the next: Retry-After(-Ms), if any.
std::optional<std::chrono::milliseconds> retryAfterOf(const upstream::Exchange* exchange) {
  if (!exchange) return std::nullopt;
  if (auto ms = upstream::parseRetryAfterMs(exchange->header("retry-after-ms"))) return ms;
  if (auto header = exchange->header("retry-after"); !header.empty()) {
    return upstream::parseRetryAfter(header, std::chrono::system_clock::now());
  }
  return std::nullopt;
}

// Why an attempt is retried, as costgate_fallbacks_total's reason.
std::string faultName(const ModelCalls::Answer& answer) {
  if (answer.failure) return std::string(failureCode(answer.failure->kind));
  const int status = answer.exchange ? answer.exchange->status() : 0;
  return status == 429 ? "rate_limited" : "status_" + std::to_string(status);
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

ModelCalls::ModelCalls(const config::GatewayConfig& config, metrics::Metrics& metrics)
    : config_(config), metrics_(metrics) {
  for (const auto& [name, backend] : config_.backends) {
    backends_.emplace(name, std::make_unique<upstream::Backend>(backend));
  }
  upstream::DeploymentPool::Options health;
  health.eject_after = static_cast<int>(config_.upstream.eject_after_failures);
  health.cooldown = config_.upstream.eject_cooldown;
  for (const auto& [name, model] : config_.models) {
    Route route{&model, {}, nullptr};
    std::vector<int> weights;
    for (const auto& deployment : model.deployments) {
      route.backends.push_back(backends_.find(deployment.backend)->second.get());
      weights.push_back(static_cast<int>(deployment.weight));
    }
    route.pool = std::make_unique<upstream::DeploymentPool>(std::move(weights), health);
    routes_.emplace(name, std::move(route));
  }
}

const config::ModelRoute* ModelCalls::model(std::string_view model) const {
  auto found = routes_.find(model);
  return found == routes_.end() ? nullptr : found->second.model;
}

const pricing::Price* ModelCalls::priceOf(std::string_view model) const {
  const config::ModelRoute* route = this->model(model);
  return route && route->price ? &*route->price : nullptr;
}

std::string_view ModelCalls::backendKey(std::string_view backend) const {
  auto found = backends_.find(backend);
  return found == backends_.end() ? std::string_view() : found->second->config().api_key;
}

server::Task<> ModelCalls::call(std::string model, std::string path, BodyFor body_for,
                                const ClientHeaders& headers, Answer& out) const {
  const upstream::RetryPolicy retry = retryPolicyOf(config_.upstream);
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::vector<std::string> chain{model};
  if (const config::ModelRoute* route = this->model(model)) {
    chain.insert(chain.end(), route->fallbacks.begin(), route->fallbacks.end());
  }
  std::string last_fault;
  for (std::size_t link = 0; link < chain.size(); ++link) {
    auto found = routes_.find(chain[link]);
    if (found == routes_.end()) continue;
    const Route& route = found->second;
    if (link > 0) metrics_.countFallback(chain[link - 1], chain[link], last_fault);
    const bool last_link = link + 1 == chain.size();
    std::vector<bool> tried(route.backends.size(), false);
    for (int attempt_number = 1; attempt_number <= retry.max_attempts; ++attempt_number) {
      // Another deployment than those tried, else any serving one; the last resort of the last
      // model is a deployment set aside (better tried than failing without a try).
      const auto now = Clock::now();
      auto lease = route.pool->acquire(now, &tried);
      if (!lease) lease = route.pool->acquire(now);
      if (!lease && last_link) lease = route.pool->acquireAny(now);
      if (!lease) break;
      tried[lease->index()] = true;
      upstream::Call request;
      request.path = path;
      request.body = body_for(route.model->deployments[lease->index()].backend_model);
      request.headers = headersFor(route.backends[lease->index()]->config(), headers);
      const bool again = co_await attempt(chain[link], route, std::move(*lease), request, out);
      if (!again) co_return;
      last_fault = faultName(out);
      if (attempt_number == retry.max_attempts) break;
      auto delay =
          upstream::backoffDelay(retry, attempt_number, retryAfterOf(out.exchange.get()), random());
      if (!delay) break;  // the backend asks for longer than we wait: next model
      out.lease.reset();
      co_await server::sleepFor(*delay);
    }
  }
}

server::Task<bool> ModelCalls::attempt(const std::string& model, const Route& route,
                                       upstream::DeploymentPool::Lease lease,
                                       const upstream::Call& call, Answer& out) const {
  auto& client = upstream::UpstreamClient::of(server::EventLoop::current());
  const std::size_t index = lease.index();
  const config::Deployment& deployment = route.model->deployments[index];
  ++out.attempts;
  std::unique_ptr<upstream::Exchange> exchange;
  auto failure = co_await client.start(*route.backends[index], call, exchange);
  const int status = failure ? 0 : exchange->status();
  const auto fault = upstream::classify(
      failure ? std::optional<upstream::FailureKind>(failure->kind) : std::nullopt, status);
  if (failure) metrics_.countUpstreamFailure(deployment.backend, failureCode(failure->kind));
  const bool retry_it = upstream::retryable(fault);
  if (retry_it) {
    lease.failed(Clock::now());
  } else if (fault != upstream::FaultClass::kCancelled) {
    lease.succeeded(Clock::now());
  }
  const auto health = route.pool->status(index, Clock::now());
  metrics_.setBackendHealth(model, deployment.backend,
                            health.state != upstream::DeploymentPool::State::kEjected,
                            health.outstanding);
  // What the call came to, kept as the answer unless a later attempt does better.
  out.model = model;
  out.backend = deployment.backend;
  out.failure = std::move(failure);
  out.exchange = std::move(exchange);
  out.lease = std::move(lease);
  co_return retry_it;
}

server::Task<> ModelCalls::embed(const pipeline::EmbeddingCall& request,
                                 std::string_view request_id, pipeline::Embedding& out,
                                 server::ExchangeRecord& record) const {
  out = pipeline::Embedding{};
  if (!serves(request.model)) co_return;  // checked at load; a miss, not an error
  const ClientHeaders headers{.fields = {}, .request_id = request_id};
  auto body_for = [&request](std::string_view backend_model) {
    return nlohmann::json{{"model", backend_model}, {"input", request.input}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  Answer answer;
  co_await call(request.model, "/embeddings", body_for, headers, answer);
  if (!answer.exchange || answer.exchange->status() != 200) co_return;
  std::string body;
  if (auto failure = co_await answer.exchange->readAll(body, kMaxWholeResponseBytes)) {
    metrics_.countUpstreamFailure(answer.backend, failureCode(failure->kind));
    co_return;
  }
  auto document = jsonview::Document::parse(body);
  if (!document) co_return;
  out.vector = firstEmbedding(document->root());
  out.usage = openai::usageOf(document->root());
  if (!out.usage) co_return;
  server::ExchangeRecord::SideCall side{answer.model, *out.usage, std::nullopt, "backend"};
  if (const pricing::Price* price = priceOf(answer.model))
    side.cost = pricing::costOf(*price, side.usage);
  record.side_calls.push_back(std::move(side));
}

}  // namespace costgate::gateway
