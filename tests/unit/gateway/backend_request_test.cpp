// Which client headers reach a backend: its allow-list, never a credential.
#include "costgate/gateway/backend_request.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace costgate::gateway {
namespace {

std::vector<std::string> defaults() {
  return {config::defaultForwardHeaders().begin(), config::defaultForwardHeaders().end()};
}

TEST(BackendRequest, TheDefaultListForwardsWhatSdksSendAndNothingElse) {
  const std::vector<std::string> allowed = defaults();
  for (const char* name : {"user-agent", "openai-beta", "idempotency-key", "x-stainless-os",
                           "x-stainless-retry-count", "traceparent", "tracestate"}) {
    EXPECT_TRUE(forwardable(name, allowed)) << name;
  }
  for (const char* name : {"authorization",
                           "x-api-key",
                           "api-key",
                           "x-goog-api-key",
                           "ocp-apim-subscription-key",
                           "cookie",
                           "forwarded",
                           "x-forwarded-host",
                           "x-forwarded-for",
                           "host",
                           "content-length",
                           "transfer-encoding",
                           "connection",
                           "x-request-id",
                           "x-costgate-team",
                           "openai-organization",
                           "openai-project",
                           "content-type",
                           "accept-encoding",
                           "x-anything"}) {
    EXPECT_FALSE(forwardable(name, allowed)) << name;
  }
}

TEST(BackendRequest, APrefixNeverCarriesACredentialAlong) {
  const std::vector<std::string> allowed = {"x-*"};
  EXPECT_TRUE(forwardable("x-trace-id", allowed));
  for (const char* name : {"x-goog-api-key", "x-auth-token", "x-session-id", "x-client-secret",
                           "x-api-key", "x-costgate-feature"}) {
    EXPECT_FALSE(forwardable(name, allowed)) << name;
  }
  // Named outright, a name is the operator's deliberate choice, unless no list may forward it.
  EXPECT_TRUE(forwardable("x-tenant-token", std::vector<std::string>{"x-tenant-token"}));
  EXPECT_FALSE(forwardable("authorization", std::vector<std::string>{"authorization"}));
}

TEST(BackendRequest, EachBackendGetsWhatItsListAllowsAndTheRequestId) {
  ClientHeaders client;
  client.fields = {{"authorization", "Bearer client"},  {"x-goog-api-key", "AIza"},
                   {"user-agent", "OpenAI/JS 4.0"},     {"x-request-id", "client-id"},
                   {"x-stainless-lang", "js"},          {"x-mock-status", "500"},
                   {"openai-organization", "org-other"}};
  client.request_id = "req-1";
  config::BackendConfig openai;  // the default list
  config::BackendConfig mock;
  mock.forward_headers = {"x-mock-*", "openai-organization"};
  auto names = [](const std::vector<upstream::Header>& headers) {
    std::vector<std::string> out;
    for (const auto& header : headers)
      out.push_back(std::string(header.name) + "=" + std::string(header.value));
    return out;
  };
  EXPECT_EQ(names(headersFor(openai, client)),
            (std::vector<std::string>{"user-agent=OpenAI/JS 4.0", "x-stainless-lang=js",
                                      "x-request-id=req-1"}));
  EXPECT_EQ(names(headersFor(mock, client)),
            (std::vector<std::string>{"x-mock-status=500", "openai-organization=org-other",
                                      "x-request-id=req-1"}));
}

}  // namespace
}  // namespace costgate::gateway
