#pragma once
// Approximate nearest neighbours by inner product over unit vectors (HNSW, from Debian's hnswlib),
// for partitions too large to compare with every entry. Not thread-safe: its store locks.

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "costgate/cache/embedder.h"

namespace costgate::cache {

class ApproximateIndex {
 public:
  explicit ApproximateIndex(std::size_t dimensions);
  ~ApproximateIndex();
  ApproximateIndex(const ApproximateIndex&) = delete;
  ApproximateIndex& operator=(const ApproximateIndex&) = delete;

  // Adds `vector` in the place of a removed label when there is one, reusing that label (which
  // the caller no longer uses), or else under `fresh_label`. Returns the label used. Reusing
  // places keeps an index whose entries are replaced (LRU eviction, expiry) at its peak size
  // without ever rebuilding it: a rebuild of 100k entries took seconds under the store's lock.
  std::uint64_t add(std::uint64_t fresh_label, const Vector& vector);
  // The label is no longer found; its place goes to a later add().
  void remove(std::uint64_t label);
  // Up to k (similarity, label) pairs, most similar first.
  std::vector<std::pair<float, std::uint64_t>> search(const Vector& vector, std::size_t k) const;
  // Labels added and not removed; and slots held by removed ones.
  std::size_t size() const { return live_; }
  std::size_t removed() const { return removed_labels_.size(); }

 private:
  struct Graph;
  std::unique_ptr<Graph> graph_;
  std::size_t live_ = 0;
  std::vector<std::uint64_t> removed_labels_;
};

}  // namespace costgate::cache
