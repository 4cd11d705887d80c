#include "costgate/gateway/records.h"

#include <algorithm>
#include <array>

namespace costgate::gateway {

Records::Records(const std::string& access_log_path) : access_log_(access_log_path) {}

void Records::observe(const server::ExchangeRecord& record) {
  access_log_.write(record);
  std::string_view route = record.route.empty() ? "invalid" : record.route;
  std::string_view model = record.model.empty() ? "none" : std::string_view(record.model);
  metrics::Attribution who{.feature = record.tag_labels.feature,
                           .team = record.tag_labels.team,
                           .env = record.tag_labels.env,
                           .model = model};
  using Seconds = std::chrono::duration<double>;
  metrics_.countRequest(who, route, record.status, Seconds(record.latency).count());
  if (record.upstream_latency.count() > 0) {
    auto overhead = std::max(record.latency - record.upstream_latency, decltype(record.latency){});
    metrics_.observeOverhead(route, Seconds(overhead).count());
  }
  if (record.time_to_first_token.count() > 0) {
    metrics_.observeTimeToFirstToken(model, Seconds(record.time_to_first_token).count());
  }
  // A spared call used no tokens: its usage is what it saved.
  if (record.usage && !record.spared) metrics_.countUsage(who, *record.usage, record.cost);
  if (!record.finish_reason.empty() && !record.spared) {
    metrics_.countFinishReason(who, record.finish_reason);
  }
  auto tagsFor = [&record](const std::string& model) {
    return std::array<std::string, 4>{record.tag_labels.feature, record.tag_labels.team,
                                      record.tag_labels.env, model};
  };
  for (const auto& side : record.side_calls) {
    metrics::Attribution side_who = who;
    side_who.model = side.model;
    metrics_.countUsage(side_who, side.usage, side.cost);
    addSpend({.tags = tagsFor(side.model),
              .tokens_in = side.usage.prompt_tokens,
              .tokens_out = side.usage.completion_tokens,
              .cost = side.cost.value_or(0),
              .saved = 0,
              .tokens_cached = side.usage.cached_tokens});
  }
  for (const auto& saving : record.token_savings) {
    metrics_.countTokensSaved(who, saving.filter, saving.policy, saving.tokens);
  }
  if (!record.backend.empty() || record.saved) {  // a call routed to a backend, or spared one
    const bool used = record.usage && !record.spared;
    addSpend({.tags = tagsFor(record.model),
              .tokens_in = used ? record.usage->prompt_tokens : 0,
              .tokens_out = used ? record.usage->completion_tokens : 0,
              .cost = record.cost.value_or(0),
              .saved = record.saved.value_or(0),
              .tokens_cached = used ? record.usage->cached_tokens : 0});
  }
}

void Records::addSpend(const report::Call& call) {
  std::lock_guard lock(spend_mutex_);
  spend_.add(call);
}

std::string Records::spendJson() const {
  std::string totals;
  {
    std::lock_guard lock(spend_mutex_);
    totals = spend_.json();
  }
  // The totals' object, with when they started counting in front.
  return "{\"since\":" + std::to_string(startedUnix()) + "," + totals.substr(1);
}

}  // namespace costgate::gateway
