#include "costgate/budget/owed_charges.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

namespace costgate::budget {
namespace {

using nlohmann::json;

// Journal lines (JSON, one per line): {"owe": "settle"|"charge", "id", "amount", "at_ms", "keys"
// (settle) or "lines" (charge: key, limit, end_ms; -1 for a window that never ends)}, and
// {"paid": "settle:<id>"|"charge:<id>"}.
std::int64_t millisOf(Clock::time_point time) {
  if (time == Clock::time_point::max()) return -1;
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

Clock::time_point timeOf(std::int64_t millis) {
  if (millis < 0) return Clock::time_point::max();
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(millis)));
}

std::string identity(const Owed& owed) {
  return (owed.kind == Owed::Kind::kSettle ? "settle:" : "charge:") + owed.reservation.id;
}

std::string journalLine(const Owed& owed) {
  json line = {{"owe", owed.kind == Owed::Kind::kSettle ? "settle" : "charge"},
               {"id", owed.reservation.id},
               {"amount", owed.amount},
               {"at_ms", millisOf(owed.at)}};
  if (owed.kind == Owed::Kind::kSettle) {
    line["keys"] = owed.reservation.keys;
    line["held"] = owed.reservation.amount;
  } else {
    json lines = json::array();
    for (const Line& each : owed.lines) {
      lines.push_back(
          {{"key", each.key}, {"limit", each.limit}, {"end_ms", millisOf(each.window_end)}});
    }
    line["lines"] = std::move(lines);
  }
  return line.dump() + "\n";
}

// One journal line read back; nullopt for a line that is neither (a torn last line).
std::optional<std::pair<std::string, std::optional<Owed>>> readLine(const std::string& text) {
  json line = json::parse(text, nullptr, false);
  if (!line.is_object()) return std::nullopt;
  try {
    if (line.contains("paid")) return std::make_pair(line["paid"].get<std::string>(), std::nullopt);
    Owed owed;
    owed.kind =
        line.at("owe").get<std::string>() == "settle" ? Owed::Kind::kSettle : Owed::Kind::kCharge;
    owed.reservation.id = line.at("id").get<std::string>();
    owed.amount = line.at("amount").get<std::int64_t>();
    owed.at = timeOf(line.at("at_ms").get<std::int64_t>());
    if (owed.kind == Owed::Kind::kSettle) {
      owed.reservation.keys = line.at("keys").get<std::vector<std::string>>();
      owed.reservation.amount = line.value("held", std::int64_t{0});
    } else {
      for (const json& each : line.at("lines")) {
        owed.lines.push_back({each.at("key").get<std::string>(),
                              each.at("limit").get<std::int64_t>(),
                              timeOf(each.at("end_ms").get<std::int64_t>())});
      }
    }
    std::string name = identity(owed);  // before `owed` is moved from
    return std::make_pair(std::move(name), std::optional<Owed>(std::move(owed)));
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

bool sendTo(Ledger& ledger, const Owed& charge, std::vector<LineState>* after) {
  if (charge.kind == Owed::Kind::kSettle) {
    return ledger.settle(charge.reservation, charge.amount, charge.at, after);
  }
  return ledger.charge(charge.lines, charge.amount, charge.at, charge.reservation.id);
}

}  // namespace

std::variant<std::unique_ptr<OwedCharges>, Error> OwedCharges::open(
    std::shared_ptr<Ledger> ledger, std::string journal, Events events,
    std::chrono::milliseconds retry_every) {
  std::unique_ptr<OwedCharges> charges(
      new OwedCharges(std::move(ledger), std::move(journal), std::move(events), retry_every));
  if (!charges->journal_.empty()) {
    // What an earlier process left owed, in the order it was owed.
    std::ifstream in(charges->journal_);
    std::map<std::string, std::size_t> position;
    std::vector<std::optional<Owed>> found;
    for (std::string text; std::getline(in, text);) {
      auto line = readLine(text);
      if (!line) continue;
      auto& [name, entry] = *line;
      if (entry) {
        if (position.contains(name)) continue;
        position[name] = found.size();
        found.push_back(std::move(entry));
      } else if (auto at = position.find(name); at != position.end()) {
        found[at->second].reset();
      }
    }
    for (auto& entry : found) {
      if (entry) charges->entries_.push_back(Entry{std::move(*entry), true});
    }
    charges->compactJournal();
    charges->journal_fd_ =
        ::open(charges->journal_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (charges->journal_fd_ < 0) {
      return Error{"cannot open the budget journal '" + charges->journal_ +
                   "': " + std::strerror(errno)};
    }
  }
  if (charges->events_.pending) charges->events_.pending(charges->entries_.size());
  charges->sender_ = std::thread([raw = charges.get()] { raw->sendLoop(); });
  return charges;
}

OwedCharges::OwedCharges(std::shared_ptr<Ledger> ledger, std::string journal, Events events,
                         std::chrono::milliseconds retry_every)
    : ledger_(std::move(ledger)),
      journal_(std::move(journal)),
      events_(std::move(events)),
      retry_every_(retry_every) {}

OwedCharges::~OwedCharges() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sender_.joinable()) sender_.join();
  sendNow();
  // What the ledger did not take is in the journal for the next start.
  std::lock_guard lock(mutex_);
  for (Entry& entry : entries_) markOwed(entry);
  if (journal_fd_ >= 0) ::close(journal_fd_);
}

void OwedCharges::send(Owed charge) {
  std::vector<Owed> owed;
  {
    std::lock_guard lock(mutex_);
    entries_.push_back(Entry{std::move(charge), false});
    // While the ledger is down it is owed (and journaled) at once rather than at the next try.
    if (ledger_down_) markOwed(entries_.back());
    owed.swap(newly_owed_);
  }
  if (owed.empty()) wake_.notify_all();
  for (const Owed& each : owed) {
    if (events_.owed) events_.owed(each);
  }
}

std::size_t OwedCharges::pending() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::size_t OwedCharges::sendNow() {
  std::lock_guard sending(send_mutex_);
  std::size_t taken = 0;
  std::vector<LineState> after;
  for (;;) {
    Entry next;
    {
      std::lock_guard lock(mutex_);
      if (entries_.empty()) break;
      next = entries_.front();  // stays queued while it is in flight
    }
    after.clear();
    const bool landed = sendTo(*ledger_, next.charge, &after);
    std::vector<Owed> owed;
    std::size_t pending = 0;
    {
      std::lock_guard lock(mutex_);
      ledger_down_ = !landed;
      if (landed) {
        entries_.pop_front();  // only this thread removes entries: the front is still `next`
        if (next.owed && journal_fd_ >= 0) {
          append(json{{"paid", identity(next.charge)}}.dump() + "\n");
        }
      } else {
        for (Entry& entry : entries_) markOwed(entry);
      }
      owed.swap(newly_owed_);
      pending = entries_.size();
    }
    for (const Owed& each : owed) {
      if (events_.owed) events_.owed(each);
    }
    if (landed && events_.landed) events_.landed(next.charge, after, next.owed);
    if (events_.pending) events_.pending(pending);
    if (!landed) break;
    ++taken;
  }
  return taken;
}

// Sends as charges come; while the ledger is down, tries again every retry_every_ only: each new
// charge would fail as the last one did, and an attempt per charge would add to its load.
void OwedCharges::sendLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (entries_.empty() || ledger_down_) {
      wake_.wait_for(lock, retry_every_,
                     [this] { return stopping_ || (!ledger_down_ && !entries_.empty()); });
    }
    if (stopping_ || entries_.empty()) continue;
    lock.unlock();
    sendNow();
    lock.lock();
  }
}

void OwedCharges::markOwed(Entry& entry) {
  if (entry.owed) return;
  entry.owed = true;
  if (journal_fd_ >= 0) append(journalLine(entry.charge));
  newly_owed_.push_back(entry.charge);
}

// A line is written whole by one write(2) to a file opened for appending.
void OwedCharges::append(const std::string& line) {
  std::size_t written = 0;
  while (written < line.size()) {
    ssize_t n = ::write(journal_fd_, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk: the charge is still owed in memory
    written += static_cast<std::size_t>(n);
  }
}

// Rewrites the journal with only what is owed, so that it does not grow across restarts.
void OwedCharges::compactJournal() {
  const std::string temporary = journal_ + ".new";
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const Entry& entry : entries_) out << journalLine(entry.charge);
    if (!out) return;
  }
  ::rename(temporary.c_str(), journal_.c_str());
}

}  // namespace costgate::budget
