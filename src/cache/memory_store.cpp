#include <algorithm>

#include "costgate/cache/store.h"

namespace costgate::cache {
namespace {

// How many of the nearest entries a semantic lookup checks the facts of before it gives up.
constexpr std::size_t kCandidates = 4;

}  // namespace

MemoryStore::MemoryStore(std::size_t max_entries, std::size_t max_bytes)
    : max_entries_(max_entries), max_bytes_(max_bytes) {}

MemoryStore::~MemoryStore() = default;

std::size_t MemoryStore::bytesOf(const Entry& entry) {
  std::size_t strings = entry.key.partition.size() + entry.key.exact.size() +
                        entry.key.question.size() + entry.answer.body.size();
  for (const auto* group : {&entry.facts.numbers, &entry.facts.polarity, &entry.facts.entities,
                            &entry.facts.identifiers, &entry.facts.quoted, &entry.facts.directions,
                            &entry.facts.subjects}) {
    for (const auto& fact : *group) strings += fact.size() + sizeof(std::string);
  }
  // A vector is held twice once its partition is indexed; count it so from the start.
  std::size_t vector = entry.vector ? 2 * entry.vector->size() * sizeof(float) : 0;
  // The node, its map slots, the string headers, the index's links and label map, and the
  // allocator's rounding: bench/cache/run.sh measured about 900 bytes an entry beyond the data.
  constexpr std::size_t kBookkeeping = 1024;
  return strings + vector + kBookkeeping;
}

void MemoryStore::indexLocked(Partition& partition) {
  const std::size_t dimensions = partition.members.front()->entry.vector->size();
  partition.index = std::make_unique<ApproximateIndex>(dimensions);
  for (Position position : partition.members) {
    position->label = partition.index->add(position->label, *position->entry.vector);
  }
}

void MemoryStore::removeLocked(Position position) {
  const Entry& entry = position->entry;
  by_exact_.erase(entry.key.exact);
  if (entry.vector) by_label_.erase(position->label);
  if (auto found = by_partition_.find(entry.key.partition);
      entry.vector && found != by_partition_.end()) {
    Partition& partition = found->second;
    auto& members = partition.members;
    if (position->slot < members.size() && members[position->slot] == position) {
      members[position->slot] = members.back();
      members[position->slot]->slot = position->slot;
      members.pop_back();
    }
    if (partition.index) {
      partition.index->remove(position->label);
      // The index keeps the removed entry's place for the next one; a partition shrunk back to
      // a few hundred entries is compared with each again.
      if (members.size() <= kIndexedPartition / 2) partition.index.reset();
    }
    if (members.empty()) by_partition_.erase(found);
  }
  bytes_ -= position->bytes;
  lru_.erase(position);
}

void MemoryStore::touchLocked(Position position) { lru_.splice(lru_.begin(), lru_, position); }

std::optional<Hit> MemoryStore::findExact(const std::string& exact_key, Clock::time_point now) {
  std::unique_lock lock(mutex_);
  auto found = by_exact_.find(exact_key);
  if (found == by_exact_.end()) return std::nullopt;
  if (found->second->entry.expires_at <= now) {
    removeLocked(found->second);
    return std::nullopt;
  }
  touchLocked(found->second);
  return Hit{Level::kExact, found->second->entry.answer, 1};
}

std::optional<Hit> MemoryStore::findSimilar(const std::string& partition_key, const Vector& vector,
                                            const Facts& facts, float threshold,
                                            Clock::time_point now) {
  // The nearest at or above the threshold, best first, by label: the search only reads.
  std::vector<std::pair<float, std::uint64_t>> nearest;
  {
    std::shared_lock lock(mutex_);
    auto found = by_partition_.find(partition_key);
    if (found == by_partition_.end()) return std::nullopt;
    const Partition& partition = found->second;
    if (partition.index) {
      for (const auto& [score, label] : partition.index->search(vector, kCandidates)) {
        if (score >= threshold) nearest.emplace_back(score, label);
      }
    } else {
      for (Position position : partition.members) {
        float score = similarity(vector, *position->entry.vector);
        if (score >= threshold) nearest.emplace_back(score, position->label);
      }
      std::sort(nearest.begin(), nearest.end(),
                [](const auto& a, const auto& b) { return a.first > b.first; });
      if (nearest.size() > kCandidates) nearest.resize(kCandidates);
    }
  }
  if (nearest.empty()) return std::nullopt;
  // Then the facts, the expiry and the LRU move, on the candidates still there.
  std::unique_lock lock(mutex_);
  for (const auto& [score, label] : nearest) {
    auto found = by_label_.find(label);
    if (found == by_label_.end()) continue;  // removed in between
    Position position = found->second;
    if (position->entry.expires_at <= now) {
      removeLocked(position);
      continue;
    }
    // The label may have gone to another entry since the search: score the one it names now.
    if (similarity(vector, *position->entry.vector) < threshold) continue;
    if (!factsAgree(facts, position->entry.facts)) continue;
    touchLocked(position);
    return Hit{Level::kSemantic, position->entry.answer, score};
  }
  return std::nullopt;
}

void MemoryStore::put(Entry entry) {
  std::size_t bytes = bytesOf(entry);
  std::unique_lock lock(mutex_);
  if (auto existing = by_exact_.find(entry.key.exact); existing != by_exact_.end()) {
    removeLocked(existing->second);
  }
  if (bytes > max_bytes_ || max_entries_ == 0) return;
  while (!lru_.empty() && (lru_.size() + 1 > max_entries_ || bytes_ + bytes > max_bytes_)) {
    removeLocked(std::prev(lru_.end()));
  }
  lru_.push_front(Node{std::move(entry), bytes, next_label_++, 0});
  Position position = lru_.begin();
  by_exact_[position->entry.key.exact] = position;
  bytes_ += bytes;
  if (!position->entry.vector) return;
  Partition& partition = by_partition_[position->entry.key.partition];
  position->slot = partition.members.size();
  partition.members.push_back(position);
  if (partition.index) {
    position->label = partition.index->add(position->label, *position->entry.vector);
  } else if (partition.members.size() > kIndexedPartition) {
    indexLocked(partition);
  }
  by_label_[position->label] = position;
}

Store::Size MemoryStore::size() const {
  std::shared_lock lock(mutex_);
  return {lru_.size(), bytes_};
}

}  // namespace costgate::cache
