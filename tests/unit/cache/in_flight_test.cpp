#include "costgate/cache/in_flight.h"

#include <gtest/gtest.h>

namespace costgate::cache {
namespace {

TEST(InFlight, TheFirstLeadsAndTheOthersFollowItsSignal) {
  InFlight in_flight;
  auto first = in_flight.join("k");
  auto second = in_flight.join("k");
  auto other = in_flight.join("other");
  EXPECT_TRUE(first.leader);
  EXPECT_FALSE(second.leader);
  EXPECT_TRUE(other.leader);
  EXPECT_EQ(first.signal, second.signal);
  bool woken = false;
  second.signal->onFire([&] { woken = true; });
  in_flight.finish("k", first.signal);
  EXPECT_TRUE(woken);
  EXPECT_EQ(in_flight.size(), 1u);
}

TEST(InFlight, AfterTheLeaderFinishesTheNextRequestLeads) {
  InFlight in_flight;
  auto first = in_flight.join("k");
  in_flight.finish("k", first.signal);
  auto next = in_flight.join("k");
  EXPECT_TRUE(next.leader);
  EXPECT_NE(next.signal, first.signal);
}

TEST(InFlight, AStaleFinishDoesNotRemoveANewerLeader) {
  InFlight in_flight;
  auto first = in_flight.join("k");
  in_flight.finish("k", first.signal);
  auto second = in_flight.join("k");
  in_flight.finish("k", first.signal);  // e.g. the first request's onComplete, late
  EXPECT_FALSE(in_flight.join("k").leader);
  EXPECT_FALSE(second.signal->fired());
}

}  // namespace
}  // namespace costgate::cache
