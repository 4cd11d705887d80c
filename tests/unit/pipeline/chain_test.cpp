#include "costgate/pipeline/chain.h"

#include <gtest/gtest.h>

#include "costgate/config/load.h"
#include "filters/registry.h"

namespace costgate::pipeline {
namespace {

// Records the order in which its callbacks run into the request's tags.feature.
class RecordingFilter : public Filter {
 public:
  RecordingFilter(std::string id, bool respond) : id_(std::move(id)), respond_(respond) {}
  std::string_view name() const override { return id_; }
  FilterStatus onRequest(RequestContext& ctx) const override {
    ctx.tags.feature += "req:" + id_ + " ";
    if (!respond_) return FilterStatus::kContinue;
    ctx.local_reply = LocalReply{429, "application/json", "{}", {}};
    return FilterStatus::kRespond;
  }
  void onResponseBody(RequestContext& ctx, int, std::string_view) const override {
    ctx.tags.feature += "resp:" + id_ + " ";
  }
  bool observesResponseBody() const override { return id_ == "c"; }
  std::vector<LocalEndpoint> endpoints() const override {
    if (id_ != "b") return {};
    LocalEndpoint endpoint;
    endpoint.path = "/admin/" + id_;
    return {endpoint};
  }
  void onChunk(RequestContext& ctx, StreamEvent& event) const override {
    ctx.tags.feature += "chunk:" + id_ + " ";
    if (id_ == "b") event.drop = true;
  }
  void onComplete(RequestContext& ctx) const override { ctx.tags.feature += "done:" + id_ + " "; }

 private:
  std::string id_;
  bool respond_;
};

Chain makeChain(bool b_responds) {
  std::vector<std::unique_ptr<Filter>> filters;
  filters.push_back(std::make_unique<RecordingFilter>("a", false));
  filters.push_back(std::make_unique<RecordingFilter>("b", b_responds));
  filters.push_back(std::make_unique<RecordingFilter>("c", false));
  return Chain(std::move(filters));
}

TEST(Chain, RequestsRunInOrderAndTheRestInReverse) {
  Chain chain = makeChain(false);
  RequestContext ctx;
  EXPECT_EQ(chain.onRequest(ctx), FilterStatus::kContinue);
  chain.onResponseBody(ctx, 200, "{}");
  StreamEvent event{{"", "x"}};
  chain.onChunk(ctx, event);
  chain.onComplete(ctx);
  EXPECT_EQ(ctx.tags.feature,
            "req:a req:b req:c resp:c resp:b resp:a chunk:c chunk:b chunk:a done:c done:b done:a ");
  EXPECT_TRUE(event.drop);
}

TEST(Chain, RespondStopsLaterFiltersAndLeavesTheReply) {
  Chain chain = makeChain(true);
  RequestContext ctx;
  EXPECT_EQ(chain.onRequest(ctx), FilterStatus::kRespond);
  EXPECT_EQ(ctx.tags.feature, "req:a req:b ");
  ASSERT_TRUE(ctx.local_reply.has_value());
  EXPECT_EQ(ctx.local_reply->status, 429);
}

// Waits for a signal, then goes on from where it stopped: its continuation, not onRequest again.
class WaitingFilter : public Filter {
 public:
  std::string_view name() const override { return "w"; }
  FilterStatus onRequest(RequestContext& ctx) const override {
    ctx.tags.feature += "req:w ";
    ctx.awaited = Awaited{AwaitSignal{std::make_shared<Signal>(), std::chrono::milliseconds(5)},
                          [](RequestContext& resumed) {
                            resumed.tags.feature += "resumed:w ";
                            return FilterStatus::kContinue;
                          }};
    return FilterStatus::kWait;
  }
};

TEST(Chain, WaitLeavesThePositionAtTheWaitingFilterAndResumeGoesOnFromItsContinuation) {
  std::vector<std::unique_ptr<Filter>> filters;
  filters.push_back(std::make_unique<RecordingFilter>("a", false));
  filters.push_back(std::make_unique<WaitingFilter>());
  filters.push_back(std::make_unique<RecordingFilter>("c", false));
  Chain chain(std::move(filters));
  RequestContext ctx;
  std::size_t position = 0;
  EXPECT_EQ(chain.onRequest(ctx, position), FilterStatus::kWait);
  EXPECT_EQ(position, 1u);
  ASSERT_TRUE(ctx.awaited.has_value());
  const Awaited awaited = std::move(*ctx.awaited);
  ctx.awaited.reset();
  EXPECT_EQ(chain.resume(ctx, position, awaited.resume), FilterStatus::kContinue);
  EXPECT_EQ(ctx.tags.feature, "req:a req:w resumed:w req:c ");
}

TEST(Chain, AContinuationThatRespondsStopsTheChain) {
  std::vector<std::unique_ptr<Filter>> filters;
  filters.push_back(std::make_unique<WaitingFilter>());
  filters.push_back(std::make_unique<RecordingFilter>("c", false));
  Chain chain(std::move(filters));
  RequestContext ctx;
  std::size_t position = 0;
  ASSERT_EQ(chain.onRequest(ctx, position), FilterStatus::kWait);
  auto respond = [](RequestContext&) { return FilterStatus::kRespond; };
  EXPECT_EQ(chain.resume(ctx, position, respond), FilterStatus::kRespond);
  EXPECT_EQ(ctx.tags.feature, "req:w ");
}

TEST(Chain, EmptyChainPassesThrough) {
  Chain chain;
  RequestContext ctx;
  EXPECT_EQ(chain.onRequest(ctx), FilterStatus::kContinue);
  EXPECT_EQ(chain.size(), 0u);
  EXPECT_FALSE(chain.observesResponseBody());
  EXPECT_TRUE(chain.endpoints().empty());
}

TEST(Chain, ObservesResponseBodiesWhenAnyFilterDoesAndGathersEndpoints) {
  Chain chain = makeChain(false);
  EXPECT_TRUE(chain.observesResponseBody());
  ASSERT_EQ(chain.endpoints().size(), 1u);
  EXPECT_EQ(chain.endpoints()[0].path, "/admin/b");
  std::vector<std::unique_ptr<Filter>> filters;
  filters.push_back(std::make_unique<RecordingFilter>("a", false));
  EXPECT_FALSE(Chain(std::move(filters)).observesResponseBody());
}

config::GatewayConfig configWithFilters(const std::string& filters) {
  std::string text =
      "backends:\n  b:\n    url: http://127.0.0.1:1\nmodels:\n  m:\n    backend: b\nfilters:\n" +
      filters;
  auto loaded = config::parse(text, "chain.yaml", [](const std::string&) { return std::nullopt; });
  auto* config = std::get_if<config::GatewayConfig>(&loaded);
  EXPECT_NE(config, nullptr);
  return config ? *config : config::GatewayConfig{};
}

TEST(BuildChain, BuildsRegisteredFiltersByName) {
  KeptState kept;
  metrics::Metrics metrics;
  auto built =
      buildChain(configWithFilters("  - tagging\n"), filters::registry(), {kept, metrics, {}});
  auto* chain = std::get_if<Chain>(&built);
  ASSERT_NE(chain, nullptr);
  ASSERT_EQ(chain->size(), 1u);
  EXPECT_EQ(chain->at(0).name(), "tagging");
}

TEST(BuildChain, UnknownFilterIsAnErrorAtItsName) {
  KeptState kept;
  metrics::Metrics metrics;
  auto built = buildChain(configWithFilters("  - tagging\n  - teleport\n"), filters::registry(),
                          {kept, metrics, {}});
  auto* error = std::get_if<config::ConfigError>(&built);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->where.line, 9);
  EXPECT_EQ(error->where.column, 5);
  EXPECT_NE(error->message.find("unknown filter 'teleport'"), std::string::npos);
  EXPECT_NE(error->message.find("tagging"), std::string::npos) << "lists the known filters";
}

}  // namespace
}  // namespace costgate::pipeline
