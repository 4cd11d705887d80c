// How the loader prices models with the built-in table (pricing/price_table.h), and the warnings
// for prices that would misreport spend (config/price_warnings.h).
#include <string>

#include <gtest/gtest.h>

#include "../support/config_results.h"
#include "costgate/config/load.h"
#include "costgate/config/price_warnings.h"

namespace costgate::config {
namespace {

GatewayConfig parseOk(const std::string& yaml) {
  return test_data::configOk(
      [&](const std::string& text) {
        return parse(text, "test.yaml", [](const std::string&) { return std::nullopt; });
      },
      yaml);
}

// Lines as in the literal: the text starts on line 1 right after R"(.
constexpr char kModels[] = R"(backends:
  b:
    url: http://127.0.0.1:9/v1
models:
  listed:
    backend: b
    backend_model: gpt-4.1-2025-04-14
  overridden:
    backend: b
    backend_model: gpt-4.1
    price: {input: 1.5}
  by-name-only:
    backend: b
  gpt-4o-mini:
    backend: b
  unpriced:
    backend: b
  half-priced:
    backend: b
    price: {input: 1, output: 2}
  embedder:
    backend: b
    price: {input: 0.02, output: 0}
)";

TEST(PriceTableConfig, AListedBackendModelIsPricedByTheTable) {
  const GatewayConfig config = parseOk(kModels);
  const auto& listed = config.models.at("listed").price;
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->input, 2'000'000'000);
  EXPECT_EQ(listed->cached_input, 500'000'000);
  EXPECT_EQ(listed->output, 8'000'000'000);
  // A model's own name is looked up too when its backend model is not listed.
  ASSERT_TRUE(config.models.at("gpt-4o-mini").price.has_value());
  EXPECT_EQ(config.models.at("gpt-4o-mini").price->input, 150'000'000);
  EXPECT_FALSE(config.models.at("by-name-only").price.has_value());
}

TEST(PriceTableConfig, APriceBlockOverridesTheTableKeyByKey) {
  const GatewayConfig config = parseOk(kModels);
  const auto& overridden = config.models.at("overridden").price;
  ASSERT_TRUE(overridden.has_value());
  EXPECT_EQ(overridden->input, 1'500'000'000);
  EXPECT_EQ(overridden->cached_input, 500'000'000);
  EXPECT_EQ(overridden->output, 8'000'000'000);
}

TEST(PriceTableConfig, WarnsAboutUnpricedModelsAndMissingCachedInputAtTheirPositions) {
  const auto warnings = priceWarnings(parseOk(kModels));
  ASSERT_EQ(warnings.size(), 3u);
  // In model-name order: by-name-only, half-priced, unpriced.
  EXPECT_EQ(warnings[0].rfind("test.yaml:12:3: warning: models.by-name-only: no price", 0), 0u)
      << warnings[0];
  EXPECT_EQ(warnings[1].rfind("test.yaml:18:3: warning: models.half-priced: priced without "
                              "cached_input",
                              0),
            0u)
      << warnings[1];
  EXPECT_EQ(warnings[2].rfind("test.yaml:16:3: warning: models.unpriced: no price", 0), 0u)
      << warnings[2];
}

}  // namespace
}  // namespace costgate::config
