#pragma once
// Runs blocking ledger calls (a Redis ledger's) on threads of its own, so no event loop waits on
// Redis: a filter submits the call with a signal, returns FilterStatus::kWait on it, and reads the
// result when it runs again. Thread-safe.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "costgate/pipeline/signal.h"

namespace costgate::budget {

class LedgerWorker {
 public:
  explicit LedgerWorker(std::size_t threads = 2, std::size_t max_queued = 10'000);
  // Finishes the jobs already running; drops the queued ones (their signals fire, so no request
  // waits for them).
  ~LedgerWorker();
  LedgerWorker(const LedgerWorker&) = delete;
  LedgerWorker& operator=(const LedgerWorker&) = delete;

  // Runs `job` on a worker thread, then fires `done` (when given). False, running nothing, when
  // the queue is full: the caller treats the ledger as unavailable.
  bool submit(std::function<void()> job, std::shared_ptr<pipeline::Signal> done = nullptr);

 private:
  struct Job {
    std::function<void()> run;
    std::shared_ptr<pipeline::Signal> done;
  };
  void work();

  const std::size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace costgate::budget
