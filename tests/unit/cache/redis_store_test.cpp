#include "costgate/cache/redis_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <variant>

#include "../support/eventually.h"
#include "../support/redis_server.h"
#include "costgate/cache/embedder.h"
#include "costgate/cache/entry_codec.h"

namespace costgate::cache {
namespace {

using namespace std::chrono_literals;
using test_data::RedisServer;

constexpr std::size_t kDimensions = 256;

const LexicalEmbedder& embedder() {
  static const LexicalEmbedder instance(kDimensions);
  return instance;
}

Entry entryFor(const std::string& question, Clock::time_point expires_at) {
  Entry entry;
  entry.key = RequestKey{"p", "p#" + question, question, true};
  entry.facts = factsOf(question);
  entry.vector = embedder().embed(question);
  entry.answer = CachedAnswer{"answer to " + question, pricing::Usage{100, 20, 30, 4}, "large"};
  entry.expires_at = expires_at;
  return entry;
}

std::optional<Hit> exact(RedisStore& store, const std::string& question) {
  return store.findExact("p#" + question, Clock::now());
}

std::optional<Hit> similar(RedisStore& store, const std::string& question) {
  return store.findSimilar("p", *embedder().embed(question), factsOf(question), 0.9f, Clock::now());
}

using test_data::eventually;

// A raw connection to the test's server, to look behind the stores' backs.
redis::Connection rawConnection(const RedisServer& server) {
  auto connection = redis::Connection::open(server.address());
  if (auto* error = std::get_if<Error>(&connection)) throw std::runtime_error(error->message);
  return std::get<redis::Connection>(std::move(connection));
}

redis::Reply replied(redis::Connection& connection, const std::vector<std::string_view>& args) {
  auto reply = connection.command(args);
  if (auto* error = std::get_if<Error>(&reply)) throw std::runtime_error(error->message);
  return std::get<redis::Reply>(std::move(reply));
}

class RedisStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<RedisStore> storeWith(const std::string& prefix) {
    auto store =
        std::make_unique<RedisStore>(server_.address(), prefix, 1000, 64 << 20, kDimensions);
    EXPECT_TRUE(eventually([&] { return store->stats().in_sync; })) << "never in sync";
    return store;
  }
  std::unique_ptr<RedisStore> store() { return storeWith(kPrefix); }

  static constexpr const char* kPrefix = "costgate:cache:test:";
  RedisServer server_;
};

TEST_F(RedisStoreTest, APutInOneReplicaIsFoundInAnother) {
  auto a = store();
  auto b = store();
  a->put(entryFor("How do I reset my password?", Clock::now() + 1h));
  // The replica that stored it answers at once, from its mirror.
  EXPECT_TRUE(exact(*a, "How do I reset my password?"));
  ASSERT_TRUE(eventually([&] { return exact(*b, "How do I reset my password?").has_value(); }));

  auto hit = exact(*b, "How do I reset my password?");
  EXPECT_EQ(hit->level, Level::kExact);
  EXPECT_EQ(hit->answer.body, "answer to How do I reset my password?");
  EXPECT_EQ(hit->answer.usage.prompt_tokens, 100u);
  EXPECT_EQ(hit->answer.usage.completion_tokens, 20u);
  EXPECT_EQ(hit->answer.usage.cached_tokens, 30u);
  EXPECT_EQ(hit->answer.usage.reasoning_tokens, 4u);
  auto near = similar(*b, "How can I reset my password?");
  ASSERT_TRUE(near);
  EXPECT_EQ(near->level, Level::kSemantic);
  EXPECT_EQ(near->answer.body, "answer to How do I reset my password?");

  EXPECT_TRUE(eventually([&] { return a->stats().writes == 1; }));
  EXPECT_EQ(b->stats().received, 1u);
  EXPECT_EQ(a->stats().received, 0u);  // its own announcement is skipped
  EXPECT_EQ(a->size().entries, 1u);
  EXPECT_EQ(b->size().entries, 1u);
}

TEST_F(RedisStoreTest, AStoreStartedLaterLoadsWhatIsThere) {
  auto a = store();
  a->put(entryFor("How do I enable 2FA?", Clock::now() + 1h));
  a->put(entryFor("What are your opening hours?", Clock::now() + 1h));
  Entry exact_only = entryFor("Describe this image", Clock::now() + 1h);
  exact_only.vector.reset();
  exact_only.key.text_only = false;
  a->put(exact_only);
  ASSERT_TRUE(eventually([&] { return a->stats().writes == 3; }));

  auto b = store();
  EXPECT_EQ(b->stats().loaded, 3u);
  EXPECT_EQ(b->size().entries, 3u);
  EXPECT_TRUE(exact(*b, "Describe this image"));
  EXPECT_TRUE(exact(*b, "What are your opening hours?"));
  EXPECT_TRUE(similar(*b, "How can I enable 2FA?"));
  // Facts were recomputed from the loaded question: the negated question is still a miss.
  EXPECT_FALSE(similar(*b, "How do I disable 2FA?"));
}

TEST_F(RedisStoreTest, ExpiredEntriesLeaveRedisAndMiss) {
  auto a = store();
  auto b = store();
  redis::Connection raw = rawConnection(server_);
  const std::string key = std::string(kPrefix) + "e:p#Is the store open today?";

  const auto expires = Clock::now() + 400ms;
  a->put(entryFor("Is the store open today?", expires));
  a->put(entryFor("An answer that already expired", Clock::now() - 1ms));
  ASSERT_TRUE(eventually([&] { return exact(*b, "Is the store open today?").has_value(); }));
  redis::Reply ttl = replied(raw, {"PTTL", key});
  EXPECT_GT(ttl.integer, 0);
  EXPECT_LE(ttl.integer, 400);
  EXPECT_EQ(replied(raw, {"DBSIZE"}).integer, 1);  // the expired one was never written
  EXPECT_EQ(a->size().entries, 1u);

  ASSERT_TRUE(eventually([&] { return replied(raw, {"EXISTS", key}).integer == 0; }));
  // Redis's clock may expire it a little before this process's does.
  std::this_thread::sleep_until(expires + 5ms);
  EXPECT_FALSE(exact(*a, "Is the store open today?"));
  // b's copy came through Redis, its expiry from the time left when it arrived: a little later.
  EXPECT_TRUE(eventually([&] {
    return !exact(*b, "Is the store open today?") && !similar(*b, "Is the store open today?");
  }));
  auto c = store();
  EXPECT_EQ(c->size().entries, 0u);
}

TEST_F(RedisStoreTest, MalformedValuesAreSkippedAndCounted) {
  redis::Connection raw = rawConnection(server_);
  const std::string prefix = kPrefix;
  const std::string good = encodeEntry(entryFor("How do I export my data?", Clock::now()));
  Entry small_vector = entryFor("A vector from another embedder", Clock::now());
  small_vector.vector = Vector{0.6f, 0.8f};
  replied(raw, {"SET", prefix + "e:good", good, "PX", "60000"});
  replied(raw, {"SET", prefix + "e:garbage", "not an entry", "PX", "60000"});
  replied(raw, {"SET", prefix + "e:truncated", std::string_view(good).substr(0, good.size() / 2),
                "PX", "60000"});
  replied(raw, {"SET", prefix + "e:other-embedder", encodeEntry(small_vector), "PX", "60000"});
  replied(raw, {"HSET", prefix + "e:a-hash", "field", "value"});

  auto a = store();
  EXPECT_EQ(a->stats().loaded, 1u);
  EXPECT_EQ(a->stats().malformed, 4u);
  EXPECT_EQ(a->size().entries, 1u);
  EXPECT_TRUE(exact(*a, "How do I export my data?"));

  // Announcements too: garbage is counted, a good one from another replica is applied.
  const std::string channel = prefix + "events";
  replied(raw, {"PUBLISH", channel, "garbage"});
  replied(raw, {"PUBLISH", channel, encodeEvent({"another-replica", 60s, "\x01 not an entry"})});
  const std::string other = encodeEntry(entryFor("Where is my invoice?", Clock::now()));
  replied(raw, {"PUBLISH", channel, encodeEvent({"another-replica", 60s, other})});
  ASSERT_TRUE(eventually([&] { return a->stats().received == 1; }));
  EXPECT_EQ(a->stats().malformed, 6u);
  EXPECT_TRUE(exact(*a, "Where is my invoice?"));
  EXPECT_TRUE(a->stats().in_sync);
}

TEST_F(RedisStoreTest, AnOutageMakesLookupsMissAndPutsReturnAtOnceThenTheStoreResyncs) {
  auto a = store();
  auto b = store();
  a->put(entryFor("What is the refund policy?", Clock::now() + 1h));
  ASSERT_TRUE(eventually([&] { return exact(*b, "What is the refund policy?").has_value(); }));

  server_.stop();
  auto timedPut = [&](const std::string& question) {
    const auto start = std::chrono::steady_clock::now();
    a->put(entryFor(question, Clock::now() + 1h));
    return std::chrono::steady_clock::now() - start;
  };
  EXPECT_LT(timedPut("Put as Redis dies"), 10ms);
  ASSERT_TRUE(eventually([&] { return !a->stats().in_sync && !b->stats().in_sync; }));
  EXPECT_LT(timedPut("Put while Redis is down"), 10ms);
  EXPECT_FALSE(exact(*a, "What is the refund policy?"));
  EXPECT_FALSE(exact(*b, "What is the refund policy?"));
  EXPECT_FALSE(similar(*b, "What is the refund policy?"));
  EXPECT_GE(a->stats().dropped_writes, 1u);
  // The mirror was emptied: nothing keeps it equal to the other replicas any more.
  EXPECT_EQ(b->size().entries, 0u);

  server_.start();  // empty: what was there is gone
  ASSERT_TRUE(eventually([&] { return a->stats().in_sync && b->stats().in_sync; }, 5s));
  EXPECT_GE(a->stats().reconnects, 1u);
  EXPECT_GE(b->stats().reconnects, 1u);
  a->put(entryFor("Do you ship to Canada?", Clock::now() + 1h));
  ASSERT_TRUE(eventually([&] { return exact(*b, "Do you ship to Canada?").has_value(); }));
  b->put(entryFor("Do you ship to Mexico?", Clock::now() + 1h));
  ASSERT_TRUE(eventually([&] { return exact(*a, "Do you ship to Mexico?").has_value(); }));
  EXPECT_FALSE(exact(*b, "What is the refund policy?"));
}

TEST_F(RedisStoreTest, AStoreWithoutRedisMissesUntilRedisComesUp) {
  server_.stop();
  RedisStore store(server_.address(), kPrefix, 1000, 64 << 20, kDimensions);
  std::this_thread::sleep_for(150ms);
  EXPECT_FALSE(store.stats().in_sync);
  const auto start = std::chrono::steady_clock::now();
  store.put(entryFor("Anyone there?", Clock::now() + 1h));
  // Well under what waiting for Redis takes (a 100 ms first retry, a 500 ms connect timeout); a
  // loaded sanitizer run took 11 ms.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_FALSE(exact(store, "Anyone there?"));
  EXPECT_EQ(store.stats().dropped_writes, 1u);

  server_.start();
  ASSERT_TRUE(eventually([&] { return store.stats().in_sync; }, 5s));
  // In sync, a put is kept and sent even when the writer is still backing off from the outage
  // (it reconnects as the sync does): it was dropped when the writer came back last, as it did
  // under ThreadSanitizer's slower threads.
  store.put(entryFor("Anyone there?", Clock::now() + 1h));
  EXPECT_TRUE(exact(store, "Anyone there?"));
  EXPECT_TRUE(eventually([&] { return store.stats().writes == 1; }));
  EXPECT_EQ(store.stats().dropped_writes, 1u);
}

TEST_F(RedisStoreTest, DifferentPrefixesDoNotShareEntries) {
  auto a = storeWith("costgate:cache:one:");
  auto a_peer = storeWith("costgate:cache:one:");
  auto b = storeWith("costgate:cache:two:");
  // A prefix with glob characters matches itself only.
  auto glob = storeWith("costgate:cache:*:");
  a->put(entryFor("How do I change my plan?", Clock::now() + 1h));
  // Once a's peer has it, the announcement has reached every subscriber it ever will.
  ASSERT_TRUE(eventually([&] { return exact(*a_peer, "How do I change my plan?").has_value(); }));
  EXPECT_FALSE(exact(*b, "How do I change my plan?"));
  EXPECT_FALSE(exact(*glob, "How do I change my plan?"));
  EXPECT_EQ(b->stats().received + glob->stats().received, 0u);

  auto late_b = storeWith("costgate:cache:two:");
  auto late_glob = storeWith("costgate:cache:*:");
  EXPECT_EQ(late_b->size().entries, 0u);
  EXPECT_EQ(late_glob->size().entries, 0u);
}

TEST_F(RedisStoreTest, TheDestructorReturnsPromptly) {
  auto a = store();
  a->put(entryFor("Last question before shutdown", Clock::now() + 1h));
  const auto start = std::chrono::steady_clock::now();
  a.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);

  server_.stop();
  auto retrying = std::make_unique<RedisStore>(server_.address(), kPrefix, 10, 1 << 20);
  std::this_thread::sleep_for(300ms);  // backing off between attempts
  const auto stop = std::chrono::steady_clock::now();
  retrying.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - stop, 500ms);
}

}  // namespace
}  // namespace costgate::cache
