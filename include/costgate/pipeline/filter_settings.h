#pragma once
// Settings that several filters read the same way: a model of the gateway, and where shared state
// lives (memory or Redis). Errors go to the section's reader, at the value, like every read of
// config/yaml_reader.h.

#include <optional>
#include <string>
#include <string_view>

#include "costgate/config/load.h"
#include "costgate/config/yaml_reader.h"
#include "costgate/redis/connection.h"

namespace costgate::pipeline {

// The error of a value that names no model of the gateway (spec.models), or nothing.
std::optional<config::ConfigError> unknownModel(const config::FilterSpec& spec,
                                                const config::Field& field,
                                                const std::string& model);

// `key`, which must name one of the gateway's models, into *out (untouched when absent).
void readModelName(const config::FilterSpec& spec, const config::Section& section,
                   std::string_view key, std::string* out);

// `key`: "memory" leaves *out empty (this process); a redis:// URL sets its address (shared by
// the replicas); anything else is an error.
void readStore(const config::Section& section, std::string_view key,
               std::optional<redis::Address>* out);

}  // namespace costgate::pipeline
