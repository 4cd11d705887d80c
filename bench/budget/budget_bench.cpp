// What a budget check adds to a request (issue 7): the ledger calls the budget filter makes for
// one request (read the budgets' state, reserve the worst case, settle to the charge) on the
// memory ledger, on a Redis ledger (a real redis-server, address from argv) called for every
// request, and on a replica's leases on that Redis (what the gateway does: the leases answer on
// the loop, and a request that needs a new lease takes it from Redis), timed one request at a
// time: p50/p99/max in microseconds. bench/budget/run.sh starts redis-server and runs it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "costgate/budget/memory_ledger.h"
#include "costgate/budget/redis_ledger.h"
#include "costgate/budget/replica_ledger.h"

namespace {

using costgate::budget::Clock;
using costgate::budget::Ledger;
using Steady = std::chrono::steady_clock;

struct Summary {
  double p50, p99, max;
};

Summary summarize(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    return samples[std::min(samples.size() - 1, static_cast<std::size_t>(q * samples.size()))];
  };
  return {at(0.50), at(0.99), samples.back()};
}

// One request's ledger calls against two budgets (a feature's day and a team's month): first on
// `quick` (a replica's leases alone), then, when it cannot answer, on `ledger`.
bool oneCheck(Ledger& quick, Ledger& ledger, int i) {
  const auto now = Clock::now();
  const auto end = now + std::chrono::hours(24);
  std::vector<costgate::budget::Line> lines = {{"bench:budget:feature:day", 1'000'000'000'000, end},
                                               {"bench:budget:team:month", 1'000'000'000'000, end}};
  const std::vector<std::string> keys = {lines[0].key, lines[1].key};
  auto state = quick.read(keys, now);
  if (!state) state = ledger.read(keys, now);
  if (!state) return false;
  const std::int64_t worst = 2000 + i % 7;
  auto held = quick.reserve(lines, worst, now, std::chrono::seconds(600));
  if (!held.reservation) held = ledger.reserve(lines, worst, now, std::chrono::seconds(600));
  if (!held.reservation) return false;
  return ledger.settle(*held.reservation, 1500, now);
}

bool measure(const char* name, Ledger& quick, Ledger& ledger, int count) {
  for (int i = 0; i < 200; ++i) oneCheck(quick, ledger, i);  // warm-up: connections, scripts, pages
  std::vector<double> samples;
  samples.reserve(count);
  for (int i = 0; i < count; ++i) {
    const auto started = Steady::now();
    if (!oneCheck(quick, ledger, i)) {
      std::fprintf(stderr, "budget-bench: the %s ledger failed\n", name);
      return false;
    }
    samples.push_back(std::chrono::duration<double, std::micro>(Steady::now() - started).count());
  }
  const Summary s = summarize(std::move(samples));
  std::printf(
      "budget check (read + reserve + settle, 2 budgets), %s ledger: p50 %.1f us, p99 %.1f "
      "us, max %.1f us over %d requests\n",
      name, s.p50, s.p99, s.max, count);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 2 ? std::atoi(argv[2]) : 20000;
  costgate::budget::MemoryLedger memory;
  if (!measure("memory", memory, memory, count)) return 1;
  if (argc > 1) {
    auto address = costgate::redis::parseAddress(argv[1]);
    if (auto* problem = std::get_if<costgate::Error>(&address)) {
      std::fprintf(stderr, "budget-bench: %s\n", problem->message.c_str());
      return 2;
    }
    const auto& redis_address = std::get<costgate::redis::Address>(address);
    costgate::budget::RedisLedger redis(redis_address, std::chrono::milliseconds(500));
    if (!measure("redis (every call)", redis, redis, count)) return 1;
    auto replica = std::get<std::shared_ptr<costgate::budget::ReplicaLedger>>(
        costgate::budget::ReplicaLedger::open(redis_address, std::chrono::milliseconds(500), "",
                                              {}));
    costgate::budget::LeasedLedger& leased = replica->leased();
    if (!measure("redis (leases)", leased.local(), leased, count)) return 1;
  }
  return 0;
}
