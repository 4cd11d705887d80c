#pragma once
// The tagging filter decides who pays for a request: feature, team, env and user, taken from
// configured headers, then the body's `metadata` object (and `user` field), then defaults.

#include <memory>
#include <string>
#include <variant>

#include "costgate/config/config.h"
#include "costgate/config/load.h"
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
};

std::variant<TaggingConfig, config::ConfigError> parseTaggingConfig(const config::FilterSpec& spec);

class TaggingFilter : public pipeline::Filter {
 public:
  explicit TaggingFilter(TaggingConfig config) : config_(std::move(config)) {}
  std::string_view name() const override { return "tagging"; }
  // Fills ctx.tags; never replies.
  pipeline::FilterStatus onRequest(pipeline::RequestContext& ctx) const override;

 private:
  TaggingConfig config_;
};

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeTaggingFilter(
    const config::FilterSpec& spec);

}  // namespace costgate::filters::tagging
