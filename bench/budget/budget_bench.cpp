// What a budget check adds to a request (issue 7): the ledger calls the budget filter makes for
// one request (read the budgets' state, reserve the worst case, settle to the charge) on the
// memory ledger and on a Redis ledger (a real redis-server, address from argv), timed one request
// at a time: p50/p99/max in microseconds. bench/budget/run.sh starts redis-server and runs it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "costgate/budget/memory_ledger.h"
#include "costgate/budget/redis_ledger.h"

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

// One request's ledger calls against two budgets (a feature's day and a team's month).
bool oneCheck(Ledger& ledger, int i) {
  const auto now = Clock::now();
  const auto end = now + std::chrono::hours(24);
  std::vector<costgate::budget::Line> lines = {{"bench:budget:feature:day", 1'000'000'000'000, end},
                                               {"bench:budget:team:month", 1'000'000'000'000, end}};
  auto state = ledger.read({lines[0].key, lines[1].key}, now);
  if (!state) return false;
  auto held = ledger.reserve(lines, 2000 + i % 7, now, std::chrono::seconds(600));
  if (!held.reservation) return false;
  return ledger.settle(*held.reservation, 1500, now);
}

bool measure(const char* name, Ledger& ledger, int count) {
  for (int i = 0; i < 200; ++i) oneCheck(ledger, i);  // warm-up: connections, scripts, pages
  std::vector<double> samples;
  samples.reserve(count);
  for (int i = 0; i < count; ++i) {
    const auto started = Steady::now();
    if (!oneCheck(ledger, i)) {
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
  if (!measure("memory", memory, count)) return 1;
  if (argc > 1) {
    auto address = costgate::redis::parseAddress(argv[1]);
    if (auto* problem = std::get_if<costgate::Error>(&address)) {
      std::fprintf(stderr, "budget-bench: %s\n", problem->message.c_str());
      return 2;
    }
    costgate::budget::RedisLedger redis(std::get<costgate::redis::Address>(address),
                                        std::chrono::milliseconds(500));
    if (!measure("redis", redis, count)) return 1;
  }
  return 0;
}
