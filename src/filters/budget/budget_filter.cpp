// The budget filter's settings:
//
//   - budget:
//       ledger: memory             # or redis://[:password@]host[:port][/db]: shared by replicas
//       journal: /var/lib/costgate/budget.journal  # redis: charges Redis has not taken yet are
//                                  # also kept here, and sent again after a restart
//       on_ledger_error: open      # Redis unreachable: open (a local ledger takes over, counted,
//                                  # its charges written to Redis when it is back) or closed
//                                  # (503 budget_unavailable)
//       hold_seconds: 600          # a reservation never settled (a crashed process) frees itself
//       assumed_output_tokens: 4096  # the output cap of a request that sets none
//       budgets:                   # a request is checked against every budget whose match applies
//         - name: support-daily
//           match: {feature: [support], team: [care], env: [prod]}
//           amount_usd: 50
//           window: day            # minute, hour, day or month (calendar)
//           time_zone: Europe/Paris  # IANA name; default UTC
//           thresholds:            # share spent or reserved -> action (default: open at 1.0)
//             - {at: 0.8, action: warn}      # x-costgate-budget-warning header, state gauge
//             - {at: 0.9, action: degrade}   # degrade: below
//             - {at: 1.0, action: open}      # 429 budget_exceeded, Retry-After: window reset
//           degrade: {model: gpt-4o-mini, max_output_tokens: 256}
//       rate_limits:
//         - name: support-rpm
//           match: {feature: [support]}
//           requests_per_minute: 600
//           tokens_per_minute: 200000  # input (counted) + output cap, settled to the real use

#include "filters/budget/budget_filter.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include "costgate/budget/redis_ledger.h"
#include "costgate/config/yaml_reader.h"
#include "costgate/openai/error.h"
#include "costgate/openai/prompt_tokens.h"
#include "costgate/openai/usage.h"
#include "costgate/pipeline/filter_settings.h"

namespace costgate::filters::budget {
namespace {

namespace ledger_ns = costgate::budget;
using SystemClock = std::chrono::system_clock;

constexpr std::string_view kSettingsKeys[] = {
    "ledger",  "journal",    "on_ledger_error", "hold_seconds", "assumed_output_tokens",
    "budgets", "rate_limits"};
constexpr std::string_view kBudgetKeys[] = {"name",      "match",      "amount_usd", "window",
                                            "time_zone", "thresholds", "degrade"};
constexpr std::string_view kThresholdKeys[] = {"at", "action"};
constexpr std::string_view kDegradeKeys[] = {"model", "max_output_tokens"};
constexpr std::string_view kRateKeys[] = {"name", "match", "requests_per_minute",
                                          "tokens_per_minute"};
constexpr std::string_view kActions[] = {"warn", "degrade", "open"};
constexpr std::string_view kLedgerErrors[] = {"open", "closed"};
constexpr std::string_view kWindows[] = {"minute", "hour", "day", "month"};
constexpr std::chrono::milliseconds kRedisTimeout{500};
// A request waits this long for the ledger's worker before treating the ledger as unavailable.
constexpr std::chrono::milliseconds kLedgerWait{2000};

std::string_view actionName(std::optional<Action> action) {
  if (!action) return "ok";
  switch (*action) {
    case Action::kWarn:
      return "warn";
    case Action::kDegrade:
      return "degrade";
    case Action::kOpen:
      return "open";
  }
  return "ok";
}

// The strongest action whose threshold the share has reached.
std::optional<Action> actionAt(const Budget& budget, pricing::Nanos used) {
  std::optional<Action> reached;
  const double share =
      budget.amount > 0 ? static_cast<double>(used) / static_cast<double>(budget.amount) : 1.0;
  for (const Threshold& threshold : budget.thresholds) {
    if (share >= threshold.at) reached = threshold.action;
  }
  return reached;
}

std::string budgetKey(const Budget& budget, const ledger_ns::WindowSpan& window) {
  return "costgate:budget:" + budget.name + ":" + window.id;
}

// `unit`: rpm or tpm.
std::string rateKey(const RateLimit& limit, std::string_view unit,
                    const ledger_ns::WindowSpan& window) {
  return "costgate:rate:" + limit.name + ":" + std::string(unit) + ":" + window.id;
}

pipeline::LocalReply tooMany(std::string message, std::string code,
                             std::chrono::system_clock::duration retry_after) {
  const auto seconds = std::max<std::int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(retry_after).count() + 1);
  openai::ApiError error{429, "rate_limit_error", std::move(message), {}, std::move(code)};
  return {429, "application/json", error.body(), {{"retry-after", std::to_string(seconds)}}};
}

// A client's number as a count the budget may hold: whole, within [low, high], whatever the
// number's size or sign (casting a double past 64 bits would be undefined). The bounds are the
// largest max_tokens and n request validation lets through, so nothing valid is cut; routes that
// do not validate these fields (embeddings) cannot make a reservation negative or overflow.
std::int64_t boundedCount(double value, std::int64_t low, std::int64_t high) {
  if (!(value > static_cast<double>(low))) return low;
  if (value >= static_cast<double>(high)) return high;
  return static_cast<std::int64_t>(value);
}

constexpr std::int64_t kMostOutputTokens = std::int64_t{1} << 31;
constexpr std::int64_t kMostChoices = 128;

// A top-level number of the request, after earlier filters' edits; nullopt when absent.
std::optional<double> requestNumber(const pipeline::RequestContext& ctx, const char* key) {
  if (const std::string* edited = ctx.editedMember(key))
    return std::strtod(edited->c_str(), nullptr);
  auto value = ctx.request_index->find(key);
  if (value && value->isNumber()) return value->number();
  return std::nullopt;
}

// The output cap the request asks for (after earlier filters' edits), times n.
std::int64_t outputCap(const pipeline::RequestContext& ctx, std::int64_t assumed) {
  std::int64_t cap = 0;
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (auto value = requestNumber(ctx, key); value && cap == 0) {
      cap = boundedCount(*value, 0, kMostOutputTokens);
    }
  }
  if (cap == 0) cap = assumed;
  const std::int64_t n = boundedCount(requestNumber(ctx, "n").value_or(1), 1, kMostChoices);
  return cap * n;
}

std::int64_t inputTokens(const pipeline::RequestContext& ctx) {
  if (ctx.prompt_tokens) return ctx.prompt_tokens->tokens;
  if (ctx.encoding) return openai::countPrompt(ctx.route, *ctx.request_index, *ctx.encoding).tokens;
  return static_cast<std::int64_t>(openai::promptCharacters(*ctx.request_index) / 4 + 1);
}

std::string routedModel(const pipeline::RequestContext& ctx) {
  if (const std::string* model = ctx.editedMember("model")) {
    auto name = nlohmann::json::parse(*model, nullptr, false);
    if (name.is_string()) return name.get<std::string>();
  }
  return ctx.model;
}

}  // namespace

// What one request asks of the ledger, computed on the loop thread from plain data.
struct BudgetFilter::Plan {
  struct Matched {
    const Budget* budget;
    ledger_ns::WindowSpan window;
  };
  std::vector<Matched> budgets;
  std::vector<std::pair<const RateLimit*, ledger_ns::WindowSpan>> rates;
  pricing::Nanos worst_cost = 0;           // as the request stands
  pricing::Nanos degraded_worst_cost = 0;  // if a budget degrades it
  std::int64_t worst_tokens = 0;
  SystemClock::time_point now;
};

// A reservation and what it holds: money (settled to the request's cost), one request, or tokens
// (settled to the tokens used).
struct Held {
  enum class Unit { kMoney, kRequests, kTokens } unit;
  ledger_ns::Reservation reservation;
  std::vector<ledger_ns::Line> lines;  // kMoney: the budgets' lines, owed to Redis after an outage
  std::vector<std::string> names;      // kMoney: the budgets', for their gauges
};

// What the ledger answered.
struct BudgetFilter::Decision {
  bool unavailable = false;
  std::string rejected;  // the budget or rate limit that refused; empty when none did
  bool rate_limited = false;
  SystemClock::time_point resets{};
  const Budget* degrade = nullptr;  // the budget whose degrade applies
  std::vector<std::string> warnings;
  std::vector<Held> held;
  std::vector<BudgetStatus> states;
};

namespace {

// Per request: the plan, what to settle, and what was done for the stats.
struct Pending {
  std::shared_ptr<void> plan;  // BudgetFilter::Plan
  std::vector<Held> held;
  std::shared_ptr<ledger_ns::Ledger> ledger;  // what `held` is held on; null once settled
  bool stand_in = false;  // `ledger` stood in for Redis: its money is owed to Redis too
  std::optional<BudgetOutcome> outcome;
};

}  // namespace

std::variant<BudgetConfig, config::ConfigError> parseBudgetConfig(const config::FilterSpec& spec) {
  BudgetConfig config;
  for (const auto& [name, price] : spec.models) {
    if (price) config.prices.emplace(name, *price);
  }
  config.fallbacks = spec.fallbacks;
  config::SettingsReader reader(spec);
  const config::Section settings = reader.root(kSettingsKeys);
  pipeline::readStore(settings, "ledger", &config.redis);
  settings.parsed("journal",
                  [&](const config::Field& field,
                      const std::string& path) -> std::optional<config::ConfigError> {
                    if (path.empty()) return std::nullopt;
                    if (!config.redis) return field.error("a journal is for a redis:// ledger");
                    const int fd =
                        ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                    if (fd < 0) {
                      return field.error("cannot open '" + path + "': " + std::strerror(errno));
                    }
                    ::close(fd);
                    config.journal = path;
                    return std::nullopt;
                  });
  std::string on_error = "open";
  settings.choice("on_ledger_error", kLedgerErrors, &on_error);
  config.on_ledger_error = on_error == "closed" ? OnLedgerError::kClosed : OnLedgerError::kOpen;
  std::uint64_t hold = static_cast<std::uint64_t>(config.hold.count());
  settings.integer("hold_seconds", 1, 24 * 3600, &hold);
  config.hold = std::chrono::seconds(hold);
  settings.integer("assumed_output_tokens", 1, 10'000'000, &config.assumed_output_tokens);

  for (const config::Section& section : settings.sectionList("budgets", kBudgetKeys)) {
    Budget budget;
    section.require("name");
    section.require("amount_usd");
    section.nonEmptyString("name", &budget.name);
    pipeline::readPolicyMatch(reader, section, &budget.match);
    section.parsed("amount_usd",
                   [&](const config::Field& field,
                       const std::string& text) -> std::optional<config::ConfigError> {
                     auto amount = pricing::parseUsd(text);
                     if (!amount || *amount <= 0)
                       return field.error("expected a positive USD amount such as 50");
                     budget.amount = *amount;
                     return std::nullopt;
                   });
    std::string window = "day";
    section.choice("window", kWindows, &window);
    budget.window = *ledger_ns::parseWindowKind(window);
    std::string zone = "UTC";
    section.string("time_zone", &zone);
    section.parsed("time_zone",
                   [&](const config::Field& field,
                       const std::string& name) -> std::optional<config::ConfigError> {
                     auto loaded = ledger_ns::TimeZone::load(name);
                     if (auto* problem = std::get_if<Error>(&loaded))
                       return field.error(problem->message);
                     return std::nullopt;
                   });
    if (!reader.failed()) {
      auto loaded = ledger_ns::TimeZone::load(zone);
      if (auto* found = std::get_if<ledger_ns::TimeZone>(&loaded)) {
        budget.time_zone = std::make_shared<const ledger_ns::TimeZone>(std::move(*found));
      }
    }
    for (const config::Section& step : section.sectionList("thresholds", kThresholdKeys)) {
      Threshold threshold;
      step.require("at");
      step.require("action");
      step.number("at", 0, 10, &threshold.at);
      std::string action = "open";
      step.choice("action", kActions, &action);
      threshold.action = action == "warn"      ? Action::kWarn
                         : action == "degrade" ? Action::kDegrade
                                               : Action::kOpen;
      if (!budget.thresholds.empty() && threshold.at <= budget.thresholds.back().at &&
          !reader.failed()) {
        reader.fail(step.find("at")->error("thresholds must rise: each at above the last"));
      }
      budget.thresholds.push_back(threshold);
    }
    if (budget.thresholds.empty()) budget.thresholds.push_back({1.0, Action::kOpen});
    const config::Section degrade = section.section("degrade", kDegradeKeys);
    pipeline::readModelName(spec, degrade, "model", &budget.degrade.model);
    if (degrade.has("max_output_tokens")) {
      std::int64_t cap = 0;
      degrade.integer("max_output_tokens", 1, 10'000'000, &cap);
      budget.degrade.max_output_tokens = cap;
    }
    const bool degrades =
        std::any_of(budget.thresholds.begin(), budget.thresholds.end(),
                    [](const Threshold& t) { return t.action == Action::kDegrade; });
    if (degrades && budget.degrade.model.empty() && !budget.degrade.max_output_tokens &&
        !reader.failed()) {
      reader.fail(section.find("thresholds")
                      ->error("a degrade threshold needs degrade: {model, max_output_tokens}"));
    }
    config.budgets.push_back(std::move(budget));
  }
  for (const config::Section& section : settings.sectionList("rate_limits", kRateKeys)) {
    RateLimit limit;
    section.require("name");
    section.nonEmptyString("name", &limit.name);
    pipeline::readPolicyMatch(reader, section, &limit.match);
    std::int64_t value = 0;
    if (section.has("requests_per_minute")) {
      section.integer("requests_per_minute", 1, 100'000'000, &value);
      limit.requests_per_minute = value;
    }
    if (section.has("tokens_per_minute")) {
      section.integer("tokens_per_minute", 1, 10'000'000'000, &value);
      limit.tokens_per_minute = value;
    }
    if (!limit.requests_per_minute && !limit.tokens_per_minute && !reader.failed()) {
      reader.fail(section.find("name")->error(
          "a rate limit needs requests_per_minute or tokens_per_minute"));
    }
    config.rate_limits.push_back(std::move(limit));
  }
  if (const auto& error = reader.error()) return *error;
  return config;
}

BudgetFilter::BudgetFilter(BudgetConfig config, metrics::Metrics& metrics,
                           pipeline::KeptState* kept, Now now, pipeline::RedisOnLoop redis_on_loop)
    : config_(std::move(config)),
      now_(now ? std::move(now) : Now([] { return SystemClock::now(); })),
      stats_(metrics) {
  auto utc = ledger_ns::TimeZone::load("UTC");
  utc_ = std::make_shared<const ledger_ns::TimeZone>(std::get<ledger_ns::TimeZone>(std::move(utc)));
  if (!config_.redis) {
    // Every budget filter of the process shares one memory ledger, as every replica shares
    // Redis's: a budget's line is its name and window, whichever chain settles into it.
    auto make = [] { return std::make_shared<ledger_ns::MemoryLedger>(); };
    ledger_ = kept ? kept->obtain<ledger_ns::MemoryLedger>("budget/memory-ledger", make) : make();
    return;
  }
  // One per Redis and journal, kept across reloads with the charges on their way to Redis.
  auto make = [this] {
    auto opened = ledger_ns::ReplicaLedger::open(*config_.redis, kRedisTimeout, config_.journal,
                                                 stats_.ledgerEvents());
    if (auto* replica = std::get_if<std::shared_ptr<ledger_ns::ReplicaLedger>>(&opened)) {
      return std::move(*replica);
    }
    // The journal opened when the configuration was read; without it now, charges are kept in
    // memory only.
    spdlog::error("budget: {}; owed charges are kept in memory only",
                  std::get<Error>(opened).message);
    return std::get<std::shared_ptr<ledger_ns::ReplicaLedger>>(
        ledger_ns::ReplicaLedger::open(*config_.redis, kRedisTimeout, "", stats_.ledgerEvents()));
  };
  const redis::Address& address = *config_.redis;
  const std::string key = "budget/replica/" + address.host + ":" + std::to_string(address.port) +
                          "/" + std::to_string(address.db) + "/" + config_.journal;
  replica_ = kept ? kept->obtain<ledger_ns::ReplicaLedger>(key, make) : make();
  ledger_ = std::shared_ptr<ledger_ns::Ledger>(replica_, &replica_->leased());
  if (redis_on_loop) laterCalls(redis_on_loop(address, kRedisTimeout));
}

void BudgetFilter::laterCalls(redis::SendLater send) {
  // The answers keep the replica alive: a reload may drop this filter while they are on the way.
  reserve_later_ = [replica = replica_, send](const ledger_ns::Line& line, std::int64_t amount,
                                              ledger_ns::Clock::time_point now,
                                              std::chrono::seconds hold, auto done) {
    replica->redis().reserveOn(send, {line}, amount, now, hold,
                               [replica, done = std::move(done)](ledger_ns::ReserveResult result) {
                                 done(std::move(result));
                               });
  };
  read_later_ = [replica = replica_, send](const std::vector<std::string>& keys,
                                           ledger_ns::Clock::time_point now, auto done) {
    replica->redis().readOn(send, keys, now, [replica, done = std::move(done)](auto states) {
      done(std::move(states));
    });
  };
}

BudgetFilter::~BudgetFilter() = default;

BudgetFilter::Decision BudgetFilter::decide(const Plan& plan, ledger_ns::Ledger& ledger) const {
  Decision decision;
  // Where each budget stands before this request: thresholds act on it.
  std::vector<std::string> keys;
  for (const auto& matched : plan.budgets)
    keys.push_back(budgetKey(*matched.budget, matched.window));
  std::vector<ledger_ns::LineState> states(keys.size());
  if (!keys.empty()) {
    auto read = ledger.read(keys, plan.now);
    if (!read) {
      decision.unavailable = true;
      return decision;
    }
    states = std::move(*read);
  }
  pricing::Nanos worst = plan.worst_cost;
  for (std::size_t i = 0; i < plan.budgets.size(); ++i) {
    const Budget& budget = *plan.budgets[i].budget;
    const auto action = actionAt(budget, states[i].spent + states[i].reserved);
    decision.states.push_back({budget.name, plan.budgets[i].window.id, states[i].spent,
                               states[i].reserved, budget.amount, std::string(actionName(action)),
                               plan.budgets[i].window.end});
    if (action == Action::kOpen) {
      decision.rejected = budget.name;
      decision.resets = plan.budgets[i].window.end;
      return decision;
    }
    if (action == Action::kWarn) decision.warnings.push_back(budget.name);
    if (action == Action::kDegrade && !decision.degrade) {
      decision.degrade = &budget;
      worst = plan.degraded_worst_cost;
    }
  }
  // The worst case, held on every budget at once.
  if (!plan.budgets.empty()) {
    std::vector<ledger_ns::Line> lines;
    for (std::size_t i = 0; i < plan.budgets.size(); ++i) {
      lines.push_back({keys[i], plan.budgets[i].budget->amount, plan.budgets[i].window.end});
    }
    auto held = ledger.reserve(lines, worst, plan.now, config_.hold);
    if (held.status == ledger_ns::ReserveStatus::kUnavailable) {
      if (held.attempted) release(ledger, *held.attempted, plan.now);
      decision.unavailable = true;
      return decision;
    }
    if (held.status == ledger_ns::ReserveStatus::kOverLimit) {
      const auto& over = plan.budgets[held.over_line];
      decision.rejected = over.budget->name;
      decision.resets = over.window.end;
      decision.states[held.over_line].state = "open";
      return decision;
    }
    std::vector<std::string> names;
    for (const auto& matched : plan.budgets) names.push_back(matched.budget->name);
    decision.held.push_back({Held::Unit::kMoney, *held.reservation, lines, std::move(names)});
    for (auto& state : decision.states) state.reserved += worst;
  }
  // Rate limits: one request, and the worst case in tokens, per minute.
  for (const auto& [limit, window] : plan.rates) {
    for (int unit = 0; unit < 2; ++unit) {
      const auto& per_minute = unit == 0 ? limit->requests_per_minute : limit->tokens_per_minute;
      if (!per_minute) continue;
      const std::string key = rateKey(*limit, unit == 0 ? "rpm" : "tpm", window);
      auto held = ledger.reserve({{key, *per_minute, window.end}},
                                 unit == 0 ? 1 : plan.worst_tokens, plan.now, config_.hold);
      if (held.status == ledger_ns::ReserveStatus::kReserved) {
        decision.held.push_back(
            {unit == 0 ? Held::Unit::kRequests : Held::Unit::kTokens, *held.reservation, {}, {}});
        continue;
      }
      // Release what this request already holds: it will not be served.
      for (const auto& earlier : decision.held) release(ledger, earlier.reservation, plan.now);
      if (held.attempted) release(ledger, *held.attempted, plan.now);
      decision.held.clear();
      if (held.status == ledger_ns::ReserveStatus::kUnavailable) {
        decision.unavailable = true;
      } else {
        decision.rejected = limit->name;
        decision.rate_limited = true;
        decision.resets = window.end;
      }
      return decision;
    }
  }
  return decision;
}

std::vector<ledger_ns::Line> BudgetFilter::planLines(const Plan& plan) {
  std::vector<ledger_ns::Line> lines;
  for (auto& [line, most] : needsOf(plan)) lines.push_back(std::move(line));
  return lines;
}

std::shared_ptr<BudgetFilter::Plan> BudgetFilter::planFor(
    const pipeline::RequestContext& ctx) const {
  auto plan = std::make_shared<Plan>();
  plan->now = now_();
  for (const Budget& budget : config_.budgets) {
    if (!budget.match.matches(ctx)) continue;
    plan->budgets.push_back(
        {&budget, ledger_ns::windowAt(budget.window, *budget.time_zone, plan->now)});
  }
  for (const RateLimit& limit : config_.rate_limits) {
    if (!limit.match.matches(ctx)) continue;
    plan->rates.emplace_back(&limit,
                             ledger_ns::windowAt(ledger_ns::WindowKind::kMinute, *utc_, plan->now));
  }
  if (plan->budgets.empty() && plan->rates.empty()) return nullptr;
  // The worst case: every model a cascade may try, each at the request's output cap and at the
  // dearest of it and the fallbacks the gateway may call in its place (one of them answers).
  const std::int64_t input = inputTokens(ctx);
  const std::int64_t output = outputCap(ctx, config_.assumed_output_tokens);
  const std::vector<std::string> models =
      ctx.cascade ? ctx.cascade->models : std::vector<std::string>{routedModel(ctx)};
  auto costAt = [&](const std::string& model, std::int64_t cap) {
    auto price = config_.prices.find(model);
    if (price == config_.prices.end()) return pricing::Nanos{0};
    pricing::Usage usage;
    usage.prompt_tokens = static_cast<std::uint64_t>(input);
    usage.completion_tokens = static_cast<std::uint64_t>(cap);
    return pricing::costOf(price->second, usage);
  };
  auto worstOf = [&](const std::string& model, std::int64_t cap) {
    pricing::Nanos worst = costAt(model, cap);
    if (auto fallbacks = config_.fallbacks.find(model); fallbacks != config_.fallbacks.end()) {
      for (const auto& fallback : fallbacks->second) worst = std::max(worst, costAt(fallback, cap));
    }
    return worst;
  };
  for (const auto& model : models) {
    plan->worst_cost = pricing::addSaturating(plan->worst_cost, worstOf(model, output));
  }
  plan->worst_tokens = (input + output) * static_cast<std::int64_t>(models.size());
  // Degraded: the budget's model (or the same ones) and cap, without a cascade.
  for (const auto& matched : plan->budgets) {
    const Degrade& degrade = matched.budget->degrade;
    if (degrade.model.empty() && !degrade.max_output_tokens) continue;
    const std::int64_t cap =
        degrade.max_output_tokens ? std::min(output, *degrade.max_output_tokens) : output;
    plan->degraded_worst_cost =
        worstOf(degrade.model.empty() ? routedModel(ctx) : degrade.model, cap);
    break;
  }
  return plan;
}

pipeline::FilterStatus BudgetFilter::onRequest(pipeline::RequestContext& ctx) const {
  if (!ctx.request_index) return pipeline::FilterStatus::kContinue;
  std::shared_ptr<Plan> plan = planFor(ctx);
  if (!plan) return pipeline::FilterStatus::kContinue;
  ctx.state<Pending>(this).plan = plan;
  if (!replica_) return apply(ctx, decide(*plan, *ledger_));
  // Nearly always the leases this replica holds answer at once.
  Decision quick = decide(*plan, replica_->leased().local());
  if (!quick.unavailable) {
    if (reserve_later_) replica_->leased().renew(plan->now, config_.hold, reserve_later_);
    return apply(ctx, std::move(quick));
  }
  // Else the leases the request needs are taken from Redis on this loop's connection, held for it
  // alone meanwhile, and it decides again on them.
  auto ticket = replica_->leased().ticket();
  auto signal = std::make_shared<pipeline::Signal>();
  if (!reserve_later_ ||
      !replica_->leased().prepare(ticket, needsOf(*plan), plan->now, config_.hold, reserve_later_,
                                  [signal] { signal->fire(); })) {
    return apply(ctx, decide(*plan, *ticket));
  }
  ctx.awaited =
      pipeline::Awaited{pipeline::AwaitSignal{signal, kLedgerWait},
                        [this, plan, ticket](pipeline::RequestContext& resumed) {
                          Decision decision = decide(*plan, *ticket);
                          ticket->finish();
                          replica_->leased().renew(plan->now, config_.hold, reserve_later_);
                          return apply(resumed, std::move(decision));
                        }};
  return pipeline::FilterStatus::kWait;
}

std::vector<std::pair<ledger_ns::Line, std::int64_t>> BudgetFilter::needsOf(const Plan& plan) {
  std::vector<std::pair<ledger_ns::Line, std::int64_t>> needs;
  const pricing::Nanos money = std::max(plan.worst_cost, plan.degraded_worst_cost);
  for (const auto& matched : plan.budgets) {
    const Budget& budget = *matched.budget;
    needs.push_back(
        {{budgetKey(budget, matched.window), budget.amount, matched.window.end}, money});
  }
  for (const auto& [limit, window] : plan.rates) {
    if (limit->requests_per_minute) {
      needs.push_back(
          {{rateKey(*limit, "rpm", window), *limit->requests_per_minute, window.end}, 1});
    }
    if (limit->tokens_per_minute) {
      needs.push_back({{rateKey(*limit, "tpm", window), *limit->tokens_per_minute, window.end},
                       plan.worst_tokens});
    }
  }
  return needs;
}

pipeline::FilterStatus BudgetFilter::apply(pipeline::RequestContext& ctx, Decision decision) const {
  Pending& pending = ctx.state<Pending>(this);
  const Plan& plan = *static_cast<const Plan*>(pending.plan.get());
  pending.ledger = ledger_;
  BudgetOutcome& outcome = pending.outcome.emplace();
  if (decision.unavailable) {
    outcome.ledger_error = true;
    if (config_.on_ledger_error == OnLedgerError::kClosed) {
      openai::ApiError error{503,
                             "api_error",
                             "The budget ledger is unreachable; requests are refused until it is "
                             "back (on_ledger_error: closed)",
                             {},
                             "budget_unavailable"};
      ctx.local_reply = {503, "application/json", error.body(), {}};
      return pipeline::FilterStatus::kRespond;
    }
    // Fail-open: this replica's own ledger holds the line meanwhile, from what it last saw.
    auto stand_in = replica_->standIn(planLines(plan), plan.now);
    decision = decide(plan, *stand_in);
    pending.ledger = std::move(stand_in);
    pending.stand_in = true;
  }
  for (const auto& state : decision.states) {
    outcome.budgets.push_back({state.name, state.spent, state.limit, state.state});
  }
  if (!decision.rejected.empty()) {
    outcome.rejected = decision.rejected;
    outcome.rate_limited = decision.rate_limited;
    const auto wait = decision.resets - plan.now;
    ctx.local_reply =
        decision.rate_limited
            ? tooMany(
                  "Rate limit '" + decision.rejected + "' reached; retry after the minute resets",
                  "rate_limit_exceeded", wait)
            : tooMany("Budget '" + decision.rejected +
                          "' is exhausted for this window; it resets at the window's end",
                      "budget_exceeded", wait);
    return pipeline::FilterStatus::kRespond;
  }
  pending.held = std::move(decision.held);
  if (!decision.warnings.empty()) {
    std::string names;
    for (const auto& name : decision.warnings) names.append(names.empty() ? "" : ",").append(name);
    ctx.response_headers.emplace_back("x-costgate-budget-warning", names);
  }
  if (decision.degrade) {
    outcome.degraded = decision.degrade->name;
    const Degrade& degrade = decision.degrade->degrade;
    ctx.cascade.reset();
    ctx.downgraded = "budget";
    if (!degrade.model.empty()) ctx.setMember("model", nlohmann::json(degrade.model).dump());
    if (degrade.max_output_tokens &&
        outputCap(ctx, config_.assumed_output_tokens) > *degrade.max_output_tokens) {
      const bool completion = ctx.request_index->find("max_completion_tokens").has_value() ||
                              ctx.editedMember("max_completion_tokens");
      ctx.setMember(completion ? "max_completion_tokens" : "max_tokens",
                    std::to_string(*degrade.max_output_tokens));
    }
    ctx.response_headers.emplace_back("x-costgate-budget-degraded", decision.degrade->name);
  }
  return pipeline::FilterStatus::kContinue;
}

void BudgetFilter::onComplete(pipeline::RequestContext& ctx) const {
  Pending* found = ctx.findState<Pending>(this);
  if (!found) return;
  if (found->outcome) stats_.record(ctx, *found->outcome);
  settle(ctx);
}

void BudgetFilter::release(ledger_ns::Ledger& ledger, const ledger_ns::Reservation& reservation,
                           ledger_ns::Clock::time_point now) const {
  ledger.settle(reservation, 0, now);
}

void BudgetFilter::settle(pipeline::RequestContext& ctx) const {
  Pending& pending = *ctx.findState<Pending>(this);
  if (!pending.ledger) return;
  const auto now = now_();
  for (const Held& held : pending.held) {
    const std::int64_t actual = held.unit == Held::Unit::kMoney      ? ctx.charged.cost
                                : held.unit == Held::Unit::kRequests ? 1
                                                                     : ctx.charged.tokens;
    std::vector<ledger_ns::LineState> after;
    pending.ledger->settle(held.reservation, actual, now, &after);
    if (pending.stand_in) {
      // What the stand-in accepted is spend Redis must count too, once, when it is back.
      if (held.unit == Held::Unit::kMoney && actual > 0) {
        replica_->charges().send({ledger_ns::Owed::Kind::kCharge,
                                  ledger_ns::Reservation{held.reservation.id, {}, 0}, held.lines,
                                  actual, now, held.names});
      }
    } else {
      stats_.settled(held.names, after);
    }
  }
  pending.ledger = nullptr;
}

std::optional<std::vector<BudgetStatus>> BudgetFilter::status() const {
  const auto now = now_();
  std::vector<std::string> keys;
  std::vector<ledger_ns::WindowSpan> windows;
  for (const Budget& budget : config_.budgets) {
    windows.push_back(ledger_ns::windowAt(budget.window, *budget.time_zone, now));
    keys.push_back(budgetKey(budget, windows.back()));
  }
  return statusOf(windows, ledger_->read(keys, now));
}

void BudgetFilter::statusAsync(std::shared_ptr<std::optional<std::vector<BudgetStatus>>> out,
                               std::shared_ptr<pipeline::Signal> done) const {
  if (!replica_ || !read_later_) {
    *out = status();
    done->fire();
    return;
  }
  const auto now = now_();
  auto keys = std::make_shared<std::vector<std::string>>();
  auto windows = std::make_shared<std::vector<ledger_ns::WindowSpan>>();
  for (const Budget& budget : config_.budgets) {
    windows->push_back(ledger_ns::windowAt(budget.window, *budget.time_zone, now));
    keys->push_back(budgetKey(budget, windows->back()));
  }
  replica_->leased().readLater(*keys, now, read_later_, [this, windows, out, done](auto states) {
    *out = statusOf(*windows, states);
    done->fire();
  });
}

std::optional<std::vector<BudgetStatus>> BudgetFilter::statusOf(
    const std::vector<ledger_ns::WindowSpan>& windows,
    const std::optional<std::vector<ledger_ns::LineState>>& states) const {
  if (!states || states->size() != config_.budgets.size()) return std::nullopt;
  std::vector<BudgetStatus> out;
  for (std::size_t i = 0; i < config_.budgets.size(); ++i) {
    const Budget& budget = config_.budgets[i];
    const auto& state = (*states)[i];
    out.push_back({budget.name, windows[i].id, state.spent, state.reserved, budget.amount,
                   std::string(actionName(actionAt(budget, state.spent + state.reserved))),
                   windows[i].end});
  }
  return out;
}

namespace {

pipeline::LocalReply budgetsReply(const std::optional<std::vector<BudgetStatus>>& status) {
  if (!status) {
    return {
        503,
        "application/json",
        openai::serverError(503, "The budget ledger is unreachable", "budget_unavailable").body(),
        {}};
  }
  nlohmann::json budgets = nlohmann::json::array();
  for (const auto& budget : *status) {
    budgets.push_back({{"name", budget.name},
                       {"window", budget.window},
                       {"spent_usd", pricing::formatUsd(budget.spent)},
                       {"reserved_usd", pricing::formatUsd(budget.reserved)},
                       {"limit_usd", pricing::formatUsd(budget.limit)},
                       {"state", budget.state},
                       {"resets_at", std::chrono::duration_cast<std::chrono::seconds>(
                                         budget.resets.time_since_epoch())
                                         .count()}});
  }
  return {200, "application/json", nlohmann::json{{"budgets", std::move(budgets)}}.dump(), {}};
}

}  // namespace

std::vector<pipeline::LocalEndpoint> BudgetFilter::endpoints() const {
  pipeline::LocalEndpoint budgets;
  budgets.path = "/admin/budgets";
  budgets.serve = [this](std::shared_ptr<pipeline::LocalReply> reply,
                         std::shared_ptr<pipeline::Signal> done) {
    auto status = std::make_shared<std::optional<std::vector<BudgetStatus>>>();
    auto read = std::make_shared<pipeline::Signal>();
    // The answer is made where the status was read, then handed over through `done`.
    read->onFire([status, reply, done] {
      *reply = budgetsReply(*status);
      done->fire();
    });
    statusAsync(status, read);
  };
  budgets.unavailable = budgetsReply(std::nullopt);
  return {std::move(budgets)};
}

namespace {

// The tag values budgets and rate limits are scoped by: their spend must stay visible by its own
// label whatever values clients send (patterns ending in '*' name no one value).
metrics::DeclaredTags declaredTags(const BudgetConfig& config) {
  metrics::DeclaredTags declared;
  auto add = [](const std::vector<std::string>& values, std::vector<std::string>& into) {
    for (const auto& value : values) {
      if (!value.ends_with('*')) into.push_back(value);
    }
  };
  auto addMatch = [&](const pipeline::PolicyMatch& match) {
    add(match.features, declared.feature);
    add(match.teams, declared.team);
    add(match.envs, declared.env);
  };
  for (const auto& budget : config.budgets) addMatch(budget.match);
  for (const auto& limit : config.rate_limits) addMatch(limit.match);
  return declared;
}

}  // namespace

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeBudgetFilter(
    const config::FilterSpec& spec, pipeline::FilterEnvironment& environment) {
  auto parsed = parseBudgetConfig(spec);
  if (const auto* config = std::get_if<BudgetConfig>(&parsed)) {
    environment.metrics.reserveTagLabels(declaredTags(*config));
  }
  return pipeline::filterFrom<BudgetFilter>(std::move(parsed), environment.metrics,
                                            &environment.kept, BudgetFilter::Now{},
                                            environment.redis_on_loop);
}

}  // namespace costgate::filters::budget
