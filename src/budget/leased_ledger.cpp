#include "costgate/budget/leased_ledger.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "costgate/pricing/price.h"

namespace costgate::budget {

using pricing::addSaturating;
using Steady = std::chrono::steady_clock;

struct LeasedLedger::Lease {
  std::string id;  // of its reservation in the shared ledger
  Line line;
  std::int64_t granted = 0;
  std::int64_t held = 0;     // by this replica's requests not yet settled
  std::int64_t holders = 0;  // those requests (a request may hold 0 and still spend)
  std::int64_t spent = 0;    // what its settled requests cost
  Steady::time_point taken;
  bool open = true;       // takes new reservations
  bool returned = false;  // its settle is on its way to the shared ledger

  std::int64_t room() const { return granted - held - spent; }
};

struct LeasedLedger::LineLeases {
  Lease* current = nullptr;  // the open lease new reservations go to
  // The shared ledger's state at the last answer about the line, less this replica's leases.
  std::optional<LineState> others;
  Steady::time_point seen_at;
  std::vector<Lease*> leases;  // this replica's, until their return lands
  bool renewing = false;       // a lease take for the next lease is on its way
};

namespace {

// A lease's slice: `wanted` times up to `factor`, without overflow.
std::int64_t timesAtMost(std::int64_t amount, std::int64_t factor) {
  if (amount > std::numeric_limits<std::int64_t>::max() / factor) return amount;
  return amount * factor;
}

}  // namespace

LeasedLedger::LeasedLedger(std::shared_ptr<Ledger> shared, OwedCharges& charges, Events events,
                           Options options)
    : shared_(std::move(shared)),
      charges_(charges),
      events_(std::move(events)),
      options_(options),
      closer_([this] {
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, options_.max_age / 4, [this] { return stopping_; })) {
          lock.unlock();
          closeAged();
          lock.lock();
        }
      }) {
  local_ = std::make_unique<Ticket>(*this);
}

LeasedLedger::~LeasedLedger() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  closer_.join();
  std::lock_guard lock(mutex_);
  // After a drain nothing is held; whatever still is was never settled and costs nothing.
  for (auto& [id, lease] : leases_) {
    lease->held = 0;
    lease->holders = 0;
    close(*lease);
  }
}

ReserveResult LeasedLedger::reserve(const std::vector<Line>& lines, std::int64_t amount,
                                    Clock::time_point now, std::chrono::seconds hold) {
  amount = std::max<std::int64_t>(amount, 0);
  // Each turn holds on every line whose lease has room, then takes a lease for one that has
  // none, holding on it as it is installed: no other request can use it up in between.
  std::vector<Lease*> held(lines.size(), nullptr);
  for (;;) {
    std::optional<std::size_t> missing;
    {
      std::lock_guard lock(mutex_);
      for (std::size_t i = 0; i < lines.size(); ++i) {
        if (held[i] == nullptr) held[i] = holdOn(lines[i].key, amount);
        if (held[i] == nullptr && !missing) missing = i;
      }
      if (!missing) return reserved(lines, amount, std::move(held));
    }
    ReserveResult taken = takeLease(lines[*missing], amount, now, hold, &held[*missing]);
    if (taken.status == ReserveStatus::kReserved) continue;
    std::lock_guard lock(mutex_);
    for (Lease* lease : held) {
      if (lease != nullptr) release(*lease, amount);
    }
    if (taken.status == ReserveStatus::kOverLimit) taken.over_line = *missing;
    return taken;
  }
}

LeasedLedger::Lease* LeasedLedger::holdOn(const std::string& key, std::int64_t amount) {
  LineLeases& leases = lines_[key];
  Lease* lease = leases.current;
  if (lease == nullptr || lease->room() < amount) return nullptr;
  lease->held += amount;
  lease->holders += 1;
  // Running low, or nearly too old to take more: the next lease is asked for now, so that it is
  // there before requests would have to wait for it.
  const bool low = lease->room() < lease->granted / 4;
  const bool aging = Steady::now() - lease->taken > options_.max_age * 3 / 4;
  if ((low || aging) && !leases.renewing) {
    leases.renewing = true;
    renewals_.emplace_back(lease->line, amount);
  }
  return lease;
}

void LeasedLedger::renew(Clock::time_point now, std::chrono::seconds hold,
                         const ReserveLater& reserve_later) {
  std::vector<std::pair<Line, std::int64_t>> wanted;
  {
    std::lock_guard lock(mutex_);
    if (renewals_.empty()) return;
    wanted.swap(renewals_);
  }
  for (const auto& [line, amount] : wanted) {
    takeLeaseLater(line, amount, now, hold, reserve_later,
                   [this, key = line.key, amount](const ReserveResult&, Lease* lease) {
                     std::lock_guard lock(mutex_);
                     if (lease != nullptr) release(*lease, amount);  // held for no request
                     lines_[key].renewing = false;
                   });
  }
}

void LeasedLedger::release(Lease& lease, std::int64_t amount) {
  lease.held -= amount;
  lease.holders -= 1;
  returnIfDone(lease);
}

ReserveResult LeasedLedger::reserved(const std::vector<Line>& lines, std::int64_t amount,
                                     std::vector<Lease*> held) {
  Reservation reservation{ids_.next(), {}, amount};
  std::vector<LineState> after;
  for (const Line& line : lines) {
    reservation.keys.push_back(line.key);
    after.push_back(viewOf(line.key));
  }
  holds_.emplace(reservation.id, std::move(held));
  return ReserveResult{ReserveStatus::kReserved, std::move(reservation), 0, std::nullopt,
                       std::move(after)};
}

ReserveResult LeasedLedger::takeLease(const Line& line, std::int64_t amount, Clock::time_point now,
                                      std::chrono::seconds hold, Lease** held) {
  // takeLeaseLater with a shared ledger that answers at once: done runs before this returns.
  ReserveLater at_once = [this](const Line& of, std::int64_t wanted, Clock::time_point at,
                                std::chrono::seconds holding,
                                auto done) { done(shared_->reserve({of}, wanted, at, holding)); };
  ReserveResult answer;
  takeLeaseLater(line, amount, now, hold, at_once, [&](const ReserveResult& result, Lease* lease) {
    answer = result;
    *held = lease;
  });
  return answer;
}

void LeasedLedger::takeLeaseLater(const Line& line, std::int64_t amount, Clock::time_point now,
                                  std::chrono::seconds hold, const ReserveLater& reserve_later,
                                  std::function<void(const ReserveResult&, Lease*)> done) {
  std::int64_t wanted = amount;
  {
    std::lock_guard lock(mutex_);
    wanted = sliceFor(line, amount);
  }
  auto answered = [this, line, amount, now, done = std::move(done)](ReserveResult result) mutable {
    Lease* lease = taken(line, amount, result, now);
    done(result, lease);
  };
  if (wanted == amount) {
    reserve_later(line, amount, now, hold, std::move(answered));
    return;
  }
  // A slice first; when the line has no room for it, the request's amount alone.
  reserve_later(line, wanted, now, hold,
                [this, line, amount, now, hold, reserve_later,
                 answered = std::move(answered)](ReserveResult result) mutable {
                  if (result.status != ReserveStatus::kOverLimit) {
                    answered(std::move(result));
                    return;
                  }
                  reserve_later(line, amount, now, hold, std::move(answered));
                });
}

LeasedLedger::Lease* LeasedLedger::taken(const Line& line, std::int64_t amount,
                                         ReserveResult& result, Clock::time_point now) {
  if (result.status == ReserveStatus::kUnavailable) {
    // The shared ledger may have taken it and lost the answer: released, exactly once.
    if (result.attempted) charges_.send({Owed::Kind::kSettle, *result.attempted, {}, 0, now, {}});
    result.attempted.reset();
    return nullptr;
  }
  if (!result.after.empty() && events_.seen) events_.seen({line.key}, result.after);
  Lease* installed = nullptr;
  {
    std::lock_guard lock(mutex_);
    LineLeases& leases = lines_[line.key];
    if (result.status == ReserveStatus::kReserved) {
      auto lease = std::make_unique<Lease>();
      lease->id = result.reservation->id;
      lease->line = line;
      lease->granted = result.reservation->amount;
      lease->taken = Steady::now();
      lease->held = amount;
      lease->holders = 1;
      installed = lease.get();
      if (leases.current != nullptr) close(*leases.current);
      leases.current = installed;
      leases.leases.push_back(installed);
      leases_.emplace(lease->id, std::move(lease));
    }
    if (!result.after.empty()) sawShared(line.key, result.after.front());
  }
  reportLeasesOut();
  return installed;
}

Ledger& LeasedLedger::local() { return *local_; }

std::shared_ptr<LeasedLedger::Ticket> LeasedLedger::ticket() {
  return std::make_shared<Ticket>(*this);
}

bool LeasedLedger::prepare(const std::shared_ptr<Ticket>& ticket,
                           const std::vector<std::pair<Line, std::int64_t>>& needs,
                           Clock::time_point now, std::chrono::seconds hold,
                           const ReserveLater& reserve_later, std::function<void()> done) {
  std::vector<std::pair<Line, std::int64_t>> missing;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [line, amount] : needs) {
      const LineLeases& leases = lines_[line.key];
      const bool roomy = leases.current != nullptr && leases.current->room() >= amount;
      if (!roomy || !leases.others) missing.emplace_back(line, std::max<std::int64_t>(amount, 0));
    }
  }
  if (missing.empty()) return false;
  auto left = std::make_shared<std::size_t>(missing.size());
  auto finished = std::make_shared<std::function<void()>>(std::move(done));
  for (const auto& [line, amount] : missing) {
    takeLeaseLater(line, amount, now, hold, reserve_later,
                   [this, ticket, key = line.key, amount, left, finished](
                       const ReserveResult& result, Lease* lease) {
                     {
                       std::lock_guard lock(mutex_);
                       if (lease != nullptr && ticket->finished_) {
                         release(*lease, amount);
                       } else if (lease != nullptr) {
                         ticket->held_[key] = {lease, amount};
                       } else if (result.status == ReserveStatus::kOverLimit) {
                         ticket->refused_.insert(key);
                       }
                     }
                     if (--*left == 0) (*finished)();
                   });
  }
  return true;
}

void LeasedLedger::readLater(const std::vector<std::string>& keys, Clock::time_point now,
                             const ReadLater& read_later,
                             std::function<void(std::optional<std::vector<LineState>>)> done) {
  read_later(keys, now,
             [this, keys, done = std::move(done)](std::optional<std::vector<LineState>> states) {
               if (states) {
                 if (events_.seen) events_.seen(keys, *states);
                 std::lock_guard lock(mutex_);
                 for (std::size_t i = 0; i < keys.size() && i < states->size(); ++i) {
                   sawShared(keys[i], (*states)[i]);
                   (*states)[i] = viewOf(keys[i]);
                 }
               }
               done(std::move(states));
             });
}

std::int64_t LeasedLedger::sliceFor(const Line& line, std::int64_t amount) {
  const LineLeases& leases = lines_[line.key];
  std::int64_t used = 0;  // as the shared ledger counts it
  if (leases.others) used = addSaturating(leases.others->spent, leases.others->reserved);
  for (const Lease* lease : leases.leases) {
    used = addSaturating(used, std::max(lease->granted, addSaturating(lease->held, lease->spent)));
  }
  const std::int64_t share = std::max<std::int64_t>(line.limit - used, 0) / options_.share;
  const std::int64_t most = timesAtMost(std::max<std::int64_t>(amount, 1), options_.slice_requests);
  return std::max(amount, std::min(share, most));
}

void LeasedLedger::sawShared(const std::string& key, const LineState& state) {
  LineLeases& leases = lines_[key];
  std::int64_t ours = 0;
  for (const Lease* lease : leases.leases) ours = addSaturating(ours, lease->granted);
  leases.others = LineState{state.spent, std::max<std::int64_t>(state.reserved - ours, 0)};
  leases.seen_at = Steady::now();
}

LineState LeasedLedger::viewOf(const std::string& key) const {
  auto found = lines_.find(key);
  if (found == lines_.end()) return {};
  LineState view = found->second.others.value_or(LineState{});
  for (const Lease* lease : found->second.leases) {
    view.spent = addSaturating(view.spent, lease->spent);
    view.reserved = addSaturating(view.reserved, lease->held);
  }
  return view;
}

void LeasedLedger::close(Lease& lease) {
  lease.open = false;
  LineLeases& leases = lines_[lease.line.key];
  if (leases.current == &lease) leases.current = nullptr;
  returnIfDone(lease);
}

void LeasedLedger::returnIfDone(Lease& lease) {
  if (lease.open || lease.holders > 0 || lease.returned) return;
  lease.returned = true;
  Reservation reservation{lease.id, {lease.line.key}, lease.granted};
  charges_.send({Owed::Kind::kSettle, std::move(reservation), {}, lease.spent, Clock::now(), {}});
}

bool LeasedLedger::settle(const Reservation& reservation, std::int64_t actual,
                          Clock::time_point /*now*/, std::vector<LineState>* after) {
  actual = std::max<std::int64_t>(actual, 0);
  std::lock_guard lock(mutex_);
  if (auto found = holds_.find(reservation.id); found != holds_.end()) {
    for (Lease* lease : found->second) {
      lease->spent = addSaturating(lease->spent, actual);
      release(*lease, reservation.amount);
    }
    holds_.erase(found);
  }
  if (after != nullptr) {
    after->clear();
    for (const std::string& key : reservation.keys) after->push_back(viewOf(key));
  }
  return true;
}

bool LeasedLedger::charge(const std::vector<Line>& lines, std::int64_t amount,
                          Clock::time_point now, const std::string& id) {
  return shared_->charge(lines, amount, now, id);
}

std::optional<std::vector<LineState>> LeasedLedger::read(const std::vector<std::string>& keys,
                                                         Clock::time_point now) {
  auto states = shared_->read(keys, now);
  if (!states) return std::nullopt;
  if (events_.seen) events_.seen(keys, *states);
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    sawShared(keys[i], (*states)[i]);
    (*states)[i] = viewOf(keys[i]);
  }
  return states;
}

void LeasedLedger::landed(const Owed& charge, const std::vector<LineState>& after) {
  if (charge.kind != Owed::Kind::kSettle) return;
  {
    std::lock_guard lock(mutex_);
    auto found = leases_.find(charge.reservation.id);
    if (found == leases_.end()) return;
    const std::string key = found->second->line.key;
    auto& leases = lines_[key].leases;
    leases.erase(std::find(leases.begin(), leases.end(), found->second.get()));
    leases_.erase(found);
    if (!after.empty()) sawShared(key, after.front());
  }
  reportLeasesOut();
}

void LeasedLedger::closeAged() {
  const auto now = Steady::now();
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, lease] : leases_) {
      if (lease->open && now - lease->taken >= options_.max_age) close(*lease);
    }
    // Lines of past windows, and lines no longer used: what was seen of them is stale.
    std::erase_if(lines_, [&](const auto& entry) {
      return entry.second.leases.empty() && now - entry.second.seen_at > options_.max_age * 10;
    });
  }
  reportLeasesOut();
}

void LeasedLedger::reportLeasesOut() {
  if (!events_.leases_out) return;
  std::size_t out = 0;
  {
    std::lock_guard lock(mutex_);
    out = leases_.size();
  }
  events_.leases_out(out);
}

ReserveResult LeasedLedger::Ticket::reserve(const std::vector<Line>& lines, std::int64_t amount,
                                            Clock::time_point /*now*/,
                                            std::chrono::seconds /*hold*/) {
  amount = std::max<std::int64_t>(amount, 0);
  std::lock_guard lock(owner_.mutex_);
  std::vector<Lease*> held;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    Lease* lease = nullptr;
    if (auto given = held_.find(lines[i].key);
        given != held_.end() && given->second.second >= amount) {
      lease = given->second.first;
      lease->held -= given->second.second - amount;
      held_.erase(given);
    } else {
      lease = owner_.holdOn(lines[i].key, amount);
    }
    if (lease != nullptr) {
      held.push_back(lease);
      continue;
    }
    for (Lease* taken : held) owner_.release(*taken, amount);
    ReserveResult refused;
    if (refused_.contains(lines[i].key)) {
      refused.status = ReserveStatus::kOverLimit;
      refused.over_line = i;
    }
    return refused;
  }
  return owner_.reserved(lines, amount, std::move(held));
}

bool LeasedLedger::Ticket::settle(const Reservation& reservation, std::int64_t actual,
                                  Clock::time_point now, std::vector<LineState>* after) {
  return owner_.settle(reservation, actual, now, after);
}

bool LeasedLedger::Ticket::charge(const std::vector<Line>& /*lines*/, std::int64_t /*amount*/,
                                  Clock::time_point /*now*/, const std::string& /*id*/) {
  return false;
}

std::optional<std::vector<LineState>> LeasedLedger::Ticket::read(
    const std::vector<std::string>& keys, Clock::time_point /*now*/) {
  std::lock_guard lock(owner_.mutex_);
  std::vector<LineState> states;
  for (const std::string& key : keys) {
    auto found = owner_.lines_.find(key);
    if (found == owner_.lines_.end() || !found->second.others) return std::nullopt;
    states.push_back(owner_.viewOf(key));
  }
  return states;
}

void LeasedLedger::Ticket::finish() {
  std::lock_guard lock(owner_.mutex_);
  finished_ = true;
  for (auto& [key, given] : std::exchange(held_, {})) owner_.release(*given.first, given.second);
}

}  // namespace costgate::budget
