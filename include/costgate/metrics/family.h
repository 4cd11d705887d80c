#pragma once
// One Prometheus metric family with fixed label names. Its series are found per thread without a
// lock or an allocation once a thread has seen them: prometheus::Family::Add hashes the labels and
// locks on every call, which would be on every request's path.

#include <array>
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
    thread_local std::vector<Series> caches;  // by family id
    if (caches.size() <= id_) caches.resize(id_ + 1);
    Series& series = caches[id_];
    // Most requests name one of the few series the requests before named (a request's token
    // types, say): compared value by value, before any key is made.
    for (const auto& recent : series.recent) {
      if (recent.metric && sameValues(recent.values, values)) return *recent.metric;
    }
    thread_local std::string key;
    key.clear();
    for (std::string_view value : values) {  // length-prefixed: no value can fake a boundary
      char length[24];
      key.append(length, std::to_chars(length, length + sizeof(length), value.size()).ptr);
      key.append(1, ':').append(value);
    }
    auto found = series.by_key.find(key);
    Metric* metric = found != series.by_key.end() ? found->second : &add(values);
    if (found == series.by_key.end()) series.by_key.emplace(key, metric);
    auto& replaced = series.recent[series.next_replaced++ % series.recent.size()];
    replaced.values.assign(values.begin(), values.end());
    replaced.metric = metric;
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
    struct Recent {
      std::vector<std::string> values;
      Metric* metric = nullptr;
    };
    std::array<Recent, 4> recent;
    std::size_t next_replaced = 0;
  };

  static bool sameValues(const std::vector<std::string>& last,
                         std::initializer_list<std::string_view> values) {
    if (last.size() != values.size()) return false;
    auto value = values.begin();
    for (const std::string& seen : last) {
      if (seen != *value++) return false;
    }
    return true;
  }

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
