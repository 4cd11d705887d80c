#pragma once
// The gateway configuration the chain targets run requests through (request_context_fuzzer,
// answer_fuzzer): every filter, each with most of its options on, and small limits so that
// inputs of a few KiB reach pruning, caps, evictions and budget thresholds. Parsed once per
// process; each input builds its own chain from it (pipeline::buildChain), so what one input
// stored or spent cannot change how another runs.

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "costgate/config/load.h"
#include "costgate/metrics/metrics.h"
#include "costgate/pipeline/chain.h"
#include "costgate/pipeline/kept_state.h"
#include "filters/registry.h"
#include "fuzz_support.h"

namespace costgate::fuzz {

// Every filter, each with most of its options on, and small limits so that inputs of a few KiB
// reach pruning, caps, evictions and budget thresholds.
inline std::string gatewayYaml() {
  return R"(backends:
  mock:
    url: http://127.0.0.1:9/v1
tokenizer:
  data_dir: )" +
         tokenizerDataDir() + R"(
models:
  gpt-4o-mini:
    backend: mock
    price: {input: 0.15, cached_input: 0.075, output: 0.6}
  gpt-4o:
    backend: mock
    price: {input: 2.5, cached_input: 1.25, output: 10}
  gpt-3.5-turbo:
    backend: mock
    price: {input: 0.5, output: 1.5}
  o3-mini:
    backend: mock
    price: {input: 1.1, output: 4.4, reasoning: 4.4}
  local-llm:
    backend: mock
    backend_model: llama-3-8b
    encoding: none
  text-embedding-3-small:
    backend: mock
    price: {input: 0.02, output: 0}
filters:
  - tagging:
      headers: {feature: x-costgate-feature, team: x-costgate-team, env: x-costgate-env,
                user: x-costgate-user}
      defaults: {feature: unknown, team: unknown}
      max_length: 24
      allow:
        feature: [support, search, chat, faq, unknown]
        env: [prod, dev]
  - prompt_pruning:
      policies:
        - name: chat
          match: {feature: [chat, support]}
          collapse_whitespace: true
          drop_duplicates: true
          max_input_tokens: 120
          drop_old_turns: true
          keep_last_turns: 2
          truncate_longest: true
          marker: "\n[... cut ...]\n"
        - name: rest
          collapse_whitespace: true
          drop_duplicates: true
  - token_cap:
      policies:
        - name: search
          match: {feature: [search]}
          max_output_tokens: 64
          set_when_absent: true
          output_field: auto
          max_n: 1
          max_input_tokens: 80
          over_input: prune
          prune: {keep_last_turns: 1}
        - name: rest
          max_output_tokens: 512
          max_n: 2
          max_input_tokens: 400
          over_input: reject
  - semantic_cache:
      policies:
        - name: exact
          match: {feature: [search]}
          mode: exact
          max_entries: 8
          cache_tools: true
          cache_truncated: true
          cache_tool_calls: true
        - name: faq
          mode: semantic
          threshold: 0.7
          max_entries: 8
          max_bytes: 64KiB
          max_temperature: 2
  - router:
      policies:
        - name: support
          match: {feature: [support]}
          allowed_models: [gpt-4o-mini, gpt-4o, o3-*]
          on_disallowed: rewrite
          default_model: gpt-4o-mini
          tiers:
            - {name: cheap, models: [gpt-4o-mini]}
            - {name: cascade, models: [gpt-4o-mini, gpt-4o]}
            - {name: strong, models: [gpt-4o]}
          rules:
            - {name: tools, when: {has_tools: true}, tier: strong}
            - {name: long, when: {min_prompt_tokens: 200}, tier: strong}
            - {name: proofs, when: {keywords: [prove, derive]}, tier: cascade}
            - {name: images, when: {has_images: true}, tier: strong}
            - {name: code, when: {has_code: true, json_response: true}, tier: cascade}
          complexity:
            - {below: 0.25, tier: cheap}
            - {below: 0.6, tier: cascade}
            - {tier: strong}
          cascade:
            threshold: 0.6
            streams: buffer
            refusal_phrases: ["i can't help with"]
        - name: chat
          match: {feature: [chat]}
          allowed_models: [gpt-4o-mini]
          on_disallowed: reject
          tiers: [{name: cascade, models: [gpt-4o-mini, gpt-4o]}]
          complexity: [{tier: cascade}]
  - budget:
      ledger: memory
      assumed_output_tokens: 256
      budgets:
        - name: daily
          amount_usd: 0.01
          window: day
          time_zone: Europe/Paris
          thresholds: [{at: 0.3, action: warn}, {at: 0.6, action: degrade}, {at: 1.0, action: open}]
          degrade: {model: gpt-4o-mini, max_output_tokens: 32}
        - name: support-month
          match: {feature: [support], team: [care]}
          amount_usd: 1
          window: month
      rate_limits:
        - {name: rpm, requests_per_minute: 1000, tokens_per_minute: 200000}
)";
}

struct ModelFacts {
  const tokenizer::Encoding* encoding;
  const pricing::Price* price;
  std::string_view backend_model;
};

struct Setup {
  config::GatewayConfig config;
  std::map<std::string, ModelFacts, std::less<>> models;
};

// The process's metrics, in which every chain's filters declare their families (a family declared
// again is the one already made, so building a chain per input does not grow it).
inline metrics::Metrics& fuzzMetrics() {
  static metrics::Metrics* made = new metrics::Metrics();
  return *made;
}

inline const Setup& setup() {
  static const Setup* made = [] {
    auto loaded = config::parse(gatewayYaml(), "fuzz-gateway.yaml",
                                [](const std::string&) { return std::nullopt; });
    if (auto* error = std::get_if<config::ConfigError>(&loaded)) {
      std::fprintf(stderr, "fuzz: the chain configuration: %s\n", error->describe().c_str());
      std::abort();
    }
    auto* setup = new Setup{std::get<config::GatewayConfig>(std::move(loaded)), {}};
    for (const auto& [name, route] : setup->config.models) {
      setup->models.emplace(name,
                            ModelFacts{route.encoding.get(), route.price ? &*route.price : nullptr,
                                       route.backend_model});
    }
    pipeline::KeptState kept;
    auto chain = pipeline::buildChain(setup->config, filters::registry(), {kept, fuzzMetrics()});
    if (auto* error = std::get_if<config::ConfigError>(&chain)) {
      std::fprintf(stderr, "fuzz: the chain configuration: %s\n", error->describe().c_str());
      std::abort();
    }
    return setup;
  }();
  return *made;
}

// A chain of its own for one input, from the configuration above, with fresh kept state.
inline pipeline::Chain newChain(pipeline::KeptState& kept) {
  auto built = pipeline::buildChain(setup().config, filters::registry(), {kept, fuzzMetrics()});
  return std::get<pipeline::Chain>(std::move(built));
}

}  // namespace costgate::fuzz
