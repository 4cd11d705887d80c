// YAML text through the configuration loader, as `costgate --check-config` and a live reload read
// it: config::parse (yaml-cpp, ${VAR} substitution, every section's typed reading, the models'
// encodings) and then each filter's own settings (the parse function of every filter the chain
// names), and the chain built from them (pipeline::buildChain) when no filter needs Redis.
//
// A configuration, however broken, must give a GatewayConfig or a ConfigError with a position:
// never a crash, a hang or an exception. Substitution sees a fixed environment, so an input
// behaves the same wherever it runs.

#include <map>
#include <optional>
#include <string>
#include <variant>

#include "costgate/config/load.h"
#include "costgate/metrics/metrics.h"
#include "costgate/pipeline/chain.h"
#include "filters/budget/budget_filter.h"
#include "filters/prompt_pruning/prompt_pruning_filter.h"
#include "filters/registry.h"
#include "filters/router/router_filter.h"
#include "filters/semantic_cache/semantic_cache_filter.h"
#include "filters/tagging/tagging_filter.h"
#include "filters/token_cap/token_cap_filter.h"
#include "fuzz_support.h"

namespace {

using namespace costgate;

std::optional<std::string> environment(const std::string& name) {
  static const std::map<std::string, std::string> kVariables = {
      {"OPENAI_API_KEY", "sk-fuzz"},
      {"HOME", "/root"},
      {"EMPTY", ""},
      {"PORT", "8080"},
      {"COSTGATE_LISTEN", "127.0.0.1:8080"}};
  auto found = kVariables.find(name);
  if (found == kVariables.end()) return std::nullopt;
  return found->second;
}

void checkError(const config::ConfigError& error) {
  FUZZ_CHECK(!error.message.empty(), "an error without a message");
  FUZZ_CHECK(error.where.file == "fuzz.yaml", "an error in file '" + error.where.file + "'");
}

// The filter's own parse function; true when it found no error and needs no Redis.
bool parseFilter(const config::FilterSpec& spec) {
  auto result = [&](const auto& parsed) {
    if (const auto* error = std::get_if<config::ConfigError>(&parsed)) {
      checkError(*error);
      return false;
    }
    return true;
  };
  if (spec.name == "tagging") return result(filters::tagging::parseTaggingConfig(spec));
  if (spec.name == "token_cap") return result(filters::token_cap::parseTokenCapConfig(spec));
  if (spec.name == "prompt_pruning") {
    return result(filters::prompt_pruning::parsePruningConfig(spec));
  }
  if (spec.name == "router") return result(filters::router::parseRouterConfig(spec));
  if (spec.name == "semantic_cache") {
    auto parsed = filters::semantic_cache::parseCacheConfig(spec);
    if (!result(parsed)) return false;
    for (const auto& policy : std::get<0>(parsed).policies) {
      if (policy.redis) return false;
    }
    return true;
  }
  if (spec.name == "budget") {
    auto parsed = filters::budget::parseBudgetConfig(spec);
    return result(parsed) && !std::get<0>(parsed).redis;
  }
  return false;  // unknown: buildChain reports it
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  config::LoadResult loaded = config::parse(text, "fuzz.yaml", environment);
  if (const auto* error = std::get_if<config::ConfigError>(&loaded)) {
    checkError(*error);
    return 0;
  }
  const config::GatewayConfig& gateway = std::get<config::GatewayConfig>(loaded);
  for (const auto& [name, route] : gateway.models) {
    FUZZ_CHECK(!route.deployments.empty(), "model " + name + " without a deployment");
    for (const auto& deployment : route.deployments) {
      FUZZ_CHECK(gateway.backends.contains(deployment.backend),
                 "model " + name + " on unknown backend " + deployment.backend);
    }
    for (const auto& fallback : route.fallbacks) {
      FUZZ_CHECK(gateway.models.contains(fallback), "model " + name + " falls back to " + fallback);
    }
  }
  // As buildChain hands them over: each filter sees the models and their prices.
  std::map<std::string, std::optional<pricing::Price>> models;
  for (const auto& [name, route] : gateway.models) models.emplace(name, route.price);
  bool buildable = true;
  for (config::FilterSpec spec : gateway.filters) {
    spec.models = models;
    buildable = parseFilter(spec) && buildable;
  }
  if (buildable) {
    // One registry for the whole process: filters declare their families again on each build,
    // which returns the families already made.
    static metrics::Metrics metrics;
    pipeline::KeptState kept;
    auto chain = pipeline::buildChain(gateway, filters::registry(), {kept, metrics});
    if (const auto* error = std::get_if<config::ConfigError>(&chain)) checkError(*error);
  }
  return 0;
}
