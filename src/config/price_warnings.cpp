#include "costgate/config/price_warnings.h"

#include "costgate/config/load.h"
#include "costgate/pricing/price_table.h"

namespace costgate::config {

std::vector<std::string> priceWarnings(const GatewayConfig& config) {
  std::vector<std::string> warnings;
  for (const auto& [name, route] : config.models) {
    const std::string where = formatMark(route.mark) + ": warning: models." + name + ": ";
    if (!route.price) {
      warnings.push_back(where + "no price, and the built-in price table (" +
                         std::string(pricing::kPriceTableDate) + ") does not list '" +
                         route.backend_model +
                         "': its calls count as $0 in spend, budgets and savings (add price: "
                         "{input, cached_input, output})");
    } else if (!route.price->cached_input && route.price->output > 0) {
      // An embedding price (nothing generated) has no prompt cache to price.
      warnings.push_back(where +
                         "priced without cached_input: cached prompt tokens are charged at the "
                         "input price, which overstates spend wherever the provider caches "
                         "prompt prefixes");
    }
  }
  return warnings;
}

}  // namespace costgate::config
