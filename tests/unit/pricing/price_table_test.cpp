#include "costgate/pricing/price_table.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace costgate::pricing {
namespace {

TEST(PriceTable, FindsAModelByItsNameOrADatedSnapshot) {
  ASSERT_NE(listedPrice("gpt-4o"), nullptr);
  EXPECT_EQ(listedPrice("gpt-4o")->price.input, 2'500'000'000);
  EXPECT_EQ(listedPrice("gpt-4o-2024-08-06"), listedPrice("gpt-4o"));
  EXPECT_EQ(listedPrice("gpt-4o-mini")->price.input, 150'000'000);
  EXPECT_EQ(listedPrice("gpt-4o-mini-2024-07-18"), listedPrice("gpt-4o-mini"));
  EXPECT_EQ(listedPrice("claude-sonnet-4-20250514"), listedPrice("claude-sonnet-4"));
  EXPECT_EQ(listedPrice("claude-sonnet-4-5-20250929"), listedPrice("claude-sonnet-4-5"));
  EXPECT_EQ(listedPrice("claude-sonnet-4-5")->cache_write, 3'750'000'000);
}

TEST(PriceTable, AnotherModelOfTheSameFamilyIsNotASnapshot) {
  EXPECT_EQ(listedPrice("gpt-4o-audio-preview"), nullptr);
  EXPECT_EQ(listedPrice("gpt-4o-2024"), nullptr);
  EXPECT_EQ(listedPrice("gpt-4o-2024-08-0x"), nullptr);
  EXPECT_EQ(listedPrice("mock-small"), nullptr);
  EXPECT_EQ(listedPrice(""), nullptr);
  EXPECT_EQ(listedPrice("GPT-4O"), nullptr);  // provider names are lower-case
}

TEST(PriceTable, EveryLineIsPlausible) {
  std::set<std::string_view> names;
  for (const ListedPrice& entry : priceTable()) {
    SCOPED_TRACE(std::string(entry.model));
    EXPECT_TRUE(names.insert(entry.model).second) << "listed twice";
    EXPECT_TRUE(entry.provider == "openai" || entry.provider == "anthropic" ||
                entry.provider == "google");
    EXPECT_GT(entry.price.input, 0);
    // A chat model's output costs more than its input; embeddings generate nothing.
    if (entry.price.output > 0) {
      EXPECT_GT(entry.price.output, entry.price.input);
      ASSERT_TRUE(entry.price.cached_input.has_value()) << "chat models list their cached price";
      EXPECT_LT(*entry.price.cached_input, entry.price.input);
    }
    if (entry.cache_write) {
      EXPECT_GT(*entry.cache_write, entry.price.input);
    }
  }
  EXPECT_GE(names.size(), 20u);
}

TEST(PriceTable, IsDated) {
  ASSERT_EQ(kPriceTableDate.size(), 10u);
  EXPECT_EQ(kPriceTableDate[4], '-');
  EXPECT_EQ(kPriceTableDate[7], '-');
}

}  // namespace
}  // namespace costgate::pricing
