#pragma once
// What a configuration parse function made of a text, for tests that expect it to accept the text
// or to refuse it. `parse(text)` returns std::variant<Config, config::ConfigError>; a parse that
// does not do what the test expects fails the test and gives an empty value.

#include <string>
#include <utility>
#include <variant>

#include <gtest/gtest.h>

#include "costgate/config/load.h"

namespace costgate::test_data {

// The value `parse` made of `text`.
template <typename Parse>
auto configOk(const Parse& parse, const std::string& text) {
  auto parsed = parse(text);
  using Config = std::variant_alternative_t<0, decltype(parsed)>;
  if (const auto* error = std::get_if<config::ConfigError>(&parsed)) {
    ADD_FAILURE() << "unexpected error: " << error->describe();
    return Config{};
  }
  return std::get<Config>(std::move(parsed));
}

// The error `parse` refused `text` with.
template <typename Parse>
config::ConfigError configError(const Parse& parse, const std::string& text) {
  auto parsed = parse(text);
  if (!std::holds_alternative<config::ConfigError>(parsed)) {
    ADD_FAILURE() << "expected an error for:\n" << text;
    return {};
  }
  return std::get<config::ConfigError>(std::move(parsed));
}

}  // namespace costgate::test_data
