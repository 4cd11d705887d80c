#pragma once
// What the semantic cache tells about each request: its metrics (declared here, counted by no one
// else) and its access-log fields.

#include <optional>
#include <string>
#include <string_view>

#include "costgate/metrics/metrics.h"
#include "costgate/pipeline/request_context.h"

namespace costgate::filters::semantic_cache {

// What the cache did with one request.
struct CacheOutcome {
  std::string_view result = "bypass";   // hit-exact, hit-semantic, miss or bypass (static)
  double lookup_seconds = 0;            // 0 when there was no lookup
  bool coalesced = false;               // a hit that waited for an identical request in flight
  std::optional<pricing::Nanos> saved;  // a hit: what the call it spared would cost
  // The policy that looked, and its store after this request.
  std::string_view policy;
  std::size_t entries = 0;
  std::size_t bytes = 0;
  std::optional<bool> shared_store_up;  // a Redis store: whether it is in sync
  std::string_view not_stored;          // a miss whose answer was not stored: why (static)
};

class CacheStats {
 public:
  explicit CacheStats(metrics::Metrics& metrics);

  // Counts `outcome` (costgate_cache_requests_total by result and tags, the lookup's time, a
  // hit's saving, the policy's store size, an answer not stored and why) and writes the log
  // fields "cache", "coalesced" and "cache_not_stored".
  void record(pipeline::RequestContext& ctx, const CacheOutcome& outcome) const;
  // Counts a request that waited for another replica's identical call (coalescing across
  // replicas, a Redis store's lock) under `policy`, by how the wait ended (`outcome`: served,
  // lock_vanished, timed_out or redis_error), and writes the log field "replica_wait".
  void recordReplicaWait(pipeline::RequestContext& ctx, std::string_view policy,
                         std::string_view outcome) const;

 private:
  metrics::Metrics& metrics_;
  metrics::CounterFamily& requests_;
  metrics::HistogramFamily& lookup_;
  metrics::CounterFamily& saved_;
  metrics::GaugeFamily& entries_;
  metrics::GaugeFamily& bytes_;
  metrics::GaugeFamily& store_up_;
  metrics::CounterFamily& not_stored_;
  metrics::CounterFamily& replica_waits_;
};

}  // namespace costgate::filters::semantic_cache
