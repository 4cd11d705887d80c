#pragma once
// A one-shot event that one request fires and others wait for (a coalesced backend call that
// ended). Thread-safe: requests on different event loops share it. Plain C++: how a waiting
// request sleeps and wakes up is the gateway's business (it passes a callback).

#include <functional>
#include <mutex>
#include <vector>

namespace costgate::pipeline {

class Signal {
 public:
  // Runs every callback given to onFire(), once, on the calling thread. Later calls do nothing.
  void fire();
  // Runs `callback` when fire() is called, or at once (on this thread) if it already was.
  // Callbacks must be quick and must not call back into this signal.
  void onFire(std::function<void()> callback);
  bool fired() const;

 private:
  mutable std::mutex mutex_;
  bool fired_ = false;
  std::vector<std::function<void()>> callbacks_;
};

}  // namespace costgate::pipeline
