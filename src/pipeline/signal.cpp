#include "costgate/pipeline/signal.h"

namespace costgate::pipeline {

void Signal::fire() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mutex_);
    if (fired_) return;
    fired_ = true;
    callbacks.swap(callbacks_);
  }
  // Outside the lock: a callback may post to another thread, which may look at fired().
  for (auto& callback : callbacks) callback();
}

void Signal::onFire(std::function<void()> callback) {
  {
    std::lock_guard lock(mutex_);
    if (!fired_) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

bool Signal::fired() const {
  std::lock_guard lock(mutex_);
  return fired_;
}

}  // namespace costgate::pipeline
