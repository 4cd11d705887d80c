#include "costgate/filters/tagging/tagging_filter.h"

namespace costgate::filters::tagging {

namespace {

// Cuts at a character boundary, so a long UTF-8 value never ends in half a character.
std::string bounded(std::string_view value, std::size_t max_length) {
  if (value.size() <= max_length) return std::string(value);
  std::size_t cut = max_length;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return std::string(value.substr(0, cut));
}

}  // namespace

pipeline::FilterStatus TaggingFilter::onRequest(pipeline::RequestContext& ctx) const {
  const nlohmann::json* metadata = nullptr;
  if (auto it = ctx.body.find("metadata"); it != ctx.body.end() && it->is_object()) {
    metadata = &*it;
  }
  auto pick = [&](const std::string& header, const char* metadata_key,
                  const std::string& fallback) -> std::string {
    if (auto value = ctx.header(header); value && !value->empty()) {
      return bounded(*value, config_.max_length);
    }
    if (metadata) {
      auto it = metadata->find(metadata_key);
      if (it != metadata->end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
        return bounded(it->get_ref<const std::string&>(), config_.max_length);
      }
    }
    return fallback;
  };
  ctx.tags.feature = pick(config_.feature_header, "feature", config_.defaults.feature);
  ctx.tags.team = pick(config_.team_header, "team", config_.defaults.team);
  ctx.tags.env = pick(config_.env_header, "env", config_.defaults.env);
  std::string user_fallback = config_.defaults.user;
  if (auto it = ctx.body.find("user"); it != ctx.body.end() && it->is_string()) {
    user_fallback = it->get<std::string>();
  }
  ctx.tags.user = pick(config_.user_header, "user", bounded(user_fallback, config_.max_length));
  return pipeline::FilterStatus::Continue;
}

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeTaggingFilter(
    const config::FilterSpec& spec) {
  auto parsed = parseTaggingConfig(spec);
  if (auto* error = std::get_if<config::ConfigError>(&parsed)) return std::move(*error);
  return std::make_unique<TaggingFilter>(std::get<TaggingConfig>(std::move(parsed)));
}

}  // namespace costgate::filters::tagging
