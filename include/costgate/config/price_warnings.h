#pragma once
// Prices that load but would misreport spend: a model with no price (its calls count as $0 in
// spend, budgets and savings) or priced without cached_input (cached prompt tokens charged at the
// full input price: replayed against a backend that caches prompt prefixes, such a config
// overstated spend by 41%). Warnings, not errors: the model still serves.

#include <string>
#include <vector>

#include "costgate/config/config.h"

namespace costgate::config {

// One "file:line:column: warning: models.NAME: ..." line per such model, at its key, in name
// order; empty when every model is priced in full. Run after loading (main prints them on stderr
// or in the log, at start, on --check-config and after each reload).
std::vector<std::string> priceWarnings(const GatewayConfig& config);

}  // namespace costgate::config
