#include "costgate/dashboard/page.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace costgate::dashboard {
namespace {

TEST(DashboardPage, IsTheWholeHtmlFileBuiltIn) {
  std::string_view html = page();
  EXPECT_TRUE(html.starts_with("<!doctype html>")) << html.substr(0, 40);
  EXPECT_NE(html.find("</html>"), std::string_view::npos);
  EXPECT_NE(html.find("fetch(\"/costgate/summary\""), std::string_view::npos);
}

TEST(DashboardPage, LoadsNothingFromElsewhere) {
  // The only URL allowed is the SVG namespace, which is a name, not a fetch.
  const std::string html(page());
  std::regex url(R"((https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,})");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), url); it != std::sregex_iterator();
       ++it) {
    EXPECT_EQ(it->str(), "http://www.w3.org") << "an external URL in the page";
  }
  EXPECT_EQ(html.find("<link rel=\"stylesheet\""), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
}

TEST(DashboardPage, IsServedAsUncachedHtmlUnderAStrictPolicy) {
  http1::Response response = dashboard::response();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, page());
  EXPECT_NE(response.fields.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(response.fields.find("Cache-Control: no-cache\r\n"), std::string::npos);
  EXPECT_NE(response.fields.find("Content-Security-Policy: default-src 'none';"),
            std::string::npos);
  EXPECT_NE(response.fields.find("connect-src 'self'"), std::string::npos);
}

}  // namespace
}  // namespace costgate::dashboard
