#include "filters/budget/budget_filter.h"

#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../support/filter_settings.h"
#include "../../support/request.h"
#include "../../support/test_metrics.h"

namespace costgate::filters::budget {
namespace {

using nlohmann::json;
using pipeline::FilterStatus;
using test_data::Request;
using Time = std::chrono::system_clock::time_point;

Time utc(int year, unsigned month, unsigned day, int hour, int minute = 0) {
  using namespace std::chrono;
  return sys_days{std::chrono::year{year} / std::chrono::month{month} / std::chrono::day{day}} +
         hours(hour) + minutes(minute);
}

config::FilterSpec specOf(const std::string& settings_yaml) {
  auto spec = test_data::specFrom("filters:\n  - budget:\n" + settings_yaml, "budget");
  pricing::Price price;
  price.input = 1'000'000'000;   // $1 per million tokens
  price.output = 2'000'000'000;  // $2
  spec.models = {{"m", price}, {"cheap", pricing::Price{}}, {"big", pricing::Price{}}};
  spec.models["big"]->input = 10'000'000'000;
  spec.models["big"]->output = 20'000'000'000;
  return spec;
}

BudgetConfig configOk(const std::string& settings_yaml) {
  auto parsed = parseBudgetConfig(specOf(settings_yaml));
  if (auto* error = std::get_if<config::ConfigError>(&parsed)) {
    ADD_FAILURE() << error->describe();
    return {};
  }
  return std::get<BudgetConfig>(std::move(parsed));
}

std::string configError(const std::string& settings_yaml) {
  auto parsed = parseBudgetConfig(specOf(settings_yaml));
  auto* error = std::get_if<config::ConfigError>(&parsed);
  return error ? error->describe() : "(no error)";
}

json chat(const std::string& model, int max_tokens) {
  return {{"model", model},
          {"max_tokens", max_tokens},
          {"messages", {{{"role", "user"}, {"content", "one two three four"}}}}};
}

// A micro-dollar in the ledger's nano-dollars: the figures below are in micro-dollars.
constexpr pricing::Nanos kMicro = 1'000;

const pipeline::Tags kTags{"support", "core", "prod", ""};

// One request through the filter at `now`, charged `cost` nano-dollars; its status.
FilterStatus run(const BudgetFilter& filter, Request& request, pricing::Nanos cost) {
  FilterStatus status = filter.onRequest(request.ctx);
  request.ctx.charged.cost = cost;
  filter.onComplete(request.ctx);
  return status;
}

TEST(BudgetConfig, ReportsBadSettingsAtTheirPlace) {
  EXPECT_NE(configError("      budgets: [{name: b, amount_usd: 0}]\n").find("positive USD"),
            std::string::npos);
  EXPECT_NE(configError("      budgets: [{name: b, amount_usd: 1, time_zone: Mars/Olympus}]\n")
                .find("Mars/Olympus"),
            std::string::npos);
  EXPECT_NE(configError("      budgets: [{name: b, amount_usd: 1, thresholds: [{at: 0.9, action: "
                        "degrade}]}]\n")
                .find("degrade threshold needs"),
            std::string::npos);
  EXPECT_NE(configError("      budgets: [{name: b, amount_usd: 1, thresholds: [{at: 0.9, action: "
                        "warn}, {at: 0.5, action: open}]}]\n")
                .find("must rise"),
            std::string::npos);
  EXPECT_NE(configError("      ledger: redis://:@/x\n").find("ledger"), std::string::npos);
  EXPECT_NE(configError("      rate_limits: [{name: r}]\n").find("requests_per_minute"),
            std::string::npos);
  EXPECT_NE(configError("      journal: /tmp/j\n").find("journal: a journal is for a redis://"),
            std::string::npos);
  EXPECT_NE(configError("      ledger: redis://127.0.0.1:1\n      journal: /no/such/dir/j\n")
                .find("cannot open '/no/such/dir/j'"),
            std::string::npos);
}

TEST(BudgetConfig, AnUnknownTimeZoneIsReportedWhereItIsWritten) {
  const std::string line = "      budgets: [{name: b, amount_usd: 1, time_zone: Mars/Olympus}]\n";
  auto parsed = parseBudgetConfig(specOf(line));
  auto* error = std::get_if<config::ConfigError>(&parsed);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->where.line, 3);  // after "filters:" and "  - budget:"
  EXPECT_EQ(error->where.column, static_cast<int>(line.find("Mars")) + 1);
  EXPECT_NE(error->message.find("no zone file at /usr/share/zoneinfo/Mars/Olympus"),
            std::string::npos)
      << error->message;
}

TEST(BudgetFilter, AMonthlyBudgetInATimeZoneResetsAtItsLocalMidnight) {
  Time now = utc(2026, 12, 1, 4, 30);  // still November 30th in New York (UTC-5)
  BudgetFilter filter(configOk("      budgets: [{name: month, amount_usd: 0.001, window: month, "
                               "time_zone: America/New_York}]\n"),
                      test_data::testMetrics(), nullptr, [&] { return now; });
  Request first(chat("m", 10), pipeline::Route::kChatCompletions, nullptr, kTags);
  ASSERT_EQ(run(filter, first, 990 * kMicro), FilterStatus::kContinue);
  Request second(chat("m", 10), pipeline::Route::kChatCompletions, nullptr, kTags);
  ASSERT_EQ(run(filter, second, 0), FilterStatus::kRespond)
      << "990 spent: the next worst case (about 22) does not fit in November's 1000";
  EXPECT_EQ(second.ctx.local_reply->status, 429);
  json error = json::parse(second.ctx.local_reply->body)["error"];
  EXPECT_EQ(error["code"], "budget_exceeded");
  // Retry-After: until New York's midnight, 05:00 UTC: half an hour.
  ASSERT_EQ(second.ctx.local_reply->headers.at(0).first, "retry-after");
  EXPECT_EQ(second.ctx.local_reply->headers.at(0).second, "1801");

  now = utc(2026, 12, 1, 5, 0);  // December in New York: a new window
  Request december(chat("m", 10), pipeline::Route::kChatCompletions, nullptr, kTags);
  EXPECT_EQ(run(filter, december, 100 * kMicro), FilterStatus::kContinue);
  auto status = filter.status();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->at(0).window, "2026-12");
  EXPECT_EQ(status->at(0).spent, 100 * kMicro);
}

TEST(BudgetFilter, TheWorstCaseIsReservedAndSettledToTheCharge) {
  Time now = utc(2026, 6, 15, 12);
  BudgetFilter filter(configOk("      budgets: [{name: day, amount_usd: 1, window: day}]\n"),
                      test_data::testMetrics(), nullptr, [&] { return now; });
  Request request(chat("m", 1000), pipeline::Route::kChatCompletions, nullptr, kTags);
  ASSERT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  auto held = filter.status();
  ASSERT_TRUE(held);
  // Input about 1 token a 4 characters (no encoding), output cap 1000 at $2/M: 2000 micros + input.
  EXPECT_GE(held->at(0).reserved, 2000 * kMicro);
  EXPECT_LT(held->at(0).reserved, 2100 * kMicro);
  request.ctx.charged.cost = 321 * kMicro;
  filter.onComplete(request.ctx);
  auto settled = filter.status();
  EXPECT_EQ(settled->at(0).reserved, 0);
  EXPECT_EQ(settled->at(0).spent, 321 * kMicro);
}

TEST(BudgetFilter, TheSpendOfAMemoryLedgerOutlivesAReload) {
  Time now = utc(2026, 6, 15, 12);
  pipeline::KeptState kept;
  auto before = std::make_unique<BudgetFilter>(
      configOk("      budgets: [{name: day, amount_usd: 1, window: day}]\n"),
      test_data::testMetrics(), &kept, [&] { return now; });
  Request first(chat("m", 10), pipeline::Route::kChatCompletions, nullptr, kTags);
  ASSERT_EQ(run(*before, first, 400'000 * kMicro), FilterStatus::kContinue);
  // The new configuration lowers the limit; it is built while the old one still serves.
  BudgetFilter after(configOk("      budgets: [{name: day, amount_usd: 0.5, window: day}]\n"),
                     test_data::testMetrics(), &kept, [&] { return now; });
  before.reset();
  EXPECT_EQ(after.status()->at(0).spent, 400'000 * kMicro);
  EXPECT_EQ(after.status()->at(0).limit, 500'000 * kMicro);
  Request second(chat("m", 100'000), pipeline::Route::kChatCompletions, nullptr, kTags);
  EXPECT_EQ(after.onRequest(second.ctx), FilterStatus::kRespond);  // $0.2 worst case: over $0.5

  pipeline::KeptState elsewhere;  // a process of its own starts from nothing
  BudgetFilter fresh(configOk("      budgets: [{name: day, amount_usd: 1, window: day}]\n"),
                     test_data::testMetrics(), &elsewhere, [&] { return now; });
  EXPECT_EQ(fresh.status()->at(0).spent, 0);
}

TEST(BudgetFilter, ACascadeReservesEveryModelItMayTry) {
  Time now = utc(2026, 6, 15, 12);
  BudgetFilter filter(configOk("      budgets: [{name: day, amount_usd: 1, window: day}]\n"),
                      test_data::testMetrics(), nullptr, [&] { return now; });
  Request request(chat("m", 1000), pipeline::Route::kChatCompletions, nullptr, kTags);
  request.ctx.cascade =
      pipeline::Cascade{{"m", "big"}, {}, false, "cascade", 0, {}, {}, std::nullopt, std::nullopt};
  ASSERT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  // 1000 output tokens at $2/M and at $20/M, plus the input twice.
  EXPECT_GE(filter.status()->at(0).reserved, 22'000 * kMicro);
}

TEST(BudgetFilter, AModelIsReservedAtTheDearestOfItAndItsFallbacks) {
  Time now = utc(2026, 6, 15, 12);
  auto spec = specOf("      budgets: [{name: day, amount_usd: 1, window: day}]\n");
  spec.fallbacks = {{"m", {"cheap", "big"}}};
  auto parsed = parseBudgetConfig(spec);
  ASSERT_TRUE(std::holds_alternative<BudgetConfig>(parsed));
  BudgetFilter filter(std::get<BudgetConfig>(std::move(parsed)), test_data::testMetrics(), nullptr,
                      [&] { return now; });
  Request request(chat("m", 1000), pipeline::Route::kChatCompletions, nullptr, kTags);
  ASSERT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue);
  // "big" answers if "m" fails: 1000 output tokens at $20/M, plus the input, not at $2/M.
  EXPECT_GE(filter.status()->at(0).reserved, 20'000 * kMicro);
  EXPECT_LT(filter.status()->at(0).reserved, 21'000 * kMicro);
  // A request that cannot afford the fallback is refused before anything is called.
  Request dear(chat("m", 60'000), pipeline::Route::kChatCompletions, nullptr, kTags);
  EXPECT_EQ(filter.onRequest(dear.ctx), FilterStatus::kRespond);  // $1.2 worst case, not $0.12
}

TEST(BudgetFilter, DegradeRewritesTheModelAndTheCapAndDropsTheCascade) {
  Time now = utc(2026, 6, 15, 12);
  BudgetFilter filter(
      configOk("      budgets: [{name: day, amount_usd: 0.01, thresholds: [{at: 0.5, action: "
               "degrade}, {at: 1, action: open}], degrade: {model: cheap, max_output_tokens: "
               "50}}]\n"),
      test_data::testMetrics(), nullptr, [&] { return now; });
  Request spend(chat("m", 10), pipeline::Route::kChatCompletions, nullptr, kTags);
  run(filter, spend, 6000 * kMicro);
  Request degraded(chat("m", 1000), pipeline::Route::kChatCompletions, nullptr, kTags);
  degraded.ctx.cascade =
      pipeline::Cascade{{"m", "big"}, {}, false, "cascade", 0, {}, {}, std::nullopt, std::nullopt};
  ASSERT_EQ(filter.onRequest(degraded.ctx), FilterStatus::kContinue);
  EXPECT_FALSE(degraded.ctx.cascade);
  json body = degraded.forwarded();
  EXPECT_EQ(body["model"], "cheap");
  EXPECT_EQ(body["max_tokens"], 50);
  filter.onComplete(degraded.ctx);
  EXPECT_EQ(degraded.ctx.log.textOf("degraded_by"), "day");
}

TEST(BudgetFilter, ABudgetScopedByAGatewayKeyCountsOnlyThatKeysRequests) {
  Time now = utc(2026, 6, 15, 12);
  BudgetFilter filter(configOk("      budgets: [{name: app, match: {key: [search-app], team: "
                               "[core]}, amount_usd: 0.001}]\n"),
                      test_data::testMetrics(), nullptr, [&] { return now; });
  Request keyed(chat("m", 10), pipeline::Route::kChatCompletions, nullptr, kTags);
  keyed.ctx.api_key_name = "search-app";
  run(filter, keyed, 990 * kMicro);
  Request other_key(chat("m", 10), pipeline::Route::kChatCompletions, nullptr, kTags);
  other_key.ctx.api_key_name = "ops-app";
  EXPECT_EQ(run(filter, other_key, 990 * kMicro), FilterStatus::kContinue) << "out of scope";
  Request again(chat("m", 10), pipeline::Route::kChatCompletions, nullptr, kTags);
  again.ctx.api_key_name = "search-app";
  EXPECT_EQ(run(filter, again, 0), FilterStatus::kRespond);
}

TEST(BudgetFilter, ARateLimitCountsRequestsPerMinute) {
  Time now = utc(2026, 6, 15, 12, 0);
  BudgetFilter filter(configOk("      rate_limits: [{name: rpm, requests_per_minute: 2}]\n"),
                      test_data::testMetrics(), nullptr, [&] { return now; });
  for (int i = 0; i < 2; ++i) {
    Request request(chat("m", 10), pipeline::Route::kChatCompletions, nullptr, kTags);
    EXPECT_EQ(run(filter, request, 1), FilterStatus::kContinue);
  }
  Request third(chat("m", 10), pipeline::Route::kChatCompletions, nullptr, kTags);
  ASSERT_EQ(run(filter, third, 0), FilterStatus::kRespond);
  EXPECT_EQ(json::parse(third.ctx.local_reply->body)["error"]["code"], "rate_limit_exceeded");
  now = utc(2026, 6, 15, 12, 1);
  Request next_minute(chat("m", 10), pipeline::Route::kChatCompletions, nullptr, kTags);
  EXPECT_EQ(run(filter, next_minute, 1), FilterStatus::kContinue);
}

// Routes that do not validate max_tokens or n (embeddings, completions' max_completion_tokens)
// hand the filter any number: a huge one is held at 2^31 tokens, a negative one counts as none,
// and neither is cast into a negative or overflowed reservation.
TEST(BudgetFilter, AnAbsurdOutputCapIsHeldWithinBounds) {
  Time now = utc(2026, 6, 15, 12);
  BudgetFilter filter(configOk("      assumed_output_tokens: 100\n"
                               "      budgets: [{name: day, amount_usd: 100000, window: day}]\n"),
                      test_data::testMetrics(), nullptr, [&] { return now; });
  auto reserved = [&](const std::string& fields) {
    Request request(R"({"model":"m","prompt":"four tokens of prompt",)" + fields + "}",
                    pipeline::Route::kCompletions, nullptr, kTags);
    EXPECT_EQ(filter.onRequest(request.ctx), FilterStatus::kContinue) << fields;
    auto held = filter.status();
    pricing::Nanos amount = held ? held->at(0).reserved : -1;
    filter.onComplete(request.ctx);
    return amount;
  };
  // [fields, the output tokens held for them]; each token costs 2 micro-dollars, the prompt a few.
  constexpr pricing::Nanos kMostTokens = pricing::Nanos{1} << 31;
  for (const auto& [fields, output] : std::initializer_list<std::pair<const char*, pricing::Nanos>>{
           {R"("max_completion_tokens":1e300)", kMostTokens},
           {R"("max_tokens":9223372036854775807)", kMostTokens},
           {R"("max_tokens":1e300,"n":2)", 2 * kMostTokens},
           {R"("max_tokens":10,"n":1e300)", 128 * 10},
           {R"("max_tokens":-1e300)", 100},  // none: assumed_output_tokens
           {R"("max_tokens":-5,"n":-1e300)", 100},
       }) {
    pricing::Nanos amount = reserved(fields);
    EXPECT_GE(amount - 2 * kMicro * output, 0) << fields;
    EXPECT_LT(amount - 2 * kMicro * output, 20 * kMicro) << fields;
  }
}

TEST(BudgetFilter, AnAbsurdOutputCapCannotSlipPastATokenRateLimit) {
  Time now = utc(2026, 6, 15, 12);
  BudgetFilter filter(configOk("      rate_limits: [{name: tpm, tokens_per_minute: 1000000}]\n"),
                      test_data::testMetrics(), nullptr, [&] { return now; });
  // An unpriced model: only the token limit can refuse it.
  Request huge(std::string(R"({"model":"cheap","input":"embed me","max_tokens":1e300,"n":-1e300})"),
               pipeline::Route::kEmbeddings, nullptr, kTags);
  ASSERT_EQ(run(filter, huge, 0), FilterStatus::kRespond);
  EXPECT_EQ(json::parse(huge.ctx.local_reply->body)["error"]["code"], "rate_limit_exceeded");
}

}  // namespace
}  // namespace costgate::filters::budget

namespace costgate::filters::budget {
namespace {

TEST(BudgetConfig, ScopedTagValuesKeepTheirMetricLabelsWhateverClientsSend) {
  pipeline::KeptState kept;
  metrics::Metrics metrics;
  pipeline::FilterEnvironment environment{
      .kept = kept, .metrics = metrics, .redis_on_loop = nullptr};
  auto made = makeBudgetFilter(
      specOf("      budgets: [{name: pay, amount_usd: 1, window: day, match: {team: [payments],"
             " feature: [checkout, 'beta-*']}}]\n"
             "      rate_limits: [{name: rpm, requests_per_minute: 5, match: {env: [prod]}}]\n"),
      environment);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<pipeline::Filter>>(made));
  auto labels = [&](std::string feature, std::string team, std::string env) {
    const auto [f, t, e] =
        metrics.tagLabels({.feature = feature, .team = team, .env = env, .model = "m"});
    return std::string(f) + "/" + std::string(t) + "/" + std::string(e);
  };
  for (int i = 0; i < 300; ++i) {
    labels("f" + std::to_string(i), "t" + std::to_string(i), "e" + std::to_string(i));
  }
  EXPECT_EQ(labels("checkout", "payments", "prod"), "checkout/payments/prod");
  EXPECT_EQ(labels("beta-1", "payments", "prod"), "other/payments/prod")
      << "a pattern names no value to keep a slot for";
}

}  // namespace
}  // namespace costgate::filters::budget
