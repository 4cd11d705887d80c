#include "costgate/pipeline/filter_settings.h"

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "../support/filter_settings.h"

namespace costgate::pipeline {
namespace {

// The error reading `store: <value>` from a filter's settings gives, or "" when it is read.
std::string storeError(const std::string& value) {
  const config::FilterSpec spec =
      test_data::specFrom("filters:\n  - budget:\n      ledger: \"" + value + "\"\n", "budget");
  config::SettingsReader reader(spec);
  constexpr std::string_view kKeys[] = {"ledger"};
  const config::Section settings = reader.root(kKeys);
  std::optional<redis::Address> address;
  readStore(settings, "ledger", &address);
  return reader.error() ? reader.error()->message : "";
}

TEST(FilterSettings, AStoreErrorNeverShowsARedisPassword) {
  EXPECT_EQ(storeError("memory"), "");
  EXPECT_EQ(storeError("redis://:pw@127.0.0.1:6379"), "");
  // A typo is shown, to be found; a URL with a password in another scheme is not.
  EXPECT_EQ(storeError("memroy"),
            "budget: ledger: expected memory or a redis:// URL, not 'memroy'");
  const std::string secret = storeError("rediss://:sk-redis-secret@cache:6380");
  EXPECT_NE(secret, "");
  EXPECT_EQ(secret.find("sk-redis-secret"), std::string::npos) << secret;
  const std::string bad_url = storeError("redis://:sk-redis-secret@cache:notaport");
  EXPECT_NE(bad_url, "");
  EXPECT_EQ(bad_url.find("sk-redis-secret"), std::string::npos) << bad_url;
}

}  // namespace
}  // namespace costgate::pipeline
