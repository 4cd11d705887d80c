#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "costgate/cache/embedder.h"
#include "costgate/cache/facts.h"
#include "costgate/cache/store.h"

namespace costgate::cache {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const LexicalEmbedder& embedder() {
  static const LexicalEmbedder instance;
  return instance;
}

Entry entryFor(const std::string& partition, const std::string& question,
               Clock::time_point expires_at) {
  return Entry{.key = {.partition = partition,
                       .exact = partition + "#" + question,
                       .question = question,
                       .text_only = true},
               .facts = factsOf(question),
               .vector = embedder().embed(question),
               .answer = {"answer to " + question, {}, "large"},
               .expires_at = expires_at};
}

std::optional<Hit> similar(MemoryStore& store, const std::string& partition,
                           const std::string& question, Clock::time_point now) {
  return store.findSimilar(partition, *embedder().embed(question), factsOf(question), 0.9f, now);
}

TEST(MemoryStore, FindsExactAndSimilarWithinThePartitionOnly) {
  MemoryStore store(100, 1 << 20);
  auto now = Clock::now();
  store.put(entryFor("p", "How do I reset my password?", now + hours(1)));
  EXPECT_TRUE(store.findExact("p#How do I reset my password?", now));
  EXPECT_FALSE(store.findExact("q#How do I reset my password?", now));
  auto hit = similar(store, "p", "How can I reset my password?", now);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->level, Level::kSemantic);
  EXPECT_EQ(hit->answer.body, "answer to How do I reset my password?");
  EXPECT_FALSE(similar(store, "q", "How can I reset my password?", now));
}

TEST(MemoryStore, ASimilarQuestionWithOtherFactsIsAMiss) {
  MemoryStore store(100, 1 << 20);
  auto now = Clock::now();
  store.put(entryFor("p", "How do I enable 2FA?", now + hours(1)));
  EXPECT_FALSE(similar(store, "p", "How do I disable 2FA?", now));
  EXPECT_TRUE(similar(store, "p", "How can I enable 2FA?", now));
}

TEST(MemoryStore, ExpiredEntriesAreMissesAndGo) {
  MemoryStore store(100, 1 << 20);
  auto now = Clock::now();
  store.put(entryFor("p", "What are your opening hours?", now + seconds(10)));
  EXPECT_TRUE(store.findExact("p#What are your opening hours?", now + seconds(9)));
  EXPECT_FALSE(store.findExact("p#What are your opening hours?", now + seconds(10)));
  EXPECT_EQ(store.size().entries, 0u);
}

TEST(MemoryStore, TheLeastRecentlyUsedGoFirstPastEitherLimit) {
  auto now = Clock::now();
  MemoryStore by_count(2, 1 << 20);
  by_count.put(entryFor("p", "first question about shipping", now + hours(1)));
  by_count.put(entryFor("p", "second question about returns", now + hours(1)));
  EXPECT_TRUE(by_count.findExact("p#first question about shipping", now));  // now most recent
  by_count.put(entryFor("p", "third question about invoices", now + hours(1)));
  EXPECT_TRUE(by_count.findExact("p#first question about shipping", now));
  EXPECT_FALSE(by_count.findExact("p#second question about returns", now));
  EXPECT_EQ(by_count.size().entries, 2u);

  const std::size_t one = MemoryStore::bytesOf(entryFor("p", "question one", now));
  MemoryStore by_bytes(100, one * 2 + one / 2);
  by_bytes.put(entryFor("p", "question one", now + hours(1)));
  by_bytes.put(entryFor("p", "question two", now + hours(1)));
  by_bytes.put(entryFor("p", "question six", now + hours(1)));
  EXPECT_EQ(by_bytes.size().entries, 2u);
  EXPECT_LE(by_bytes.size().bytes, one * 2 + one / 2);
  EXPECT_FALSE(by_bytes.findExact("p#question one", now));
}

// Past MemoryStore::kIndexedPartition entries a partition is searched through an approximate
// index; it must find what a full comparison would, and forget what is evicted.
TEST(MemoryStore, LargePartitionsAreSearchedThroughAnIndex) {
  const std::size_t count = 3000;
  MemoryStore store(count, std::size_t{1} << 30);
  auto now = Clock::now();
  auto question = [](std::size_t i) {
    return "How do I configure the gateway for customer account " + std::to_string(i) +
           " in region eu-west?";
  };
  for (std::size_t i = 0; i < count; ++i) store.put(entryFor("p", question(i), now + hours(1)));
  int found = 0;
  for (std::size_t i = 0; i < count; i += 97) {
    auto hit = similar(store, "p", question(i) + " Thanks", now);
    found += hit && hit->answer.body == "answer to " + question(i) ? 1 : 0;
  }
  EXPECT_GE(found, 30);  // of 31: the index may, rarely, miss a neighbour
  // Evicting most of the partition shrinks the index and keeps it right.
  for (std::size_t i = 0; i < count; ++i) {
    store.put(
        entryFor("other", "a different question number " + std::to_string(i), now + hours(1)));
  }
  EXPECT_EQ(store.size().entries, count);
  EXPECT_FALSE(similar(store, "p", question(5) + " Thanks", now));
}

// A full indexed partition whose entries are replaced one by one (eviction) reuses the places of
// the evicted entries: the new entries are found, the evicted never are, and the answer is always
// the one of the question asked.
TEST(MemoryStore, AnIndexedPartitionReusesThePlacesOfEvictedEntries) {
  const std::size_t count = 600;
  MemoryStore store(count, std::size_t{1} << 30);
  auto now = Clock::now();
  auto question = [](std::size_t i) {
    return "What does plan " + std::to_string(i) + " include for teams in the Nordics?";
  };
  for (std::size_t i = 0; i < 3 * count; ++i) store.put(entryFor("p", question(i), now + hours(1)));
  EXPECT_EQ(store.size().entries, count);
  int found = 0;
  for (std::size_t i = 2 * count; i < 3 * count; i += 20) {
    auto hit = similar(store, "p", question(i) + " Thanks", now);
    ASSERT_TRUE(!hit || hit->answer.body == "answer to " + question(i)) << hit->answer.body;
    found += hit ? 1 : 0;
  }
  EXPECT_GE(found, 29);  // of 30
  for (std::size_t i = 0; i < 2 * count; i += 20) {
    EXPECT_FALSE(similar(store, "p", question(i) + " Thanks", now)) << "evicted: " << i;
  }
}

}  // namespace
}  // namespace costgate::cache
