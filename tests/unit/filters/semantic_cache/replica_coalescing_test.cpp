// Coalescing across replicas: two semantic_cache filters (each with its own RedisStore, as two
// gateway processes would have) on one real redis-server. The gateway's part (waiting on a
// signal, then resuming the filter) is played by the test.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <variant>

#include <nlohmann/json.hpp>

#include "../../support/eventually.h"
#include "../../support/filter_settings.h"
#include "../../support/redis_server.h"
#include "../../support/request.h"
#include "../../support/test_metrics.h"
#include "cache_requests.h"
#include "filters/semantic_cache/semantic_cache_filter.h"

namespace costgate::filters::semantic_cache {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using pipeline::FilterStatus;
using test_data::Request;
using test_requests::answer;
using test_requests::chat;
using test_requests::kTenant;

std::string cacheHeader(const Request& request) {
  const pipeline::RequestContext& ctx = request.ctx;
  const auto& headers = ctx.local_reply ? ctx.local_reply->headers : ctx.response_headers;
  for (const auto& [name, value] : headers) {
    if (name == "x-costgate-cache") return value;
  }
  return "";
}

// A log field's JSON text ("\"served\"", "true"); empty when absent.
std::string logged(const Request& request, std::string_view field) {
  const std::string* value = request.ctx.log.find(field);
  return value ? *value : "";
}

std::shared_ptr<pipeline::Signal> awaitedSignal(const Request& request) {
  if (!request.ctx.awaited) return nullptr;
  const auto* wait = std::get_if<pipeline::AwaitSignal>(&request.ctx.awaited->what);
  return wait ? wait->signal : nullptr;
}

// What the gateway does for a filter that waits on a signal: waits until it fires (or its timeout
// passes), then resumes the filter; again while the filter waits again, unless `until_fired` and
// the signal did not fire.
FilterStatus serve(Request& request, FilterStatus status, bool stop_when_not_fired = false) {
  while (status == FilterStatus::kWait) {
    auto signal = awaitedSignal(request);
    if (!signal) return status;
    const auto timeout = std::get<pipeline::AwaitSignal>(request.ctx.awaited->what).timeout;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!signal->fired() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(2ms);
    }
    if (stop_when_not_fired && !signal->fired()) return status;
    status = request.resume();
  }
  return status;
}

using test_data::eventually;

class ReplicaCoalescingTest : public ::testing::Test {
 protected:
  std::unique_ptr<SemanticCacheFilter> replica(const std::string& more = "") {
    const std::string yaml =
        "filters:\n  - semantic_cache:\n      policies:\n        - {name: faq, "
        "mode: exact, store: \"redis://127.0.0.1:" +
        std::to_string(server_.port()) + "\"" + more + "}\n";
    auto filter = std::make_unique<SemanticCacheFilter>(
        test_data::configOk(parseCacheConfig, "semantic_cache", yaml), test_data::testMetrics());
    // In sync, a leader asks Redis for its key's lock and waits for the answer; out of sync it is
    // told at once that there is none.
    int warm_up = 0;
    EXPECT_TRUE(eventually([&] {
      Request probe(chat("warm-up " + std::to_string(++warm_up)), pipeline::Route::kChatCompletions,
                    nullptr, kTenant);
      const FilterStatus status = filter->onRequest(probe.ctx);
      serve(probe, status);
      filter->onComplete(probe.ctx);
      return status == FilterStatus::kWait;
    })) << "never in sync";
    return filter;
  }

  // Leads `question` on `filter`: takes the lock, and is sent to the backend.
  void lead(SemanticCacheFilter& filter, Request& request) {
    ASSERT_EQ(serve(request, filter.onRequest(request.ctx)), FilterStatus::kContinue);
    EXPECT_EQ(cacheHeader(request), "miss");
  }

  test_data::RedisServer server_;
};

TEST_F(ReplicaCoalescingTest, AReplicaWaitsForTheOthersCallAndIsAnsweredByIt) {
  auto a = replica();
  auto b = replica();
  const std::string question = "Where is my parcel?";
  Request leader(chat(question), pipeline::Route::kChatCompletions, nullptr, kTenant);
  lead(*a, leader);

  // b's leader finds the lock held: it waits, and so does b's own follower, for b's leader.
  Request waiting(chat(question), pipeline::Route::kChatCompletions, nullptr, kTenant);
  ASSERT_EQ(serve(waiting, b->onRequest(waiting.ctx), true), FilterStatus::kWait);
  Request follower(chat(question), pipeline::Route::kChatCompletions, nullptr, kTenant);
  ASSERT_EQ(b->onRequest(follower.ctx), FilterStatus::kWait);
  auto follows = awaitedSignal(follower);
  ASSERT_TRUE(follows);
  EXPECT_EQ(std::get<pipeline::AwaitSignal>(follower.ctx.awaited->what).timeout, 60s);

  // A few polls go by (the lock is still held) before a's answer comes.
  std::this_thread::sleep_for(600ms);
  EXPECT_FALSE(follows->fired());
  leader.ctx.upstream_status = 200;
  a->onResponseBody(leader.ctx, 200, answer("It is on its way."));
  a->onComplete(leader.ctx);

  ASSERT_EQ(serve(waiting, FilterStatus::kWait), FilterStatus::kRespond);
  EXPECT_EQ(cacheHeader(waiting), "hit-exact");
  EXPECT_NE(waiting.ctx.local_reply->body.find("It is on its way."), std::string::npos);
  EXPECT_TRUE(follows->fired()) << "b's follower is woken as soon as b's leader is answered";
  ASSERT_EQ(follower.resume(), FilterStatus::kRespond);
  EXPECT_EQ(cacheHeader(follower), "hit-exact");
  b->onComplete(waiting.ctx);
  b->onComplete(follower.ctx);
  EXPECT_EQ(logged(waiting, "replica_wait"), "\"served\"");
  EXPECT_EQ(logged(waiting, "coalesced"), "true");
  EXPECT_EQ(logged(follower, "replica_wait"), "");
}

TEST_F(ReplicaCoalescingTest, WhenTheOtherReplicasCallFailsOneWaiterCallsTheBackend) {
  auto a = replica();
  auto b = replica();
  const std::string question = "Can I pay by bank transfer?";
  Request leader(chat(question), pipeline::Route::kChatCompletions, nullptr, kTenant);
  lead(*a, leader);
  Request waiting(chat(question), pipeline::Route::kChatCompletions, nullptr, kTenant);
  ASSERT_EQ(serve(waiting, b->onRequest(waiting.ctx), true), FilterStatus::kWait);
  Request follower(chat(question), pipeline::Route::kChatCompletions, nullptr, kTenant);
  ASSERT_EQ(b->onRequest(follower.ctx), FilterStatus::kWait);

  const auto failed = std::chrono::steady_clock::now();
  a->onResponseBody(leader.ctx, 503, R"({"error":{"message":"down"}})");
  a->onComplete(leader.ctx);  // gives the lock back: b hears of it at once, no need to poll
  ASSERT_EQ(serve(waiting, FilterStatus::kWait), FilterStatus::kContinue);
  EXPECT_LT(std::chrono::steady_clock::now() - failed, 200ms);
  EXPECT_EQ(cacheHeader(waiting), "miss");
  EXPECT_FALSE(awaitedSignal(follower)->fired()) << "b's follower waits for b's call now";

  waiting.ctx.upstream_status = 200;
  b->onResponseBody(waiting.ctx, 200, answer("Yes."));
  b->onComplete(waiting.ctx);
  EXPECT_EQ(logged(waiting, "replica_wait"), "\"lock_vanished\"");
  ASSERT_EQ(follower.resume(), FilterStatus::kRespond);
  EXPECT_EQ(cacheHeader(follower), "hit-exact");
  // And a's next request for it is a hit (b's answer, announced).
  EXPECT_TRUE(eventually([&] {
    Request again(chat(question), pipeline::Route::kChatCompletions, nullptr, kTenant);
    const FilterStatus status = serve(again, a->onRequest(again.ctx));
    a->onComplete(again.ctx);
    return status == FilterStatus::kRespond;
  }));
}

TEST_F(ReplicaCoalescingTest, AWaitLongerThanCoalesceWaitEndsInABackendCall) {
  auto a = replica();
  auto b = replica(", coalesce_wait_seconds: 1");
  const std::string question = "Is the shop open on Sunday?";
  Request leader(chat(question), pipeline::Route::kChatCompletions, nullptr, kTenant);
  lead(*a, leader);
  Request waiting(chat(question), pipeline::Route::kChatCompletions, nullptr, kTenant);
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(serve(waiting, b->onRequest(waiting.ctx)), FilterStatus::kContinue);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, 950ms);
  EXPECT_LT(waited, 1500ms);
  EXPECT_EQ(cacheHeader(waiting), "miss");
  b->onComplete(waiting.ctx);
  EXPECT_EQ(logged(waiting, "replica_wait"), "\"timed_out\"");
  a->onComplete(leader.ctx);
}

TEST_F(ReplicaCoalescingTest, WithoutRedisEachReplicaCallsTheBackendAtOnce) {
  auto a = replica();
  server_.stop();
  Request request(chat("Anyone there?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
  // Out of sync (once the store noticed), there is no lock to ask for: no wait at all.
  EXPECT_TRUE(eventually([&] {
    Request probe(chat("Anyone there?"), pipeline::Route::kChatCompletions, nullptr, kTenant);
    const FilterStatus status = a->onRequest(probe.ctx);
    serve(probe, status);
    a->onComplete(probe.ctx);
    return status == FilterStatus::kContinue;
  }));
  EXPECT_EQ(a->onRequest(request.ctx), FilterStatus::kContinue);
  EXPECT_EQ(cacheHeader(request), "miss");
  a->onComplete(request.ctx);
}

}  // namespace
}  // namespace costgate::filters::semantic_cache
