#include "filters/semantic_cache/semantic_cache_filter.h"

#include <memory>
#include <string>
#include <variant>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../support/filter_settings.h"
#include "../../support/request.h"
#include "../../support/test_metrics.h"
#include "cache_requests.h"

namespace costgate::filters::semantic_cache {
namespace {

using nlohmann::json;
using pipeline::FilterStatus;
using test_data::Request;
using test_requests::answer;
using test_requests::chat;
using test_requests::configOk;
using test_requests::filterWith;
using test_requests::kTenant;

// What the cache did, as the client is told: x-costgate-cache on the reply (a hit) or on the
// backend's answer (a miss or a bypass).
std::string cacheHeader(const test_data::Request& request) {
  const pipeline::RequestContext& ctx = request.ctx;
  const auto& headers = ctx.local_reply ? ctx.local_reply->headers : ctx.response_headers;
  for (const auto& [name, value] : headers) {
    if (name == "x-costgate-cache") return value;
  }
  return "";
}

TEST(SemanticCacheConfig, ReadsCoalescingAndTheEmbeddingModel) {
  CacheConfig config = configOk(R"(filters:
  - semantic_cache:
      policies:
        - name: faq
          coalesce: false
          coalesce_wait_seconds: 5
          embedding_model: m
)");
  ASSERT_EQ(config.policies.size(), 1u);
  EXPECT_FALSE(config.policies[0].coalesce);
  EXPECT_EQ(config.policies[0].coalesce_wait, std::chrono::seconds(5));
  EXPECT_EQ(config.policies[0].embedding_model, "m");
  EXPECT_TRUE(
      configOk("filters:\n  - semantic_cache: {policies: [{name: a}]}\n").policies[0].coalesce);
}

TEST(SemanticCacheConfig, AnEmbeddingModelTheGatewayDoesNotServeIsAnErrorAtItsValue) {
  auto error = test_data::configError(parseCacheConfig, "semantic_cache", R"(filters:
  - semantic_cache:
      policies:
        - name: faq
          embedding_model: text-embedding-3-large
)");
  test_data::expectErrorAt(error, "semantic_cache", 5, 28, "not a model of this gateway");
}

TEST(SemanticCacheFilter, AnIdenticalRequestInFlightWaitsForTheFirstAndIsAnsweredByIt) {
  auto filter = filterWith("{name: faq, mode: exact}");
  Request leader(chat("Where is my parcel?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
  Request follower(chat("Where is my parcel?"), pipeline::Route::kChatCompletions, nullptr,
                   kTenant);
  EXPECT_EQ(filter->onRequest(leader.ctx), FilterStatus::kContinue);
  EXPECT_EQ(cacheHeader(leader), "miss");

  ASSERT_EQ(filter->onRequest(follower.ctx), FilterStatus::kWait);
  auto* wait = std::get_if<pipeline::AwaitSignal>(&follower.ctx.awaited->what);
  ASSERT_NE(wait, nullptr);
  EXPECT_FALSE(wait->signal->fired());
  EXPECT_EQ(wait->timeout, std::chrono::seconds(60));

  leader.ctx.upstream_status = 200;
  filter->onResponseBody(leader.ctx, 200, answer("It is on its way."));
  EXPECT_TRUE(wait->signal->fired()) << "storing the answer wakes the followers";
  ASSERT_EQ(follower.resume(), FilterStatus::kRespond);
  EXPECT_EQ(cacheHeader(follower), "hit-exact");
  filter->onComplete(follower.ctx);
  EXPECT_EQ(*follower.ctx.log.find("coalesced"), "true");
  EXPECT_NE(follower.ctx.local_reply->body.find("It is on its way."), std::string::npos);
}

TEST(SemanticCacheFilter, AFollowerOfAFailedCallGoesOnToTheBackendAndWaitsOnlyOnce) {
  auto filter = filterWith("{name: faq, mode: exact}");
  Request leader(chat("Can I return shoes?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
  Request follower(chat("Can I return shoes?"), pipeline::Route::kChatCompletions, nullptr,
                   kTenant);
  Request third(chat("Can I return shoes?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
  EXPECT_EQ(filter->onRequest(leader.ctx), FilterStatus::kContinue);
  ASSERT_EQ(filter->onRequest(follower.ctx), FilterStatus::kWait);
  auto signal = std::get<pipeline::AwaitSignal>(follower.ctx.awaited->what).signal;
  filter->onResponseBody(leader.ctx, 500, R"({"error":{"message":"down"}})");
  EXPECT_FALSE(signal->fired()) << "an error is not stored";
  filter->onComplete(leader.ctx);
  EXPECT_TRUE(signal->fired()) << "the leader's end wakes the followers all the same";

  EXPECT_EQ(follower.resume(), FilterStatus::kContinue);
  EXPECT_EQ(cacheHeader(follower), "miss");
  // The follower leads now: a third identical request waits for it.
  EXPECT_EQ(filter->onRequest(third.ctx), FilterStatus::kWait);
}

TEST(SemanticCacheFilter, FollowersOfAnUnverifiedAnswerWaitForTheOneThatGoesToTheFinalModel) {
  auto filter = filterWith("{name: faq, mode: exact}");
  Request leader(chat("Can I return shoes?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
  Request first(chat("Can I return shoes?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
  Request second(chat("Can I return shoes?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
  ASSERT_EQ(filter->onRequest(leader.ctx), FilterStatus::kContinue);
  ASSERT_EQ(filter->onRequest(first.ctx), FilterStatus::kWait);
  ASSERT_EQ(filter->onRequest(second.ctx), FilterStatus::kWait);
  // The leader was answered by a cascade's cheaper model: stored, but not trusted.
  leader.ctx.cascade = pipeline::Cascade{
      {"small", "large"}, {}, false, "cascade", 0, {}, {}, std::size_t{0}, std::nullopt};
  leader.ctx.upstream_status = 200;
  filter->onResponseBody(leader.ctx, 200, answer("Within 30 days."));
  filter->onComplete(leader.ctx);

  // The first follower to wake goes to the final model; the other waits for its answer.
  EXPECT_EQ(first.resume(), FilterStatus::kContinue);
  EXPECT_EQ(first.ctx.wants_final_model, "repeat");
  EXPECT_EQ(second.resume(), FilterStatus::kWait) << "one final-model call does for all";
  first.ctx.upstream_status = 200;
  first.ctx.served_model = "large";
  filter->onResponseBody(first.ctx, 200, answer("Within 30 days, unworn."));
  filter->onComplete(first.ctx);
  EXPECT_EQ(second.resume(), FilterStatus::kRespond);
  EXPECT_EQ(cacheHeader(second), "hit-exact");
}

TEST(SemanticCacheFilter, ARefusalIsNotStoredAndItsFollowersGoOnAtOnce) {
  auto filter = filterWith("{name: faq, mode: exact}");
  Request leader(chat("How do I pick a lock?"), pipeline::Route::kChatCompletions, nullptr,
                 kTenant);
  Request follower(chat("How do I pick a lock?"), pipeline::Route::kChatCompletions, nullptr,
                   kTenant);
  ASSERT_EQ(filter->onRequest(leader.ctx), FilterStatus::kContinue);
  ASSERT_EQ(filter->onRequest(follower.ctx), FilterStatus::kWait);
  auto signal = std::get<pipeline::AwaitSignal>(follower.ctx.awaited->what).signal;
  leader.ctx.upstream_status = 200;
  filter->onResponseBody(leader.ctx, 200, answer("I'm sorry, but I can't help with that."));
  EXPECT_TRUE(signal->fired()) << "nothing will be stored: the followers need not wait";
  filter->onComplete(leader.ctx);
  EXPECT_EQ(*leader.ctx.log.find("cache_not_stored"), "\"refusal\"");

  EXPECT_EQ(follower.resume(), FilterStatus::kContinue);
  EXPECT_EQ(cacheHeader(follower), "miss") << "the refusal was not replayed";
  Request later(chat("How do I pick a lock?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
  EXPECT_EQ(filter->onRequest(later.ctx), FilterStatus::kWait) << "it waits for the follower";
}

TEST(SemanticCacheFilter, AReloadKeepsAPolicysEntriesUnlessItsStoreChanged) {
  pipeline::KeptState kept;
  auto before = filterWith("{name: faq, mode: exact}", &kept);
  Request stored(chat("Do you ship abroad?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
  ASSERT_EQ(before->onRequest(stored.ctx), FilterStatus::kContinue);
  stored.ctx.upstream_status = 200;
  before->onResponseBody(stored.ctx, 200, answer("Yes, to 40 countries."));
  before->onComplete(stored.ctx);

  // A setting that does not change how the store is built keeps it.
  auto after = filterWith("{name: faq, mode: exact, coalesce_wait_seconds: 5}", &kept);
  before.reset();
  Request again(chat("Do you ship abroad?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
  ASSERT_EQ(after->onRequest(again.ctx), FilterStatus::kRespond);
  EXPECT_EQ(cacheHeader(again), "hit-exact");

  // Other limits are another store: it starts empty.
  auto resized = filterWith("{name: faq, mode: exact, max_entries: 10}", &kept);
  Request resized_request(chat("Do you ship abroad?"), pipeline::Route::kChatCompletions, nullptr,
                          kTenant);
  EXPECT_EQ(resized->onRequest(resized_request.ctx), FilterStatus::kContinue);
  EXPECT_EQ(cacheHeader(resized_request), "miss");
}

TEST(SemanticCacheFilter, NoCacheAndCoalesceOffDoNotWait) {
  auto filter = filterWith("{name: faq, mode: exact, coalesce: false}");
  Request first(chat("Is it raining?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
  Request second(chat("Is it raining?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
  EXPECT_EQ(filter->onRequest(first.ctx), FilterStatus::kContinue);
  EXPECT_EQ(filter->onRequest(second.ctx), FilterStatus::kContinue);
}

TEST(SemanticCacheFilter, ABackendEmbedderIsAskedForOnlyWhenTheExactLevelMisses) {
  auto filter = filterWith("{name: faq, mode: semantic, embedding_model: m, coalesce: false}");
  Request first(chat("How do I reset my password?"), pipeline::Route::kChatCompletions, nullptr,
                kTenant);
  ASSERT_EQ(filter->onRequest(first.ctx), FilterStatus::kWait);
  auto* call = std::get_if<pipeline::EmbeddingCall>(&first.ctx.awaited->what);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->model, "m");
  EXPECT_EQ(call->input, "How do I reset my password?");
  first.ctx.embedding = pipeline::Embedding{std::vector<float>{1, 0, 0}, std::nullopt};
  EXPECT_EQ(first.resume(), FilterStatus::kContinue);
  EXPECT_EQ(cacheHeader(first), "miss");
  filter->onResponseBody(first.ctx, 200, answer("Use the link on the sign-in page."));

  // A question whose embedding is close enough is a semantic hit.
  Request near(chat("How can I reset my password?"), pipeline::Route::kChatCompletions, nullptr,
               kTenant);
  ASSERT_EQ(filter->onRequest(near.ctx), FilterStatus::kWait);
  near.ctx.embedding = pipeline::Embedding{std::vector<float>{0.99f, 0.141f, 0}, std::nullopt};
  ASSERT_EQ(near.resume(), FilterStatus::kRespond);
  EXPECT_EQ(cacheHeader(near), "hit-semantic");

  // An exact repeat needs no embedding.
  Request repeat(chat("How do I reset my password?"), pipeline::Route::kChatCompletions, nullptr,
                 kTenant);
  EXPECT_EQ(filter->onRequest(repeat.ctx), FilterStatus::kRespond);
  EXPECT_FALSE(repeat.ctx.awaited.has_value());

  // A failed embedding call leaves the exact level only: a miss, not an error.
  Request failed(chat("Where do I change my email?"), pipeline::Route::kChatCompletions, nullptr,
                 kTenant);
  ASSERT_EQ(filter->onRequest(failed.ctx), FilterStatus::kWait);
  failed.ctx.embedding = pipeline::Embedding{};
  EXPECT_EQ(failed.resume(), FilterStatus::kContinue);
  EXPECT_EQ(cacheHeader(failed), "miss");
}

}  // namespace
}  // namespace costgate::filters::semantic_cache
