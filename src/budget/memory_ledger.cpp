#include "costgate/budget/memory_ledger.h"

#include <algorithm>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "costgate/pricing/price.h"

namespace costgate::budget {
namespace {

using pricing::addSaturating;

// When a line whose window ends at `window_end` may be dropped; max() for never (also instead of
// overflowing for windows ending within the grace of the end of time).
Clock::time_point dropTime(Clock::time_point window_end) {
  if (window_end >= Clock::time_point::max() - kWindowGrace) return Clock::time_point::max();
  return window_end + kWindowGrace;
}

struct Hold {
  std::int64_t amount = 0;
  Clock::time_point expires;
};

struct LineRecord {
  std::int64_t spent = 0;
  std::int64_t reserved = 0;  // the sum of `holds`
  Clock::time_point drop_at = Clock::time_point::max();
  std::unordered_map<std::string, Hold> holds;
  std::set<std::pair<Clock::time_point, std::string>> expiry_order;  // of `holds`
  // Expired and not yet settled: a late settle still charges them.
  std::unordered_set<std::string> lapsed;
  std::unordered_set<std::string> charged;  // ids of charges made, each charged once
};

}  // namespace

struct MemoryLedger::State {
  std::mutex mutex;
  std::unordered_map<std::string, LineRecord> lines;
  std::set<std::pair<Clock::time_point, std::string>> drop_order;  // of `lines` that ever end
  ReservationIds ids;

  // Drops every line whose time is up: lines of past windows are never asked for again, so waiting
  // for a call on them would keep them forever.
  void dropEnded(Clock::time_point now) {
    while (!drop_order.empty() && drop_order.begin()->first <= now) {
      lines.erase(drop_order.begin()->second);
      drop_order.erase(drop_order.begin());
    }
  }

  static void releaseExpired(LineRecord& line, Clock::time_point now) {
    while (!line.expiry_order.empty() && line.expiry_order.begin()->first <= now) {
      auto first = line.expiry_order.begin();
      auto hold = line.holds.find(first->second);
      line.reserved -= hold->second.amount;
      line.lapsed.insert(hold->first);
      line.holds.erase(hold);
      line.expiry_order.erase(first);
    }
  }

  // The line, up to date at `now`; nullptr when it does not exist (never written, or dropped).
  LineRecord* existing(const std::string& key, Clock::time_point now) {
    auto found = lines.find(key);
    if (found == lines.end()) return nullptr;
    releaseExpired(found->second, now);
    return &found->second;
  }

  std::vector<LineState> statesOf(const std::vector<Line>& of, Clock::time_point now) {
    std::vector<LineState> states;
    for (const Line& line : of) {
      const LineRecord* record = existing(line.key, now);
      states.push_back(record ? LineState{record->spent, record->reserved} : LineState{});
    }
    return states;
  }

  // The line, created when missing, ending when `line` says (the last caller's word wins).
  LineRecord& written(const Line& line, Clock::time_point now) {
    LineRecord& record = lines[line.key];
    releaseExpired(record, now);
    const Clock::time_point drop_at = dropTime(line.window_end);
    if (record.drop_at != drop_at) {
      drop_order.erase({record.drop_at, line.key});
      record.drop_at = drop_at;
      if (drop_at != Clock::time_point::max()) drop_order.emplace(drop_at, line.key);
    }
    return record;
  }
};

MemoryLedger::MemoryLedger() : state_(std::make_unique<State>()) {}
MemoryLedger::~MemoryLedger() = default;

ReserveResult MemoryLedger::reserve(const std::vector<Line>& lines, std::int64_t amount,
                                    Clock::time_point now, std::chrono::seconds hold) {
  amount = std::max<std::int64_t>(amount, 0);
  std::lock_guard lock(state_->mutex);
  state_->dropEnded(now);
  if (amount > 0) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const LineRecord* record = state_->existing(lines[i].key, now);
      const std::int64_t used = record ? addSaturating(record->spent, record->reserved) : 0;
      if (addSaturating(used, amount) > lines[i].limit) {
        return ReserveResult{ReserveStatus::kOverLimit, std::nullopt, i, std::nullopt,
                             state_->statesOf(lines, now)};
      }
    }
  }
  Reservation reservation{state_->ids.next(), {}, amount};
  const Clock::time_point expires = now + hold;
  for (const Line& line : lines) {
    LineRecord& record = state_->written(line, now);
    record.reserved = addSaturating(record.reserved, amount);
    record.holds[reservation.id] = Hold{amount, expires};
    record.expiry_order.emplace(expires, reservation.id);
    reservation.keys.push_back(line.key);
  }
  return ReserveResult{ReserveStatus::kReserved, std::move(reservation), 0, std::nullopt,
                       state_->statesOf(lines, now)};
}

bool MemoryLedger::settle(const Reservation& reservation, std::int64_t actual,
                          Clock::time_point now, std::vector<LineState>* after) {
  actual = std::max<std::int64_t>(actual, 0);
  std::lock_guard lock(state_->mutex);
  state_->dropEnded(now);
  for (const std::string& key : reservation.keys) {
    LineRecord* record = state_->existing(key, now);
    if (record == nullptr) continue;
    if (auto hold = record->holds.find(reservation.id); hold != record->holds.end()) {
      record->reserved -= hold->second.amount;
      record->expiry_order.erase({hold->second.expires, reservation.id});
      record->holds.erase(hold);
    } else if (record->lapsed.erase(reservation.id) == 0) {
      continue;  // settled before
    }
    record->spent = addSaturating(record->spent, actual);
  }
  if (after != nullptr) {
    after->clear();
    for (const std::string& key : reservation.keys) {
      const LineRecord* record = state_->existing(key, now);
      after->push_back(record ? LineState{record->spent, record->reserved} : LineState{});
    }
  }
  return true;
}

bool MemoryLedger::charge(const std::vector<Line>& lines, std::int64_t amount,
                          Clock::time_point now, const std::string& id) {
  amount = std::max<std::int64_t>(amount, 0);
  std::lock_guard lock(state_->mutex);
  state_->dropEnded(now);
  for (const Line& line : lines) {
    LineRecord& record = state_->written(line, now);
    if (!record.charged.insert(id).second) continue;
    record.spent = addSaturating(record.spent, amount);
  }
  return true;
}

std::optional<std::vector<LineState>> MemoryLedger::read(const std::vector<std::string>& keys,
                                                         Clock::time_point now) {
  std::lock_guard lock(state_->mutex);
  state_->dropEnded(now);
  std::vector<LineState> states;
  states.reserve(keys.size());
  for (const std::string& key : keys) {
    const LineRecord* record = state_->existing(key, now);
    states.push_back(record ? LineState{record->spent, record->reserved} : LineState{});
  }
  return states;
}

}  // namespace costgate::budget
