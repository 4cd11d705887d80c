#include "costgate/budget/memory_ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "ledger_contract.h"

namespace costgate::budget {
namespace {

using namespace std::chrono_literals;

struct MemoryLedgers {
  static std::unique_ptr<Ledger> make() { return std::make_unique<MemoryLedger>(); }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Memory, LedgerContract, MemoryLedgers);

TEST(MemoryLedger, ThreadsNeverOverspend) {
  MemoryLedger ledger;
  const auto now = Clock::now();
  const std::vector<Line> lines = {Line{"costgate:budget:global:w", 1000, now + 1h},
                                   Line{"costgate:budget:team:w", 5000, now + 1h}};
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        ReserveResult result = ledger.reserve(lines, 7, now, 60s);
        if (result.status != ReserveStatus::kReserved) continue;
        ++granted;
        EXPECT_TRUE(ledger.settle(*result.reservation, 7, now));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(granted.load(), 1000 / 7);
  auto states = ledger.read({lines[0].key, lines[1].key}, now);
  ASSERT_TRUE(states);
  EXPECT_EQ((*states)[0], (LineState{7 * granted.load(), 0}));
  EXPECT_EQ((*states)[1], (LineState{7 * granted.load(), 0}));
}

}  // namespace
}  // namespace costgate::budget
