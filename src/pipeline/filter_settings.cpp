#include "costgate/pipeline/filter_settings.h"

#include <variant>

namespace costgate::pipeline {

std::optional<config::ConfigError> unknownModel(const config::FilterSpec& spec,
                                                const config::Field& field,
                                                const std::string& model) {
  if (spec.models.contains(model)) return std::nullopt;
  return field.error("'" + model + "' is not a model of this gateway (models:)");
}

void readModelName(const config::FilterSpec& spec, const config::Section& section,
                   std::string_view key, std::string* out) {
  section.parsed(key, [&](const config::Field& field, const std::string& model) {
    auto error = unknownModel(spec, field, model);
    if (!error) *out = model;
    return error;
  });
}

void readStore(const config::Section& section, std::string_view key,
               std::optional<redis::Address>* out) {
  section.parsed(key,
                 [&](const config::Field& field,
                     const std::string& text) -> std::optional<config::ConfigError> {
                   if (text == "memory") {
                     out->reset();
                     return std::nullopt;
                   }
                   if (!text.starts_with("redis://")) {
                     // A URL with userinfo is not repeated: it holds the Redis password.
                     if (text.find('@') != std::string::npos) {
                       return field.error("expected memory or a redis:// URL, got another URL");
                     }
                     return field.error("expected memory or a redis:// URL, not '" + text + "'");
                   }
                   auto address = redis::parseAddress(text);
                   if (auto* problem = std::get_if<Error>(&address))
                     return field.error(problem->message);
                   *out = std::get<redis::Address>(std::move(address));
                   return std::nullopt;
                 });
}

}  // namespace costgate::pipeline
