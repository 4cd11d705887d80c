// A request body, arbitrary bytes, through what Gateway::proxy() does before and around the
// backend call, on each of the three routes: the JSON index (jsonview::Document),
// openai::validateRequest, a pipeline::RequestContext filled as proxy() fills it, and every
// filter's onRequest in a chain with all six filters (tagging, prompt_pruning, token_cap,
// semantic_cache with a memory store, router, budget with the memory ledger), then the body that
// would be forwarded, a simulated answer through the filters' response hooks (onResponseBody,
// or onChunk for a stream), and onComplete. The same request is then sent again, so
// the cache's hits and the budget's later states are reached too.
//
// A filter that waits is resumed through its continuation (Chain::resume), as proxy() does: a
// signal waited for never fires, and an embedding call fails.
//
// Each input gets a chain of its own (built from the configuration in chain_setup.h), so what one
// input stored or spent cannot change how another runs.
//
// Checked: a body the index accepts is one nlohmann::json parses too (parts of it are re-parsed); a
// refusal or a filter's local reply is a JSON error with a 4xx/5xx status; the forwarded body is a
// JSON object that still passes validation; the member edits are valid JSON; a cascade's judge
// scores between 0 and 1; nothing throws.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "chain_setup.h"
#include "costgate/cache/completion_stream.h"
#include "costgate/config/load.h"
#include "costgate/jsonview/document.h"
#include "costgate/jsonview/splice.h"
#include "costgate/openai/request_validation.h"
#include "costgate/openai/sse.h"
#include "costgate/openai/usage.h"
#include "costgate/pipeline/chain.h"
#include "costgate/pipeline/kept_state.h"
#include "costgate/pipeline/request_context.h"
#include "fuzz_support.h"

namespace {

using namespace costgate;
using nlohmann::json;

// Headers as a client sends them; the tags that pick policies mostly come from the body's
// metadata, which the fuzzer controls.
const std::vector<std::pair<std::string_view, std::string_view>> kHeaders = {
    {"content-type", "application/json"}, {"x-costgate-env", "prod"}, {"user-agent", "fuzz"}};

// The answer the backend gives: a chat completion, or what the route returns.
std::string answerFor(pipeline::Route route, int attempt) {
  if (route == pipeline::Route::kEmbeddings) {
    return R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2]}],)"
           R"("model":"text-embedding-3-small","usage":{"prompt_tokens":5,"total_tokens":5}})";
  }
  if (route == pipeline::Route::kCompletions) {
    return R"({"id":"cmpl-1","object":"text_completion","created":1,"model":"gpt-4o-mini",)"
           R"("choices":[{"text":" done","index":0,"logprobs":null,"finish_reason":"stop"}],)"
           R"("usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}})";
  }
  json message = {{"role", "assistant"},
                  {"content", attempt == 0 ? "Your order ships in 3 days, see https://x.test/a."
                                           : "I'm not sure. I can't help with that."}};
  return json{{"id", "chatcmpl-1"},
              {"object", "chat.completion"},
              {"created", 1700000000},
              {"model", "gpt-4o-mini"},
              {"choices",
               {{{"index", 0},
                 {"message", message},
                 {"logprobs", nullptr},
                 {"finish_reason", attempt == 0 ? "stop" : "length"}}}},
              {"usage", {{"prompt_tokens", 40}, {"completion_tokens", 12}, {"total_tokens", 52}}}}
      .dump();
}

void checkErrorBody(int status, std::string_view body, std::string_view what) {
  FUZZ_CHECK(status >= 400 && status <= 599, std::string(what) + " " + std::to_string(status));
  auto document = jsonview::Document::parse(body);
  FUZZ_CHECK(document && document->root().isObject() && document->root().find("error"),
             std::string(what) + " body: " + fuzz::excerpt(body));
}

// What gateway::forwardedBody() sends the backend (src/gateway/backend_request.cpp; the fuzz
// targets link only costgate_core, so its three lines are repeated here).
std::string forwardedBody(const pipeline::RequestContext& ctx, const jsonview::Value& filtered,
                          const std::string& client_body) {
  for (const auto& [key, value] : ctx.member_edits) {
    FUZZ_CHECK(json::accept(value), "edit of " + key + " is not JSON: " + fuzz::excerpt(value));
  }
  if (!ctx.member_edits.empty()) return jsonview::withMembers(filtered, ctx.member_edits);
  if (!ctx.replaced_body.empty()) return ctx.replaced_body;
  return client_body;
}

// One request through the chain, as proxy() runs it, with a simulated answer.
void serve(const pipeline::Chain& chain, pipeline::Route route, const std::string& body,
           const jsonview::Value& root, const openai::RequestBasics& basics, int attempt) {
  const fuzz::Setup& facts = fuzz::setup();
  pipeline::RequestContext ctx;
  ctx.request_id = "fuzz-" + std::to_string(attempt);
  ctx.route = route;
  ctx.received_at = pipeline::RequestContext::Clock::now();
  ctx.model = basics.model;
  ctx.stream = basics.stream;
  ctx.request_index = root;
  if (auto model = facts.models.find(ctx.model); model != facts.models.end()) {
    ctx.encoding = model->second.encoding;
    ctx.price = model->second.price;
    ctx.backend_model = model->second.backend_model;
  }
  ctx.headers.assign(kHeaders.begin(), kHeaders.end());

  std::size_t position = 0;
  pipeline::FilterStatus decision = chain.onRequest(ctx, position);
  for (int waits = 0; decision == pipeline::FilterStatus::kWait && ctx.awaited; ++waits) {
    FUZZ_CHECK(waits < 8, "a filter keeps waiting");
    // Nothing else runs here: a signal waited for never fires (the wait times out), and an
    // embedding call fails, as when the embedding backend is down.
    const pipeline::Awaited awaited = std::move(*ctx.awaited);
    ctx.awaited.reset();
    if (std::holds_alternative<pipeline::EmbeddingCall>(awaited.what)) {
      ctx.embedding = pipeline::Embedding{};
    }
    FUZZ_CHECK(static_cast<bool>(awaited.resume), "a wait without a continuation");
    decision = chain.resume(ctx, position, awaited.resume);
  }
  FUZZ_CHECK(decision != pipeline::FilterStatus::kWait, "Wait without anything to wait for");
  jsonview::Value filtered = *ctx.request_index;

  if (decision == pipeline::FilterStatus::kRespond) {
    FUZZ_CHECK(ctx.local_reply.has_value(), "Respond without a reply");
    const pipeline::LocalReply& reply = *ctx.local_reply;
    if (reply.status >= 400) {
      checkErrorBody(reply.status, reply.body, "a filter's refusal");
    } else {
      FUZZ_CHECK(reply.status == 200, "a local reply " + std::to_string(reply.status));
      if (reply.content_type == "application/json") {
        FUZZ_CHECK(json::accept(reply.body), "a local answer: " + fuzz::excerpt(reply.body));
      }
    }
    chain.onComplete(ctx);
    return;
  }

  // The model after the chain, as proxy() reads it.
  std::string model = ctx.model;
  if (const std::string* edited = ctx.editedMember("model")) {
    json name = json::parse(*edited, nullptr, false);
    FUZZ_CHECK(name.is_string(), "model edited to " + *edited);
    model = name.get<std::string>();
  }
  std::string forwarded = forwardedBody(ctx, filtered, body);
  auto sent = jsonview::Document::parse(forwarded);
  FUZZ_CHECK(sent && sent->root().isObject(), "forwarded: " + fuzz::excerpt(forwarded, 1000));
  if (auto problem = openai::validateRequest(route, sent->root())) {
    fuzz::fail(__FILE__, __LINE__, "the filters made a valid request invalid",
               problem->body() + "\nsent: " + fuzz::excerpt(body, 1000) +
                   "\nforwarded: " + fuzz::excerpt(forwarded, 1000));
  }

  if (ctx.cascade) {
    FUZZ_CHECK(!ctx.cascade->models.empty(), "an empty cascade");
    for (int which = 0; which < 2; ++which) {
      pipeline::Judgement verdict = ctx.cascade->judge(answerFor(route, which));
      FUZZ_CHECK(verdict.score >= 0 && verdict.score <= 1,
                 "judged " + std::to_string(verdict.score));
    }
    model = ctx.cascade->models.back();
  }
  ctx.served_model = model;
  ctx.backend = "mock";
  ctx.upstream_status = 200;
  std::string answer = answerFor(route, attempt);
  if (ctx.stream && route == pipeline::Route::kChatCompletions) {
    std::optional<std::string> events = cache::replayAsStream(answer, true);
    FUZZ_CHECK(events.has_value(), "the answer does not replay");
    openai::SseParser parser;
    for (auto& sse : parser.feed(*events)) {
      pipeline::StreamEvent event{std::move(sse)};
      chain.onChunk(ctx, event);
    }
  } else {
    if (chain.observesResponseBody()) chain.onResponseBody(ctx, 200, answer);
  }
  auto document = jsonview::Document::parse(answer);
  auto usage = openai::usageOf(document->root());
  ctx.charged.tokens =
      usage ? static_cast<std::int64_t>(usage->prompt_tokens + usage->completion_tokens) : 0;
  ctx.charged.cost = 4'000;  // 0.4 of the daily budget: the next request sees it
  chain.onComplete(ctx);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::setup();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto document = jsonview::Document::parse(body);
  if (!document) return 0;
  // The gateway and the filters read parts of a body the index accepted with nlohmann::json,
  // some with a parse that throws (gateway::streamOptionsWithUsage).
  FUZZ_CHECK(json::accept(body),
             "the index accepts what nlohmann::json refuses: " + fuzz::excerpt(body, 1000));
  const jsonview::Value root = document->root();

  pipeline::KeptState kept;
  const pipeline::Chain chain = fuzz::newChain(kept);
  for (pipeline::Route route : {pipeline::Route::kChatCompletions, pipeline::Route::kCompletions,
                                pipeline::Route::kEmbeddings}) {
    openai::RequestBasics basics;
    if (auto problem = openai::validateRequest(route, root, &basics)) {
      checkErrorBody(problem->status, problem->body(), "a refusal");
      continue;
    }
    if (basics.stream) {
      (void)openai::asksForUsage(root);
      (void)openai::promptCharacters(root);
    }
    for (int attempt = 0; attempt < 2; ++attempt) serve(chain, route, body, root, basics, attempt);
  }
  return 0;
}
