#pragma once
// The tagging filter decides who pays for a request: feature, team, env and user, taken in order
// of trust from the gateway API key the client sent (a configured table of keys and their tags),
// configured headers, the body's `metadata` object (and `user` field), then defaults. A tag a key
// does not fix is its default unless the key leaves it to its holder (ClientTags).

#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "costgate/config/config.h"
#include "costgate/config/load.h"
#include "costgate/crypto/sha256.h"
#include "costgate/metrics/metrics.h"
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
  // The tags a key's holder may still name by header or metadata. Every other tag is locked: the
  // key's value, or when the key names none, the default. `user` is open unless a key closes it:
  // it names the holder's own end user, which only the holder knows, and nothing that counts
  // money (budgets, cache partitions, metric labels) reads it.
  struct ClientTags {
    bool feature = false;
    bool team = false;
    bool env = false;
    bool user = true;
  };
  // A gateway API key (sent as "Authorization: Bearer <key>"): the tags it carries, which tags
  // its holder may choose (`client_tags:`, else api_keys' `client_tags:`) and its name (`name:`,
  // ctx.api_key_name, which budgets and other policies match without the configuration
  // repeating the secret).
  struct ApiKey {
    pipeline::Tags tags;
    std::string name;
    ClientTags client_tags;
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
  // Fills ctx.tags and ctx.tag_labels; replies 401 when a key is required and missing, and 400
  // when a tag the client names (a header or a metadata member) holds a control character.
  // Reads the body through ctx.request_index only.
  pipeline::FilterStatus onRequest(pipeline::RequestContext& ctx) const override;

 private:
  TaggingConfig config_;
};

// The tag values `config` names (allow-lists, defaults, keys' tags), whose metric label slots the
// factory reserves so that clients' own values never crowd them out.
metrics::DeclaredTags declaredTags(const TaggingConfig& config);

// Builds the filter and reserves its declared values' label slots in environment.metrics.
std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeTaggingFilter(
    const config::FilterSpec& spec, pipeline::FilterEnvironment& environment);

}  // namespace costgate::filters::tagging
