#include "filters/semantic_cache/cache_stats.h"

namespace costgate::filters::semantic_cache {

CacheStats::CacheStats(metrics::Metrics& metrics)
    : metrics_(metrics),
      requests_(metrics.counter("costgate_cache_requests_total",
                                "Requests a cache looked at, by result (hit-exact, hit-semantic, "
                                "miss, bypass), feature, team and env",
                                {"result", "feature", "team", "env"})),
      // Lookups take microseconds to a millisecond.
      lookup_(metrics.histogram(
          "costgate_cache_lookup_seconds", "Time of a cache lookup (exact, then semantic)", {},
          {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05})),
      saved_(metrics.counter("costgate_cache_saved_usd_total",
                             "What the calls answered from the cache would have cost, in USD",
                             {"feature", "team", "env", "model"})),
      entries_(metrics.gauge("costgate_cache_entries",
                             "Entries in a cache policy's store (a Redis store: its local copy)",
                             {"policy"})),
      bytes_(metrics.gauge("costgate_cache_bytes",
                           "Bytes the entries of a cache policy's store take", {"policy"})),
      store_up_(metrics.gauge("costgate_cache_shared_store_up",
                              "1 while a cache policy's Redis store is in sync with Redis; 0 "
                              "while Redis is unreachable (lookups miss)",
                              {"policy"})),
      not_stored_(metrics.counter(
          "costgate_cache_not_stored_total",
          "Answers a cache policy did not store, by reason: truncated, tool_calls, unfinished, "
          "unreadable, or what the judge flags (empty, refusal, uncertainty, invalid_json, "
          "mean_logprob)",
          {"policy", "reason"})),
      replica_waits_(metrics.counter(
          "costgate_cache_replica_waits_total",
          "Requests that waited for another replica's identical call (coalescing across replicas "
          "through a Redis store's lock), by policy and how the wait ended: served (the other "
          "replica's answer), lock_vanished (it gave up or died: this one called the backend), "
          "timed_out (coalesce_wait_seconds passed), redis_error",
          {"policy", "outcome"})) {}

void CacheStats::record(pipeline::RequestContext& ctx, const CacheOutcome& outcome) const {
  const auto [feature, team, env] = metrics_.tagLabels({.feature = ctx.tag_labels.feature,
                                                        .team = ctx.tag_labels.team,
                                                        .env = ctx.tag_labels.env,
                                                        .model = ctx.model});
  requests_.with({outcome.result, feature, team, env}).Increment();
  if (outcome.lookup_seconds > 0) lookup_.with({}).Observe(outcome.lookup_seconds);
  if (outcome.saved) {
    saved_.with({feature, team, env, ctx.model}).Increment(pricing::usdOf(*outcome.saved));
  }
  entries_.with({outcome.policy}).Set(static_cast<double>(outcome.entries));
  bytes_.with({outcome.policy}).Set(static_cast<double>(outcome.bytes));
  if (outcome.shared_store_up)
    store_up_.with({outcome.policy}).Set(*outcome.shared_store_up ? 1 : 0);

  if (!outcome.not_stored.empty()) {
    not_stored_.with({outcome.policy, outcome.not_stored}).Increment();
  }
  ctx.log.text("cache", outcome.result);
  if (outcome.coalesced) ctx.log.flag("coalesced", true);
  if (!outcome.not_stored.empty()) ctx.log.text("cache_not_stored", outcome.not_stored);
}

void CacheStats::recordReplicaWait(pipeline::RequestContext& ctx, std::string_view policy,
                                   std::string_view outcome) const {
  replica_waits_.with({policy, outcome}).Increment();
  ctx.log.text("replica_wait", outcome);
}

}  // namespace costgate::filters::semantic_cache
