#pragma once
// A filter's settings as the gateway hands them to it: the `filters:` block of a test, completed
// into a whole gateway file and read by config::parse().

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <gtest/gtest.h>

#include "config_results.h"
#include "costgate/config/load.h"

namespace costgate::test_data {

// The file name the gateway text is parsed under, as errors report it.
inline constexpr char kGatewayFile[] = "gateway.yaml";

// Appended after the `filters:` block of each test document, so the lines asserted are the lines
// of the filter YAML as written in the test.
inline constexpr char kBackendsAndModels[] = R"(backends:
  mock:
    url: http://127.0.0.1:8081/v1
models:
  m:
    backend: mock
    encoding: none
)";

// The FilterSpec of the one filter in `filters_yaml`, which must be named `filter_name`.
inline config::FilterSpec specFrom(const std::string& filters_yaml, std::string_view filter_name) {
  config::LoadResult result =
      config::parse(filters_yaml + kBackendsAndModels, kGatewayFile,
                    [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  if (const auto* error = std::get_if<config::ConfigError>(&result)) {
    ADD_FAILURE() << "the gateway file itself is invalid: " << error->describe();
    return {};
  }
  const config::GatewayConfig& gateway = std::get<config::GatewayConfig>(result);
  EXPECT_EQ(gateway.filters.size(), 1u);
  EXPECT_EQ(gateway.filters.at(0).name, filter_name);
  config::FilterSpec spec = gateway.filters.at(0);
  for (const auto& [name, route] : gateway.models) spec.models.emplace(name, route.price);
  return spec;
}

// The settings `parse_spec` (a filter's parse function, taking its FilterSpec) reads from the
// filter `filter_name` of `filters_yaml`.
template <typename ParseSpec>
auto configOk(const ParseSpec& parse_spec, std::string_view filter_name,
              const std::string& filters_yaml) {
  return configOk([&](const std::string& yaml) { return parse_spec(specFrom(yaml, filter_name)); },
                  filters_yaml);
}

// The error `parse_spec` refuses the settings of the filter `filter_name` of `filters_yaml` with.
template <typename ParseSpec>
config::ConfigError configError(const ParseSpec& parse_spec, std::string_view filter_name,
                                const std::string& filters_yaml) {
  return configError(
      [&](const std::string& yaml) { return parse_spec(specFrom(yaml, filter_name)); },
      filters_yaml);
}

// The filter's error points at line:column of the gateway file, names the filter first and says
// `says`.
inline void expectErrorAt(const config::ConfigError& error, std::string_view filter_name, int line,
                          int column, std::string_view says) {
  EXPECT_EQ(error.where.file, kGatewayFile);
  EXPECT_EQ(error.where.line, line) << error.describe();
  EXPECT_EQ(error.where.column, column) << error.describe();
  EXPECT_NE(error.message.find(says), std::string::npos) << error.describe();
  EXPECT_TRUE(error.message.starts_with(std::string(filter_name) + ": ")) << error.describe();
}

}  // namespace costgate::test_data
