#include "costgate/pipeline/chain.h"

namespace costgate::pipeline {

Chain::Chain(std::vector<std::unique_ptr<Filter>> filters) : filters_(std::move(filters)) {
  for (const auto& filter : filters_) {
    observes_response_body_ = observes_response_body_ || filter->observesResponseBody();
    for (auto& endpoint : filter->endpoints()) endpoints_.push_back(std::move(endpoint));
  }
}

FilterStatus Chain::onRequest(RequestContext& ctx, std::size_t& position) const {
  for (; position < filters_.size(); ++position) {
    FilterStatus status = filters_[position]->onRequest(ctx);
    if (status != FilterStatus::kContinue) return status;
  }
  return FilterStatus::kContinue;
}

FilterStatus Chain::resume(RequestContext& ctx, std::size_t& position,
                           const std::function<FilterStatus(RequestContext&)>& continuation) const {
  FilterStatus status = continuation(ctx);
  if (status != FilterStatus::kContinue) return status;
  ++position;
  return onRequest(ctx, position);
}

// Reverse iterators rather than std::views::reverse, which clang 14 cannot compile against
// libstdc++ 12's ranges (the fuzz build, fuzz/, uses clang).
void Chain::onResponseBody(RequestContext& ctx, int status, std::string_view body) const {
  for (auto filter = filters_.rbegin(); filter != filters_.rend(); ++filter) {
    (*filter)->onResponseBody(ctx, status, body);
  }
}

void Chain::onChunk(RequestContext& ctx, StreamEvent& event) const {
  for (auto filter = filters_.rbegin(); filter != filters_.rend(); ++filter) {
    (*filter)->onChunk(ctx, event);
  }
}

void Chain::onComplete(RequestContext& ctx) const {
  for (auto filter = filters_.rbegin(); filter != filters_.rend(); ++filter) {
    (*filter)->onComplete(ctx);
  }
}

std::variant<Chain, config::ConfigError> buildChain(
    const config::GatewayConfig& config, const std::map<std::string, FilterFactory>& registry,
    FilterEnvironment environment) {
  std::vector<std::unique_ptr<Filter>> filters;
  std::map<std::string, std::optional<pricing::Price>> models;
  std::map<std::string, std::vector<std::string>> fallbacks;
  for (const auto& [name, route] : config.models) {
    models.emplace(name, route.price);
    if (!route.fallbacks.empty()) fallbacks.emplace(name, route.fallbacks);
  }
  for (auto spec : config.filters) {
    spec.models = models;
    spec.fallbacks = fallbacks;
    auto factory = registry.find(spec.name);
    if (factory == registry.end()) {
      std::string known;
      for (const auto& [name, unused] : registry) known += (known.empty() ? "" : ", ") + name;
      return config::ConfigError{
          spec.mark, "unknown filter '" + spec.name + "' (known filters: " + known + ")"};
    }
    auto built = factory->second(spec, environment);
    if (auto* error = std::get_if<config::ConfigError>(&built)) return std::move(*error);
    filters.push_back(std::move(std::get<std::unique_ptr<Filter>>(built)));
  }
  return Chain(std::move(filters));
}

}  // namespace costgate::pipeline
