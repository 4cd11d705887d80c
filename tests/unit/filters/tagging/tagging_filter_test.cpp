#include "filters/tagging/tagging_filter.h"

#include <list>
#include <string>
#include <utility>
#include <variant>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "../../support/filter_settings.h"
#include "costgate/config/load.h"
#include "costgate/metrics/metrics.h"
#include "costgate/pipeline/kept_state.h"

namespace costgate::filters::tagging {
namespace {

using test_data::kGatewayFile;
using test_data::specFrom;

TaggingConfig configOk(const std::string& filters_yaml) {
  return test_data::configOk(parseTaggingConfig, "tagging", filters_yaml);
}

config::ConfigError configError(const std::string& filters_yaml) {
  return test_data::configError(parseTaggingConfig, "tagging", filters_yaml);
}

TEST(TaggingConfig, NoSettingsKeepsTheDefaults) {
  for (const char* yaml :
       {"filters:\n  - tagging\n", "filters:\n  - tagging:\n", "filters:\n  - tagging: {}\n",
        "filters:\n  - tagging:\n      headers:\n      defaults:\n"}) {
    SCOPED_TRACE(yaml);
    const TaggingConfig config = configOk(yaml);
    EXPECT_EQ(config.feature_header, "x-costgate-feature");
    EXPECT_EQ(config.team_header, "x-costgate-team");
    EXPECT_EQ(config.env_header, "x-costgate-env");
    EXPECT_EQ(config.user_header, "x-costgate-user");
    EXPECT_EQ(config.defaults.feature, "unknown");
    EXPECT_EQ(config.defaults.team, "unknown");
    EXPECT_EQ(config.defaults.env, "unknown");
    EXPECT_EQ(config.defaults.user, "");
    EXPECT_EQ(config.max_length, 64u);
  }
}

TEST(TaggingConfig, ReadsEveryKey) {
  const TaggingConfig config = configOk(R"(filters:
  - tagging:
      headers:
        feature: X-Feature
        team: X-Team
        env: X-Env
        user: X-End-User
      defaults:
        feature: chat
        team: platform
        env: Prod
        user: anonymous
      max_length: 1024
)");
  EXPECT_EQ(config.feature_header, "x-feature") << "header names are lower-cased";
  EXPECT_EQ(config.team_header, "x-team");
  EXPECT_EQ(config.env_header, "x-env");
  EXPECT_EQ(config.user_header, "x-end-user");
  EXPECT_EQ(config.defaults.feature, "chat");
  EXPECT_EQ(config.defaults.team, "platform");
  EXPECT_EQ(config.defaults.env, "Prod") << "default values are kept as written";
  EXPECT_EQ(config.defaults.user, "anonymous");
  EXPECT_EQ(config.max_length, 1024u);
}

TEST(TaggingConfig, KeysLeftOutKeepTheirDefaults) {
  const TaggingConfig config = configOk(R"(filters:
  - tagging:
      headers:
        team: x-team
      defaults:
        env: dev
      max_length: 1
)");
  EXPECT_EQ(config.feature_header, "x-costgate-feature");
  EXPECT_EQ(config.team_header, "x-team");
  EXPECT_EQ(config.defaults.feature, "unknown");
  EXPECT_EQ(config.defaults.env, "dev");
  EXPECT_EQ(config.max_length, 1u);
}

TEST(TaggingConfig, ErrorsPointAtTheOffendingKeyOrValue) {
  struct Case {
    std::string name;
    std::string yaml;
    int line;
    int column;
    std::string message;
  };
  const Case cases[] = {
      {"unknown tag in headers", R"(filters:
  - tagging:
      headers:
        colour: x-colour
)",
       4, 9, "tagging: unknown key 'colour' in headers (known: feature, team, env, user)"},
      {"misspelled tag in defaults", R"(filters:
  - tagging:
      defaults:
        teams: core
)",
       4, 9, "tagging: unknown key 'teams' in defaults (did you mean 'team'?)"},
      {"misspelled setting", R"(filters:
  - tagging:
      max_lenth: 10
)",
       3, 7, "tagging: unknown key 'max_lenth' (did you mean 'max_length'?)"},
      {"unknown setting", R"(filters:
  - tagging:
      prefix: x
)",
       3, 7,
       "tagging: unknown key 'prefix' (known: headers, defaults, max_length, api_keys, allow)"},
      {"duplicate setting", R"(filters:
  - tagging:
      max_length: 10
      max_length: 20
)",
       4, 7, "tagging: duplicate key 'max_length' (first at line 3)"},
      {"max_length zero", R"(filters:
  - tagging:
      max_length: 0
)",
       3, 19, "tagging: max_length: must be between 1 and 1024, got '0'"},
      {"max_length too large", R"(filters:
  - tagging:
      max_length: 4096
)",
       3, 19, "tagging: max_length: must be between 1 and 1024, got '4096'"},
      {"max_length not a number", R"(filters:
  - tagging:
      max_length: 12.5
)",
       3, 19, "tagging: max_length: expected a non-negative integer, got '12.5'"},
      {"max_length empty points at the key", R"(filters:
  - tagging:
      max_length:
)",
       3, 7, "tagging: max_length: expected a non-negative integer, got nothing"},
      {"settings not a map", R"(filters:
  - tagging: x-costgate
)",
       2, 14, "tagging: expected a map, got 'x-costgate'"},
      {"headers not a map", R"(filters:
  - tagging:
      headers: [x-team]
)",
       3, 16, "tagging: headers: expected a map, got a list"},
      {"header name a list", R"(filters:
  - tagging:
      headers:
        team: [x-team]
)",
       4, 15, "tagging: headers.team: expected a string, got a list"},
      {"header name with a space", R"(filters:
  - tagging:
      headers:
        env: "x env"
)",
       4, 14, "tagging: headers.env: expected a header name such as x-costgate-env, got 'x env'"},
      {"header name with a colon", R"(filters:
  - tagging:
      headers:
        user: "x-user:"
)",
       4, 15,
       "tagging: headers.user: expected a header name such as x-costgate-user, got 'x-user:'"},
      {"empty header name points at the key", R"(filters:
  - tagging:
      headers:
        feature:
)",
       4, 9, "tagging: headers.feature: expected a header name such as x-costgate-feature, got ''"},
      {"default a map", R"(filters:
  - tagging:
      defaults:
        env: {name: dev}
)",
       4, 14, "tagging: defaults.env: expected a string, got a map"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const config::ConfigError error = configError(c.yaml);
    EXPECT_EQ(error.where.file, kGatewayFile);
    EXPECT_EQ(error.where.line, c.line);
    EXPECT_EQ(error.where.column, c.column);
    EXPECT_EQ(error.message, c.message);
  }
}

TEST(TaggingConfig, ReadsASpecBuiltFromYamlDirectly) {
  const config::FilterSpec spec{
      .name = "tagging",
      .settings = YAML::Load("headers:\n  team: X-Squad\nmax_length: x\n"),
      .mark = {},
      .models = {},
      .fallbacks = {}};
  auto parsed = parseTaggingConfig(spec);
  ASSERT_TRUE(std::holds_alternative<config::ConfigError>(parsed));
  const auto& error = std::get<config::ConfigError>(parsed);
  EXPECT_EQ(error.describe(),
            "3:13: tagging: max_length: expected a non-negative integer, got 'x'");
}

// A factory's environment, with metrics of its own.
struct Environment {
  pipeline::KeptState kept;
  metrics::Metrics metrics;
  pipeline::FilterEnvironment environment{
      .kept = kept, .metrics = metrics, .redis_on_loop = nullptr};
};

TEST(TaggingConfig, MakeTaggingFilterReportsTheConfigError) {
  Environment made_in;
  auto made = makeTaggingFilter(
      specFrom("filters:\n  - tagging:\n      max_length: 0\n", "tagging"), made_in.environment);
  ASSERT_TRUE(std::holds_alternative<config::ConfigError>(made));
  EXPECT_EQ(std::get<config::ConfigError>(made).describe(),
            "gateway.yaml:3:19: tagging: max_length: must be between 1 and 1024, got '0'");

  auto built =
      makeTaggingFilter(specFrom("filters:\n  - tagging\n", "tagging"), made_in.environment);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<pipeline::Filter>>(built));
  EXPECT_EQ(std::get<std::unique_ptr<pipeline::Filter>>(built)->name(), "tagging");
}

// The filter's behaviour on one request.

// A context as the gateway hands it to the filter: the body's index, not its DOM. The texts and
// indexes live until the end of the test program.
pipeline::RequestContext request(pipeline::RequestHeaders headers, const nlohmann::json& body) {
  static std::list<std::string> texts;
  static std::list<jsonview::Document> documents;
  texts.push_back(body.is_null() ? "{}" : body.dump());
  auto document = jsonview::Document::parse(texts.back());
  EXPECT_TRUE(document.has_value());
  documents.push_back(std::move(*document));
  pipeline::RequestContext ctx;
  ctx.headers = std::move(headers);
  ctx.request_index = documents.back().root();
  return ctx;
}

pipeline::Tags tag(const TaggingFilter& filter, pipeline::RequestContext ctx) {
  EXPECT_EQ(filter.onRequest(ctx), pipeline::FilterStatus::kContinue);
  EXPECT_FALSE(ctx.local_reply.has_value());
  return ctx.tags;
}

TEST(TaggingFilter, UsesDefaultsWhenNothingNamesATag) {
  const TaggingFilter filter{TaggingConfig{}};
  const pipeline::Tags tags = tag(filter, request({}, {{"model", "m"}}));
  EXPECT_EQ(tags.feature, "unknown");
  EXPECT_EQ(tags.team, "unknown");
  EXPECT_EQ(tags.env, "unknown");
  EXPECT_EQ(tags.user, "");
}

TEST(TaggingFilter, HeaderBeatsMetadataBeatsDefaults) {
  TaggingConfig config;
  config.defaults = {"default-feature", "default-team", "default-env", ""};
  const TaggingFilter filter{config};
  const nlohmann::json body = {
      {"model", "m"},
      {"metadata", {{"feature", "meta-feature"}, {"team", "meta-team"}}},
  };
  const pipeline::Tags tags =
      tag(filter, request({{"x-costgate-feature", "header-feature"}}, body));
  EXPECT_EQ(tags.feature, "header-feature");
  EXPECT_EQ(tags.team, "meta-team");
  EXPECT_EQ(tags.env, "default-env");
}

TEST(TaggingFilter, ReadsTheConfiguredHeaders) {
  const TaggingFilter filter{configOk(R"(filters:
  - tagging:
      headers:
        team: X-Squad
)")};
  const pipeline::Tags tags = tag(
      filter, request({{"x-costgate-team", "ignored"}, {"x-squad", "search"}}, nlohmann::json{}));
  EXPECT_EQ(tags.team, "search");
}

TEST(TaggingFilter, EmptyOrNonStringValuesFallThrough) {
  const TaggingFilter filter{TaggingConfig{}};
  const nlohmann::json body = {
      {"metadata", {{"feature", ""}, {"team", 42}, {"env", "staging"}}},
  };
  const pipeline::Tags tags =
      tag(filter, request({{"x-costgate-feature", ""}, {"x-costgate-env", ""}}, body));
  EXPECT_EQ(tags.feature, "unknown") << "an empty header and an empty metadata value";
  EXPECT_EQ(tags.team, "unknown") << "a number in metadata";
  EXPECT_EQ(tags.env, "staging") << "an empty header falls through to metadata";
}

TEST(TaggingFilter, MetadataThatIsNotAnObjectIsIgnored) {
  const TaggingFilter filter{TaggingConfig{}};
  const pipeline::Tags tags = tag(filter, request({}, {{"metadata", "feature=chat"}}));
  EXPECT_EQ(tags.feature, "unknown");
}

TEST(TaggingFilter, UserFromHeaderThenMetadataThenBody) {
  TaggingConfig config;
  config.defaults.user = "nobody";
  const TaggingFilter filter{config};
  const nlohmann::json everything = {{"user", "body-user"}, {"metadata", {{"user", "meta-user"}}}};
  EXPECT_EQ(tag(filter, request({{"x-costgate-user", "header-user"}}, everything)).user,
            "header-user");
  EXPECT_EQ(tag(filter, request({}, everything)).user, "meta-user");
  EXPECT_EQ(tag(filter, request({}, {{"user", "body-user"}})).user, "body-user");
  EXPECT_EQ(tag(filter, request({}, {{"user", 7}})).user, "nobody") << "a non-string user";
  EXPECT_EQ(tag(filter, request({}, nlohmann::json::object())).user, "nobody");
}

TEST(TaggingFilter, CutsValuesToMaxLength) {
  TaggingConfig config;
  config.max_length = 4;
  const TaggingFilter filter{config};
  const nlohmann::json body = {{"metadata", {{"team", "platform"}}}, {"user", "someone@example"}};
  const pipeline::Tags tags =
      tag(filter, request({{"x-costgate-feature", "checkout"}, {"x-costgate-env", "prod"}}, body));
  EXPECT_EQ(tags.feature, "chec");
  EXPECT_EQ(tags.team, "plat");
  EXPECT_EQ(tags.env, "prod");
  EXPECT_EQ(tags.user, "some");
  EXPECT_EQ(tag(filter, request({{"x-costgate-user", "administrator"}}, {})).user, "admi");
  EXPECT_EQ(tag(filter, request({}, {{"metadata", {{"user", "operator"}}}})).user, "oper");
}

// sk-ops is given by its SHA-256 (`printf %s sk-ops | sha256sum`), as a file that must not hold
// the key would.
constexpr char kKeyedConfig[] = R"(filters:
  - tagging:
      api_keys:
        require: true
        keys:
          - {key: sk-search, name: search-app, feature: search, team: growth}
          - {key_sha256: C391959605DB2757D87BF45D5F4C9BDA42B68E95DCD157BF4F2473516C2BC9BB, env: prod}
      allow:
        feature: [search, chat]
        env: [prod]
)";

TEST(TaggingConfig, ReadsApiKeysAndAllowLists) {
  TaggingConfig config = configOk(kKeyedConfig);
  EXPECT_TRUE(config.require_api_key);
  ASSERT_EQ(config.api_keys.size(), 2u);
  EXPECT_EQ(config.api_keys.at(crypto::sha256("sk-search")).tags.feature, "search");
  EXPECT_EQ(config.api_keys.at(crypto::sha256("sk-search")).tags.env, "");
  EXPECT_EQ(config.api_keys.at(crypto::sha256("sk-search")).name, "search-app");
  EXPECT_EQ(config.allowed_features, (std::vector<std::string>{"search", "chat"}));
  EXPECT_TRUE(config.allowed_teams.empty());
}

TEST(TaggingConfig, ApiKeyErrorsNeverShowTheKey) {
  config::ConfigError twice = configError(R"(filters:
  - tagging:
      api_keys:
        keys:
          - {key: sk-secret-1, team: a}
          - {key: sk-secret-1, team: b}
)");
  EXPECT_EQ(twice.where.line, 6);
  EXPECT_NE(twice.message.find("the same key twice"), std::string::npos) << twice.message;
  EXPECT_EQ(twice.message.find("sk-secret-1"), std::string::npos) << twice.message;
  config::ConfigError none = configError(R"(filters:
  - tagging:
      api_keys:
        require: true
)");
  EXPECT_EQ(none.where.line, 4);
  EXPECT_NE(none.message.find("at least one key"), std::string::npos) << none.message;
}

TEST(TaggingFilter, ApiKeyTagsBeatHeaders) {
  const TaggingFilter filter{configOk(kKeyedConfig)};
  pipeline::RequestContext ctx = request({{"authorization", "Bearer sk-search"},
                                          {"x-costgate-feature", "other-feature"},
                                          {"x-costgate-env", "staging"}},
                                         nlohmann::json{});
  ASSERT_EQ(filter.onRequest(ctx), pipeline::FilterStatus::kContinue);
  EXPECT_EQ(ctx.tags.feature, "search");  // the key's, not the header's
  EXPECT_EQ(ctx.tags.team, "growth");
  EXPECT_EQ(ctx.tags.env, "unknown");         // the key names no env and leaves none open
  EXPECT_EQ(ctx.api_key_name, "search-app");  // what a budget scoped by key matches
}

// A key fixes some tags and locks the rest to the defaults, unless it leaves them to its holder.
constexpr char kPartlyTaggedKeys[] = R"(filters:
  - tagging:
      defaults: {feature: none-given, team: none-given, env: none-given, user: ""}
      api_keys:
        keys:
          - {key: sk-team-only, team: growth}
          - {key: sk-open-feature, team: growth, client_tags: [feature]}
          - {key: sk-locked-user, team: growth, client_tags: []}
)";

TEST(TaggingFilter, AKeyLocksTheTagsItDoesNotLeaveOpen) {
  const TaggingFilter filter{configOk(kPartlyTaggedKeys)};
  const pipeline::RequestHeaders claims = {{"x-costgate-feature", "someone-elses"},
                                           {"x-costgate-team", "finance"},
                                           {"x-costgate-env", "prod"},
                                           {"x-costgate-user", "u-42"}};
  const nlohmann::json body = {{"metadata", {{"feature", "meta"}, {"env", "meta"}}}, {"user", "b"}};
  auto withKey = [&](const std::string& key) {
    const std::string authorization = "Bearer " + key;  // viewed by the headers
    pipeline::RequestHeaders headers = claims;
    headers.emplace_back("authorization", authorization);
    return tag(filter, request(headers, body));
  };
  const pipeline::Tags team_only = withKey("sk-team-only");
  EXPECT_EQ(team_only.team, "growth");
  EXPECT_EQ(team_only.feature, "none-given") << "not the header's, nor the metadata's";
  EXPECT_EQ(team_only.env, "none-given");
  EXPECT_EQ(team_only.user, "u-42") << "user is open unless a key closes it";
  const pipeline::Tags open_feature = withKey("sk-open-feature");
  EXPECT_EQ(open_feature.feature, "someone-elses");
  EXPECT_EQ(open_feature.team, "growth");
  EXPECT_EQ(open_feature.env, "none-given");
  EXPECT_EQ(open_feature.user, "") << "client_tags replaces the default list";
  const pipeline::Tags locked = withKey("sk-locked-user");
  EXPECT_EQ(locked.user, "") << "neither the header nor the body's user";
  // Without a key, the client names every tag as before.
  const pipeline::Tags keyless = tag(filter, request(claims, body));
  EXPECT_EQ(keyless.feature, "someone-elses");
  EXPECT_EQ(keyless.team, "finance");
  EXPECT_EQ(keyless.env, "prod");
}

TEST(TaggingConfig, ClientTagsForEveryKeyAndTheirErrors) {
  // api_keys' own list applies to keys that give none; a key's own tags stay fixed.
  const TaggingFilter filter{configOk(R"(filters:
  - tagging:
      api_keys:
        client_tags: [feature, team, env, user]
        keys:
          - {key: sk-a, team: growth}
)")};
  const pipeline::Tags tags = tag(filter, request({{"authorization", "Bearer sk-a"},
                                                   {"x-costgate-feature", "f"},
                                                   {"x-costgate-team", "finance"}},
                                                  nlohmann::json{}));
  EXPECT_EQ(tags.feature, "f");
  EXPECT_EQ(tags.team, "growth");
  config::ConfigError unknown = configError(R"(filters:
  - tagging:
      api_keys:
        keys:
          - {key: sk-secret-a, client_tags: [feature, budget]}
)");
  EXPECT_EQ(unknown.where.line, 5);
  EXPECT_NE(unknown.message.find("expected one of feature, team, env, user, got 'budget'"),
            std::string::npos)
      << unknown.message;
  EXPECT_EQ(unknown.message.find("sk-secret-a"), std::string::npos);
  config::ConfigError fixed = configError(R"(filters:
  - tagging:
      api_keys:
        keys:
          - {key: sk-secret-b, team: growth, client_tags: [team]}
)");
  EXPECT_NE(fixed.message.find("lists team, which this key fixes"), std::string::npos)
      << fixed.message;
  EXPECT_EQ(fixed.message.find("sk-secret-b"), std::string::npos);
}

TEST(TaggingFilter, AKeyGivenByItsDigestIsTheKeyAndEachKeyHasItsOwnId) {
  const TaggingFilter filter{configOk(kKeyedConfig)};
  pipeline::RequestContext ops = request({{"authorization", "Bearer sk-ops"}}, nlohmann::json{});
  ASSERT_EQ(filter.onRequest(ops), pipeline::FilterStatus::kContinue);
  EXPECT_EQ(ops.tags.env, "prod");
  EXPECT_EQ(ops.api_key_name, "");
  EXPECT_EQ(ops.api_key_id, "c391959605db2757");  // a digest prefix, never the key
  pipeline::RequestContext search =
      request({{"authorization", "Bearer sk-search"}}, nlohmann::json{});
  ASSERT_EQ(filter.onRequest(search), pipeline::FilterStatus::kContinue);
  EXPECT_NE(search.api_key_id, ops.api_key_id);
  // The digest itself is not a key.
  pipeline::RequestContext digest =
      request({{"authorization",
                "Bearer c391959605db2757d87bf45d5f4c9bda42b68e95dcd157bf4f2473516c2bc9bb"}},
              nlohmann::json{});
  EXPECT_EQ(filter.onRequest(digest), pipeline::FilterStatus::kRespond);
}

TEST(TaggingConfig, AKeyNeedsExactlyOneOfKeyAndItsDigest) {
  for (const char* entry : {"{team: a}",
                            "{key: k, key_sha256: "
                            "c391959605db2757d87bf45d5f4c9bda42b68e95dcd157bf4f2473516c2bc9bb}"}) {
    config::ConfigError error = configError(std::string(R"(filters:
  - tagging:
      api_keys:
        keys:
          - )") + entry + "\n");
    EXPECT_EQ(error.where.line, 5) << entry;
    EXPECT_NE(error.message.find("one of key"), std::string::npos) << error.message;
  }
  config::ConfigError short_digest = configError(R"(filters:
  - tagging:
      api_keys:
        keys:
          - {key_sha256: c3919596}
)");
  EXPECT_NE(short_digest.message.find("64 hex digits"), std::string::npos) << short_digest.message;
}

TEST(TaggingFilter, RequiredKeyMissingOrUnknownIs401) {
  const TaggingFilter filter{configOk(kKeyedConfig)};
  for (const auto& [headers, code] : std::vector<std::pair<pipeline::RequestHeaders, std::string>>{
           {{}, "missing_api_key"},
           {{{"authorization", "Bearer sk-wrong-and-secret"}}, "invalid_api_key"},
           {{{"authorization", "Basic abc"}}, "missing_api_key"}}) {
    pipeline::RequestContext ctx = request(headers, nlohmann::json{});
    ASSERT_EQ(filter.onRequest(ctx), pipeline::FilterStatus::kRespond) << code;
    ASSERT_TRUE(ctx.local_reply.has_value());
    EXPECT_EQ(ctx.local_reply->status, 401);
    auto body = nlohmann::json::parse(ctx.local_reply->body);
    EXPECT_EQ(body["error"]["code"], code);
    EXPECT_EQ(body["error"]["type"], "invalid_request_error");
    EXPECT_EQ(ctx.local_reply->body.find("sk-wrong"), std::string::npos);
  }
  // Keys not required: an unknown key is ignored.
  TaggingConfig optional = configOk(kKeyedConfig);
  optional.require_api_key = false;
  const TaggingFilter lenient{optional};
  EXPECT_EQ(tag(lenient, request({{"authorization", "Bearer nope"}}, nlohmann::json{})).feature,
            "unknown");
}

TEST(TaggingFilter, LabelsOutsideTheAllowListAreOther) {
  TaggingConfig config = configOk(kKeyedConfig);
  config.require_api_key = false;
  const TaggingFilter filter{config};
  pipeline::RequestContext ctx = request(
      {{"x-costgate-feature", "chat"}, {"x-costgate-team", "anyone"}, {"x-costgate-env", "dev"}},
      nlohmann::json{});
  ASSERT_EQ(filter.onRequest(ctx), pipeline::FilterStatus::kContinue);
  EXPECT_EQ(ctx.tag_labels.feature, "chat");  // listed
  EXPECT_EQ(ctx.tag_labels.team, "anyone");   // no list for teams
  EXPECT_EQ(ctx.tag_labels.env, "other");     // not listed
  EXPECT_EQ(ctx.tags.env, "dev");             // the raw value stays, for the log
}

TEST(TaggingFilter, RefusesTagsNamedWithControlCharacters) {
  const TaggingFilter filter{TaggingConfig{}};
  // The param of the 400 for these headers and metadata.
  auto refusal = [&](pipeline::RequestHeaders headers, const nlohmann::json& metadata) {
    pipeline::RequestContext ctx = request(std::move(headers), {{"metadata", metadata}});
    if (filter.onRequest(ctx) != pipeline::FilterStatus::kRespond) return std::string("served");
    EXPECT_EQ(ctx.local_reply->status, 400);
    auto body = nlohmann::json::parse(ctx.local_reply->body);
    EXPECT_EQ(body["error"]["type"], "invalid_request_error");
    EXPECT_EQ(body["error"]["code"], "invalid_tag");
    return body["error"]["param"].get<std::string>();
  };
  EXPECT_EQ(refusal({}, {{"feature", "a\nb"}}), "metadata.feature");
  EXPECT_EQ(refusal({}, {{"team", "c\u0001d"}}), "metadata.team");
  EXPECT_EQ(refusal({}, {{"env", "e\x7f"}}), "metadata.env");
  // A tab is the one control character a header value may carry.
  EXPECT_EQ(refusal({{"x-costgate-team", "a\tb"}}, nlohmann::json::object()), "x-costgate-team");
  EXPECT_EQ(refusal({{"x-costgate-user", "u\tv"}}, nlohmann::json::object()), "x-costgate-user");
  EXPECT_EQ(refusal({{"x-costgate-team", "plain"}}, {{"feature", "ok"}}), "served");
  // The body's `user` is OpenAI's field, not a tag the client names: kept, made printable.
  EXPECT_EQ(tag(filter, request({}, {{"user", "a\nb"}})).user, "a?b");
}

TEST(TaggingFilter, NeverReplies) {
  const TaggingFilter filter{TaggingConfig{}};
  const nlohmann::json bodies[] = {
      nullptr,
      nlohmann::json::array({1, 2}),
      "text",
      {{"metadata", nullptr}, {"user", nullptr}},
      {{"metadata", {{"feature", {{"nested", true}}}}}, {"user", {1}}},
  };
  for (const nlohmann::json& body : bodies) {
    SCOPED_TRACE(body.dump());
    const pipeline::Tags tags = tag(filter, request({{"x-costgate-team", "t"}}, body));
    EXPECT_EQ(tags.team, "t");
    EXPECT_EQ(tags.feature, "unknown");
  }
}

}  // namespace
}  // namespace costgate::filters::tagging
