#include "filters/router/escalation_rates.h"

#include <gtest/gtest.h>

namespace costgate::filters::router {
namespace {

const BucketKey kKey{"p", "complexity", "chat", 3};

TEST(EscalationRates, TheRateIsDecayedSoItFollowsChanges) {
  EscalationRates rates;
  EXPECT_FALSE(rates.rateOf(kKey));
  for (int i = 0; i < 200; ++i) rates.record(kKey, true, 50);
  EXPECT_NEAR(rates.rateOf(kKey)->rate, 1.0, 1e-9);
  // One half-life of successes halves the weight of the escalations before.
  for (int i = 0; i < 50; ++i) rates.record(kKey, false, 50);
  const double after_one = rates.rateOf(kKey)->rate;
  EXPECT_GT(after_one, 0.45);
  EXPECT_LT(after_one, 0.55);
  for (int i = 0; i < 200; ++i) rates.record(kKey, false, 50);
  EXPECT_LT(rates.rateOf(kKey)->rate, 0.05);
  EXPECT_EQ(rates.rateOf(kKey)->samples, 450u);
  // Buckets are apart.
  EXPECT_FALSE(rates.rateOf(BucketKey{"p", "complexity", "chat", 4}));
  EXPECT_FALSE(rates.rateOf(BucketKey{"p", "complexit", "ychat", 3}));
}

TEST(EscalationRates, AHardBucketStartsStrongButStillExplores) {
  EscalationRates rates;
  LearningConfig config;
  EXPECT_EQ(rates.startFor(std::nullopt, config), LearnedStart::kCheap);
  EXPECT_EQ(rates.startFor(EscalationRate{0.9, 19}, config), LearnedStart::kCheap)
      << "too few samples";
  EXPECT_EQ(rates.startFor(EscalationRate{0.5, 100}, config), LearnedStart::kCheap)
      << "not above strong_above";
  int strong = 0;
  int explore = 0;
  for (int i = 0; i < 100; ++i) {
    const LearnedStart start = rates.startFor(EscalationRate{0.8, 100}, config);
    strong += start == LearnedStart::kStrong;
    explore += start == LearnedStart::kExplore;
  }
  EXPECT_EQ(explore, 10);
  EXPECT_EQ(strong, 90);
  config.enabled = false;
  EXPECT_EQ(rates.startFor(EscalationRate{0.8, 100}, config), LearnedStart::kCheap);
}

TEST(EscalationRates, BucketsAreTenthsOfTheScore) {
  EXPECT_EQ(bucketOf(0), 0);
  EXPECT_EQ(bucketOf(0.35), 3);
  EXPECT_EQ(bucketOf(1.0), 9);
  EXPECT_EQ(bucketLabel(3), "0.3");
  EXPECT_EQ(startName(LearnedStart::kExplore), "explore");
}

}  // namespace
}  // namespace costgate::filters::router
