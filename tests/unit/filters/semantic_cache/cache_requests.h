#pragma once
// What the semantic_cache filter's tests send and get: a filter of one policy, a one-question chat
// request, a tenant to key it under, and a backend's chat.completion answering it.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "../../support/filter_settings.h"
#include "../../support/test_metrics.h"
#include "costgate/pipeline/request_context.h"
#include "filters/semantic_cache/semantic_cache_filter.h"

namespace costgate::filters::semantic_cache::test_requests {

inline CacheConfig configOk(const std::string& filters_yaml) {
  return test_data::configOk(parseCacheConfig, "semantic_cache", filters_yaml);
}

// A filter whose one policy is `policy_yaml` (a flow mapping), keeping its stores in `kept`.
inline std::unique_ptr<SemanticCacheFilter> filterWith(const std::string& policy_yaml,
                                                       pipeline::KeptState* kept = nullptr) {
  return std::make_unique<SemanticCacheFilter>(
      configOk("filters:\n  - semantic_cache:\n      policies:\n        - " + policy_yaml + "\n"),
      test_data::testMetrics(), kept);
}

inline const pipeline::Tags kTenant{"faq", "core", "test", ""};

inline nlohmann::json chat(const std::string& question) {
  return {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", question}}}}};
}

inline std::string answer(const std::string& text) {
  return nlohmann::json{
      {"id", "chatcmpl-1"},
      {"object", "chat.completion"},
      {"model", "m"},
      {"choices",
       {{{"index", 0},
         {"message", {{"role", "assistant"}, {"content", text}}},
         {"finish_reason", "stop"}}}},
      {"usage", {{"prompt_tokens", 10}, {"completion_tokens", 5}, {"total_tokens", 15}}}}
      .dump();
}

}  // namespace costgate::filters::semantic_cache::test_requests
