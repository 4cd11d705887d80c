#include <algorithm>

#include "costgate/cache/store.h"

namespace costgate::cache {
namespace {

// How many of the nearest entries a semantic lookup checks the facts of before it gives up.
constexpr std::size_t kCandidates = 4;

}  // namespace

std::size_t MemoryStore::bytesOf(const Entry& entry) {
  std::size_t strings = entry.key.partition.size() + entry.key.exact.size() +
                        entry.key.question.size() + entry.answer.body.size();
  for (const auto* group :
       {&entry.facts.numbers, &entry.facts.polarity, &entry.facts.entities,
        &entry.facts.identifiers, &entry.facts.quoted, &entry.facts.directions}) {
    for (const auto& fact : *group) strings += fact.size() + sizeof(std::string);
  }
  std::size_t vector = entry.vector ? entry.vector->size() * sizeof(float) : 0;
  // The node, its map slots and the string headers.
  constexpr std::size_t kBookkeeping = sizeof(Node) + 3 * 64;
  return strings + vector + kBookkeeping;
}

void MemoryStore::removeLocked(Position position) {
  const Entry& entry = position->entry;
  by_exact_.erase(entry.key.exact);
  if (auto partition = by_partition_.find(entry.key.partition); partition != by_partition_.end()) {
    auto& members = partition->second;
    if (auto it = std::find(members.begin(), members.end(), position); it != members.end()) {
      *it = members.back();
      members.pop_back();
    }
    if (members.empty()) by_partition_.erase(partition);
  }
  bytes_ -= position->bytes;
  lru_.erase(position);
}

void MemoryStore::touchLocked(Position position) { lru_.splice(lru_.begin(), lru_, position); }

std::optional<Hit> MemoryStore::findExact(const std::string& exact_key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto found = by_exact_.find(exact_key);
  if (found == by_exact_.end()) return std::nullopt;
  if (found->second->entry.expires_at <= now) {
    removeLocked(found->second);
    return std::nullopt;
  }
  touchLocked(found->second);
  return Hit{Level::kExact, found->second->entry.answer, 1};
}

std::optional<Hit> MemoryStore::findSimilar(const std::string& partition, const Vector& vector,
                                            const Facts& facts, float threshold,
                                            Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto found = by_partition_.find(partition);
  if (found == by_partition_.end()) return std::nullopt;
  // The kCandidates nearest at or above the threshold, best first.
  std::vector<std::pair<float, Position>> nearest;
  for (Position position : found->second) {
    float score = similarity(vector, *position->entry.vector);
    if (score < threshold) continue;
    nearest.emplace_back(score, position);
    std::push_heap(nearest.begin(), nearest.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
    if (nearest.size() > kCandidates) {
      std::pop_heap(nearest.begin(), nearest.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
      nearest.pop_back();
    }
  }
  std::sort(nearest.begin(), nearest.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<Position> expired;
  std::optional<Hit> hit;
  for (const auto& [score, position] : nearest) {
    if (position->entry.expires_at <= now) {
      expired.push_back(position);
      continue;
    }
    if (!factsAgree(facts, position->entry.facts)) continue;
    touchLocked(position);
    hit = Hit{Level::kSemantic, position->entry.answer, score};
    break;
  }
  for (Position position : expired) removeLocked(position);
  return hit;
}

void MemoryStore::put(Entry entry) {
  std::size_t bytes = bytesOf(entry);
  std::lock_guard lock(mutex_);
  if (auto existing = by_exact_.find(entry.key.exact); existing != by_exact_.end()) {
    removeLocked(existing->second);
  }
  if (bytes > max_bytes_ || max_entries_ == 0) return;
  while (!lru_.empty() && (lru_.size() + 1 > max_entries_ || bytes_ + bytes > max_bytes_)) {
    removeLocked(std::prev(lru_.end()));
  }
  lru_.push_front(Node{std::move(entry), bytes});
  Position position = lru_.begin();
  by_exact_[position->entry.key.exact] = position;
  if (position->entry.vector) by_partition_[position->entry.key.partition].push_back(position);
  bytes_ += bytes;
}

Store::Size MemoryStore::size() const {
  std::lock_guard lock(mutex_);
  return {lru_.size(), bytes_};
}

}  // namespace costgate::cache
