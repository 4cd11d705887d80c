#pragma once
// Every filter the gateway knows, by the name it has in the YAML chain. Adding a filter: its
// folder under src/filters/, and one line in registry.cpp.

#include <map>
#include <string>

#include "costgate/pipeline/chain.h"

namespace costgate::filters {

const std::map<std::string, pipeline::FilterFactory>& registry();

}  // namespace costgate::filters
