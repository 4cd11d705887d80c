#pragma once
// Which requests a filter's policy applies to. Filters that act per policy (token_cap,
// prompt_pruning, ...) hold an ordered list of policies and apply the first that matches.
//
//   match:                       # every listed dimension must match; an absent one matches all
//     feature: [search, chat]
//     team: [growth]
//     env: [prod]
//     model: [gpt-4o*, mock-small]   # a trailing * matches any rest

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "costgate/config/yaml_reader.h"
#include "costgate/pipeline/request_context.h"

namespace costgate::pipeline {

// Whether `value` is `pattern`, or starts with what precedes a trailing `*` in it.
bool matchesPattern(std::string_view pattern, std::string_view value);

struct PolicyMatch {
  std::vector<std::string> features;
  std::vector<std::string> teams;
  std::vector<std::string> envs;
  std::vector<std::string> models;
  std::vector<std::string> keys;  // gateway key names (RequestContext::api_key_name)

  // By the request's tags (as the tagging filter set them, which must run earlier) and the model
  // the client asked for.
  bool matches(const RequestContext& ctx) const;
};

// Reads a policy's `match` block into *out; errors go to `reader`, the section's reader. A listed
// dimension with no values (`team: []`) is an error.
void readPolicyMatch(config::SettingsReader& reader, const config::Section& policy,
                     PolicyMatch* out);

// A filter's settings made of a required `policies:` list: each policy's `name` (required) and
// `match` are read here, then read_rest(reader, section, policy) reads the filter's own keys.
// `policy_keys` lists every key a policy may have, name and match included. Config is a struct
// whose `policies` member is a vector of policies, each with `name` and `match`.
template <class Config, class ReadRest>
std::variant<Config, config::ConfigError> readPolicies(const config::FilterSpec& spec,
                                                       config::KeyList policy_keys,
                                                       ReadRest&& read_rest) {
  static constexpr std::string_view kSettingsKeys[] = {"policies"};
  Config config;
  config::SettingsReader reader(spec);
  const config::Section settings = reader.root(kSettingsKeys);
  settings.require("policies");
  for (const config::Section& section : settings.sectionList("policies", policy_keys)) {
    typename decltype(config.policies)::value_type policy;
    section.require("name");
    section.nonEmptyString("name", &policy.name);
    readPolicyMatch(reader, section, &policy.match);
    read_rest(reader, section, policy);
    config.policies.push_back(std::move(policy));
  }
  if (const auto& error = reader.error()) return *error;
  return config;
}

// The first policy whose `match` applies to ctx, or nullptr. Policy has a `match` member.
template <class Policy>
const Policy* firstMatching(const std::vector<Policy>& policies, const RequestContext& ctx) {
  for (const Policy& policy : policies) {
    if (policy.match.matches(ctx)) return &policy;
  }
  return nullptr;
}

}  // namespace costgate::pipeline
