#pragma once
// The tagging filter decides who pays for a request: feature, team, env and user, taken in order
// of trust from the gateway API key the client sent (a configured table of keys and their tags),
// configured headers, the body's `metadata` object (and `user` field), then defaults.

#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "costgate/config/config.h"
#include "costgate/config/load.h"
#include "costgate/crypto/sha256.h"
#include "costgate/pipeline/filter.h"

namespace costgate::filters::tagging {

struct TaggingConfig {
  // Header that carries each tag (lower-case).
  std::string feature_header = "x-costgate-feature";
  std::string team_header = "x-costgate-team";
  std::string env_header = "x-costgate-env";
  std::string user_header = "x-costgate-user";
  // Used when no source names the tag.
  pipeline::Tags defaults{"unknown", "unknown", "unknown", ""};
  // Longer values are cut to this many bytes, so a client cannot make log lines unbounded.
  std::size_t max_length = 64;
  // A gateway API key (sent as "Authorization: Bearer <key>"): the tags it carries (a tag left
  // empty comes from the other sources) and its name (`name:`, ctx.api_key_name, which budgets
  // and other policies match without the configuration repeating the secret).
  struct ApiKey {
    pipeline::Tags tags;
    std::string name;
  };
  // By the key's SHA-256 digest: the configuration may give the digest alone (`key_sha256`), and
  // looking a key up compares digests, so its timing tells nothing about the key. Keys are never
  // forwarded to a backend.
  std::map<crypto::Sha256Digest, ApiKey> api_keys;
  // When set, a request without one of api_keys is refused with 401.
  bool require_api_key = false;
  // The metric label values a tag may take; any other value is labelled "other". An empty list
  // allows any value (the metrics still bound how many).
  std::vector<std::string> allowed_features;
  std::vector<std::string> allowed_teams;
  std::vector<std::string> allowed_envs;
};

std::variant<TaggingConfig, config::ConfigError> parseTaggingConfig(const config::FilterSpec& spec);

class TaggingFilter : public pipeline::Filter {
 public:
  explicit TaggingFilter(TaggingConfig config) : config_(std::move(config)) {}
  std::string_view name() const override { return "tagging"; }
  // Fills ctx.tags and ctx.tag_labels; replies 401 only when a key is required and missing.
  // Reads the body through ctx.request_index only.
  pipeline::FilterStatus onRequest(pipeline::RequestContext& ctx) const override;

 private:
  TaggingConfig config_;
};

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeTaggingFilter(
    const config::FilterSpec& spec);

}  // namespace costgate::filters::tagging
