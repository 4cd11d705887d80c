#include "costgate/cache/vector_index.h"

#include <hnswlib/hnswlib.h>

namespace costgate::cache {
namespace {

// 16 links a node; 32 candidates while building and while searching. bench/cache/run.sh at 100k
// entries: hnswlib's usual 200 and 64 found 0.6% more paraphrases (380 of 500 against 377) but
// made each insert 2.7 times slower (325 us against 120 us) and each search a third slower, and
// with every miss inserting, inserts are what the gateway does most.
constexpr std::size_t kLinks = 16;
constexpr std::size_t kBuildCandidates = 32;
constexpr std::size_t kSearchCandidates = 32;
constexpr std::size_t kInitialCapacity = 4096;
constexpr float kRelinkedNeighbours = 0.25f;

}  // namespace

struct ApproximateIndex::Graph {
  explicit Graph(std::size_t dimensions)
      : space(dimensions), index(&space, kInitialCapacity, kLinks, kBuildCandidates) {
    index.setEf(kSearchCandidates);
  }
  hnswlib::InnerProductSpace space;
  hnswlib::HierarchicalNSW<float> index;
};

ApproximateIndex::ApproximateIndex(std::size_t dimensions)
    : graph_(std::make_unique<Graph>(dimensions)) {}

ApproximateIndex::~ApproximateIndex() = default;

std::uint64_t ApproximateIndex::add(std::uint64_t fresh_label, const Vector& vector) {
  auto& index = graph_->index;
  ++live_;
  if (!removed_labels_.empty()) {
    std::uint64_t label = removed_labels_.back();
    removed_labels_.pop_back();
    index.unmarkDelete(label);
    // Moves the point and re-links a share of its neighbours (hnswlib's own replacement re-links
    // all of them, several times the cost of an insert); the repair that follows links the point
    // as an insert would.
    index.updatePoint(vector.data(), index.label_lookup_.at(label), kRelinkedNeighbours);
    return label;
  }
  if (index.cur_element_count >= index.max_elements_) index.resizeIndex(index.max_elements_ * 2);
  index.addPoint(vector.data(), fresh_label);
  return fresh_label;
}

void ApproximateIndex::remove(std::uint64_t label) {
  graph_->index.markDelete(label);
  --live_;
  removed_labels_.push_back(label);
}

std::vector<std::pair<float, std::uint64_t>> ApproximateIndex::search(const Vector& vector,
                                                                      std::size_t k) const {
  std::vector<std::pair<float, std::uint64_t>> found;
  if (live_ == 0) return found;
  auto queue = graph_->index.searchKnn(vector.data(), std::min(k, live_));
  while (!queue.empty()) {
    // The inner-product space's distance is 1 - the dot product; the farthest comes first.
    found.emplace_back(1.0f - queue.top().first, queue.top().second);
    queue.pop();
  }
  std::reverse(found.begin(), found.end());
  return found;
}

}  // namespace costgate::cache
