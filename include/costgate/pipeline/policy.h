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
#include <vector>

#include "costgate/config/yaml_reader.h"
#include "costgate/pipeline/request_context.h"

namespace costgate::pipeline {

struct PolicyMatch {
  std::vector<std::string> features;
  std::vector<std::string> teams;
  std::vector<std::string> envs;
  std::vector<std::string> models;

  // By the request's tags (as the tagging filter set them, which must run earlier) and the model
  // the client asked for.
  bool matches(const RequestContext& ctx) const;
};

// Reads a policy's `match` block into *out; errors go to `reader`, the section's reader. A listed
// dimension with no values (`team: []`) is an error.
void readPolicyMatch(config::SettingsReader& reader, const config::Section& policy,
                     PolicyMatch* out);

// The first policy whose `match` applies to ctx, or nullptr. Policy has a `match` member.
template <class Policy>
const Policy* firstMatching(const std::vector<Policy>& policies, const RequestContext& ctx) {
  for (const Policy& policy : policies) {
    if (policy.match.matches(ctx)) return &policy;
  }
  return nullptr;
}

}  // namespace costgate::pipeline
