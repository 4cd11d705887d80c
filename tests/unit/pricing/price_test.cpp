#include "costgate/pricing/price.h"

#include <gtest/gtest.h>

#include <limits>

namespace costgate::pricing {
namespace {

// gpt-4o-mini's published prices: $0.15 input, $0.075 cached input, $0.60 output per million.
const Price kMini{
    .input = 150'000'000, .cached_input = 75'000'000, .output = 600'000'000, .reasoning = {}};

TEST(PriceTest, ChargesInputAndOutputPerMillionTokens) {
  // 1M input tokens and 1M output tokens: $0.15 + $0.60.
  EXPECT_EQ(costOf(kMini, {.prompt_tokens = 1'000'000, .completion_tokens = 1'000'000}),
            750'000'000);
  // 1,000 in, 500 out: 150,000 + 300,000 nano-dollars.
  EXPECT_EQ(costOf(kMini, {.prompt_tokens = 1'000, .completion_tokens = 500}), 450'000);
}

TEST(PriceTest, CachedTokensArePartOfThePromptAtTheirOwnPrice) {
  // 10,000 prompt tokens of which 8,000 cached: 2,000 x 0.15 + 8,000 x 0.075 = 300 + 600 micros.
  Usage usage{.prompt_tokens = 10'000, .completion_tokens = 0, .cached_tokens = 8'000};
  EXPECT_EQ(costOf(kMini, usage), 900'000);
  // Without a cached price, cached tokens cost what input does.
  Price flat{.input = 150'000'000, .cached_input = {}, .output = 600'000'000, .reasoning = {}};
  EXPECT_EQ(costOf(flat, usage), 1'500'000);
}

TEST(PriceTest, ReasoningTokensArePartOfTheCompletionAtTheirOwnPrice) {
  Price reasoner{.input = 1'000'000'000,
                 .cached_input = {},
                 .output = 4'000'000'000,
                 .reasoning = 8'000'000'000};
  // 1,000 completion tokens of which 600 reasoning: 400 x 4 + 600 x 8 micro-dollars.
  Usage usage{.prompt_tokens = 0, .completion_tokens = 1'000, .reasoning_tokens = 600};
  EXPECT_EQ(costOf(reasoner, usage), (1'600 + 4'800) * 1'000);
  // Without a reasoning price, reasoning tokens cost what output does.
  reasoner.reasoning.reset();
  EXPECT_EQ(costOf(reasoner, usage), 4'000'000);
}

TEST(PriceTest, ChargesSingleTokensAtTheSmallestPrices) {
  // $0.01 per million tokens: one token is 10 nano-dollars, not rounded away.
  const Price cheapest{
      .input = 10'000'000, .cached_input = {}, .output = 10'000'000, .reasoning = {}};
  EXPECT_EQ(costOf(cheapest, {.prompt_tokens = 1}), 10);
  EXPECT_EQ(costOf(cheapest, {.prompt_tokens = 1, .completion_tokens = 1}), 20);
  // Five calls of 31 tokens at $0.81/M (25.11 micro-dollars each) add up to what one of 155
  // tokens costs, to the nano-dollar.
  const Price odd{.input = 810'000'000, .cached_input = {}, .output = 0, .reasoning = {}};
  EXPECT_EQ(5 * costOf(odd, {.prompt_tokens = 31}), costOf(odd, {.prompt_tokens = 155}));
}

TEST(PriceTest, RoundsOnceToTheNearestNanoDollar) {
  // 3 tokens at $0.00015 per million: 0.45 nano-dollars rounds down; 10: 1.5 rounds up.
  const Price tiny{.input = 150'000, .cached_input = {}, .output = 600'000, .reasoning = {}};
  EXPECT_EQ(costOf(tiny, {.prompt_tokens = 3}), 0);
  EXPECT_EQ(costOf(tiny, {.prompt_tokens = 10}), 2);
  EXPECT_EQ(costOf(tiny, {.prompt_tokens = 44}), 7);  // 6.6
  // The parts are added before rounding: 3 input (0.45) + 1 output (0.6) = 1.05 -> 1.
  EXPECT_EQ(costOf(tiny, {.prompt_tokens = 3, .completion_tokens = 1}), 1);
}

TEST(PriceTest, ClampsInconsistentCountsInsteadOfChargingTwice) {
  // More cached than prompt tokens: all prompt tokens are cached, none charged twice.
  EXPECT_EQ(costOf(kMini, {.prompt_tokens = 1'000, .cached_tokens = 5'000}), 75'000);
  EXPECT_EQ(costOf(kMini, {.completion_tokens = 1'000, .reasoning_tokens = 9'000}), 600'000);
}

TEST(PriceTest, SaturatesInsteadOfOverflowing) {
  Price dear{.input = 1'000'000'000'000'000, .cached_input = {}, .output = 0, .reasoning = {}};
  Usage huge{.prompt_tokens = std::numeric_limits<std::uint64_t>::max()};
  EXPECT_EQ(costOf(dear, huge), std::numeric_limits<Nanos>::max());
}

TEST(PriceTest, ParsesUsdAmounts) {
  EXPECT_EQ(parseUsd("0.15"), 150'000'000);
  EXPECT_EQ(parseUsd("2.5"), 2'500'000'000);
  EXPECT_EQ(parseUsd("10"), 10'000'000'000);
  EXPECT_EQ(parseUsd("0.000001"), 1'000);
  EXPECT_EQ(parseUsd("0.000000001"), 1);
  EXPECT_EQ(parseUsd("0.0001256"), 125'600);
  EXPECT_EQ(parseUsd("0"), 0);
  EXPECT_EQ(parseUsd("1000000000"), 1'000'000'000'000'000'000);
  // Up to what Nanos holds: the report reads back any cost the log wrote.
  EXPECT_EQ(parseUsd("9223372036.854775807"), std::numeric_limits<Nanos>::max());
  for (const char* bad :
       {"", ".5", "5.", "-1", "+1", "1e-3", "0.0000000001", "1,5", "abc", " 1",
        "9223372036.854775808", "9223372037", "99999999999999", "nan", "inf", "0x10"}) {
    EXPECT_EQ(parseUsd(bad), std::nullopt) << bad;
  }
}

TEST(PriceTest, AddsWithoutOverflowing) {
  constexpr Nanos kMost = std::numeric_limits<Nanos>::max();
  EXPECT_EQ(addSaturating(2, 3), 5);
  EXPECT_EQ(addSaturating(kMost, 1), kMost);
  EXPECT_EQ(addSaturating(kMost - 1, kMost), kMost);
  EXPECT_EQ(addSaturating(std::numeric_limits<Nanos>::min(), -1),
            std::numeric_limits<Nanos>::min());
  // Round trip through the log's text.
  EXPECT_EQ(parseUsd(formatUsd(kMost)), kMost);
}

TEST(PriceTest, FormatsNanoDollarsWithSixToNineDecimals) {
  EXPECT_EQ(formatUsd(7'000), "0.000007");
  EXPECT_EQ(formatUsd(750'000'000), "0.750000");
  EXPECT_EQ(formatUsd(12'345'678'000), "12.345678");
  EXPECT_EQ(formatUsd(125'600), "0.0001256");
  EXPECT_EQ(formatUsd(200), "0.0000002");
  EXPECT_EQ(formatUsd(1), "0.000000001");
  EXPECT_EQ(formatUsd(-5'000), "-0.000005");
  EXPECT_EQ(formatUsd(std::numeric_limits<Nanos>::min()), "-9223372036.854775808");
}

}  // namespace
}  // namespace costgate::pricing
