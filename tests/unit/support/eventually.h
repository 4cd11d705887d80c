#pragma once
// Waiting in tests for what other threads (a store's writer, a subscriber) do in their own time.

#include <chrono>
#include <functional>
#include <thread>

namespace costgate::test_data {

// Whether `condition` holds within `limit`, looking every few milliseconds.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(3)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace costgate::test_data
