#include "costgate/pipeline/policy.h"

#include <algorithm>

namespace costgate::pipeline {
namespace {

constexpr std::string_view kMatchKeys[] = {"feature", "team", "env", "model", "key"};

bool anyMatches(const std::vector<std::string>& patterns, std::string_view value) {
  return patterns.empty() ||
         std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& pattern) { return matchesPattern(pattern, value); });
}

}  // namespace

bool matchesPattern(std::string_view pattern, std::string_view value) {
  if (pattern.ends_with('*')) return value.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == value;
}

bool PolicyMatch::matches(const RequestContext& ctx) const {
  return anyMatches(features, ctx.tags.feature) && anyMatches(teams, ctx.tags.team) &&
         anyMatches(envs, ctx.tags.env) && anyMatches(models, ctx.model) &&
         anyMatches(keys, ctx.api_key_name);
}

void readPolicyMatch(config::SettingsReader& reader, const config::Section& policy,
                     PolicyMatch* out) {
  const config::Section match = policy.section("match", kMatchKeys);
  std::vector<std::string>* lists[] = {&out->features, &out->teams, &out->envs, &out->models,
                                       &out->keys};
  for (std::size_t i = 0; i < std::size(kMatchKeys); ++i) {
    match.strings(kMatchKeys[i], lists[i]);
    // Read as "no value matches", an empty list would make a policy that never applies; read as
    // "absent", one that applies to every request. Either is a mistake worth stopping at.
    if (const config::Field* field = match.find(kMatchKeys[i]);
        field && lists[i]->empty() && !reader.failed()) {
      reader.fail(field->error("an empty list would match no request (leave `" +
                               std::string(kMatchKeys[i]) + "` out to match any)"));
    }
  }
}

}  // namespace costgate::pipeline
