#include "costgate/budget/ledger_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace costgate::budget {
namespace {

TEST(LedgerWorker, RunsJobsOffTheCallingThreadAndFiresTheirSignals) {
  LedgerWorker worker(2);
  std::atomic<int> ran = 0;
  std::vector<std::shared_ptr<pipeline::Signal>> signals;
  const auto caller = std::this_thread::get_id();
  std::atomic<bool> elsewhere = true;
  for (int i = 0; i < 50; ++i) {
    signals.push_back(std::make_shared<pipeline::Signal>());
    ASSERT_TRUE(worker.submit(
        [&] {
          if (std::this_thread::get_id() == caller) elsewhere = false;
          ++ran;
        },
        signals.back()));
  }
  for (const auto& signal : signals) {
    for (int wait = 0; wait < 2000 && !signal->fired(); ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(signal->fired());
  }
  EXPECT_EQ(ran.load(), 50);
  EXPECT_TRUE(elsewhere.load());
}

TEST(LedgerWorker, AFullQueueRefusesAndDroppedJobsStillFireTheirSignals) {
  auto blocker = std::make_shared<std::atomic<bool>>(true);
  auto dropped = std::make_shared<pipeline::Signal>();
  {
    LedgerWorker worker(1, 2);
    ASSERT_TRUE(worker.submit([blocker] {
      while (*blocker) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the blocker is running
    EXPECT_TRUE(worker.submit([] {}, dropped));
    EXPECT_TRUE(worker.submit([] {}));
    EXPECT_FALSE(worker.submit([] {})) << "two queued: full";
    *blocker = false;  // the destructor joins after the running job ends
  }
  EXPECT_TRUE(dropped->fired());
}

}  // namespace
}  // namespace costgate::budget
