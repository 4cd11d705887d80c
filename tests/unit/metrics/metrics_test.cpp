#include "costgate/metrics/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace costgate::metrics {
namespace {

TEST(Metrics, SerializesEveryFamilyWithItsLabels) {
  Metrics metrics;
  Attribution who{.feature = "search", .team = "growth", .env = "prod", .model = "mock-small"};
  metrics.countRequest(who, "chat_completions", 200, 0.01);
  metrics.countRequest(who, "chat_completions", 200, 0.02);
  metrics.countRequest({.feature = "", .team = "", .env = "", .model = "unknown"},
                       "chat_completions", 404, 0.001);
  metrics.observeOverhead("chat_completions", 0.0002);
  metrics.observeTimeToFirstToken("mock-small", 0.05);
  metrics.observeUpstream("mock", 0.005);
  metrics.countUpstreamFailure("mock", "upstream_timeout");
  metrics.countStream("completed");
  std::string text = metrics.serialize();
  EXPECT_NE(
      text.find("costgate_requests_total{env=\"prod\",feature=\"search\",model=\"mock-small\","
                "route=\"chat_completions\",status=\"200\",team=\"growth\"} 2"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("costgate_requests_total{env=\"none\",feature=\"none\",model=\"unknown\""),
            std::string::npos);
  EXPECT_NE(
      text.find("costgate_overhead_seconds_bucket{route=\"chat_completions\",le=\"0.00025\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("costgate_time_to_first_token_seconds_count{model=\"mock-small\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("status=\"404\",team=\"none\"} 1"), std::string::npos);
  EXPECT_NE(text.find("costgate_request_duration_seconds_count{route=\"chat_completions\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("costgate_upstream_duration_seconds_count{backend=\"mock\"} 1"),
            std::string::npos);
  EXPECT_NE(
      text.find("costgate_upstream_failures_total{backend=\"mock\",kind=\"upstream_timeout\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("costgate_streams_total{outcome=\"completed\"} 1"), std::string::npos);
  EXPECT_NE(text.find("costgate_build_info{version=\"" COSTGATE_VERSION "\"} 1"),
            std::string::npos);
}

TEST(Metrics, CountsTokensByTypeAndCostByWhoPays) {
  Metrics metrics;
  Attribution who{.feature = "search", .team = "growth", .env = "prod", .model = "mock-small"};
  pricing::Usage usage{
      .prompt_tokens = 120, .completion_tokens = 40, .cached_tokens = 100, .reasoning_tokens = 10};
  metrics.countUsage(who, usage, 2'500'000);
  metrics.countUsage(who, usage, 2'500'000);
  std::string text = metrics.serialize();
  const std::string labels = "env=\"prod\",feature=\"search\",model=\"mock-small\",team=\"growth\"";
  EXPECT_NE(text.find("costgate_tokens_total{" + labels + ",type=\"input\"} 40"), std::string::npos)
      << text;
  EXPECT_NE(text.find("costgate_tokens_total{" + labels + ",type=\"cached_input\"} 200"),
            std::string::npos);
  EXPECT_NE(text.find("costgate_tokens_total{" + labels + ",type=\"output\"} 60"),
            std::string::npos);
  EXPECT_NE(text.find("costgate_tokens_total{" + labels + ",type=\"reasoning\"} 20"),
            std::string::npos);
  EXPECT_NE(text.find("costgate_cost_usd_total{" + labels + "} 0.005"), std::string::npos);
  // Unpriced: tokens, no cost series.
  metrics.countUsage({.feature = "", .team = "", .env = "", .model = "free"}, usage, std::nullopt);
  text = metrics.serialize();
  EXPECT_NE(text.find("feature=\"none\",model=\"free\""), std::string::npos);
  EXPECT_EQ(text.find("costgate_cost_usd_total{env=\"none\""), std::string::npos);
}

TEST(Metrics, TagLabelsAreBounded) {
  Metrics metrics;
  pricing::Usage usage{.prompt_tokens = 1};
  for (std::size_t i = 0; i < kMaxTagValues + 50; ++i) {
    std::string feature = "feature-" + std::to_string(i);
    metrics.countUsage({.feature = feature, .team = "t", .env = "e", .model = "m"}, usage, 1'000);
  }
  std::string text = metrics.serialize();
  std::size_t series = 0;
  for (std::size_t at = 0; (at = text.find("costgate_cost_usd_total{", at)) != std::string::npos;
       ++at) {
    ++series;
  }
  EXPECT_EQ(series, kMaxTagValues + 1);  // the first values seen, and "other"
  // 50 calls of 1 micro-dollar each went to "other".
  const std::string other =
      "costgate_cost_usd_total{env=\"e\",feature=\"other\",model=\"m\",team=\"t\"} ";
  auto at = text.find(other);
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_NEAR(std::stod(text.substr(at + other.size())), 50e-6, 1e-12);
  // A value admitted before stays itself.
  metrics.countUsage({.feature = "feature-0", .team = "t", .env = "e", .model = "m"}, usage, 1'000);
  EXPECT_NE(metrics.serialize().find("feature=\"feature-0\",model=\"m\",team=\"t\"} 2e-06"),
            std::string::npos);
}

TEST(Metrics, TagCombinationsAreBounded) {
  // 40 x 40 combinations, each tag within its own bound: the combinations are capped too.
  Metrics metrics;
  pricing::Usage usage{.prompt_tokens = 1};
  for (int f = 0; f < 40; ++f) {
    for (int t = 0; t < 40; ++t) {
      std::string feature = "f" + std::to_string(f), team = "t" + std::to_string(t);
      metrics.countUsage({.feature = feature, .team = team, .env = "e", .model = "m"}, usage, 1);
    }
  }
  std::string text = metrics.serialize();
  std::size_t series = 0;
  for (std::size_t at = 0; (at = text.find("costgate_cost_usd_total{", at)) != std::string::npos;
       ++at) {
    ++series;
  }
  EXPECT_EQ(series, kMaxTagCombinations + 1);
  EXPECT_NE(
      text.find(R"(costgate_cost_usd_total{env="other",feature="other",model="m",team="other"})"),
      std::string::npos);
}

TEST(Metrics, DeclaredTagValuesKeepTheirSlotsWhateverClientsSend) {
  Metrics metrics;
  metrics.reserveTagLabels({.feature = {"search"}, .team = {"growth"}, .env = {"prod"}});
  auto labels = [&](std::string_view feature, std::string_view team, std::string_view env) {
    const auto [f, t, e] =
        metrics.tagLabels({.feature = feature, .team = team, .env = env, .model = "m"});
    return std::string(f) + "/" + std::string(t) + "/" + std::string(e);
  };
  // Clients fill every free-form slot of each tag, and every free-form combination.
  for (int i = 0; i < 300; ++i) {
    labels("f" + std::to_string(i), "t" + std::to_string(i % 37), "e" + std::to_string(i % 5));
  }
  for (int f = 0; f < 40; ++f) {
    for (int t = 0; t < 40; ++t) labels("f" + std::to_string(f), "t" + std::to_string(t), "e0");
  }
  EXPECT_EQ(labels("f299", "t1", "e1"), "other/t1/e1") << "past the free-form bound";
  EXPECT_EQ(labels("new-feature", "new-team", "new-env"), "other/other/other");
  // Declared values, and combinations of them with "none" and "other", keep their own.
  EXPECT_EQ(labels("search", "growth", "prod"), "search/growth/prod");
  EXPECT_EQ(labels("search", "", "prod"), "search/none/prod");
  EXPECT_EQ(labels("search", "growth", "anything-new"), "search/growth/other");
  // A team a reload declares later gets its slot too, even one already counted as "other" on
  // this thread.
  EXPECT_EQ(labels("search", "late-team", "prod"), "search/other/prod");
  metrics.reserveTagLabels({.feature = {}, .team = {"late-team"}, .env = {}});
  EXPECT_EQ(labels("search", "late-team", "prod"), "search/late-team/prod");
  // ...and on another thread.
  std::string elsewhere;
  std::thread([&] { elsewhere = labels("search", "late-team", "prod"); }).join();
  EXPECT_EQ(elsewhere, "search/late-team/prod");
  // Free-form values stay bounded: the late ones are still "other".
  EXPECT_EQ(labels("f250", "late-team", "prod"), "other/late-team/prod");
}

TEST(Metrics, SeparateInstancesDoNotShareSeries) {
  // The per-thread lookup caches must not hand one registry's series to another.
  auto first = std::make_unique<Metrics>();
  first->countRequest({.feature = "", .team = "", .env = "", .model = "m"}, "embeddings", 200, 0.1);
  first.reset();
  Metrics second;
  second.countRequest({.feature = "", .team = "", .env = "", .model = "m"}, "embeddings", 200, 0.1);
  EXPECT_NE(second.serialize().find("route=\"embeddings\",status=\"200\",team=\"none\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace costgate::metrics
