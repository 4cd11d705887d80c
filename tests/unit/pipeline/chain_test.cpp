#include "costgate/pipeline/chain.h"

#include <gtest/gtest.h>

#include "costgate/config/load.h"

namespace costgate::pipeline {
namespace {

// Records the order in which its callbacks run into the request's tags.feature.
class RecordingFilter : public Filter {
 public:
  RecordingFilter(std::string id, bool respond) : id_(std::move(id)), respond_(respond) {}
  std::string_view name() const override { return id_; }
  FilterStatus onRequest(RequestContext& ctx) const override {
    ctx.tags.feature += "req:" + id_ + " ";
    if (!respond_) return FilterStatus::Continue;
    ctx.local_reply = LocalReply{429, "application/json", "{}", {}};
    return FilterStatus::Respond;
  }
  void onResponse(RequestContext& ctx) const override { ctx.tags.feature += "resp:" + id_ + " "; }
  bool readsResponse() const override { return id_ == "c"; }
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
  EXPECT_EQ(chain.onRequest(ctx), FilterStatus::Continue);
  chain.onResponse(ctx);
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
  EXPECT_EQ(chain.onRequest(ctx), FilterStatus::Respond);
  EXPECT_EQ(ctx.tags.feature, "req:a req:b ");
  ASSERT_TRUE(ctx.local_reply.has_value());
  EXPECT_EQ(ctx.local_reply->status, 429);
}

// Waits once (for an already fired signal), then goes on.
class WaitingFilter : public Filter {
 public:
  std::string_view name() const override { return "w"; }
  FilterStatus onRequest(RequestContext& ctx) const override {
    ctx.tags.feature += "req:w ";
    bool& waited = ctx.state<bool>(this);
    if (waited) return FilterStatus::Continue;
    waited = true;
    ctx.awaited = AwaitSignal{std::make_shared<Signal>(), std::chrono::milliseconds(5)};
    return FilterStatus::Wait;
  }
};

TEST(Chain, WaitLeavesThePositionAtTheWaitingFilterToRunAgainFromThere) {
  std::vector<std::unique_ptr<Filter>> filters;
  filters.push_back(std::make_unique<RecordingFilter>("a", false));
  filters.push_back(std::make_unique<WaitingFilter>());
  filters.push_back(std::make_unique<RecordingFilter>("c", false));
  Chain chain(std::move(filters));
  RequestContext ctx;
  std::size_t position = 0;
  EXPECT_EQ(chain.onRequest(ctx, position), FilterStatus::Wait);
  EXPECT_EQ(position, 1u);
  EXPECT_TRUE(ctx.awaited.has_value());
  EXPECT_EQ(chain.onRequest(ctx, position), FilterStatus::Continue);
  EXPECT_EQ(ctx.tags.feature, "req:a req:w req:w req:c ");
}

TEST(Chain, EmptyChainPassesThrough) {
  Chain chain;
  RequestContext ctx;
  EXPECT_EQ(chain.onRequest(ctx), FilterStatus::Continue);
  EXPECT_EQ(chain.size(), 0u);
  EXPECT_FALSE(chain.readsResponse());
}

TEST(Chain, ReadsResponsesWhenAnyFilterDoes) {
  EXPECT_TRUE(makeChain(false).readsResponse());
  std::vector<std::unique_ptr<Filter>> filters;
  filters.push_back(std::make_unique<RecordingFilter>("a", false));
  EXPECT_FALSE(Chain(std::move(filters)).readsResponse());
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
  auto built = buildChain(configWithFilters("  - tagging\n"), kept);
  auto* chain = std::get_if<Chain>(&built);
  ASSERT_NE(chain, nullptr);
  ASSERT_EQ(chain->size(), 1u);
  EXPECT_EQ(chain->at(0).name(), "tagging");
}

TEST(BuildChain, UnknownFilterIsAnErrorAtItsName) {
  KeptState kept;
  auto built = buildChain(configWithFilters("  - tagging\n  - teleport\n"), kept);
  auto* error = std::get_if<config::ConfigError>(&built);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->where.line, 9);
  EXPECT_EQ(error->where.column, 5);
  EXPECT_NE(error->message.find("unknown filter 'teleport'"), std::string::npos);
  EXPECT_NE(error->message.find("tagging"), std::string::npos) << "lists the known filters";
}

}  // namespace
}  // namespace costgate::pipeline
