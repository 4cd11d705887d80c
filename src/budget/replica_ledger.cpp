#include "costgate/budget/replica_ledger.h"

#include <utility>

#include "costgate/budget/redis_ledger.h"
#include "costgate/pricing/price.h"

namespace costgate::budget {

std::variant<std::shared_ptr<ReplicaLedger>, Error> ReplicaLedger::open(
    const redis::Address& address, std::chrono::milliseconds timeout, std::string journal,
    OwedCharges::Events events) {
  std::shared_ptr<ReplicaLedger> replica(new ReplicaLedger());
  replica->shared_ = std::make_shared<RedisLedger>(address, timeout);
  auto charges = OwedCharges::open(replica->shared_, std::move(journal), std::move(events));
  if (auto* error = std::get_if<Error>(&charges)) return std::move(*error);
  replica->charges_ = std::move(std::get<std::unique_ptr<OwedCharges>>(charges));
  return replica;
}

void ReplicaLedger::saw(const std::vector<std::string>& keys,
                        const std::vector<LineState>& states) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < keys.size() && i < states.size(); ++i)
    last_seen_[keys[i]] = states[i];
  // Lines of past windows are not asked for again: the map holds the lines in use.
  if (last_seen_.size() > 100'000) last_seen_.clear();
  stand_in_.reset();
  started_.clear();
}

std::shared_ptr<MemoryLedger> ReplicaLedger::standIn(const std::vector<Line>& lines,
                                                     Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (!stand_in_) stand_in_ = std::make_shared<MemoryLedger>();
  for (const Line& line : lines) {
    if (!started_.insert(line.key).second) continue;
    auto seen = last_seen_.find(line.key);
    if (seen == last_seen_.end()) continue;
    const std::int64_t used = pricing::addSaturating(seen->second.spent, seen->second.reserved);
    stand_in_->charge({line}, used, now, "seen-in-redis");
  }
  return stand_in_;
}

}  // namespace costgate::budget
