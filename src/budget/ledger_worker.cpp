#include "costgate/budget/ledger_worker.h"

namespace costgate::budget {

LedgerWorker::LedgerWorker(std::size_t threads, std::size_t max_queued) : max_queued_(max_queued) {
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

LedgerWorker::~LedgerWorker() {
  std::deque<Job> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
  for (auto& job : dropped) {
    if (job.done) job.done->fire();
  }
}

bool LedgerWorker::submit(std::function<void()> job, std::shared_ptr<pipeline::Signal> done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back({std::move(job), std::move(done)});
  }
  wake_.notify_one();
  return true;
}

void LedgerWorker::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job.run();
    if (job.done) job.done->fire();
  }
}

}  // namespace costgate::budget
