#include "filters/router/cache_affinity.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../support/request.h"

namespace costgate::filters::router {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// gpt-4o-mini and gpt-4o, in nano-dollars per million tokens.
const pricing::Price kMini{.input = 150'000'000,
                           .cached_input = 75'000'000,
                           .output = 600'000'000,
                           .reasoning = std::nullopt};
const pricing::Price kFull{.input = 2'500'000'000,
                           .cached_input = 1'250'000'000,
                           .output = 10'000'000'000,
                           .reasoning = std::nullopt};

TEST(CacheAffinity, CachedPrefixesAreWholeBlocksFrom1024Tokens) {
  EXPECT_EQ(cachedPrefixTokens(5000, 1000), 0u);
  EXPECT_EQ(cachedPrefixTokens(5000, 1024), 1024u);
  EXPECT_EQ(cachedPrefixTokens(5000, 4000), 3968u);
  EXPECT_EQ(cachedPrefixTokens(2000, 4000), 1920u) << "never more than the prompt";
}

TEST(CacheAffinity, StaysOnTheWarmModelOnlyWhenThatIsCheaper) {
  // Warm on the strong model, would start on the cheap one: the cheap model's whole input
  // (0.15/M) beats the strong one's cached (1.25/M)...
  EXPECT_FALSE(warmModelIsCheaper(kMini, kFull, 8000, 7936, 0.0));
  // ...unless it escalates so often that the strong model is read again anyway.
  EXPECT_TRUE(warmModelIsCheaper(kMini, kFull, 8000, 7936, 0.95));
  // Warm on the cheap model, would start on the strong one (learned): staying is cheaper.
  EXPECT_TRUE(warmModelIsCheaper(kFull, kMini, 8000, 7936, 0.0));
  // Without a cached price the cached tokens cost the input price: no reason to stay.
  const pricing::Price plain{.input = 150'000'000,
                             .cached_input = std::nullopt,
                             .output = 600'000'000,
                             .reasoning = std::nullopt};
  EXPECT_FALSE(warmModelIsCheaper(plain, plain, 8000, 7936, 0.0));
}

TEST(CacheAffinity, RemembersTheLastServedModelForTtlAndEvictsTheOldest) {
  ConversationAffinity affinity(2);
  const auto now = Clock::now();
  affinity.remember(1, {.model = "small", .prompt_tokens = 2000, .served_at = now});
  affinity.remember(2, {.model = "large", .prompt_tokens = 3000, .served_at = now});
  ASSERT_TRUE(affinity.warm(1, now + seconds(10), seconds(300)));
  EXPECT_EQ(affinity.warm(1, now, seconds(300))->model, "small");
  EXPECT_FALSE(affinity.warm(1, now + seconds(300), seconds(300))) << "gone cold";
  affinity.remember(1, {.model = "large", .prompt_tokens = 2500, .served_at = now});
  affinity.remember(3, {.model = "small", .prompt_tokens = 100, .served_at = now});
  EXPECT_EQ(affinity.size(), 2u);
  EXPECT_FALSE(affinity.warm(2, now, seconds(300))) << "the least recently served went";
  EXPECT_EQ(affinity.warm(1, now, seconds(300))->model, "large");
}

TEST(CacheAffinity, AConversationIsItsSystemPromptFirstQuestionTagsAndKey) {
  json first = {
      {"model", "m"},
      {"messages",
       {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi"}}}}};
  json later = first;
  later["messages"].push_back({{"role", "assistant"}, {"content", "Hello!"}});
  later["messages"].push_back({{"role", "user"}, {"content", "And then?"}});
  json other = first;
  other["messages"][1]["content"] = "Bye";
  test_data::Request a(first), b(later), c(other), d(first);
  d.ctx.api_key_id = "k2";
  EXPECT_EQ(conversationOf(a.ctx), conversationOf(b.ctx));
  EXPECT_NE(conversationOf(a.ctx), conversationOf(c.ctx));
  EXPECT_NE(conversationOf(a.ctx), conversationOf(d.ctx));
  EXPECT_EQ(conversationHex(0xabc), "0000000000000abc");
}

}  // namespace
}  // namespace costgate::filters::router
