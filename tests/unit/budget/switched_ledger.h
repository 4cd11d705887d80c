#pragma once
// A memory ledger that can be down, as Redis can (every call fails while `down` is set), and
// counts the reserves and settles made on it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "costgate/budget/memory_ledger.h"

namespace costgate::budget {

class SwitchedLedger final : public Ledger {
 public:
  explicit SwitchedLedger(bool start_down = false) : down(start_down) {}

  std::atomic<bool> down;
  std::atomic<int> reserves{0};
  std::atomic<int> settles{0};
  MemoryLedger inner;

  ReserveResult reserve(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
                        std::chrono::seconds hold) override {
    ++reserves;
    if (down) return ReserveResult{};
    return inner.reserve(lines, amount, now, hold);
  }
  bool settle(const Reservation& reservation, std::int64_t actual, Clock::time_point now,
              std::vector<LineState>* after) override {
    ++settles;
    return !down && inner.settle(reservation, actual, now, after);
  }
  bool charge(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
              const std::string& id) override {
    return !down && inner.charge(lines, amount, now, id);
  }
  std::optional<std::vector<LineState>> read(const std::vector<std::string>& keys,
                                             Clock::time_point now) override {
    if (down) return std::nullopt;
    return inner.read(keys, now);
  }
};

}  // namespace costgate::budget
