#include "costgate/config/url.h"

#include <gtest/gtest.h>

#include <string>

namespace costgate::config {
namespace {

constexpr UrlScheme kWeb[] = {{"http", 80}, {"https", 443}};
constexpr UrlScheme kRedis[] = {{"redis", 6379}};

Url parsed(std::string_view text, std::span<const UrlScheme> schemes = kWeb) {
  auto url = parseUrl(text, schemes);
  if (auto* problem = std::get_if<Error>(&url)) {
    ADD_FAILURE() << text << ": " << problem->message;
    return {};
  }
  return std::get<Url>(std::move(url));
}

std::string refused(std::string_view text, std::span<const UrlScheme> schemes = kWeb) {
  auto url = parseUrl(text, schemes);
  if (!std::holds_alternative<Error>(url)) {
    ADD_FAILURE() << text << " was accepted";
    return {};
  }
  return std::get<Error>(url).message;
}

TEST(UrlTest, SchemesAndTheirDefaultPorts) {
  Url https = parsed("https://api.openai.com/v1");
  EXPECT_EQ(https.scheme, "https");
  EXPECT_EQ(https.host, "api.openai.com");
  EXPECT_EQ(https.port, 443);
  EXPECT_EQ(https.path, "/v1");
  EXPECT_EQ(parsed("http://localhost").port, 80);
  EXPECT_EQ(parsed("http://localhost").path, "");
  EXPECT_EQ(parsed("HTTPS://example.com:8443/").scheme, "https");
  EXPECT_EQ(parsed("HTTPS://example.com:8443/").port, 8443);
  EXPECT_EQ(parsed("redis://cache", kRedis).port, 6379);
  EXPECT_EQ(refused("ftp://host"), "the scheme must be http or https");
  EXPECT_EQ(refused("https://host", kRedis), "the scheme must be redis");
  EXPECT_EQ(refused("host/v1"), "the scheme is missing");
}

TEST(UrlTest, Ipv6LiteralsAreBracketed) {
  Url loopback = parsed("http://[::1]:8081/v1");
  EXPECT_EQ(loopback.host, "::1");
  EXPECT_EQ(loopback.port, 8081);
  EXPECT_EQ(parsed("redis://[fe80::1%25eth0]", kRedis).host, "fe80::1%25eth0");
  EXPECT_EQ(parsed("http://[::1]").port, 80);
  EXPECT_EQ(refused("http://::1:8081"), "an IPv6 address needs brackets, e.g. [::1]:8080");
  EXPECT_EQ(refused("http://[::1:8081"), "missing ']' after the IPv6 address");
  EXPECT_EQ(refused("http://[::1]8081"), "unexpected text after the host");
}

TEST(UrlTest, UserinfoIsSplitAndPercentDecoded) {
  Url full = parsed("redis://:p%40ss%2Fw%3F@10.0.0.7:6380/2", kRedis);
  EXPECT_EQ(full.user, "");
  EXPECT_EQ(full.password, "p@ss/w?");
  EXPECT_EQ(full.host, "10.0.0.7");
  EXPECT_EQ(full.port, 6380);
  EXPECT_EQ(full.path, "/2");
  Url user_only = parsed("https://alice@host");
  EXPECT_EQ(user_only.user, "alice");
  EXPECT_EQ(user_only.password, std::nullopt);
  EXPECT_EQ(parsed("https://host").user, std::nullopt);
  EXPECT_EQ(parsed("redis://:a@b@h", kRedis).password, "a@b");  // the last '@' ends it
  // An '@' after the authority belongs to the path.
  Url path_at = parsed("http://host/v1/team@acme");
  EXPECT_EQ(path_at.user, std::nullopt);
  EXPECT_EQ(path_at.path, "/v1/team@acme");
  EXPECT_EQ(refused("redis://:p%4@h", kRedis), "bad percent-encoding in the userinfo");
  EXPECT_EQ(refused("redis://:p%zz@h", kRedis), "bad percent-encoding in the userinfo");
}

TEST(UrlTest, BadInputIsRefusedWithAReason) {
  EXPECT_EQ(refused("http:///v1"), "the host is missing");
  EXPECT_EQ(refused("http://user@"), "the host is missing");
  EXPECT_EQ(refused("http://host:0"), "the port must be a number from 1 to 65535");
  EXPECT_EQ(refused("http://host:65536"), "the port must be a number from 1 to 65535");
  EXPECT_EQ(refused("http://host:"), "the port must be a number from 1 to 65535");
  EXPECT_EQ(refused("http://host:+80"), "the port must be a number from 1 to 65535");
  EXPECT_EQ(refused("http://host/v1?x=1"), "a query or fragment is not supported");
  EXPECT_EQ(refused("http://host/#top"), "a query or fragment is not supported");
  EXPECT_EQ(refused("http://host/a b"), "it contains a space or control character");
  EXPECT_EQ(refused("http://ho\tst"), "it contains a space or control character");
  EXPECT_EQ(refused("http://ho$t"), "invalid host");
}

TEST(UrlTest, ErrorsNeverRepeatTheText) {
  for (std::string_view text : {"https://user:s3cret@host:0", "https://:s3cret@",
                                "https://:s3cret@ho$t", "https://:s3cret@host?x"}) {
    EXPECT_EQ(refused(text).find("s3cret"), std::string::npos) << text;
  }
}

TEST(HostPortTest, ListenAddresses) {
  auto host_port = [](std::string_view text) {
    auto parsed = parseHostPort(text);
    if (auto* problem = std::get_if<Error>(&parsed))
      ADD_FAILURE() << text << ": " << problem->message;
    return std::get_if<HostPort>(&parsed) ? std::get<HostPort>(parsed) : HostPort{};
  };
  EXPECT_EQ(host_port("127.0.0.1:8080").host, "127.0.0.1");
  EXPECT_EQ(host_port("127.0.0.1:8080").port, 8080);
  EXPECT_EQ(host_port("[::]:0").host, "::");
  EXPECT_EQ(host_port("[::]:0").port, 0);  // 0 picks a free port
  EXPECT_EQ(host_port("localhost").port, std::nullopt);
  EXPECT_EQ(std::get<Error>(parseHostPort("host:65536")).message,
            "the port must be a number from 0 to 65535");
  EXPECT_EQ(std::get<Error>(parseHostPort(":80")).message, "the host is missing");
}

}  // namespace
}  // namespace costgate::config
