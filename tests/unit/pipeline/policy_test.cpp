#include "costgate/pipeline/policy.h"

#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "../support/filter_settings.h"
#include "costgate/config/load.h"
#include "costgate/config/yaml_reader.h"

namespace costgate::pipeline {
namespace {

using test_data::kGatewayFile;

// A filter's policies as the per-policy filters hold them.
struct TestPolicy {
  std::string name;
  PolicyMatch match;
};

// Reads `policies:` of a filter's settings the way token_cap and prompt_pruning do.
std::variant<std::vector<TestPolicy>, config::ConfigError> readPolicies(
    const config::FilterSpec& spec) {
  constexpr std::string_view kSettingsKeys[] = {"policies"};
  constexpr std::string_view kPolicyKeys[] = {"name", "match"};
  config::SettingsReader reader(spec);
  const config::Section settings = reader.root(kSettingsKeys);
  std::vector<TestPolicy> policies;
  for (const config::Section& section : settings.sectionList("policies", kPolicyKeys)) {
    TestPolicy policy;
    section.string("name", &policy.name);
    readPolicyMatch(reader, section, &policy.match);
    policies.push_back(std::move(policy));
  }
  if (const auto& error = reader.error()) return *error;
  return policies;
}

// The policies of the one filter, named `policies`, in `filters_yaml`.
std::vector<TestPolicy> policiesOk(const std::string& filters_yaml) {
  return test_data::configOk(readPolicies, "policies", filters_yaml);
}

config::ConfigError policiesError(const std::string& filters_yaml) {
  return test_data::configError(readPolicies, "policies", filters_yaml);
}

// The error is at line:column and its message names the `key` and the `problem`.
void expectErrorAt(const config::ConfigError& error, int line, int column, const std::string& key,
                   const std::string& problem) {
  EXPECT_EQ(error.where.line, line);
  EXPECT_EQ(error.where.column, column);
  EXPECT_NE(error.message.find(key), std::string::npos) << error.message;
  EXPECT_NE(error.message.find(problem), std::string::npos) << error.message;
}

RequestContext request(std::string feature, std::string team, std::string env, std::string model) {
  RequestContext ctx;
  ctx.tags.feature = std::move(feature);
  ctx.tags.team = std::move(team);
  ctx.tags.env = std::move(env);
  ctx.model = std::move(model);
  return ctx;
}

TEST(PolicyMatch, EmptyMatchAppliesToEveryRequest) {
  PolicyMatch any;
  EXPECT_TRUE(any.matches(request("", "", "", "")));
  EXPECT_TRUE(any.matches(request("search", "growth", "prod", "gpt-4o")));
}

TEST(PolicyMatch, EachDimensionMatchesOneOfItsValues) {
  PolicyMatch match{
      .features = {"search", "chat"}, .teams = {}, .envs = {}, .models = {}, .keys = {}};
  EXPECT_TRUE(match.matches(request("search", "t", "e", "m")));
  EXPECT_TRUE(match.matches(request("chat", "t", "e", "m")));
  EXPECT_FALSE(match.matches(request("summarize", "t", "e", "m")));
  EXPECT_FALSE(match.matches(request("", "t", "e", "m"))) << "an untagged request is no feature";
  EXPECT_FALSE(match.matches(request("Search", "t", "e", "m"))) << "values are case-sensitive";

  EXPECT_TRUE(
      (PolicyMatch{.features = {}, .teams = {"growth"}, .envs = {}, .models = {}, .keys = {}})
          .matches(request("f", "growth", "e", "m")));
  EXPECT_FALSE(
      (PolicyMatch{.features = {}, .teams = {"growth"}, .envs = {}, .models = {}, .keys = {}})
          .matches(request("f", "core", "e", "m")));
  EXPECT_TRUE((PolicyMatch{.features = {}, .teams = {}, .envs = {"prod"}, .models = {}, .keys = {}})
                  .matches(request("f", "t", "prod", "m")));
  EXPECT_FALSE(
      (PolicyMatch{.features = {}, .teams = {}, .envs = {"prod"}, .models = {}, .keys = {}})
          .matches(request("f", "t", "dev", "m")));
  EXPECT_TRUE(
      (PolicyMatch{.features = {}, .teams = {}, .envs = {}, .models = {"gpt-4o"}, .keys = {}})
          .matches(request("f", "t", "e", "gpt-4o")));
  EXPECT_FALSE(
      (PolicyMatch{.features = {}, .teams = {}, .envs = {}, .models = {"gpt-4o"}, .keys = {}})
          .matches(request("f", "t", "e", "gpt-4o-mini")))
      << "without a *, the whole name must be equal";
}

TEST(PolicyMatch, EveryListedDimensionMustMatch) {
  PolicyMatch match{.features = {"search"},
                    .teams = {"growth"},
                    .envs = {"prod"},
                    .models = {"gpt-4o"},
                    .keys = {}};
  EXPECT_TRUE(match.matches(request("search", "growth", "prod", "gpt-4o")));
  EXPECT_FALSE(match.matches(request("chat", "growth", "prod", "gpt-4o")));
  EXPECT_FALSE(match.matches(request("search", "core", "prod", "gpt-4o")));
  EXPECT_FALSE(match.matches(request("search", "growth", "dev", "gpt-4o")));
  EXPECT_FALSE(match.matches(request("search", "growth", "prod", "gpt-4")));
}

TEST(PolicyMatch, TrailingStarMatchesAnyRest) {
  PolicyMatch match{
      .features = {}, .teams = {}, .envs = {}, .models = {"gpt-4o*", "o3"}, .keys = {}};
  EXPECT_TRUE(match.matches(request("", "", "", "gpt-4o")));
  EXPECT_TRUE(match.matches(request("", "", "", "gpt-4o-mini")));
  EXPECT_TRUE(match.matches(request("", "", "", "gpt-4o-2024-08-06")));
  EXPECT_FALSE(match.matches(request("", "", "", "gpt-4")));
  EXPECT_FALSE(match.matches(request("", "", "", "my-gpt-4o")));
  EXPECT_TRUE(match.matches(request("", "", "", "o3")));
  EXPECT_FALSE(match.matches(request("", "", "", "o3-mini")));

  PolicyMatch star{.features = {"*"}, .teams = {}, .envs = {}, .models = {}, .keys = {}};
  EXPECT_TRUE(star.matches(request("anything", "", "", "")));
  EXPECT_TRUE(star.matches(request("", "", "", "")));
  // Only a trailing * is a wildcard; elsewhere it is a character.
  PolicyMatch inner{.features = {"a*b"}, .teams = {}, .envs = {}, .models = {}, .keys = {}};
  EXPECT_FALSE(inner.matches(request("axxb", "", "", "")));
  EXPECT_TRUE(inner.matches(request("a*b", "", "", "")));
}

TEST(PolicyMatch, ModelIsTheNameTheClientAskedFor) {
  PolicyMatch match{.features = {}, .teams = {}, .envs = {}, .models = {"cheap"}, .keys = {}};
  RequestContext ctx = request("", "", "", "cheap");
  ctx.served_model = "gpt-4o-mini";
  EXPECT_TRUE(match.matches(ctx));
}

TEST(FirstMatching, TheFirstMatchingPolicyInOrderWins) {
  const std::vector<TestPolicy> policies = policiesOk(R"(filters:
  - policies:
      policies:
        - name: search-prod
          match: {feature: [search], env: [prod]}
        - name: search
          match: {feature: [search]}
        - name: mini
          match:
            model: [gpt-4o-mini*]
        - name: default
)");
  ASSERT_EQ(policies.size(), 4u);
  auto chosen = [&](RequestContext ctx) -> std::string {
    const TestPolicy* policy = firstMatching(policies, ctx);
    return policy ? policy->name : "none";
  };
  EXPECT_EQ(chosen(request("search", "t", "prod", "gpt-4o-mini")), "search-prod");
  EXPECT_EQ(chosen(request("search", "t", "dev", "gpt-4o-mini")), "search")
      << "an earlier policy wins over a later one that also matches";
  EXPECT_EQ(chosen(request("chat", "t", "dev", "gpt-4o-mini-2024-07-18")), "mini");
  EXPECT_EQ(chosen(request("chat", "t", "dev", "gpt-4o")), "default");
}

TEST(FirstMatching, NoPolicyMatchesGivesNull) {
  const std::vector<TestPolicy> policies = policiesOk(R"(filters:
  - policies:
      policies:
        - name: only-search
          match: {feature: [search]}
)");
  RequestContext ctx = request("chat", "", "", "m");
  EXPECT_EQ(firstMatching(policies, ctx), nullptr);
  EXPECT_EQ(firstMatching(std::vector<TestPolicy>{}, ctx), nullptr);
}

TEST(ReadPolicyMatch, ReadsEveryDimension) {
  const std::vector<TestPolicy> policies = policiesOk(R"(filters:
  - policies:
      policies:
        - name: all
          match:
            feature: [search, chat]
            team: [growth]
            env: [prod, staging]
            model: [gpt-4o*, mock-small]
        - name: none
        - name: empty-match
          match:
)");
  ASSERT_EQ(policies.size(), 3u);
  const PolicyMatch& all = policies[0].match;
  EXPECT_EQ(all.features, (std::vector<std::string>{"search", "chat"}));
  EXPECT_EQ(all.teams, (std::vector<std::string>{"growth"}));
  EXPECT_EQ(all.envs, (std::vector<std::string>{"prod", "staging"}));
  EXPECT_EQ(all.models, (std::vector<std::string>{"gpt-4o*", "mock-small"}));
  for (std::size_t i : {1u, 2u}) {
    const PolicyMatch& any = policies[i].match;
    EXPECT_TRUE(any.features.empty() && any.teams.empty() && any.envs.empty() && any.models.empty())
        << policies[i].name;
  }
}

TEST(ReadPolicyMatch, UnknownKeyIsAnErrorAtTheKey) {
  const config::ConfigError error = policiesError(R"(filters:
  - policies:
      policies:
        - name: typo
          match:
            teams: [growth]
)");
  EXPECT_EQ(error.where.file, kGatewayFile);
  expectErrorAt(error, 6, 13, "teams", "team");
}

TEST(ReadPolicyMatch, NonListValuesAreErrorsAtTheValue) {
  const config::ConfigError scalar = policiesError(R"(filters:
  - policies:
      policies:
        - name: scalar
          match:
            feature: search
)");
  expectErrorAt(scalar, 6, 22, "policies[0].match.feature", "expected a list");

  const config::ConfigError nested = policiesError(R"(filters:
  - policies:
      policies:
        - name: nested
          match: {model: [[gpt-4o]]}
)");
  EXPECT_EQ(nested.where.line, 5);
  EXPECT_EQ(nested.where.column, 27);

  const config::ConfigError not_a_map = policiesError(R"(filters:
  - policies:
      policies:
        - name: list
          match: [search]
)");
  EXPECT_EQ(not_a_map.where.line, 5);
  EXPECT_EQ(not_a_map.where.column, 18);
}

// `team: []` reads as "no team", but matching on nothing would either never apply or apply to
// all: the policy is refused where it is written.
TEST(ReadPolicyMatch, EmptyListIsAnErrorAtItsKey) {
  const config::ConfigError error = policiesError(R"(filters:
  - policies:
      policies:
        - name: first
          match: {feature: [search]}
        - name: second
          match:
            feature: [chat]
            team: []
)");
  expectErrorAt(error, 9, 19, "policies[1].match.team", "empty list");

  const config::ConfigError no_value = policiesError(R"(filters:
  - policies:
      policies:
        - name: only
          match:
            env:
)");
  EXPECT_EQ(no_value.where.line, 6);
  EXPECT_EQ(no_value.where.column, 13) << "an empty value is reported at its key";
}

}  // namespace
}  // namespace costgate::pipeline
