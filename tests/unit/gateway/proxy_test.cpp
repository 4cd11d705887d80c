// The proxy sequence in process: parse -> chain -> dispatch -> relay -> complete, against a
// scripted backend.

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../support/in_process_gateway.h"

namespace costgate::gateway {
namespace {

using nlohmann::json;
using test_data::FakeBackend;
using test_data::InProcessGateway;

std::string completion(const std::string& model, const std::string& text, int prompt_tokens = 1000,
                       int completion_tokens = 500) {
  return json{{"id", "chatcmpl-1"},
              {"object", "chat.completion"},
              {"model", model},
              {"choices",
               {{{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", text}}},
                 {"finish_reason", "stop"}}}},
              {"usage",
               {{"prompt_tokens", prompt_tokens},
                {"completion_tokens", completion_tokens},
                {"total_tokens", prompt_tokens + completion_tokens}}}}
      .dump();
}

std::string chat(const std::string& model, const std::string& question, json extra = {}) {
  json body = {{"model", model}, {"messages", {{{"role", "user"}, {"content", question}}}}};
  if (extra.is_object()) body.update(extra);
  return body.dump();
}

// Two priced models on one backend; `filters` is the YAML list under `filters:`.
std::string configFor(const FakeBackend& backend, const std::string& filters = "",
                      const std::string& small_extra = "") {
  return "backends:\n  fake:\n    url: " + backend.url() +
         "\n    read_timeout_ms: 5000\nmodels:\n"
         "  small:\n    backend: fake\n    encoding: none\n"
         "    price: {input: 1, output: 2}\n" +
         small_extra +
         "  large:\n    backend: fake\n    encoding: none\n"
         "    price: {input: 10, output: 20}\n"
         "  embed:\n    backend: fake\n    encoding: none\n    price: {input: 1, output: 0}\n" +
         (filters.empty() ? "" : "filters:\n" + filters);
}

std::string modelAsked(const FakeBackend::Asked& asked) {
  return json::parse(asked.body).value("model", "");
}

TEST(Proxy, TheBackendGetsTheFiltersEditsAndTheCallIsChargedFromItsUsage) {
  FakeBackend backend([](const FakeBackend::Asked& asked) {
    return FakeBackend::Answer{200, "application/json", completion(modelAsked(asked), "Hi.")};
  });
  InProcessGateway gateway(configFor(
      backend, "  - token_cap:\n      policies: [{name: short, max_output_tokens: 50}]\n"));
  auto reply = gateway.post("/v1/chat/completions", chat("small", "Hello", {{"max_tokens", 900}}));
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(backend.asked().size(), 1u);
  EXPECT_EQ(backend.asked()[0].path, "/v1/chat/completions");
  EXPECT_EQ(json::parse(backend.asked()[0].body)["max_tokens"], 50);
  // 1000 input tokens at $1/M and 500 output tokens at $2/M.
  EXPECT_EQ(reply.header("x-costgate-cost-usd"), "0.002000");
  EXPECT_EQ(reply.header("x-costgate-model"), "small");
  auto record = gateway.record(0);
  EXPECT_EQ(record.cost, 2'000'000);
  EXPECT_EQ(record.usage_source, "backend");
  EXPECT_EQ(record.model, "small");
}

TEST(Proxy, AModelThatKeepsFailingFallsBackAndTheFallbackIsCharged) {
  FakeBackend backend([](const FakeBackend::Asked& asked) {
    if (modelAsked(asked) == "small") {
      return FakeBackend::Answer{503, "application/json", R"({"error":{"message":"busy"}})"};
    }
    return FakeBackend::Answer{200, "application/json", completion(modelAsked(asked), "Hi.")};
  });
  InProcessGateway gateway(configFor(backend, "", "    fallbacks: [large]\n") +
                           "upstream:\n  attempts: 2\n  base_delay_ms: 1\n  max_delay_ms: 1\n");
  auto reply = gateway.post("/v1/chat/completions", chat("small", "Hello"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.header("x-costgate-model"), "large");
  EXPECT_EQ(reply.header("x-costgate-attempts"), "3");
  // At large's price: 1000 x $10/M + 500 x $20/M.
  EXPECT_EQ(reply.header("x-costgate-cost-usd"), "0.020000");
  EXPECT_EQ(gateway.record(0).model, "large");
  EXPECT_NE(gateway.metrics().serialize().find(
                R"(costgate_fallbacks_total{from="small",reason="status_503",to="large"} 1)"),
            std::string::npos);
}

TEST(Proxy, ACascadeEscalatesAJudgedWeakAnswerAndChargesItAsASideCall) {
  FakeBackend backend([](const FakeBackend::Asked& asked) {
    const std::string model = modelAsked(asked);
    const std::string text = model == "small" ? "I'm sorry, but I can't help with that."
                                              : "Paris is the capital of France.";
    return FakeBackend::Answer{200, "application/json", completion(model, text, 100, 10)};
  });
  InProcessGateway gateway(configFor(backend,
                                     "  - router:\n      policies:\n        - name: all\n"
                                     "          tiers: [{name: cascade, models: [small, large]}]\n"
                                     "          complexity: [{tier: cascade}]\n"));
  auto reply = gateway.post("/v1/chat/completions", chat("small", "Capital of France?"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.header("x-costgate-model"), "large");
  EXPECT_EQ(reply.header("x-costgate-escalated"), "small->large: refusal");
  ASSERT_EQ(backend.asked().size(), 2u);
  EXPECT_EQ(json::parse(backend.asked()[0].body)["stream"], false) << "judged attempts are whole";
  auto record = gateway.record(0);
  ASSERT_EQ(record.side_calls.size(), 1u);
  EXPECT_EQ(record.side_calls[0].model, "small");
  EXPECT_EQ(record.side_calls[0].cost, 120'000);  // 100 x $1/M + 10 x $2/M
  EXPECT_EQ(record.model, "large");
  EXPECT_EQ(record.fields.textOf("escalated"), "small->large: refusal");
  EXPECT_EQ(record.fields.textOf("route_decision"), "cascade:complexity");
}

TEST(Proxy, AnAcceptedCheapAnswerIsAccountedLikeAnyCall) {
  FakeBackend backend([](const FakeBackend::Asked& asked) {
    return FakeBackend::Answer{200, "application/json",
                               completion(modelAsked(asked), "Paris.", 100, 10)};
  });
  InProcessGateway gateway(configFor(backend,
                                     "  - router:\n      policies:\n        - name: all\n"
                                     "          tiers: [{name: cascade, models: [small, large]}]\n"
                                     "          complexity: [{tier: cascade}]\n"));
  auto reply = gateway.post("/v1/chat/completions", chat("small", "Capital of France?"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.header("x-costgate-model"), "small");
  EXPECT_EQ(reply.header("x-costgate-tokens-in"), "100");
  EXPECT_EQ(reply.header("x-costgate-tokens-out"), "10");
  EXPECT_EQ(reply.header("x-costgate-cost-usd"), "0.000120");
  auto record = gateway.record(0);
  EXPECT_GT(record.upstream_latency.count(), 0) << "the served call's time is measured";
  EXPECT_EQ(record.finish_reason, "stop");
  const std::string metrics = gateway.metrics().serialize();
  EXPECT_NE(metrics.find(R"(costgate_finish_reasons_total{env="none",feature="none",model="small",)"
                         R"(reason="stop",team="none"} 1)"),
            std::string::npos)
      << metrics;

  // Replayed as a stream (the backend answered a stream whole), the answer ends with the cost
  // comment as any stream does.
  auto streamed =
      gateway.post("/v1/chat/completions", chat("small", "Capital of Italy?", {{"stream", true}}));
  ASSERT_EQ(streamed.status, 200);
  EXPECT_NE(streamed.body.find(": costgate usage=backend tokens_in=100 tokens_out=10 "
                               "cost_usd=0.000120\n\ndata: [DONE]"),
            std::string::npos)
      << streamed.body;
  EXPECT_GT(gateway.record(1).time_to_first_token.count(), 0);
}

TEST(Proxy, ARepeatOfAnUnverifiedAnswerGetsTheFinalModelWhoseAnswerTheCacheKeeps) {
  FakeBackend backend([](const FakeBackend::Asked& asked) {
    return FakeBackend::Answer{200, "application/json",
                               completion(modelAsked(asked), "Paris is the capital.", 100, 10)};
  });
  InProcessGateway gateway(configFor(backend,
                                     "  - tagging: {defaults: {feature: faq, team: core}}\n"
                                     "  - semantic_cache: {policies: [{name: faq, mode: exact}]}\n"
                                     "  - router:\n      policies:\n        - name: all\n"
                                     "          tiers: [{name: cascade, models: [small, large]}]\n"
                                     "          complexity: [{tier: cascade}]\n"));
  const std::string question = chat("small", "Capital of France?");
  auto cheap = gateway.post("/v1/chat/completions", question);
  ASSERT_EQ(cheap.status, 200) << cheap.body;
  EXPECT_EQ(cheap.header("x-costgate-model"), "small");
  // The cheap answer, accepted but unverified (store_answers: final_model), is not replayed: the
  // repeat goes to the final model instead.
  auto repeat = gateway.post("/v1/chat/completions", question);
  EXPECT_EQ(repeat.header("x-costgate-cache"), "miss");
  EXPECT_EQ(repeat.header("x-costgate-model"), "large");
  EXPECT_EQ(gateway.record(1).fields.textOf("final_model_for"), "repeat");
  auto hit = gateway.post("/v1/chat/completions", question);
  EXPECT_EQ(hit.header("x-costgate-cache"), "hit-exact");
  EXPECT_NE(hit.body.find("Paris"), std::string::npos);
  // The large model made it: 100 x $10/M + 10 x $20/M, not the small model's price.
  EXPECT_EQ(gateway.record(2).saved, 1'200'000);
  EXPECT_EQ(backend.asked().size(), 2u);
}

TEST(Proxy, TheCacheKeysTheRequestAsCappedSoCappedRepeatsHit) {
  FakeBackend backend([](const FakeBackend::Asked& asked) {
    return FakeBackend::Answer{200, "application/json", completion(modelAsked(asked), "Soon.")};
  });
  InProcessGateway gateway(
      configFor(backend,
                "  - tagging: {defaults: {feature: faq, team: core}}\n"
                "  - token_cap: {policies: [{name: all, max_output_tokens: 600}]}\n"
                "  - semantic_cache: {policies: [{name: faq, mode: exact}]}\n"));
  auto first = gateway.post("/v1/chat/completions",
                            chat("small", "Where is my parcel?", {{"max_tokens", 800}}));
  EXPECT_EQ(first.header("x-costgate-cache"), "miss");
  EXPECT_EQ(json::parse(backend.asked()[0].body)["max_tokens"], 600);
  auto unset = gateway.post("/v1/chat/completions", chat("small", "Where is my parcel?"));
  EXPECT_EQ(unset.header("x-costgate-cache"), "hit-exact");
  auto other = gateway.post("/v1/chat/completions",
                            chat("small", "Where is my parcel?", {{"max_tokens", 700}}));
  EXPECT_EQ(other.header("x-costgate-cache"), "hit-exact");
  auto smaller = gateway.post("/v1/chat/completions",
                              chat("small", "Where is my parcel?", {{"max_tokens", 50}}));
  EXPECT_EQ(smaller.header("x-costgate-cache"), "miss") << "a smaller cap is another request";
}

// The events of a streamed answer: `text` in one content chunk, then (when `finished`) the
// finish chunk, the usage chunk and [DONE].
std::string streamOf(const std::string& model, const std::string& text, bool finished) {
  auto event = [](const json& chunk) { return "data: " + chunk.dump() + "\n\n"; };
  const json base = {{"id", "chatcmpl-1"}, {"object", "chat.completion.chunk"}, {"model", model}};
  json content = base;
  content["choices"] = {{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}}};
  std::string out = event(content);
  if (!finished) return out;
  json finish = base;
  finish["choices"] = {{{"index", 0}, {"delta", json::object()}, {"finish_reason", "stop"}}};
  json usage = base;
  usage["choices"] = json::array();
  usage["usage"] = {{"prompt_tokens", 100}, {"completion_tokens", 10}, {"total_tokens", 110}};
  return out + event(finish) + event(usage) + "data: [DONE]\n\n";
}

TEST(Proxy, AHeldStreamCutOffBeforeItsEndEscalatesAndIsCharged) {
  FakeBackend backend([](const FakeBackend::Asked& asked) {
    const std::string model = modelAsked(asked);
    // The cheap stream ends its body without a finish_reason or [DONE]: cut off.
    return FakeBackend::Answer{200, "text/event-stream",
                               streamOf(model, "Paris is the capital.", model != "small")};
  });
  InProcessGateway gateway(configFor(backend,
                                     "  - router:\n      policies:\n        - name: all\n"
                                     "          tiers: [{name: cascade, models: [small, large]}]\n"
                                     "          complexity: [{tier: cascade}]\n"));
  auto reply =
      gateway.post("/v1/chat/completions", chat("small", "Capital of France?", {{"stream", true}}));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.header("x-costgate-model"), "large");
  EXPECT_EQ(reply.header("x-costgate-escalated"), "small->large: error");
  EXPECT_NE(reply.body.find("data: [DONE]"), std::string::npos);
  auto record = gateway.record(0);
  ASSERT_EQ(record.side_calls.size(), 1u) << "the cut stream is charged for what it used";
  EXPECT_EQ(record.side_calls[0].model, "small");
  EXPECT_GT(record.side_calls[0].usage.prompt_tokens, 0u);
  EXPECT_EQ(record.cost, 1'200'000);  // the large model's 100 x $10/M + 10 x $20/M
}

TEST(Proxy, AFilterThatWaitsForAnEmbeddingIsResumedAndItsCallCharged) {
  FakeBackend backend([](const FakeBackend::Asked& asked) {
    if (asked.path == "/v1/embeddings") {
      return FakeBackend::Answer{
          200, "application/json",
          R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8,0]}],)"
          R"("usage":{"prompt_tokens":7,"total_tokens":7}})"};
    }
    return FakeBackend::Answer{200, "application/json", completion(modelAsked(asked), "Soon.")};
  });
  InProcessGateway gateway(
      configFor(backend,
                "  - tagging: {defaults: {feature: faq, team: core}}\n"
                "  - semantic_cache:\n      policies: [{name: faq, embedding_model: embed}]\n"));
  auto first = gateway.post("/v1/chat/completions", chat("small", "Where is my parcel?"));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-costgate-cache"), "miss");
  ASSERT_EQ(backend.asked().size(), 2u);
  EXPECT_EQ(backend.asked()[0].path, "/v1/embeddings");
  EXPECT_EQ(backend.asked()[1].path, "/v1/chat/completions");
  auto miss = gateway.record(0);
  ASSERT_EQ(miss.side_calls.size(), 1u);
  EXPECT_EQ(miss.side_calls[0].model, "embed");
  EXPECT_EQ(miss.fields.textOf("cache"), "miss");

  auto second = gateway.post("/v1/chat/completions", chat("small", "Where is my parcel?"));
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.header("x-costgate-cache"), "hit-exact");
  EXPECT_EQ(backend.asked().size(), 2u) << "a hit calls no backend, not even the embedder";
  auto hit = gateway.record(1);
  EXPECT_TRUE(hit.spared);
  EXPECT_EQ(hit.cost, 0);
  EXPECT_EQ(hit.saved, 2'000'000);  // what the call would have cost
  EXPECT_EQ(hit.fields.textOf("cache"), "hit-exact");
  EXPECT_EQ(hit.fields.textOf("feature"), "faq");
}

TEST(Proxy, ABudgetRefusalCallsNoBackendAndSaysWhoRefused) {
  FakeBackend backend([](const FakeBackend::Asked& asked) {
    return FakeBackend::Answer{200, "application/json", completion(modelAsked(asked), "Hi.")};
  });
  InProcessGateway gateway(
      configFor(backend, "  - budget:\n      budgets: [{name: tiny, amount_usd: 0.000001}]\n"));
  auto reply = gateway.post("/v1/chat/completions", chat("large", "Hello"));
  EXPECT_EQ(reply.status, 429) << reply.body;
  EXPECT_EQ(json::parse(reply.body)["error"]["code"], "budget_exceeded");
  EXPECT_TRUE(backend.asked().empty());
  EXPECT_EQ(gateway.record(0).fields.textOf("refused_by"), "tiny");
  EXPECT_NE(
      gateway.metrics().serialize().find(R"(costgate_budget_rejections_total{budget="tiny"} 1)"),
      std::string::npos);
}

TEST(Proxy, AStreamIsRelayedWithTheUsageChunkItAskedForHiddenAndItsCostAtTheEnd) {
  FakeBackend backend([](const FakeBackend::Asked& asked) {
    EXPECT_EQ(json::parse(asked.body)["stream_options"]["include_usage"], true);
    const std::string events =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500}}\n\n"
        "data: [DONE]\n\n";
    return FakeBackend::Answer{200, "text/event-stream", events};
  });
  InProcessGateway gateway(configFor(backend));
  auto reply = gateway.post("/v1/chat/completions", chat("small", "Hello", {{"stream", true}}));
  ASSERT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find("\"Hel\""), std::string::npos);
  EXPECT_EQ(reply.body.find("\"usage\""), std::string::npos) << "the client did not ask for it";
  EXPECT_NE(reply.body.find(": costgate usage=backend tokens_in=1000 tokens_out=500 "
                            "cost_usd=0.002000\n\ndata: [DONE]"),
            std::string::npos)
      << reply.body;
  EXPECT_EQ(gateway.record(0).cost, 2'000'000);
}

TEST(Proxy, AnUnknownModelIs404AfterTheChainAndABadBodyIs400BeforeIt) {
  FakeBackend backend([](const FakeBackend::Asked&) { return FakeBackend::Answer{}; });
  InProcessGateway gateway(configFor(backend));
  auto unknown = gateway.post("/v1/chat/completions", chat("nowhere", "Hello"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json::parse(unknown.body)["error"]["code"], "model_not_found");
  auto broken = gateway.post("/v1/chat/completions", R"({"model": "small", "messages": [)");
  EXPECT_EQ(broken.status, 400);
  EXPECT_EQ(json::parse(broken.body)["error"]["code"], "invalid_json");
  EXPECT_TRUE(backend.asked().empty());
}

}  // namespace
}  // namespace costgate::gateway
