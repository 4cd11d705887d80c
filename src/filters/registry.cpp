#include "filters/registry.h"

#include "filters/budget/budget_filter.h"
#include "filters/prompt_pruning/prompt_pruning_filter.h"
#include "filters/router/router_filter.h"
#include "filters/semantic_cache/semantic_cache_filter.h"
#include "filters/tagging/tagging_filter.h"
#include "filters/token_cap/token_cap_filter.h"

namespace costgate::filters {

namespace {

// The factory of a filter that keeps nothing across reloads and counts nothing of its own.
template <auto make>
std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> plain(
    const config::FilterSpec& spec, pipeline::FilterEnvironment&) {
  return make(spec);
}

}  // namespace

const std::map<std::string, pipeline::FilterFactory>& registry() {
  static const std::map<std::string, pipeline::FilterFactory> filters = {
      {"tagging", tagging::makeTaggingFilter},
      {"token_cap", token_cap::makeTokenCapFilter},
      {"prompt_pruning", plain<prompt_pruning::makePromptPruningFilter>},
      {"semantic_cache", semantic_cache::makeSemanticCacheFilter},
      {"router", router::makeRouterFilter},
      {"budget", budget::makeBudgetFilter},
  };
  return filters;
}

}  // namespace costgate::filters
