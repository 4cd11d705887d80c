// The tagging filter's settings:
//
//   - tagging:
//       headers:            # the request header that names each tag (matched lower-case)
//         feature: x-costgate-feature
//         team: x-costgate-team
//         env: x-costgate-env
//         user: x-costgate-user
//       defaults:           # the value of a tag no source names
//         feature: unknown
//         team: unknown
//         env: unknown
//         user: ""
//       max_length: 64      # longer values are cut to this many bytes (1 to 1024)
//       api_keys:           # gateway keys (Authorization: Bearer <key>) and their tags; a key's
//                           # optional `name` is what policies match (match: {key: [name]})
//         require: false    # true: a request without a listed key gets 401
//         client_tags: [user]   # the tags a key's holder may name by header or metadata, for
//                           # keys that do not say; the others are the key's or the defaults
//         keys:
//           - {key: "${SEARCH_KEY}", feature: search, team: growth, env: prod}
//           - {key_sha256: 9f86d0...15b0f00a08, name: ops, team: ops, client_tags: [feature]}
//       allow:              # metric label values per tag; others are labelled "other"
//         feature: [search, chat]
//         env: [prod, staging]

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "costgate/config/yaml_reader.h"
#include "filters/tagging/tagging_filter.h"

namespace costgate::filters::tagging {
namespace {

constexpr std::string_view kSettingsKeys[] = {"headers", "defaults", "max_length", "api_keys",
                                              "allow"};
constexpr std::string_view kTags[] = {"feature", "team", "env", "user"};
constexpr std::string_view kApiKeySettings[] = {"require", "client_tags", "keys"};
constexpr std::string_view kApiKeyEntry[] = {"key",  "key_sha256", "name", "feature",
                                             "team", "env",        "user", "client_tags"};
constexpr std::string_view kLabelledTags[] = {"feature", "team", "env"};
constexpr uint64_t kLongestMaxLength = 1024;

// RFC 9110 token characters: what a header name may contain.
bool isTokenCharacter(unsigned char c) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return std::isalnum(c) || kSymbols.find(static_cast<char>(c)) != std::string_view::npos;
}

// Header names are compared lower-case, as the server stores them.
void readHeaderName(const config::Section& headers, std::string_view tag, std::string* out) {
  headers.parsed(tag,
                 [&](const config::Field& field,
                     const std::string& name) -> std::optional<config::ConfigError> {
                   if (name.empty() || !std::all_of(name.begin(), name.end(), isTokenCharacter)) {
                     return field.error("expected a header name such as x-costgate-" +
                                        std::string(tag) + ", got " + config::quoteValue(name));
                   }
                   out->resize(name.size());
                   std::transform(name.begin(), name.end(), out->begin(), [](unsigned char c) {
                     return static_cast<char>(std::tolower(c));
                   });
                   return std::nullopt;
                 });
}

// A `client_tags` list, when the section has one: each item one of the tags.
void readClientTags(config::SettingsReader& reader, const config::Section& section,
                    TaggingConfig::ClientTags* out) {
  if (section.find("client_tags") == nullptr) return;
  TaggingConfig::ClientTags open{.feature = false, .team = false, .env = false, .user = false};
  for (const config::Field& item : section.items("client_tags", "tags")) {
    const std::string tag = item.value().IsScalar() ? item.value().Scalar() : "";
    bool* flag = tag == "feature" ? &open.feature
                 : tag == "team"  ? &open.team
                 : tag == "env"   ? &open.env
                 : tag == "user"  ? &open.user
                                  : nullptr;
    if (flag == nullptr) {
      reader.fail(item.error("expected one of feature, team, env, user, got " +
                             config::describeValue(item.value())));
      return;
    }
    *flag = true;
  }
  if (!reader.failed()) *out = open;
}

// A tag the key fixes cannot also be left to its holder: the configuration would say two things.
void checkClientTagsAgainstKey(config::SettingsReader& reader, const config::Section& entry,
                               const TaggingConfig::ApiKey& key) {
  const std::pair<const std::string*, bool> tags[] = {{&key.tags.feature, key.client_tags.feature},
                                                      {&key.tags.team, key.client_tags.team},
                                                      {&key.tags.env, key.client_tags.env},
                                                      {&key.tags.user, key.client_tags.user}};
  for (std::size_t i = 0; i < std::size(tags); ++i) {
    if (tags[i].second && !tags[i].first->empty() && entry.find("client_tags") != nullptr) {
      reader.fail(entry.find("client_tags")
                      ->error("lists " + std::string(kTags[i]) +
                              ", which this key fixes: a key's own tags cannot be chosen by "
                              "its holder"));
      return;
    }
  }
}

}  // namespace

std::variant<TaggingConfig, config::ConfigError> parseTaggingConfig(
    const config::FilterSpec& spec) {
  TaggingConfig config;
  config::SettingsReader reader(spec);
  const config::Section settings = reader.root(kSettingsKeys);

  const config::Section headers = settings.section("headers", kTags);
  readHeaderName(headers, "feature", &config.feature_header);
  readHeaderName(headers, "team", &config.team_header);
  readHeaderName(headers, "env", &config.env_header);
  readHeaderName(headers, "user", &config.user_header);

  const config::Section defaults = settings.section("defaults", kTags);
  defaults.string("feature", &config.defaults.feature);
  defaults.string("team", &config.defaults.team);
  defaults.string("env", &config.defaults.env);
  defaults.string("user", &config.defaults.user);

  settings.integer("max_length", 1, kLongestMaxLength, &config.max_length);

  const config::Section api_keys = settings.section("api_keys", kApiKeySettings);
  api_keys.boolean("require", &config.require_api_key);
  TaggingConfig::ClientTags client_tags;
  readClientTags(reader, api_keys, &client_tags);
  for (const config::Section& entry : api_keys.sectionList("keys", kApiKeyEntry)) {
    TaggingConfig::ApiKey key;
    entry.string("feature", &key.tags.feature);
    entry.string("team", &key.tags.team);
    entry.string("env", &key.tags.env);
    entry.string("user", &key.tags.user);
    entry.string("name", &key.name);
    key.client_tags = client_tags;
    readClientTags(reader, entry, &key.client_tags);
    checkClientTagsAgainstKey(reader, entry, key);
    const bool plain = entry.find("key") != nullptr;
    if (plain == (entry.find("key_sha256") != nullptr)) {
      reader.fail(
          config::ConfigError{entry.mark(),
                              "tagging: api_keys: each key needs one of key (the key itself) or "
                              "key_sha256 (its SHA-256 in hex)"});
      continue;
    }
    entry.parsed(plain ? "key" : "key_sha256",
                 [&](const config::Field& field,
                     const std::string& text) -> std::optional<config::ConfigError> {
                   // The key is a secret: the message says which entry, never the key.
                   if (text.empty()) return field.error("expected a key, got nothing");
                   std::optional<crypto::Sha256Digest> digest =
                       plain ? crypto::sha256(text) : crypto::digestFromHex(text);
                   if (!digest) return field.error("expected 64 hex digits (sha256sum's output)");
                   if (!config.api_keys.emplace(*digest, key).second)
                     return field.error("the same key twice");
                   return std::nullopt;
                 });
  }
  if (config.require_api_key && config.api_keys.empty() && !reader.failed()) {
    reader.fail(api_keys.find("require")->error("require: true needs at least one key"));
  }

  const config::Section allow = settings.section("allow", kLabelledTags);
  allow.strings("feature", &config.allowed_features);
  allow.strings("team", &config.allowed_teams);
  allow.strings("env", &config.allowed_envs);

  if (const auto& error = reader.error()) return *error;
  return config;
}

}  // namespace costgate::filters::tagging
