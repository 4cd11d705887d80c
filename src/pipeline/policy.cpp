#include "costgate/pipeline/policy.h"

#include <algorithm>

namespace costgate::pipeline {
namespace {

constexpr std::string_view kMatchKeys[] = {"feature", "team", "env", "model"};

bool matchesName(std::string_view pattern, std::string_view value) {
  if (pattern.ends_with('*')) return value.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == value;
}

bool anyMatches(const std::vector<std::string>& patterns, std::string_view value) {
  return patterns.empty() ||
         std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& pattern) { return matchesName(pattern, value); });
}

}  // namespace

bool PolicyMatch::matches(const RequestContext& ctx) const {
  return anyMatches(features, ctx.tags.feature) && anyMatches(teams, ctx.tags.team) &&
         anyMatches(envs, ctx.tags.env) && anyMatches(models, ctx.model);
}

void readPolicyMatch(const config::Section& policy, PolicyMatch* out) {
  const config::Section match = policy.section("match", kMatchKeys);
  match.strings("feature", &out->features);
  match.strings("team", &out->teams);
  match.strings("env", &out->envs);
  match.strings("model", &out->models);
}

}  // namespace costgate::pipeline
