#include "costgate/filters/tagging/tagging_filter.h"

namespace costgate::filters::tagging {

namespace {

config::ConfigError errorAt(const config::FilterSpec& spec, const YAML::Node& node,
                            std::string message) {
  config::SourceMark mark = spec.mark;
  if (node.Mark().line >= 0) {
    mark.line = node.Mark().line + 1;
    mark.column = node.Mark().column + 1;
  }
  return config::ConfigError{mark, "tagging: " + std::move(message)};
}

}  // namespace

std::variant<TaggingConfig, config::ConfigError> parseTaggingConfig(const config::FilterSpec& spec) {
  TaggingConfig config;
  const YAML::Node& settings = spec.settings;
  if (!settings || settings.IsNull()) return config;
  if (!settings.IsMap()) return errorAt(spec, settings, "settings must be a map");

  struct TagSlot {
    const char* tag;
    std::string* header;
    std::string* fallback;
  };
  const TagSlot slots[] = {
      {"feature", &config.feature_header, &config.defaults.feature},
      {"team", &config.team_header, &config.defaults.team},
      {"env", &config.env_header, &config.defaults.env},
      {"user", &config.user_header, &config.defaults.user},
  };
  // Reads a map of tag name -> string into the slot member chosen by `member`.
  auto readTagMap = [&](const YAML::Node& node, const std::string& key,
                        std::string* TagSlot::*member,
                        bool lower) -> std::optional<config::ConfigError> {
    if (!node.IsMap()) return errorAt(spec, node, key + " must be a map of tag -> value");
    for (const auto& entry : node) {
      auto tag = entry.first.as<std::string>();
      const TagSlot* slot = nullptr;
      for (const auto& candidate : slots) {
        if (tag == candidate.tag) slot = &candidate;
      }
      if (!slot) {
        return errorAt(spec, entry.first,
                       key + ": unknown tag '" + tag + "' (known: feature, team, env, user)");
      }
      if (!entry.second.IsScalar()) return errorAt(spec, entry.second, key + "." + tag + " must be a string");
      std::string value = entry.second.as<std::string>();
      if (lower) {
        for (auto& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      *(slot->*member) = value;
    }
    return std::nullopt;
  };

  for (const auto& entry : settings) {
    auto key = entry.first.as<std::string>();
    std::optional<config::ConfigError> problem;
    if (key == "headers") {
      problem = readTagMap(entry.second, key, &TagSlot::header, true);
    } else if (key == "defaults") {
      problem = readTagMap(entry.second, key, &TagSlot::fallback, false);
    } else if (key == "max_length") {
      int value = 0;
      if (!entry.second.IsScalar() || !YAML::convert<int>::decode(entry.second, value) ||
          value < 1 || value > 1024) {
        problem = errorAt(spec, entry.second, "max_length must be an integer from 1 to 1024");
      }
      config.max_length = static_cast<std::size_t>(value);
    } else {
      problem = errorAt(spec, entry.first,
                        "unknown key '" + key + "' (known: headers, defaults, max_length)");
    }
    if (problem) return std::move(*problem);
  }
  return config;
}

}  // namespace costgate::filters::tagging
