#include "costgate/pipeline/signal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace costgate::pipeline {
namespace {

TEST(Signal, RunsEachCallbackOnceWhenFired) {
  Signal signal;
  int calls = 0;
  signal.onFire([&] { ++calls; });
  signal.onFire([&] { ++calls; });
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(signal.fired());
  signal.fire();
  signal.fire();
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(signal.fired());
}

TEST(Signal, ACallbackGivenAfterTheFireRunsAtOnce) {
  Signal signal;
  signal.fire();
  bool called = false;
  signal.onFire([&] { called = true; });
  EXPECT_TRUE(called);
}

TEST(Signal, FiredFromAnotherThreadReachesEveryWaiter) {
  Signal signal;
  std::atomic<int> calls = 0;
  std::thread firing([&] { signal.fire(); });
  for (int i = 0; i < 1000; ++i) signal.onFire([&] { ++calls; });
  firing.join();
  EXPECT_EQ(calls.load(), 1000);
}

}  // namespace
}  // namespace costgate::pipeline
