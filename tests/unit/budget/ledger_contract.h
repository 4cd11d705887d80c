#pragma once
// What every Ledger owes its callers (ledger.h), as one typed test suite. Each implementation's
// test file instantiates it with a type whose `static std::unique_ptr<Ledger> make()` gives a
// ledger; ledgers may share their storage between tests, since every test uses keys of its own.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "costgate/budget/ledger.h"

namespace costgate::budget {

inline void PrintTo(const LineState& state, std::ostream* out) {
  *out << "{spent " << state.spent << ", reserved " << state.reserved << "}";
}

// Unqualified: the typed-test macros of the instantiations name the suite as written.
using namespace std::chrono_literals;

template <class LedgerFactory>
class LedgerContract : public ::testing::Test {
 protected:
  // Whole seconds of the real time: Redis expires keys by its own clock, so injected times stay
  // near it, and whole seconds keep millisecond storage and the memory ledger in step.
  const Clock::time_point start = std::chrono::floor<std::chrono::seconds>(Clock::now());
  const Clock::time_point window_end = start + 1h;
  std::unique_ptr<Ledger> ledger = LedgerFactory::make();

  std::string key(std::string_view name) const { return prefix_ + std::string(name); }

  Line line(std::string_view name, std::int64_t limit) const {
    return Line{key(name), limit, window_end};
  }

  Reservation reserved(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
                       std::chrono::seconds hold = 60s) {
    ReserveResult result = ledger->reserve(lines, amount, now, hold);
    EXPECT_EQ(result.status, ReserveStatus::kReserved);
    if (!result.reservation) {
      ADD_FAILURE() << "no reservation";
      return {};
    }
    return *result.reservation;
  }

  std::vector<LineState> states(const std::vector<std::string>& keys, Clock::time_point now) {
    auto read = ledger->read(keys, now);
    if (!read) {
      ADD_FAILURE() << "the ledger is unavailable";
      return {};
    }
    return *read;
  }

  LineState state(std::string_view name, Clock::time_point now) {
    auto read = states({key(name)}, now);
    return read.empty() ? LineState{-1, -1} : read.front();
  }

 private:
  static inline std::atomic<int> tests_{0};
  const std::string prefix_ = "costgate:budget:test" + std::to_string(tests_++) + ":";
};

TYPED_TEST_SUITE_P(LedgerContract);

TYPED_TEST_P(LedgerContract, ReservesOnEveryLineUpToItsLimit) {
  const std::vector<Line> lines = {this->line("team", 100), this->line("user", 50)};
  Reservation first = this->reserved(lines, 30, this->start);
  EXPECT_FALSE(first.id.empty());
  EXPECT_EQ(first.amount, 30);
  EXPECT_EQ(first.keys, (std::vector<std::string>{this->key("team"), this->key("user")}));
  EXPECT_EQ(this->states(first.keys, this->start), (std::vector<LineState>{{0, 30}, {0, 30}}));

  // Exactly up to the smaller limit still fits.
  this->reserved(lines, 20, this->start + 1s);
  EXPECT_EQ(this->states(first.keys, this->start + 1s), (std::vector<LineState>{{0, 50}, {0, 50}}));
}

TYPED_TEST_P(LedgerContract, RefusesOnAllLinesWhenOneIsOver) {
  const std::vector<Line> lines = {this->line("org", 1000), this->line("team", 100),
                                   this->line("user", 50)};
  this->reserved(lines, 30, this->start);

  ReserveResult refused = this->ledger->reserve(lines, 21, this->start, 60s);
  EXPECT_EQ(refused.status, ReserveStatus::kOverLimit);
  EXPECT_FALSE(refused.reservation);
  EXPECT_EQ(refused.over_line, 2u);
  EXPECT_EQ(this->states({this->key("org"), this->key("team"), this->key("user")}, this->start),
            (std::vector<LineState>{{0, 30}, {0, 30}, {0, 30}}));

  // The first line over is the one named.
  ReserveResult both_over = this->ledger->reserve(lines, 80, this->start, 60s);
  EXPECT_EQ(both_over.status, ReserveStatus::kOverLimit);
  EXPECT_EQ(both_over.over_line, 1u);
}

TYPED_TEST_P(LedgerContract, SettleMovesTheReservationToSpentAtItsActualCost) {
  const std::vector<Line> lines = {this->line("team", 100), this->line("user", 100)};
  const std::vector<std::string> keys = {this->key("team"), this->key("user")};

  Reservation cheaper = this->reserved(lines, 40, this->start);
  EXPECT_TRUE(this->ledger->settle(cheaper, 25, this->start + 1s));
  EXPECT_EQ(this->states(keys, this->start + 1s), (std::vector<LineState>{{25, 0}, {25, 0}}));

  // A stream cut short of its usage, or an escalation: more than was held, even past the limit.
  Reservation dearer = this->reserved(lines, 30, this->start + 2s);
  EXPECT_TRUE(this->ledger->settle(dearer, 90, this->start + 3s));
  EXPECT_EQ(this->states(keys, this->start + 3s), (std::vector<LineState>{{115, 0}, {115, 0}}));

  ReserveResult refused = this->ledger->reserve(lines, 1, this->start + 4s, 60s);
  EXPECT_EQ(refused.status, ReserveStatus::kOverLimit);
  EXPECT_EQ(refused.over_line, 0u);
}

TYPED_TEST_P(LedgerContract, SettlesEachReservationOnce) {
  const std::vector<Line> lines = {this->line("team", 100)};
  Reservation reservation = this->reserved(lines, 40, this->start);
  EXPECT_TRUE(this->ledger->settle(reservation, 25, this->start));
  EXPECT_TRUE(this->ledger->settle(reservation, 25, this->start));
  EXPECT_TRUE(this->ledger->settle(reservation, 99, this->start + 1s));
  EXPECT_EQ(this->state("team", this->start + 1s), (LineState{25, 0}));
}

TYPED_TEST_P(LedgerContract, ExpiredReservationsStopHolding) {
  const std::vector<Line> lines = {this->line("team", 100)};
  this->reserved(lines, 80, this->start, 30s);

  const auto just_before = this->start + 29s;
  EXPECT_EQ(this->ledger->reserve(lines, 30, just_before, 30s).status, ReserveStatus::kOverLimit);
  EXPECT_EQ(this->state("team", just_before), (LineState{0, 80}));

  const auto expired = this->start + 30s;
  EXPECT_EQ(this->state("team", expired), (LineState{0, 0}));
  this->reserved(lines, 100, expired);
}

TYPED_TEST_P(LedgerContract, LateSettleStillChargesAnExpiredReservation) {
  const std::vector<Line> lines = {this->line("team", 100), this->line("user", 100)};
  Reservation slow = this->reserved(lines, 80, this->start, 30s);
  EXPECT_TRUE(this->ledger->settle(slow, 60, this->start + 45s));
  EXPECT_TRUE(this->ledger->settle(slow, 60, this->start + 50s));
  EXPECT_EQ(this->states(slow.keys, this->start + 50s), (std::vector<LineState>{{60, 0}, {60, 0}}));
}

TYPED_TEST_P(LedgerContract, ChargeAddsToSpentWithoutAReservation) {
  const std::vector<Line> lines = {this->line("team", 100), this->line("user", 1000)};
  EXPECT_TRUE(this->ledger->charge(lines, 70, this->start, "charge-1"));
  EXPECT_EQ(this->states({this->key("team"), this->key("user")}, this->start),
            (std::vector<LineState>{{70, 0}, {70, 0}}));

  ReserveResult refused = this->ledger->reserve(lines, 31, this->start, 60s);
  EXPECT_EQ(refused.status, ReserveStatus::kOverLimit);
  EXPECT_EQ(refused.over_line, 0u);
  this->reserved(lines, 30, this->start);
}

TYPED_TEST_P(LedgerContract, AChargeIsMadeOncePerId) {
  const std::vector<Line> lines = {this->line("team", 100), this->line("user", 1000)};
  EXPECT_TRUE(this->ledger->charge(lines, 20, this->start, "owed-1"));
  EXPECT_TRUE(this->ledger->charge(lines, 20, this->start, "owed-1"));  // its answer was lost
  EXPECT_TRUE(this->ledger->charge({lines[1]}, 20, this->start + 1s, "owed-1"));
  EXPECT_TRUE(this->ledger->charge(lines, 5, this->start, "owed-2"));
  EXPECT_EQ(this->states({this->key("team"), this->key("user")}, this->start + 1s),
            (std::vector<LineState>{{25, 0}, {25, 0}}));
}

TYPED_TEST_P(LedgerContract, ASettleTellsTheLinesAfterIt) {
  const std::vector<Line> lines = {this->line("team", 100), this->line("user", 1000)};
  Reservation first = this->reserved(lines, 30, this->start);
  Reservation second = this->reserved({lines[1]}, 40, this->start);
  std::vector<LineState> after;
  EXPECT_TRUE(this->ledger->settle(first, 12, this->start, &after));
  EXPECT_EQ(after, (std::vector<LineState>{{12, 0}, {12, 40}}));
  EXPECT_TRUE(this->ledger->settle(second, 7, this->start, &after));
  EXPECT_EQ(after, (std::vector<LineState>{{19, 0}}));
}

TYPED_TEST_P(LedgerContract, ZeroAlwaysFitsAndStillSettles) {
  const std::vector<Line> lines = {this->line("team", 100)};
  EXPECT_TRUE(this->ledger->charge(lines, 150, this->start, "charge-2"));
  Reservation nothing = this->reserved(lines, 0, this->start);
  EXPECT_EQ(nothing.amount, 0);
  EXPECT_EQ(this->state("team", this->start), (LineState{150, 0}));
  EXPECT_TRUE(this->ledger->settle(nothing, 5, this->start));
  EXPECT_EQ(this->state("team", this->start), (LineState{155, 0}));
}

TYPED_TEST_P(LedgerContract, NegativeAmountsCountAsZero) {
  const std::vector<Line> lines = {this->line("team", 100)};
  EXPECT_TRUE(this->ledger->charge(lines, 10, this->start, "charge-3"));
  Reservation reservation = this->reserved(lines, -50, this->start);
  EXPECT_EQ(reservation.amount, 0);
  EXPECT_TRUE(this->ledger->settle(reservation, -5, this->start));
  EXPECT_TRUE(this->ledger->charge(lines, -5, this->start, "charge-4"));
  EXPECT_EQ(this->state("team", this->start), (LineState{10, 0}));
}

TYPED_TEST_P(LedgerContract, LinesEndWithTheirWindowAndGrace) {
  const std::vector<Line> lines = {this->line("team", 100)};
  // Held past the end of the window, as a reservation made near its end would be.
  Reservation late = this->reserved(lines, 60, this->start, 3h);
  EXPECT_TRUE(this->ledger->charge(lines, 30, this->start, "charge-5"));

  const auto last_moment = this->window_end + kWindowGrace - 1s;
  EXPECT_EQ(this->state("team", last_moment), (LineState{30, 60}));
  EXPECT_EQ(this->ledger->reserve(lines, 20, last_moment, 60s).status, ReserveStatus::kOverLimit);

  const auto dropped = this->window_end + kWindowGrace;
  EXPECT_EQ(this->state("team", dropped), (LineState{0, 0}));
  // What the ended line held is gone with it: a settle finds nothing to charge.
  EXPECT_TRUE(this->ledger->settle(late, 10, dropped));
  EXPECT_EQ(this->state("team", dropped), (LineState{0, 0}));
}

TYPED_TEST_P(LedgerContract, ReadsUnknownKeysAsZero) {
  EXPECT_EQ(this->states({this->key("nobody"), this->key("nothing")}, this->start),
            (std::vector<LineState>{{0, 0}, {0, 0}}));
  EXPECT_EQ(this->states({}, this->start), std::vector<LineState>{});
}

TYPED_TEST_P(LedgerContract, GivesEveryReservationItsOwnId) {
  const std::vector<Line> lines = {this->line("team", 1'000'000)};
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.insert(this->reserved(lines, 1, this->start).id);
  ids.insert(this->reserved({}, 1, this->start).id);
  EXPECT_EQ(ids.size(), 51u);
  // Without lines there is nothing to hold, but the reservation is granted.
  EXPECT_TRUE(this->reserved({}, 1, this->start).keys.empty());
}

REGISTER_TYPED_TEST_SUITE_P(LedgerContract, ReservesOnEveryLineUpToItsLimit,
                            RefusesOnAllLinesWhenOneIsOver,
                            SettleMovesTheReservationToSpentAtItsActualCost,
                            SettlesEachReservationOnce, ExpiredReservationsStopHolding,
                            LateSettleStillChargesAnExpiredReservation,
                            ChargeAddsToSpentWithoutAReservation, AChargeIsMadeOncePerId,
                            ASettleTellsTheLinesAfterIt, ZeroAlwaysFitsAndStillSettles,
                            NegativeAmountsCountAsZero, LinesEndWithTheirWindowAndGrace,
                            ReadsUnknownKeysAsZero, GivesEveryReservationItsOwnId);

}  // namespace costgate::budget
