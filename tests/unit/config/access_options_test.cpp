// The options that say who may call (server.allowed_origins, server.allowed_hosts) and what a
// backend is sent (forward_headers): normalized at load, refused with file, line and column.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../support/config_results.h"
#include "costgate/config/load.h"

namespace costgate::config {
namespace {

constexpr char kFile[] = "test.yaml";
constexpr char kMinimal[] = R"(backends:
  mock:
    url: http://127.0.0.1:8081/v1
models:
  gpt-4o-mini:
    backend: mock
)";

EnvLookup noEnv() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

GatewayConfig parseOk(const std::string& yaml) {
  return test_data::configOk([](const std::string& text) { return parse(text, kFile, noEnv()); },
                             yaml);
}

ConfigError parseError(const std::string& yaml) {
  return test_data::configError([](const std::string& text) { return parse(text, kFile, noEnv()); },
                                yaml);
}

std::vector<std::string> defaults() {
  return {defaultForwardHeaders().begin(), defaultForwardHeaders().end()};
}

TEST(AccessOptions, NoneByDefault) {
  const GatewayConfig config = parseOk(kMinimal);
  EXPECT_TRUE(config.server.allowed_origins.empty());
  EXPECT_TRUE(config.server.allowed_hosts.empty());
  EXPECT_EQ(config.backends.at("mock").forward_headers, defaults());
}

TEST(AccessOptions, OriginsAreNormalizedAsBrowsersSendThem) {
  const GatewayConfig config =
      parseOk(std::string(kMinimal) +
              "server:\n  allowed_origins: [HTTPS://App.Example.com:443, http://localhost:3000, "
              "'http://[::1]:80', '*']\n");
  EXPECT_EQ(config.server.allowed_origins,
            (std::vector<std::string>{"https://app.example.com", "http://localhost:3000",
                                      "http://[::1]", "*"}));
}

TEST(AccessOptions, AnOriginWithAPathOrAnotherSchemeIsRefusedWhereItIsWritten) {
  for (const std::string origin : {"https://app.example.com/", "ftp://app.example.com", "app"}) {
    const ConfigError error = parseError(std::string(kMinimal) +
                                         "server:\n  allowed_origins:\n    - http://ok.example\n"
                                         "    - " +
                                         origin + "\n");
    EXPECT_EQ(error.where.line, 10) << origin;
    EXPECT_EQ(error.where.column, 7) << origin;
    EXPECT_NE(error.message.find("server.allowed_origins[1]: expected an origin"),
              std::string::npos)
        << error.message;
  }
}

TEST(AccessOptions, HostsAreLowerCaseNamesWithoutPort) {
  const GatewayConfig config =
      parseOk(std::string(kMinimal) +
              "server:\n  allowed_hosts: [Gateway.Example.com, '*.corp.example']\n");
  EXPECT_EQ(config.server.allowed_hosts,
            (std::vector<std::string>{"gateway.example.com", "*.corp.example"}));
  const ConfigError error =
      parseError(std::string(kMinimal) + "server:\n  allowed_hosts: [gateway.example.com:8080]\n");
  EXPECT_EQ(error.where.line, 8);
  EXPECT_NE(error.message.find("server.allowed_hosts[0]: expected a host name without port"),
            std::string::npos)
      << error.message;
}

TEST(AccessOptions, ForwardHeadersReplaceTheDefaultsWhichTheWordDefaultsBringsBack) {
  const GatewayConfig only = parseOk(
      "backends:\n  mock:\n    url: http://127.0.0.1:8081/v1\n    forward_headers: [OpenAI-Beta]\n"
      "models:\n  m:\n    backend: mock\n    encoding: none\n");
  EXPECT_EQ(only.backends.at("mock").forward_headers, std::vector<std::string>{"openai-beta"});
  const GatewayConfig more = parseOk(
      "backends:\n  mock:\n    url: http://127.0.0.1:8081/v1\n"
      "    forward_headers: [defaults, x-mock-*, openai-beta]\n"
      "models:\n  m:\n    backend: mock\n    encoding: none\n");
  std::vector<std::string> expected = defaults();
  expected.push_back("x-mock-*");
  EXPECT_EQ(more.backends.at("mock").forward_headers, expected);
  const GatewayConfig none = parseOk(
      "backends:\n  mock:\n    url: http://127.0.0.1:8081/v1\n    forward_headers: []\n"
      "models:\n  m:\n    backend: mock\n    encoding: none\n");
  EXPECT_TRUE(none.backends.at("mock").forward_headers.empty());
}

TEST(AccessOptions, CredentialsAndFramingCannotBeListedToForward) {
  for (const std::string name :
       {"Authorization", "x-api-key", "x-goog-api-key", "ocp-apim-subscription-key", "cookie",
        "host", "content-length", "x-request-id", "x-costgate-team", "proxy-authorization"}) {
    const ConfigError error = parseError(
        "backends:\n  mock:\n    url: http://127.0.0.1:8081/v1\n    forward_headers:\n"
        "      - openai-beta\n      - " +
        name + "\nmodels:\n  m:\n    backend: mock\n    encoding: none\n");
    EXPECT_EQ(error.where.line, 6) << name;
    EXPECT_EQ(error.where.column, 9) << name;
    EXPECT_NE(error.message.find("backends.mock.forward_headers[1]: "), std::string::npos)
        << error.message;
    EXPECT_NE(error.message.find("is never forwarded"), std::string::npos) << error.message;
  }
  const ConfigError malformed = parseError(
      "backends:\n  mock:\n    url: http://127.0.0.1:8081/v1\n    forward_headers: ['x y']\n"
      "models:\n  m:\n    backend: mock\n    encoding: none\n");
  EXPECT_NE(malformed.message.find("expected a header name"), std::string::npos)
      << malformed.message;
}

}  // namespace
}  // namespace costgate::config
