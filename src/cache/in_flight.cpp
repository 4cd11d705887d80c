#include "costgate/cache/in_flight.h"

namespace costgate::cache {

InFlight::Joined InFlight::join(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto [found, inserted] = leaders_.try_emplace(key);
  if (inserted) found->second = std::make_shared<pipeline::Signal>();
  return {found->second, inserted};
}

void InFlight::finish(const std::string& key, const std::shared_ptr<pipeline::Signal>& signal) {
  {
    std::lock_guard lock(mutex_);
    auto found = leaders_.find(key);
    if (found != leaders_.end() && found->second == signal) leaders_.erase(found);
  }
  signal->fire();
}

std::size_t InFlight::size() const {
  std::lock_guard lock(mutex_);
  return leaders_.size();
}

}  // namespace costgate::cache
