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
#include "costgate/pipeline/kept_state.h"

namespace costgate::pipeline {

class Chain {
 public:
  Chain() = default;
  explicit Chain(std::vector<std::unique_ptr<Filter>> filters);

  // Runs onRequest in order from filter `position`; stops at the first filter that returns
  // Respond or Wait. On Wait, `position` is left at the waiting filter, to run again from there.
  FilterStatus onRequest(RequestContext& ctx, std::size_t& position) const;
  FilterStatus onRequest(RequestContext& ctx) const {
    std::size_t position = 0;
    return onRequest(ctx, position);
  }
  // These run in reverse order.
  void onResponse(RequestContext& ctx) const;
  void onResponseBody(RequestContext& ctx, int status, std::string_view body) const;
  void onChunk(RequestContext& ctx, StreamEvent& event) const;
  void onComplete(RequestContext& ctx) const;

  std::size_t size() const { return filters_.size(); }
  // Whether a whole response must be parsed for onResponse.
  bool readsResponse() const { return reads_response_; }
  // Whether some filter observes whole response bodies (Filter::observesResponseBody).
  bool observesResponseBody() const { return observes_response_body_; }
  // Whether some filter reads or edits ctx.body (Filter::usesBody).
  bool usesBody() const { return uses_body_; }
  const Filter& at(std::size_t i) const { return *filters_[i]; }

 private:
  std::vector<std::unique_ptr<Filter>> filters_;
  bool reads_response_ = false;
  bool uses_body_ = false;
  bool observes_response_body_ = false;
};

// Builds one filter from its YAML block, or reports what is wrong with it. A filter whose state
// must outlive a reload takes it from `kept`.
using FilterFactory = std::function<std::variant<std::unique_ptr<Filter>, config::ConfigError>(
    const config::FilterSpec&, KeptState& kept)>;

// Every filter the gateway knows, by YAML name.
const std::map<std::string, FilterFactory>& filterRegistry();

// Builds the chain named by config.filters; an unknown name or a bad block is a ConfigError.
// Filters find what a previous configuration's chain kept in `kept`.
std::variant<Chain, config::ConfigError> buildChain(const config::GatewayConfig& config,
                                                    KeptState& kept);

}  // namespace costgate::pipeline
