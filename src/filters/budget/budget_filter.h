#pragma once
// The budget breaker: USD budgets per scope and window, and rate limits, held by reservation.
// Before a call its worst-case cost (exact input tokens x input price + output cap x output
// price, for every model a cascade may try, each at the dearest of it and its fallbacks) is
// reserved atomically against every budget whose
// scope matches; after it, the reservation is settled to what the request was charged
// (ctx.charged). Thresholds act on the share of the budget already spent or reserved: warn (a
// header), degrade (a cheaper model, a tighter cap), open (429 budget_exceeded until the window
// resets). With Redis, requests reserve and settle on this replica's leases (budget::LeasedLedger)
// on the loop; only a request that needs a new lease waits (FilterStatus::kWait) for a worker
// thread to take it from Redis. Leases are returned through budget::OwedCharges, which keeps what
// Redis does not take until it does.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "costgate/budget/ledger.h"
#include "costgate/budget/memory_ledger.h"
#include "costgate/budget/replica_ledger.h"
#include "costgate/budget/time_zone.h"
#include "costgate/budget/window.h"
#include "costgate/config/config.h"
#include "costgate/config/load.h"
#include "costgate/pipeline/filter.h"
#include "costgate/pipeline/kept_state.h"
#include "costgate/pipeline/policy.h"
#include "costgate/redis/connection.h"
#include "filters/budget/budget_stats.h"

namespace costgate::filters::budget {

enum class Action { kWarn, kDegrade, kOpen };

struct Threshold {
  double at = 1.0;  // share of the amount spent or reserved
  Action action = Action::kOpen;
};

struct Degrade {
  std::string model;                              // empty: keep the model
  std::optional<std::int64_t> max_output_tokens;  // clamp the output cap
};

struct Budget {
  std::string name;
  pipeline::PolicyMatch match;  // the scope: feature, team, env (and the requested model)
  pricing::Nanos amount = 0;
  costgate::budget::WindowKind window = costgate::budget::WindowKind::kDay;
  std::shared_ptr<const costgate::budget::TimeZone> time_zone;
  std::vector<Threshold> thresholds;  // ascending; the default is open at 1.0
  Degrade degrade;
};

struct RateLimit {
  std::string name;
  pipeline::PolicyMatch match;
  std::optional<std::int64_t> requests_per_minute;
  std::optional<std::int64_t> tokens_per_minute;
};

enum class OnLedgerError { kOpen, kClosed };

struct BudgetConfig {
  std::optional<redis::Address> redis;  // none: the memory ledger (one replica)
  std::string journal;  // Redis: charges owed to it are also kept in this file (empty: memory only)
  OnLedgerError on_ledger_error = OnLedgerError::kOpen;
  std::chrono::seconds hold{600};             // a reservation never settled frees itself after this
  std::int64_t assumed_output_tokens = 4096;  // the output cap of a request that sets none
  std::vector<Budget> budgets;
  std::vector<RateLimit> rate_limits;
  std::map<std::string, pricing::Price> prices;               // of the gateway's models, by name
  std::map<std::string, std::vector<std::string>> fallbacks;  // of the gateway's models
};

std::variant<BudgetConfig, config::ConfigError> parseBudgetConfig(const config::FilterSpec& spec);

// One budget's state in its current window, for GET /admin/budgets and the gauges.
struct BudgetStatus {
  std::string name;
  std::string window;  // the window's id, e.g. "2026-11-29"
  pricing::Nanos spent = 0;
  pricing::Nanos reserved = 0;
  pricing::Nanos limit = 0;
  std::string state;  // ok, warn, degrade or open
  std::chrono::system_clock::time_point resets{};
};

class BudgetFilter : public pipeline::Filter {
 public:
  using Now = std::function<std::chrono::system_clock::time_point()>;
  // A memory ledger (and the local one that stands in for Redis) comes from `kept` when a previous
  // configuration left one, so that a reload keeps the spend (null: a new one). Its stats are
  // declared in `metrics`. `now` is injectable for tests (windows are calendar based).
  // `redis_on_loop` gives the event loop's Redis connection the requests' lease takes use (none,
  // for tools that serve no requests: a request the leases cannot serve finds Redis unreachable).
  BudgetFilter(BudgetConfig config, metrics::Metrics& metrics, pipeline::KeptState* kept = nullptr,
               Now now = {}, pipeline::RedisOnLoop redis_on_loop = {});
  ~BudgetFilter() override;
  std::string_view name() const override { return "budget"; }
  // Reserves (or refuses with 429), possibly degrading the request first; waits for a Redis
  // ledger on a worker thread.
  pipeline::FilterStatus onRequest(pipeline::RequestContext& ctx) const override;
  // Settles the reservations to ctx.charged (a request that failed settles nothing spent), and
  // counts the request in the budget's stats and log fields.
  void onComplete(pipeline::RequestContext& ctx) const override;
  // GET /admin/budgets: every budget's spend, reservations, limit and state.
  std::vector<pipeline::LocalEndpoint> endpoints() const override;

  // Every budget's state now; nullopt when the ledger cannot be read. Blocking (a Redis read):
  // never on the event loop, which uses statusAsync.
  std::optional<std::vector<BudgetStatus>> status() const;
  // status() without waiting (with Redis, a read on the loop's connection); `done` fires when
  // *out is set.
  void statusAsync(std::shared_ptr<std::optional<std::vector<BudgetStatus>>> out,
                   std::shared_ptr<pipeline::Signal> done) const;

 private:
  struct Plan;
  struct Decision;
  Decision decide(const Plan& plan, costgate::budget::Ledger& ledger) const;
  // The plan for this request; null when no budget or rate limit applies.
  std::shared_ptr<Plan> planFor(const pipeline::RequestContext& ctx) const;
  // What the ledger decided, applied to the request: a refusal, a degrade, warnings.
  pipeline::FilterStatus apply(pipeline::RequestContext& ctx, Decision decision) const;
  // What the request holds is settled to what it cost; a stand-in's money is also owed to Redis.
  void settle(pipeline::RequestContext& ctx) const;
  // Every line the plan may reserve on: its budgets' and its rate limits'.
  static std::vector<costgate::budget::Line> planLines(const Plan& plan);
  // The same, each with the most the plan may reserve there.
  static std::vector<std::pair<costgate::budget::Line, std::int64_t>> needsOf(const Plan& plan);
  // The budgets' states as read, or nullopt when they could not be.
  std::optional<std::vector<BudgetStatus>> statusOf(
      const std::vector<costgate::budget::WindowSpan>& windows,
      const std::optional<std::vector<costgate::budget::LineState>>& states) const;
  // The Redis calls a request's lease takes and the budgets endpoint make, through `send`.
  void laterCalls(redis::SendLater send);
  // Frees a reservation the request will not use (settles it to 0).
  void release(costgate::budget::Ledger& ledger, const costgate::budget::Reservation& reservation,
               costgate::budget::Clock::time_point now) const;

  BudgetConfig config_;
  Now now_;
  std::shared_ptr<costgate::budget::Ledger> ledger_;
  // Redis only: the charges on their way to it, and the ledger standing in while it is down.
  std::shared_ptr<costgate::budget::ReplicaLedger> replica_;
  costgate::budget::LeasedLedger::ReserveLater reserve_later_;  // Redis on the loop only
  costgate::budget::LeasedLedger::ReadLater read_later_;
  std::shared_ptr<const costgate::budget::TimeZone> utc_;  // rate limits' minutes
  BudgetStats stats_;
};

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeBudgetFilter(
    const config::FilterSpec& spec, pipeline::FilterEnvironment& environment);

}  // namespace costgate::filters::budget
