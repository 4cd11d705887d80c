#pragma once
// The ordered filters of one configuration, and the registry that builds them from YAML.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "costgate/config/config.h"
#include "costgate/config/load.h"
#include "costgate/pipeline/filter.h"

namespace costgate::pipeline {

class Chain {
 public:
  Chain() = default;
  explicit Chain(std::vector<std::unique_ptr<Filter>> filters);

  // Runs onRequest in order from filter `position`; stops at the first filter that returns
  // Respond or Wait. On Wait, `position` is left at the waiting filter and ctx.awaited is set.
  FilterStatus onRequest(RequestContext& ctx, std::size_t& position) const;
  FilterStatus onRequest(RequestContext& ctx) const {
    std::size_t position = 0;
    return onRequest(ctx, position);
  }
  // After a wait: runs the waiting filter's continuation, then, if it goes on, the filters after
  // it. `position` as onRequest leaves it.
  FilterStatus resume(RequestContext& ctx, std::size_t& position,
                      const std::function<FilterStatus(RequestContext&)>& continuation) const;
  // These run in reverse order.
  void onResponseBody(RequestContext& ctx, int status, std::string_view body) const;
  void onChunk(RequestContext& ctx, StreamEvent& event) const;
  void onComplete(RequestContext& ctx) const;

  std::size_t size() const { return filters_.size(); }
  const Filter& at(std::size_t i) const { return *filters_[i]; }
  // Whether some filter observes whole response bodies (Filter::observesResponseBody).
  bool observesResponseBody() const { return observes_response_body_; }
  // Every filter's local endpoints.
  const std::vector<LocalEndpoint>& endpoints() const { return endpoints_; }

 private:
  std::vector<std::unique_ptr<Filter>> filters_;
  std::vector<LocalEndpoint> endpoints_;
  bool observes_response_body_ = false;
};

// Builds one filter from its YAML block, or reports what is wrong with it.
using FilterFactory = std::function<std::variant<std::unique_ptr<Filter>, config::ConfigError>(
    const config::FilterSpec&, FilterEnvironment& environment)>;

// Builds the chain named by config.filters from the factories in `registry` (by YAML name; the
// gateway's is filters::registry()); an unknown name or a bad block is a ConfigError.
std::variant<Chain, config::ConfigError> buildChain(
    const config::GatewayConfig& config, const std::map<std::string, FilterFactory>& registry,
    FilterEnvironment environment);

}  // namespace costgate::pipeline
