#include "costgate/metrics/family.h"

#include <gtest/gtest.h>

#include <prometheus/registry.h>

#include <string>
#include <thread>

namespace costgate::metrics {
namespace {

TEST(Family, EachLabelSetHasItsOwnSeriesWhateverOrderTheyComeIn) {
  prometheus::Registry registry;
  auto& built = prometheus::BuildCounter().Name("test_total").Help("test").Register(registry);
  CounterFamily family(built, {"type", "model"});
  // More label sets than the recent ones remembered, alternating, as a request's token types do.
  const char* types[] = {"input", "output", "cached_input", "reasoning", "input", "extra"};
  for (int round = 0; round < 3; ++round) {
    for (const char* type : types) family.with({type, "m"}).Increment();
  }
  EXPECT_EQ(family.with({"input", "m"}).Value(), 6);
  EXPECT_EQ(family.with({"output", "m"}).Value(), 3);
  EXPECT_EQ(family.with({"extra", "m"}).Value(), 3);
  // A value cannot pass for two: "ab","c" and "a","bc" are different series.
  family.with({"ab", "c"}).Increment();
  EXPECT_EQ(family.with({"a", "bc"}).Value(), 0);
  // Another thread finds the same series.
  std::thread([&family] { family.with({"output", "m"}).Increment(); }).join();
  EXPECT_EQ(family.with({"output", "m"}).Value(), 4);
}

}  // namespace
}  // namespace costgate::metrics
