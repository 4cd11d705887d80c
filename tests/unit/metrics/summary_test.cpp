#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "costgate/metrics/metrics.h"
#include "filters/budget/budget_stats.h"
#include "filters/router/router_stats.h"
#include "filters/semantic_cache/cache_stats.h"

namespace costgate::metrics {
namespace {

using nlohmann::json;

const Attribution kSearch{.feature = "search", .team = "growth", .env = "prod", .model = "small"};
const Attribution kChat{.feature = "chat", .team = "core", .env = "prod", .model = "large"};

json summaryOf(const Metrics& metrics) { return json::parse(metrics.summaryJson()); }

// Where the q-th observation of `count` falls in the bucket (lower, upper] that holds `inside` of
// them, `below` lying under it: histogram_quantile's linear interpolation.
double interpolated(double q, double count, double lower, double upper, double below,
                    double inside) {
  return lower + (upper - lower) * (q * count - below) / inside;
}

TEST(MetricsSummary, NothingRecordedIsZeroWithUnknownRatios) {
  Metrics metrics;
  json summary = summaryOf(metrics);
  EXPECT_EQ(summary["spend"]["total_usd"], "0.000000");
  EXPECT_TRUE(summary["spend"]["by_feature"].empty());
  EXPECT_EQ(summary["requests"]["total"], 0);
  EXPECT_TRUE(summary["tokens"]["per_call"].is_null());
  EXPECT_TRUE(summary["cache"]["hit_rate"].is_null());
  EXPECT_TRUE(summary["routing"]["escalation_rate"].is_null());
  EXPECT_TRUE(summary["budgets"].empty());
  EXPECT_EQ(summary["latency_seconds"]["overhead"]["count"], 0);
  EXPECT_TRUE(summary["latency_seconds"]["overhead"]["p50"].is_null());
  EXPECT_GE(summary["uptime_seconds"].get<double>(), 0);
  EXPECT_GT(summary["since"].get<long long>(), 1'700'000'000);
}

TEST(MetricsSummary, SpendAddsUpToTheMicroDollarByEachTag) {
  Metrics metrics;
  pricing::Usage usage{.prompt_tokens = 100, .completion_tokens = 20};
  metrics.countUsage(kSearch, usage, 2'500'000);
  metrics.countUsage(kSearch, usage, 2'500'000);
  metrics.countUsage(kChat, usage, 1'234'000);
  metrics.countUsage({.feature = "", .team = "core", .env = "dev", .model = "small"}, usage, 7'000);
  json spend = summaryOf(metrics)["spend"];
  EXPECT_EQ(spend["total_usd"], "0.006241");  // 2 x 2,500 + 1,234 + 7 micro-dollars
  // Most expensive first.
  EXPECT_EQ(spend["by_feature"], json::parse(R"([{"name":"search","cost_usd":"0.005000"},
                            {"name":"chat","cost_usd":"0.001234"},
                            {"name":"none","cost_usd":"0.000007"}])"));
  EXPECT_EQ(spend["by_team"], json::parse(R"([{"name":"growth","cost_usd":"0.005000"},
                                               {"name":"core","cost_usd":"0.001241"}])"));
  EXPECT_EQ(spend["by_env"], json::parse(R"([{"name":"prod","cost_usd":"0.006234"},
                                              {"name":"dev","cost_usd":"0.000007"}])"));
  EXPECT_EQ(spend["by_model"], json::parse(R"([{"name":"small","cost_usd":"0.005007"},
                                                {"name":"large","cost_usd":"0.001234"}])"));
}

TEST(MetricsSummary, RequestsErrorsAndTokensPerCall) {
  Metrics metrics;
  for (int i = 0; i < 3; ++i) metrics.countRequest(kSearch, "chat_completions", 200, 0.01);
  metrics.countRequest(kChat, "embeddings", 200, 0.01);
  metrics.countRequest(kChat, "chat_completions", 429, 0.001);
  metrics.countRequest(kChat, "chat_completions", 502, 0.2);
  metrics.countRequest({.feature = "", .team = "", .env = "", .model = "none"}, "unknown", 404,
                       0.001);
  metrics.countRequest({.feature = "", .team = "", .env = "", .model = "none"}, "admin", 200,
                       0.001);
  metrics.countUpstreamFailure("mock", "upstream_timeout");
  metrics.countUpstreamFailure("mock", "upstream_timeout");
  pricing::Usage usage{
      .prompt_tokens = 120, .completion_tokens = 40, .cached_tokens = 100, .reasoning_tokens = 10};
  for (int i = 0; i < 4; ++i) metrics.countUsage(kSearch, usage, 1'000);

  json summary = summaryOf(metrics);
  json requests = summary["requests"];
  EXPECT_EQ(requests["total"], 8);
  EXPECT_EQ(requests["api"], 6);     // chat_completions and embeddings, whatever their status
  EXPECT_EQ(requests["api_ok"], 4);  // of which 2xx
  EXPECT_EQ(requests["client_errors"], 2);
  EXPECT_EQ(requests["server_errors"], 1);
  EXPECT_EQ(requests["by_route"], json::parse(R"([{"name":"admin","count":1},
      {"name":"chat_completions","count":5},{"name":"embeddings","count":1},
      {"name":"unknown","count":1}])"));
  EXPECT_EQ(requests["by_status"], json::parse(R"([{"name":"200","count":5},
      {"name":"404","count":1},{"name":"429","count":1},{"name":"502","count":1}])"));
  EXPECT_EQ(requests["upstream_failures"],
            json::parse(R"([{"backend":"mock","kind":"upstream_timeout","count":2}])"));

  json tokens = summary["tokens"];
  EXPECT_EQ(tokens["input"], 4 * 20);
  EXPECT_EQ(tokens["cached_input"], 4 * 100);
  EXPECT_EQ(tokens["output"], 4 * 30);
  EXPECT_EQ(tokens["reasoning"], 4 * 10);
  EXPECT_EQ(tokens["total"], 4 * 160);
  // Per API request answered with a 2xx, as the Grafana panel divides.
  EXPECT_DOUBLE_EQ(tokens["per_call"].get<double>(), 4 * 160 / 4.0);

  // The durations recorded above: 3 at 0.001 (bucket le 0.001), 4 at 0.01 (in (0.005, 0.01]),
  // 1 at 0.2 (in (0.1, 0.25]).
  json request = summary["latency_seconds"]["request"];
  EXPECT_EQ(request["count"], 8);
  EXPECT_DOUBLE_EQ(request["p50"].get<double>(), interpolated(0.5, 8, 0.005, 0.01, 3, 4));
  EXPECT_DOUBLE_EQ(request["p99"].get<double>(), interpolated(0.99, 8, 0.1, 0.25, 7, 1));
}

// The filters count their own families (their stats); the summary finds them by name.
TEST(MetricsSummary, CacheHitRateLeavesBypassesOutAndSavingsAddUp) {
  Metrics metrics;
  filters::semantic_cache::CacheStats stats(metrics);
  auto lookup = [&](std::string_view result, std::optional<pricing::Nanos> saved) {
    pipeline::RequestContext ctx;
    ctx.tag_labels = {"search", "growth", "prod", ""};
    ctx.model = "small";
    stats.record(ctx, {.result = result,
                       .lookup_seconds = 0.0001,
                       .coalesced = false,
                       .saved = saved,
                       .policy = "faq",
                       .entries = 1,
                       .bytes = 10,
                       .shared_store_up = std::nullopt,
                       .not_stored = {}});
  };
  lookup("miss", std::nullopt);
  lookup("miss", std::nullopt);
  lookup("hit-exact", 2'500'000);
  lookup("hit-semantic", 1'500'000);
  lookup("bypass", std::nullopt);
  lookup("bypass", std::nullopt);
  json cache = summaryOf(metrics)["cache"];
  EXPECT_EQ(cache["hit_exact"], 1);
  EXPECT_EQ(cache["hit_semantic"], 1);
  EXPECT_EQ(cache["miss"], 2);
  EXPECT_EQ(cache["bypass"], 2);
  EXPECT_DOUBLE_EQ(cache["hit_rate"].get<double>(), 2.0 / 4.0);
  EXPECT_EQ(cache["saved_usd"], "0.004000");
}

TEST(MetricsSummary, EscalationRateIsEscalationsPerRouteDecision) {
  Metrics metrics;
  filters::router::RouterStats stats(metrics);
  auto routed = [&](std::string tier, std::string rule, std::vector<pipeline::Escalation> moves) {
    pipeline::RequestContext ctx;
    ctx.served_model = "large";
    if (!moves.empty()) {
      ctx.cascade.emplace();
      ctx.cascade->escalations = std::move(moves);
    }
    stats.record(ctx, {std::move(tier), std::move(rule)});
  };
  for (int i = 0; i < 7; ++i) routed("cheap", "complexity", {});
  routed("cheap", "complexity", {{"small", "large", "low_logprob"}, {"small", "large", "refusal"}});
  routed("strong", "long-prompts", {{"small", "large", "low_logprob"}});
  routed("strong", "long-prompts", {});
  metrics.countFallback("large", "backup", "upstream_timeout");
  json routing = summaryOf(metrics)["routing"];
  EXPECT_EQ(routing["decisions"], 10);
  EXPECT_EQ(routing["escalations"], 3);
  EXPECT_DOUBLE_EQ(routing["escalation_rate"].get<double>(), 3.0 / 10.0);
  EXPECT_EQ(routing["fallbacks"], 1);
}

TEST(MetricsSummary, BudgetsShowTheirLatestSpendLimitAndState) {
  Metrics metrics;
  filters::budget::BudgetStats stats(metrics);
  auto record = [&](std::vector<filters::budget::BudgetOutcome::State> budgets,
                    std::string rejected, bool rate_limited, std::string degraded) {
    pipeline::RequestContext ctx;
    filters::budget::BudgetOutcome outcome;
    outcome.budgets = std::move(budgets);
    outcome.rejected = std::move(rejected);
    outcome.rate_limited = rate_limited;
    outcome.degraded = std::move(degraded);
    stats.record(ctx, outcome);
  };
  record({{"team-growth", 8'000'000'000, 10'000'000'000, "warn"},
          {"global", 1'250'000'000, 100'000'000'000, "ok"}},
         "", false, "");
  record({{"team-growth", 10'000'000'000, 10'000'000'000, "open"}}, "team-growth", false, "");
  record({}, "per-user", true, "");
  record({}, "", false, "global");

  json summary = summaryOf(metrics);
  EXPECT_EQ(summary["budgets"], json::parse(R"([
      {"name":"global","spent_usd":"1.250000","limit_usd":"100.000000","used":0.0125,"state":"ok"},
      {"name":"team-growth","spent_usd":"10.000000","limit_usd":"10.000000","used":1.0,
       "state":"open"}])"));
  EXPECT_EQ(summary["budget_actions"],
            json::parse(R"({"rejections":1,"degradations":1,"rate_limited":1})"));
}

TEST(MetricsSummary, PercentilesInterpolateWithinTheBucketsOfEverySeries) {
  Metrics metrics;
  // Overhead, over two routes (merged): 100 observations in (0.00025, 0.0005].
  for (int i = 0; i < 60; ++i) metrics.observeOverhead("chat_completions", 0.0003);
  for (int i = 0; i < 40; ++i) metrics.observeOverhead("embeddings", 0.0004);
  json overhead = summaryOf(metrics)["latency_seconds"]["overhead"];
  EXPECT_EQ(overhead["count"], 100);
  EXPECT_DOUBLE_EQ(overhead["p50"].get<double>(), interpolated(0.5, 100, 0.00025, 0.0005, 0, 100));
  EXPECT_DOUBLE_EQ(overhead["p99"].get<double>(), interpolated(0.99, 100, 0.00025, 0.0005, 0, 100));

  // Upstream, over two backends: 90 in (0.0025, 0.005], 10 in (0.1, 0.25].
  for (int i = 0; i < 90; ++i) metrics.observeUpstream(i % 2 ? "a" : "b", 0.003);
  for (int i = 0; i < 10; ++i) metrics.observeUpstream("a", 0.2);
  json upstream = summaryOf(metrics)["latency_seconds"]["upstream"];
  EXPECT_EQ(upstream["count"], 100);
  EXPECT_DOUBLE_EQ(upstream["p50"].get<double>(), interpolated(0.5, 100, 0.0025, 0.005, 0, 90));
  EXPECT_DOUBLE_EQ(upstream["p95"].get<double>(), interpolated(0.95, 100, 0.1, 0.25, 90, 10));
  EXPECT_DOUBLE_EQ(upstream["p99"].get<double>(), interpolated(0.99, 100, 0.1, 0.25, 90, 10));

  // Past the last finite bound (120 s), a quantile is that bound, as histogram_quantile says.
  for (int i = 0; i < 900; ++i) metrics.observeUpstream("a", 500);
  upstream = summaryOf(metrics)["latency_seconds"]["upstream"];
  EXPECT_DOUBLE_EQ(upstream["p95"].get<double>(), 120);
  EXPECT_DOUBLE_EQ(upstream["p99"].get<double>(), 120);
}

TEST(MetricsSummary, TagValuesAreJsonEscaped) {
  Metrics metrics;
  metrics.countUsage({.feature = "say \"hi\"\n<b>", .team = "t", .env = "e", .model = "m"},
                     {.prompt_tokens = 1}, 1);
  json spend = summaryOf(metrics)["spend"];  // parses: the value was escaped
  EXPECT_EQ(spend["by_feature"][0]["name"], "say \"hi\"\n<b>");
}

}  // namespace
}  // namespace costgate::metrics
