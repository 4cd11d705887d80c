#include "costgate/budget/replica_ledger.h"

#include <utility>

#include "costgate/budget/redis_ledger.h"
#include "costgate/pricing/price.h"

namespace costgate::budget {

std::variant<std::shared_ptr<ReplicaLedger>, Error> ReplicaLedger::open(
    const redis::Address& address, std::chrono::milliseconds timeout, std::string journal,
    OwedCharges::Events events, LeasedLedger::Options leases) {
  std::shared_ptr<ReplicaLedger> replica(new ReplicaLedger());
  ReplicaLedger* self = replica.get();
  auto redis = std::make_shared<RedisLedger>(address, timeout);
  self->redis_ = redis.get();
  self->shared_ = std::move(redis);
  self->pending_ = std::move(events.pending);
  events.pending = [self](std::size_t owed) {
    self->owed_ = owed;
    self->reportPending();
  };
  events.landed = [self, landed = std::move(events.landed)](
                      const Owed& charge, const std::vector<LineState>& after, bool late) {
    {
      std::lock_guard lock(self->landing_mutex_);
      if (self->landing_ != nullptr) self->landing_->landed(charge, after);
    }
    if (landed) landed(charge, after, late);
  };
  auto charges = OwedCharges::open(self->shared_, std::move(journal), std::move(events));
  if (auto* error = std::get_if<Error>(&charges)) return std::move(*error);
  self->charges_ = std::move(std::get<std::unique_ptr<OwedCharges>>(charges));
  LeasedLedger::Events lease_events{
      .seen = [self](const std::vector<std::string>& keys,
                     const std::vector<LineState>& states) { self->saw(keys, states); },
      .leases_out =
          [self](std::size_t out) {
            self->leases_out_ = out;
            self->reportPending();
          },
  };
  self->leased_ =
      std::make_unique<LeasedLedger>(self->shared_, *self->charges_, lease_events, leases);
  std::lock_guard lock(self->landing_mutex_);
  self->landing_ = self->leased_.get();
  return replica;
}

ReplicaLedger::~ReplicaLedger() {
  {
    std::lock_guard lock(landing_mutex_);
    landing_ = nullptr;
  }
  leased_.reset();  // returns its leases through the charges, which send or journal them
  charges_.reset();
}

void ReplicaLedger::reportPending() {
  if (pending_) pending_(owed_.load() + leases_out_.load());
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
