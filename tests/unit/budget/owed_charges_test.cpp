#include "costgate/budget/owed_charges.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "costgate/budget/memory_ledger.h"
#include "switched_ledger.h"

namespace costgate::budget {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kNow = Clock::time_point(std::chrono::hours(24 * 20000));
const Line kTeam{"costgate:budget:team:d1", 1000, kNow + 1h};

OwedCharges::Events counting(std::atomic<int>& owed, std::atomic<int>& paid) {
  return {.owed = [&owed](const Owed&) { ++owed; },
          .landed = [&paid](const Owed&, const std::vector<LineState>&,
                            bool late) { paid += late ? 1 : 100; },
          .pending = {}};
}

std::unique_ptr<OwedCharges> opened(std::shared_ptr<Ledger> ledger, const std::string& journal,
                                    OwedCharges::Events events = {},
                                    std::chrono::milliseconds retry_every = 20ms) {
  auto made = OwedCharges::open(std::move(ledger), journal, std::move(events), retry_every);
  if (auto* error = std::get_if<Error>(&made)) {
    ADD_FAILURE() << error->message;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<OwedCharges>>(made));
}

TEST(OwedCharges, ASettleThatFailedLandsOnceWhenTheLedgerIsBack) {
  auto ledger = std::make_shared<SwitchedLedger>(true);
  ledger->down = false;
  auto held = ledger->reserve({kTeam}, 300, kNow, 600s);
  ASSERT_EQ(held.status, ReserveStatus::kReserved);
  ledger->down = true;
  std::atomic<int> owed = 0, paid = 0;
  auto charges = opened(ledger, "", counting(owed, paid));
  charges->send({Owed::Kind::kSettle, *held.reservation, {}, 120, kNow, {}});
  charges->send({Owed::Kind::kCharge, Reservation{"local-7", {}, 0}, {kTeam}, 80, kNow, {}});
  std::this_thread::sleep_for(100ms);  // several tries while down
  EXPECT_EQ(charges->pending(), 2u);
  EXPECT_EQ(owed, 2);
  EXPECT_EQ(paid, 0);
  ledger->down = false;
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (charges->pending() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(charges->pending(), 0u);
  EXPECT_EQ(owed, 2);
  EXPECT_EQ(paid, 2);                 // both late
  EXPECT_EQ(charges->sendNow(), 0u);  // nothing left: nothing charged twice
  EXPECT_EQ(ledger->inner.read({kTeam.key}, kNow)->at(0), (LineState{200, 0}));
}

TEST(OwedCharges, WhatIsStillOwedAtExitIsOwedAgainByTheNextProcess) {
  char path[] = "/tmp/costgate-journal-XXXXXX";
  ::close(::mkstemp(path));
  auto down = std::make_shared<SwitchedLedger>(true);
  {
    auto charges = opened(down, path);
    charges->send({Owed::Kind::kCharge, Reservation{"local-1", {}, 0}, {kTeam}, 30, kNow, {}});
    charges->send({Owed::Kind::kCharge,
                   Reservation{"local-2", {}, 0},
                   {Line{"costgate:budget:forever:all", 5000, Clock::time_point::max()}},
                   45,
                   kNow,
                   {}});
  }
  auto back = std::make_shared<SwitchedLedger>(true);
  back->down = false;
  {
    // Owed again from the journal alone (`back` is a new ledger); its thread may send them before
    // this does.
    auto charges = opened(back, path, {}, 1h);
    charges->sendNow();
    EXPECT_EQ(charges->pending(), 0u);
  }
  EXPECT_EQ(back->inner.read({kTeam.key, "costgate:budget:forever:all"}, kNow),
            (std::vector<LineState>{{30, 0}, {45, 0}}));
  // Paid, and the journal says so: a third process owes nothing.
  auto again = opened(back, path, {}, 1h);
  EXPECT_EQ(again->pending(), 0u);
  ::unlink(path);
}

TEST(OwedCharges, ChargesAreSentAsTheyComeAndTellTheLinesAfter) {
  auto ledger = std::make_shared<SwitchedLedger>(true);
  ledger->down = false;
  auto held = ledger->reserve({kTeam}, 300, kNow, 600s);
  std::mutex mutex;
  std::vector<LineState> seen;
  bool late = true;
  auto charges = opened(ledger, "",
                        {.owed = {},
                         .landed =
                             [&](const Owed&, const std::vector<LineState>& after, bool was_owed) {
                               std::lock_guard lock(mutex);
                               seen = after;
                               late = was_owed;
                             },
                         .pending = {}},
                        1h);  // no retry timer: sent because it came
  charges->send({Owed::Kind::kSettle, *held.reservation, {}, 120, kNow, {}});
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (charges->pending() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(1ms);
  }
  std::lock_guard lock(mutex);
  EXPECT_EQ(seen, (std::vector<LineState>{{120, 0}}));
  EXPECT_FALSE(late);
}

}  // namespace
}  // namespace costgate::budget
