// What a web page may make the gateway do: Host names a DNS-rebinding page could use are refused,
// origins are allowed one by one, API calls must be JSON, and preflights are answered.
#include "costgate/gateway/browser_policy.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace costgate::gateway {
namespace {

config::ServerConfig listeningOn(std::string host, std::vector<std::string> hosts = {},
                                 std::vector<std::string> origins = {}) {
  config::ServerConfig server;
  server.host = std::move(host);
  server.allowed_hosts = std::move(hosts);
  server.allowed_origins = std::move(origins);
  return server;
}

TEST(BrowserPolicy, OnLoopbackOnlyNamesNoDnsAnswerCanRepointAreServed) {
  const BrowserPolicy policy(listeningOn("127.0.0.1"));
  for (const char* host : {"localhost", "localhost:8080", "LOCALHOST:8080", "app.localhost:8080",
                           "127.0.0.1:8080", "127.0.0.2", "[::1]:8080", "10.1.2.3:8080", ""}) {
    EXPECT_TRUE(policy.hostAllowed(host)) << host;
  }
  // A rebinding page's own name, and names a hostile local resolver could answer.
  for (const char* host : {"evil.example:8080", "evil.example", "gw", "costgate.internal:8080",
                           "localhost.evil.example", "127.0.0.1.evil.example", "[::1", "a b"}) {
    EXPECT_FALSE(policy.hostAllowed(host)) << host;
  }
}

TEST(BrowserPolicy, OnAWildcardAddressPrivateNamesAreServedButPublicOnesAreNot) {
  for (const char* listen : {"0.0.0.0", "::", "10.0.0.5"}) {
    const BrowserPolicy policy(listeningOn(listen));
    for (const char* host :
         {"costgate:8080", "gateway", "costgate.team.svc", "gw.internal",
          "costgate.team.svc.cluster.local:8080", "box.home.arpa", "localhost"}) {
      EXPECT_TRUE(policy.hostAllowed(host)) << listen << " " << host;
    }
    EXPECT_FALSE(policy.hostAllowed("evil.example:8080")) << listen;
    EXPECT_FALSE(policy.hostAllowed("gateway.example.com")) << listen;
  }
}

TEST(BrowserPolicy, ConfiguredNamesAndTheListenNameAreServed) {
  const BrowserPolicy policy(listeningOn("127.0.0.1", {"gateway.example.com", "*.corp.example"}));
  EXPECT_TRUE(policy.hostAllowed("Gateway.Example.com:443"));
  EXPECT_TRUE(policy.hostAllowed("ai.corp.example"));
  EXPECT_FALSE(policy.hostAllowed("corp.example"));
  EXPECT_FALSE(policy.hostAllowed("evilcorp.example"));
  EXPECT_TRUE(BrowserPolicy(listeningOn("gateway-host")).hostAllowed("gateway-host:8080"));
  EXPECT_TRUE(BrowserPolicy(listeningOn("127.0.0.1", {"*"})).hostAllowed("evil.example"));
}

TEST(BrowserPolicy, OriginsAreAllowedOneByOneOrAllWithAStar) {
  const BrowserPolicy none(listeningOn("127.0.0.1"));
  EXPECT_FALSE(none.originAllowed("http://localhost:3000"));
  EXPECT_FALSE(none.originAllowed("null"));
  const BrowserPolicy some(listeningOn("127.0.0.1", {}, {"http://localhost:3000"}));
  EXPECT_TRUE(some.originAllowed("http://localhost:3000"));
  EXPECT_TRUE(some.originAllowed("HTTP://LOCALHOST:3000"));
  EXPECT_FALSE(some.originAllowed("http://localhost:3001"));
  EXPECT_FALSE(some.originAllowed("https://localhost:3000"));
  EXPECT_FALSE(some.originAllowed("http://localhost:3000.evil.example"));
  EXPECT_TRUE(
      BrowserPolicy(listeningOn("127.0.0.1", {}, {"*"})).originAllowed("https://x.example"));
}

TEST(BrowserPolicy, OnlyApplicationJsonIsJson) {
  for (const char* type : {"application/json", "Application/JSON",
                           "application/json; charset=utf-8", " application/json ;charset=UTF-8"}) {
    EXPECT_TRUE(isJsonContentType(type)) << type;
  }
  // What a browser sends cross-site without a preflight, and near misses.
  for (const char* type : {"", "text/plain", "text/plain; charset=utf-8",
                           "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                           "application/jsonp", "application/json-seq", "text/json"}) {
    EXPECT_FALSE(isJsonContentType(type)) << type;
  }
}

TEST(BrowserPolicy, APreflightNamesTheOriginMethodsAndAskedHeaders) {
  const server::Response response =
      preflightResponse("http://localhost:3000", "authorization, content-type\r\nx-injected: 1");
  EXPECT_EQ(response.status, 204);
  EXPECT_TRUE(response.body.empty());
  EXPECT_NE(response.fields.find("Access-Control-Allow-Origin: http://localhost:3000\r\n"),
            std::string::npos);
  EXPECT_NE(response.fields.find("Access-Control-Allow-Methods: GET, HEAD, POST\r\n"),
            std::string::npos);
  EXPECT_NE(response.fields.find("Access-Control-Allow-Headers: authorization, content-typex-"
                                 "injected 1\r\n"),
            std::string::npos)
      << response.fields;
  EXPECT_NE(response.fields.find("Vary: Origin"), std::string::npos);
  EXPECT_EQ(response.fields.find("x-injected:"), std::string::npos);
  EXPECT_EQ(response.fields.find("Private-Network"), std::string::npos);
}

TEST(BrowserPolicy, AnAllowedPublicPageMayReachAPrivateAddressWhenTheBrowserAsks) {
  const server::Response response = preflightResponse("https://app.example", "", true);
  EXPECT_NE(response.fields.find("Access-Control-Allow-Private-Network: true\r\n"),
            std::string::npos);
  EXPECT_EQ(response.fields.find("Access-Control-Allow-Headers"), std::string::npos);
}

}  // namespace
}  // namespace costgate::gateway
