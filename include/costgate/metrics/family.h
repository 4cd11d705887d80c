#pragma once
// One Prometheus metric family with fixed label names. Its series are found per thread without a
// lock or an allocation once a thread has seen them: prometheus::Family::Add hashes the labels and
// locks on every call, which would be on every request's path.

#include <atomic>
#include <charconv>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

namespace costgate::metrics {

template <class Metric>
class Family {
 public:
  // `buckets` only for histograms.
  Family(prometheus::Family<Metric>& family, std::vector<std::string> label_names,
         prometheus::Histogram::BucketBoundaries buckets = {})
      : family_(family), label_names_(std::move(label_names)), buckets_(std::move(buckets)) {}
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The series with these label values, one per label name, in their order.
  Metric& with(std::initializer_list<std::string_view> values) {
    thread_local std::string key;
    key.clear();
    for (std::string_view value : values) {  // length-prefixed: no value can fake a boundary
      char length[24];
      key.append(length, std::to_chars(length, length + sizeof(length), value.size()).ptr);
      key.append(1, ':').append(value);
    }
    thread_local std::unordered_map<std::uint64_t, Series> caches;
    Series& series = caches[id_];
    if (series.last && series.last_key == key) return *series.last;
    auto found = series.by_key.find(key);
    Metric* metric = found != series.by_key.end() ? found->second : &add(values);
    if (found == series.by_key.end()) series.by_key.emplace(key, metric);
    series.last_key = key;
    series.last = metric;
    return *metric;
  }

 private:
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const {
      return std::hash<std::string_view>{}(key);
    }
  };
  struct Series {
    std::unordered_map<std::string, Metric*, KeyHash, std::equal_to<>> by_key;
    // Most requests name the same series as the one before: checked before hashing.
    std::string last_key;
    Metric* last = nullptr;
  };

  Metric& add(std::initializer_list<std::string_view> values) {
    prometheus::Labels labels;
    auto name = label_names_.begin();
    for (std::string_view value : values) {
      if (name == label_names_.end()) break;
      labels.emplace(*name++, std::string(value));
    }
    if constexpr (std::is_same_v<Metric, prometheus::Histogram>) {
      return family_.Add(labels, buckets_);
    } else {
      return family_.Add(labels);
    }
  }

  prometheus::Family<Metric>& family_;
  const std::vector<std::string> label_names_;
  const prometheus::Histogram::BucketBoundaries buckets_;
  // Unique per family for the process lifetime, unlike `this`, which a later one may reuse.
  const std::uint64_t id_ = next_id_++;
  static inline std::atomic<std::uint64_t> next_id_{1};
};

using CounterFamily = Family<prometheus::Counter>;
using GaugeFamily = Family<prometheus::Gauge>;
using HistogramFamily = Family<prometheus::Histogram>;

}  // namespace costgate::metrics
