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

// U+0000-U+001F and U+007F: what a tag named by the client may not hold.
bool hasControlCharacter(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
  });
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
  const TaggingConfig::ApiKey* keyed = nullptr;
  if (std::string_view key = bearerKey(ctx); !key.empty() && !config_.api_keys.empty()) {
    const crypto::Sha256Digest digest = crypto::sha256(key);
    if (auto it = config_.api_keys.find(digest); it != config_.api_keys.end()) {
      keyed = &it->second;
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
  std::optional<jsonview::Value> metadata;
  if (ctx.request_index && ctx.request_index->isObject()) {
    metadata = ctx.request_index->find("metadata");
    if (metadata && !metadata->isObject()) metadata.reset();
  }
  // The first tag the client named with a control character: refused, not repaired, as a model
  // name with one is (a tag is a name that budgets match and metrics label).
  std::optional<openai::ApiError> refused;
  // What the client named for a tag: its header, else its metadata member; nullopt for neither.
  auto named = [&](const std::string& header, const char* tag) -> std::optional<std::string> {
    std::optional<std::string> value;
    std::string param;
    if (auto text = ctx.header(header); text && !text->empty()) {
      value = std::string(*text);
      param = header;
    } else if (auto member = metadata ? metadata->find(tag) : std::nullopt;
               member && member->isString() && !member->stringEquals("")) {
      value = member->string();
      param = "metadata." + std::string(tag);
    }
    if (value && hasControlCharacter(*value) && !refused) {
      refused = openai::invalidRequest(
          "the " + std::string(tag) + " tag ('" + param + "') must not contain control characters",
          param, "invalid_tag");
    }
    return value;
  };
  // A key's own tag wins; a tag it leaves open is the client's, one it locks is the default.
  auto pick = [&](const std::string& header, const char* tag, const std::string& from_key,
                  bool open, const std::string& fallback) -> std::string {
    if (keyed && !from_key.empty()) return from_key;
    if (keyed && !open) return fallback;
    if (auto value = named(header, tag)) return bounded(*value, config_.max_length);
    return fallback;
  };
  static const TaggingConfig::ApiKey kNoKey{};
  const TaggingConfig::ApiKey& key = keyed ? *keyed : kNoKey;
  ctx.tags.feature = pick(config_.feature_header, "feature", key.tags.feature,
                          key.client_tags.feature, config_.defaults.feature);
  ctx.tags.team =
      pick(config_.team_header, "team", key.tags.team, key.client_tags.team, config_.defaults.team);
  ctx.tags.env =
      pick(config_.env_header, "env", key.tags.env, key.client_tags.env, config_.defaults.env);
  // The user defaults to the body's `user` (OpenAI's field) unless a key locks it.
  std::string user_fallback = config_.defaults.user;
  if ((!keyed || key.client_tags.user) && ctx.request_index && ctx.request_index->isObject()) {
    if (auto user = ctx.request_index->find("user"); user && user->isString()) {
      user_fallback = bounded(user->string(), config_.max_length);
    }
  }
  ctx.tags.user =
      pick(config_.user_header, "user", key.tags.user, key.client_tags.user, user_fallback);
  if (refused) {
    ctx.local_reply = pipeline::LocalReply{400, "application/json", refused->body(), {}};
    return pipeline::FilterStatus::kRespond;
  }
  ctx.tag_labels = {labelFor(config_.allowed_features, ctx.tags.feature),
                    labelFor(config_.allowed_teams, ctx.tags.team),
                    labelFor(config_.allowed_envs, ctx.tags.env), ""};
  // Who pays, as the request said it: the line keeps the raw values, the metrics the labels.
  if (!ctx.tags.feature.empty()) ctx.log.text("feature", ctx.tags.feature);
  if (!ctx.tags.team.empty()) ctx.log.text("team", ctx.tags.team);
  if (!ctx.tags.env.empty()) ctx.log.text("env", ctx.tags.env);
  return pipeline::FilterStatus::kContinue;
}

metrics::DeclaredTags declaredTags(const TaggingConfig& config) {
  metrics::DeclaredTags declared{
      .feature = config.allowed_features, .team = config.allowed_teams, .env = config.allowed_envs};
  declared.feature.push_back(config.defaults.feature);
  declared.team.push_back(config.defaults.team);
  declared.env.push_back(config.defaults.env);
  for (const auto& [digest, key] : config.api_keys) {
    declared.feature.push_back(key.tags.feature);
    declared.team.push_back(key.tags.team);
    declared.env.push_back(key.tags.env);
  }
  return declared;
}

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeTaggingFilter(
    const config::FilterSpec& spec, pipeline::FilterEnvironment& environment) {
  auto parsed = parseTaggingConfig(spec);
  if (const auto* config = std::get_if<TaggingConfig>(&parsed)) {
    environment.metrics.reserveTagLabels(declaredTags(*config));
  }
  return pipeline::filterFrom<TaggingFilter>(std::move(parsed));
}

}  // namespace costgate::filters::tagging
