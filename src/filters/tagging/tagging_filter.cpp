#include "filters/tagging/tagging_filter.h"

#include <algorithm>

#include "costgate/http1/head.h"
#include "costgate/openai/error.h"

namespace costgate::filters::tagging {

namespace {

// Cuts at a character boundary, so a long UTF-8 value never ends in half a character, and turns
// control characters into '?': a tag is a name, and a line break in one could make two tags'
// metric series one.
std::string bounded(std::string_view value, std::size_t max_length) {
  std::size_t cut = value.size();
  if (cut > max_length) {
    cut = max_length;
    while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  }
  std::string result(value.substr(0, cut));
  for (char& c : result) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return result;
}

// The key of "Authorization: Bearer <key>", or empty.
std::string_view bearerKey(const pipeline::RequestContext& ctx) {
  auto authorization = ctx.header("authorization");
  if (!authorization || authorization->size() < 7) return {};
  std::string_view scheme = authorization->substr(0, 7);
  bool bearer = std::equal(scheme.begin(), scheme.end(), "bearer ", [](char a, char b) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(a))) == b;
  });
  return bearer ? http1::trimWhitespace(authorization->substr(7)) : std::string_view();
}

// `value` if `allowed` is empty or names it, else "other".
std::string labelFor(const std::vector<std::string>& allowed, const std::string& value) {
  if (allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end()) {
    return value;
  }
  return "other";
}

}  // namespace

pipeline::FilterStatus TaggingFilter::onRequest(pipeline::RequestContext& ctx) const {
  const pipeline::Tags* keyed = nullptr;
  if (std::string_view key = bearerKey(ctx); !key.empty() && !config_.api_keys.empty()) {
    const crypto::Sha256Digest digest = crypto::sha256(key);
    if (auto it = config_.api_keys.find(digest); it != config_.api_keys.end()) {
      keyed = &it->second.tags;
      ctx.api_key_name = it->second.name;
      // Who holds the key, for what must never be shared between keys (cache partitions): a
      // digest prefix, not the key, since it may reach logs or Redis key names.
      ctx.api_key_id = crypto::toHex(std::span(digest).first(8));
    }
  }
  if (!keyed && config_.require_api_key) {
    // The key itself is never echoed: it may be a real secret sent to the wrong place.
    bool sent = !bearerKey(ctx).empty();
    openai::ApiError error{401,
                           "invalid_request_error",
                           sent ? "Incorrect API key provided for this gateway."
                                : "You didn't provide an API key. Send your gateway key in the "
                                  "Authorization header: Authorization: Bearer YOUR_KEY.",
                           {},
                           sent ? "invalid_api_key" : "missing_api_key"};
    ctx.local_reply = pipeline::LocalReply{401, "application/json", error.body(), {}};
    return pipeline::FilterStatus::kRespond;
  }
  // A string member of `object` that is not empty.
  auto nonEmptyString = [](const std::optional<jsonview::Value>& object,
                           std::string_view key) -> std::optional<std::string> {
    if (!object || !object->isObject()) return std::nullopt;
    auto value = object->find(key);
    if (!value || !value->isString()) return std::nullopt;
    std::string text = value->string();
    return text.empty() ? std::nullopt : std::optional<std::string>(std::move(text));
  };
  std::optional<jsonview::Value> metadata;
  if (ctx.request_index && ctx.request_index->isObject()) {
    metadata = ctx.request_index->find("metadata");
  }
  auto pick = [&](const std::string& header, const char* metadata_key,
                  const std::string& fallback) -> std::string {
    if (keyed) {
      const std::string& from_key = std::string_view(metadata_key) == "feature" ? keyed->feature
                                    : std::string_view(metadata_key) == "team"  ? keyed->team
                                    : std::string_view(metadata_key) == "env"   ? keyed->env
                                                                                : keyed->user;
      if (!from_key.empty()) return from_key;
    }
    if (auto value = ctx.header(header); value && !value->empty()) {
      return bounded(*value, config_.max_length);
    }
    if (auto value = nonEmptyString(metadata, metadata_key)) {
      return bounded(*value, config_.max_length);
    }
    return fallback;
  };
  ctx.tags.feature = pick(config_.feature_header, "feature", config_.defaults.feature);
  ctx.tags.team = pick(config_.team_header, "team", config_.defaults.team);
  ctx.tags.env = pick(config_.env_header, "env", config_.defaults.env);
  std::string user_fallback = config_.defaults.user;
  if (ctx.request_index && ctx.request_index->isObject()) {
    if (auto user = ctx.request_index->find("user"); user && user->isString()) {
      user_fallback = user->string();
    }
  }
  ctx.tags.user = pick(config_.user_header, "user", bounded(user_fallback, config_.max_length));
  ctx.tag_labels = {labelFor(config_.allowed_features, ctx.tags.feature),
                    labelFor(config_.allowed_teams, ctx.tags.team),
                    labelFor(config_.allowed_envs, ctx.tags.env), ""};
  // Who pays, as the request said it: the line keeps the raw values, the metrics the labels.
  if (!ctx.tags.feature.empty()) ctx.log.text("feature", ctx.tags.feature);
  if (!ctx.tags.team.empty()) ctx.log.text("team", ctx.tags.team);
  if (!ctx.tags.env.empty()) ctx.log.text("env", ctx.tags.env);
  return pipeline::FilterStatus::kContinue;
}

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeTaggingFilter(
    const config::FilterSpec& spec) {
  return pipeline::filterFrom<TaggingFilter>(parseTaggingConfig(spec));
}

}  // namespace costgate::filters::tagging
