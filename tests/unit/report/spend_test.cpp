#include "costgate/report/spend.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

namespace costgate::report {
namespace {

std::string line(const std::string& ts, const std::string& feature, const std::string& model,
                 const std::string& extra) {
  return R"({"ts":")" + ts + R"(","route":"chat_completions","model":")" + model +
         R"(","feature":")" + feature + R"(","team":"growth","status":200)" + extra + "}";
}

TEST(SpendReport, ReadsProxiedCallsFromTheLog) {
  auto calls = callsFromLogLine(
      line("2026-11-28T10:00:00.000Z", "search", "mock-small",
           R"(,"tokens_in":120,"tokens_out":40,"usage_source":"backend","cost_usd":0.000450)"),
      "", "");
  ASSERT_EQ(calls.size(), 1u);
  const Call* call = &calls[0];
  EXPECT_EQ(call->tags[0], "search");
  EXPECT_EQ(call->tags[1], "growth");
  EXPECT_EQ(call->tags[2], "");
  EXPECT_EQ(call->tags[3], "mock-small");
  EXPECT_EQ(call->tokens_in, 120u);
  EXPECT_EQ(call->tokens_out, 40u);
  EXPECT_EQ(call->cost, 450'000);
  // Not proxied calls, unknown models and lines that are not JSON are not calls.
  EXPECT_TRUE(callsFromLogLine(R"({"ts":"x","route":"admin","model":""})", "", "").empty());
  EXPECT_TRUE(callsFromLogLine(line("2026-11-28", "f", "unknown", ""), "", "").empty());
  EXPECT_TRUE(callsFromLogLine("costgate 0.1.0 listening on ...", "", "").empty());
}

// An escalated cascade attempt or an embedding is charged under its own model, to the same tags.
TEST(SpendReport, SideCallsOfALineAreCallsToo) {
  auto calls = callsFromLogLine(
      line("2026-11-28T10:00:00.000Z", "search", "large",
           R"(,"tokens_in":10,"tokens_out":5,"cost_usd":0.000100,"side_calls":[)"
           R"({"model":"small","tokens_in":10,"tokens_out":7,"cost_usd":0.000003}])"),
      "", "");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].tags[0], "search");
  EXPECT_EQ(calls[1].tags[3], "small");
  EXPECT_EQ(calls[1].tokens_out, 7u);
  EXPECT_EQ(calls[1].cost, 3'000);
}

TEST(SpendReport, KeepsCallsInTheTimeRange) {
  std::string at_ten = line("2026-11-28T10:00:00.000Z", "f", "m", "");
  EXPECT_FALSE(callsFromLogLine(at_ten, "2026-11-28", "").empty());
  EXPECT_FALSE(callsFromLogLine(at_ten, "2026-11-28T10:00", "2026-11-28T10:01").empty());
  EXPECT_TRUE(callsFromLogLine(at_ten, "2026-11-28T10:01", "").empty());
  EXPECT_TRUE(callsFromLogLine(at_ten, "", "2026-11-28T10:00").empty());  // until is exclusive
  EXPECT_TRUE(callsFromLogLine(at_ten, "2026-11-29", "").empty());
}

TEST(SpendReport, TimesArePrefixesOfTheLogsTimestamps) {
  for (const char* good : {"2026", "2026-11", "2026-11-28", "2026-11-28T18", "2026-11-28T18:00",
                           "2026-11-28T18:00:00.000Z"}) {
    EXPECT_TRUE(isTimestampPrefix(good)) << good;
  }
  for (const char* bad : {"", "2026-11-28 18:00", "28/11/2026", "2026-11-28T18:00:00Z",
                          "2026-11-28T18:00:00.000Z1", "yesterday"}) {
    EXPECT_FALSE(isTimestampPrefix(bad)) << bad;
  }
}

TEST(SpendReport, AddsUpExactlyPerGroup) {
  SpendTotals totals({Dimension::kFeature});
  // A thousand calls of 0.000001: exactly 0.001000, which doubles would miss.
  for (int i = 0; i < 1000; ++i) {
    totals.add({.tags = {"search", "", "", "m"}, .tokens_in = 1, .tokens_out = 2, .cost = 1'000});
  }
  totals.add({.tags = {"chat", "", "", "m"}, .tokens_in = 10, .tokens_out = 20, .cost = 5'000'000});
  totals.add({.tags = {"", "", "", "m"}, .tokens_in = 0, .tokens_out = 0, .cost = 0});
  ASSERT_EQ(totals.groups().size(), 3u);
  EXPECT_EQ(totals.groups().at({"search"}).cost, 1'000'000);
  EXPECT_EQ(totals.groups().at({"search"}).calls, 1000u);
  EXPECT_EQ(totals.groups().at({"none"}).calls, 1u);
  EXPECT_EQ(totals.total().cost, 6'000'000);
  EXPECT_EQ(totals.total().tokens_out, 2020u);

  std::string table = totals.table();
  EXPECT_EQ(table.substr(0, table.find('\n')),
            "feature  calls  tokens_in  tokens_out  cost_usd  saved_usd");
  // The most expensive group first, the total last.
  EXPECT_LT(table.find("chat"), table.find("search"));
  EXPECT_NE(table.find("total     1002       1010        2020  0.006000   0.000000"),
            std::string::npos)
      << table;

  EXPECT_EQ(totals.csv(),
            "feature,calls,tokens_in,tokens_out,cost_usd,saved_usd\n"
            "chat,1,10,20,0.005000,0.000000\n"
            "search,1000,1000,2000,0.001000,0.000000\n"
            "none,1,0,0,0.000000,0.000000\n");

  auto json = nlohmann::json::parse(totals.json());
  EXPECT_EQ(json["groups"][0]["feature"], "chat");
  EXPECT_EQ(json["groups"][0]["cost_usd"], "0.005000");
  EXPECT_EQ(json["total"]["calls"], 1002);
  EXPECT_EQ(json["total"]["cost_usd"], "0.006000");
}

TEST(SpendReport, TellsTheProviderCachedShareOfEachGroupsInput) {
  SpendTotals totals({Dimension::kFeature});
  totals.add({.tags = {"coding", "", "", "m"},
              .tokens_in = 1000,
              .tokens_out = 10,
              .cost = 1,
              .saved = 0,
              .tokens_cached = 875});
  totals.add({.tags = {"coding", "", "", "m"},
              .tokens_in = 1000,
              .tokens_out = 10,
              .cost = 1,
              .saved = 0,
              .tokens_cached = 0});
  totals.add({.tags = {"faq", "", "", "m"}, .tokens_in = 0, .tokens_out = 0, .cost = 0});
  auto json = nlohmann::json::parse(totals.json());
  auto group = [&](const std::string& feature) {
    for (const auto& g : json["groups"]) {
      if (g["feature"] == feature) return g;
    }
    return nlohmann::json();
  };
  EXPECT_EQ(group("coding")["tokens_cached"], 875);
  EXPECT_DOUBLE_EQ(group("coding")["cached_share"].get<double>(), 0.438);
  EXPECT_TRUE(group("faq")["cached_share"].is_null()) << "no input, no share";

  // From the access log: the call's cached tokens and its side calls'.
  auto calls = callsFromLogLine(
      R"({"ts":"2026-11-28T10:00:00.000Z","route":"chat_completions","model":"large","feature":"f")"
      R"(,"tokens_in":100,"tokens_out":5,"cached_tokens":64,"usage_source":"backend","cost_usd":0.0001)"
      R"(,"side_calls":[{"model":"small","tokens_in":100,"tokens_out":3,"cached_tokens":32,)"
      R"("cost_usd":0.00001,"usage_source":"estimated"}]})",
      "", "");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].tokens_cached, 64u);
  EXPECT_EQ(calls[1].tokens_cached, 32u);
}

TEST(SpendReport, GroupsByManyDimensionsAndQuotesCsv) {
  SpendTotals totals({Dimension::kTeam, Dimension::kModel});
  totals.add({.tags = {"f", "a,b", "", "m1"}, .tokens_in = 1, .tokens_out = 1, .cost = 3'000});
  totals.add({.tags = {"g", "a,b", "", "m1"}, .tokens_in = 1, .tokens_out = 1, .cost = 4'000});
  EXPECT_EQ(totals.csv(),
            "team,model,calls,tokens_in,tokens_out,cost_usd,saved_usd\n"
            "\"a,b\",m1,2,2,2,0.000007,0.000000\n");
}

// A cache hit is a call that cost nothing, used no tokens, and saved what the call it spared
// would have cost.
TEST(SpendReport, CacheHitsCountAsSaved) {
  SpendTotals totals({Dimension::kFeature});
  totals.add({.tags = {"faq", "", "", "m"}, .tokens_in = 10, .tokens_out = 20, .cost = 500'000});
  auto hits = callsFromLogLine(
      R"({"ts":"2026-11-29T10:00:00.000Z","route":"chat_completions","model":"m",)"
      R"("feature":"faq","tokens_in":10,"tokens_out":20,"usage_source":"cache","cost_usd":0,)"
      R"("saved_usd":0.000500})",
      "", "");
  ASSERT_EQ(hits.size(), 1u);
  const Call* hit = &hits[0];
  EXPECT_EQ(hit->tokens_in, 0u);
  EXPECT_EQ(hit->cost, 0);
  EXPECT_EQ(hit->saved, 500'000);
  totals.add(*hit);
  EXPECT_EQ(totals.csv(),
            "feature,calls,tokens_in,tokens_out,cost_usd,saved_usd\n"
            "faq,2,10,20,0.000500,0.000500\n");
}

TEST(SpendReport, GroupsAreBounded) {
  SpendTotals totals({Dimension::kFeature}, 3);
  for (int i = 0; i < 10; ++i) {
    totals.add({.tags = {"f" + std::to_string(i), "", "", "m"},
                .tokens_in = 0,
                .tokens_out = 0,
                .cost = 1});
  }
  EXPECT_EQ(totals.groups().size(), 4u);  // three, and "other"
  EXPECT_EQ(totals.groups().at({"other"}).calls, 7u);
  EXPECT_EQ(totals.total().cost, 10);
}

}  // namespace
}  // namespace costgate::report
