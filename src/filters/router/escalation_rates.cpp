#include "filters/router/escalation_rates.h"

#include <algorithm>
#include <cmath>

namespace costgate::filters::router {

std::string BucketKey::text() const {
  // Length-prefixed, so no value can fake a boundary.
  std::string key;
  for (std::string_view part :
       {std::string_view(policy), std::string_view(rule), std::string_view(feature)}) {
    key.append(std::to_string(part.size())).append(":").append(part);
  }
  return key.append(std::to_string(bucket));
}

int bucketOf(double complexity) {
  return std::clamp(static_cast<int>(std::floor(complexity * 10)), 0, 9);
}

std::string bucketLabel(int bucket) { return "0." + std::to_string(std::clamp(bucket, 0, 9)); }

std::string_view startName(LearnedStart start) {
  switch (start) {
    case LearnedStart::kStrong:
      return "strong";
    case LearnedStart::kExplore:
      return "explore";
    case LearnedStart::kCheap:
      break;
  }
  return "cheap";
}

std::optional<EscalationRate> EscalationRates::rateOf(const BucketKey& key) const {
  const std::string text = key.text();
  std::lock_guard lock(mutex_);
  auto found = buckets_.find(text);
  if (found == buckets_.end() || found->second.weight <= 0) return std::nullopt;
  return EscalationRate{found->second.escalated / found->second.weight, found->second.samples};
}

std::optional<EscalationRate> EscalationRates::record(const BucketKey& key, bool escalated,
                                                      double half_life) {
  // Each new outcome multiplies the weight of the older ones by 2^(-1/half_life).
  const double decay = std::exp2(-1.0 / std::max(half_life, 1.0));
  std::string text = key.text();
  std::lock_guard lock(mutex_);
  auto found = buckets_.find(text);
  if (found == buckets_.end()) {
    if (buckets_.size() >= kMaxBuckets) return std::nullopt;
    found = buckets_.emplace(std::move(text), Bucket{}).first;
  }
  Bucket& bucket = found->second;
  bucket.weight = bucket.weight * decay + 1;
  bucket.escalated = bucket.escalated * decay + (escalated ? 1 : 0);
  ++bucket.samples;
  return EscalationRate{bucket.escalated / bucket.weight, bucket.samples};
}

LearnedStart EscalationRates::startFor(const std::optional<EscalationRate>& rate,
                                       const LearningConfig& config) {
  if (!config.enabled || !rate || rate->samples < config.min_samples ||
      rate->rate <= config.strong_above) {
    return LearnedStart::kCheap;
  }
  // The n-th strong start explores when n x explore passes an integer: exactly the fraction
  // asked for, evenly spread, with no random numbers to seed.
  const std::uint64_t n = strong_starts_.fetch_add(1, std::memory_order_relaxed);
  const double explore = std::clamp(config.explore, 0.0, 1.0);
  const bool explores = std::floor(static_cast<double>(n + 1) * explore) >
                        std::floor(static_cast<double>(n) * explore);
  return explores ? LearnedStart::kExplore : LearnedStart::kStrong;
}

}  // namespace costgate::filters::router
