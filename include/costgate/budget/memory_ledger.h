#pragma once
// A Ledger in this process's memory, for a single gateway (or tests): one mutex over every line, so
// that a reservation over several lines is all or nothing. Lines whose window ended (plus the
// grace) are dropped as time passes, at the next call of any kind.

#include <memory>

#include "costgate/budget/ledger.h"

namespace costgate::budget {

class MemoryLedger final : public Ledger {
 public:
  MemoryLedger();
  ~MemoryLedger() override;

  MemoryLedger(const MemoryLedger&) = delete;
  MemoryLedger& operator=(const MemoryLedger&) = delete;

  // Never unavailable.
  ReserveResult reserve(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
                        std::chrono::seconds hold) override;
  bool settle(const Reservation& reservation, std::int64_t actual, Clock::time_point now,
              std::vector<LineState>* after = nullptr) override;
  bool charge(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
              const std::string& id) override;
  std::optional<std::vector<LineState>> read(const std::vector<std::string>& keys,
                                             Clock::time_point now) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace costgate::budget
