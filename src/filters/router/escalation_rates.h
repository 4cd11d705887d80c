#pragma once
// What the router learned from outcomes: per bucket of similar requests (policy, the rule that
// chose the tier or "complexity", feature, complexity score in steps of 0.1), how often a cascade
// that started on the tier's first model had to escalate, as an exponentially decayed rate so
// that it follows traffic as it changes. A bucket that escalates often starts on the tier's last
// model (skipping the cheap attempt saves its cost and time), still cascading a fraction of its
// requests to keep measuring. Process-wide: shared by every worker thread and kept across
// reloads (pipeline::KeptState); plain data, no I/O.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace costgate::filters::router {

struct LearningConfig {
  bool enabled = true;
  double strong_above = 0.5;       // a bucket escalating more often than this starts strong...
  std::uint64_t min_samples = 20;  // ...once this many of its cascades were seen
  double explore = 0.1;            // the fraction of a strong bucket's requests still cascaded
  double half_life = 200;          // in the bucket's requests: older outcomes count half as much
};

// Which requests share what was learned.
struct BucketKey {
  std::string policy;
  std::string rule;     // the rule that chose the tier, or "complexity"
  std::string feature;  // the feature's metric label
  int bucket = 0;       // the complexity score's tenth: 0 (0 to 0.1) .. 9 (0.9 to 1)

  std::string text() const;  // one string naming the bucket, the map's key
};

int bucketOf(double complexity);
std::string bucketLabel(int bucket);  // "0.3" for 0.3 to 0.4

struct EscalationRate {
  double rate = 0;            // the decayed fraction of its cascades that escalated
  std::uint64_t samples = 0;  // cascades seen in all
};

// Where a request of a tier of several models starts.
enum class LearnedStart { kCheap, kStrong, kExplore };
std::string_view startName(LearnedStart start);  // cheap, strong, explore

class EscalationRates {
 public:
  // Buckets beyond this are not learned (feature labels are bounded, so this is a safety net).
  static constexpr std::size_t kMaxBuckets = 10'000;

  // The bucket's rate so far, or nullopt before its first outcome. Thread-safe.
  std::optional<EscalationRate> rateOf(const BucketKey& key) const;
  // Records one cascade's outcome and returns the bucket's new rate (nullopt when the bucket
  // could not be added: kMaxBuckets). Thread-safe.
  std::optional<EscalationRate> record(const BucketKey& key, bool escalated, double half_life);
  // Where the next request of a bucket with this rate starts: strong once the bucket has enough
  // samples and escalates more often than strong_above, except one request in 1/explore (spread
  // evenly over all strong starts of the process), which explores. Thread-safe.
  LearnedStart startFor(const std::optional<EscalationRate>& rate, const LearningConfig& config);

 private:
  struct Bucket {
    double weight = 0;     // decayed count of outcomes
    double escalated = 0;  // decayed count of escalated ones
    std::uint64_t samples = 0;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::atomic<std::uint64_t> strong_starts_{0};
};

}  // namespace costgate::filters::router
