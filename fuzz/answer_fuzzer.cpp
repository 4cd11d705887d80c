// A backend's whole answer, arbitrary bytes, through what the gateway does with it: a cascade's
// judge (router::judgeAnswer via Cascade::judge), openai::usageOf for the bill, the filters'
// onResponseBody (the semantic cache stores a 200 answer), then the same question
// asked again, plainly and as a stream, so the stored answer is served back from the cache (a
// stream replayed by cache::replayAsStream).
//
// The chain is the one in chain_setup.h, built anew for each input. The questions are fixed:
// each is tagged for one cache policy (exact or semantic) and the support one is cascaded.
//
// Checked: a judge's score is between 0 and 1; a cache hit (ctx.spared, and x-costgate-cache:
// hit-exact or hit-semantic on the reply, as the access log's "cache" field says) is a 200 whose
// body is the stored answer, or for a stream, events whose data is JSON or [DONE]; nothing throws.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "chain_setup.h"
#include "costgate/jsonview/document.h"
#include "costgate/openai/sse.h"
#include "costgate/openai/usage.h"
#include "costgate/pipeline/chain.h"
#include "costgate/pipeline/request_context.h"
#include "fuzz_support.h"

namespace {

using namespace costgate;
using nlohmann::json;

// Questions the chain lets through to the backend: each cache policy, and the router's cascade.
const char* const kQuestions[] = {
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Is there a store in Lyon?"}],)"
    R"("metadata":{"feature":"search"},"temperature":0})",
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"How do I reset my password?"}],)"
    R"("metadata":{"feature":"faq"}})",
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Where is order 1234?"}],)"
    R"("metadata":{"feature":"support"},"logprobs":true})",
};

struct Asked {
  pipeline::FilterStatus decision;
  pipeline::RequestContext ctx;
};

// One request through the chain's request step, as Gateway::proxy() runs it.
void ask(const pipeline::Chain& chain, const jsonview::Value& root, bool stream, Asked& asked) {
  pipeline::RequestContext& ctx = asked.ctx;
  ctx.route = pipeline::Route::kChatCompletions;
  ctx.request_index = root;
  ctx.model = "gpt-4o-mini";
  ctx.stream = stream;
  const fuzz::ModelFacts& model = fuzz::setup().models.find(ctx.model)->second;
  ctx.encoding = model.encoding;
  ctx.price = model.price;
  ctx.backend_model = model.backend_model;
  ctx.headers = {{"content-type", "application/json"}};
  std::size_t position = 0;
  asked.decision = chain.onRequest(ctx, position);
  for (int waits = 0; asked.decision == pipeline::FilterStatus::kWait && ctx.awaited && waits < 4;
       ++waits) {
    // Nothing else runs: a signal waited for times out, an embedding call fails.
    const pipeline::Awaited awaited = std::move(*ctx.awaited);
    ctx.awaited.reset();
    if (std::holds_alternative<pipeline::EmbeddingCall>(awaited.what)) {
      ctx.embedding = pipeline::Embedding{};
    }
    asked.decision = chain.resume(ctx, position, awaited.resume);
  }
}

// The x-costgate-cache header of a local reply, or empty.
std::string_view cacheHeader(const pipeline::LocalReply& reply) {
  for (const auto& [name, value] : reply.headers) {
    if (name == "x-costgate-cache") return value;
  }
  return {};
}

void checkHit(const pipeline::RequestContext& ctx, std::string_view answer) {
  const pipeline::LocalReply& reply = *ctx.local_reply;
  FUZZ_CHECK(reply.status == 200 || reply.status >= 400, "status " + std::to_string(reply.status));
  if (reply.status != 200) return;
  if (!reply.content_type.starts_with("text/event-stream")) {
    FUZZ_CHECK(reply.body == answer,
               "a hit that is not the stored answer: " + fuzz::excerpt(reply.body));
    return;
  }
  openai::SseParser parser;
  for (const auto& event : parser.feed(reply.body)) {
    FUZZ_CHECK(event.data == "[DONE]" || json::accept(event.data),
               "a replayed event: " + fuzz::excerpt(event.data));
  }
  FUZZ_CHECK(!parser.finish().has_value(), "a replay that ends mid-event");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::setup();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string answer(reinterpret_cast<const char*>(data), size);
  if (auto document = jsonview::Document::parse(answer)) {
    (void)openai::usageOf(document->root());
  }
  pipeline::KeptState kept;
  const pipeline::Chain chain = fuzz::newChain(kept);
  for (const char* question : kQuestions) {
    const std::string body = question;
    auto document = jsonview::Document::parse(body);
    const jsonview::Value root = document->root();

    Asked first;
    ask(chain, root, false, first);
    if (first.decision != pipeline::FilterStatus::kContinue) {
      chain.onComplete(first.ctx);
      continue;
    }
    pipeline::RequestContext& ctx = first.ctx;
    if (ctx.cascade) {
      pipeline::Judgement verdict = ctx.cascade->judge(answer);
      FUZZ_CHECK(verdict.score >= 0 && verdict.score <= 1,
                 "judged " + std::to_string(verdict.score));
    }
    ctx.served_model = ctx.model;
    ctx.upstream_status = 200;
    if (chain.observesResponseBody()) chain.onResponseBody(ctx, 200, answer);
    ctx.charged.cost = 100;
    chain.onComplete(ctx);

    for (bool stream : {false, true}) {
      Asked again;
      ask(chain, root, stream, again);
      std::string hit;
      if (again.decision == pipeline::FilterStatus::kRespond && again.ctx.spared) {
        FUZZ_CHECK(again.ctx.local_reply.has_value(), "a hit without a reply");
        hit = cacheHeader(*again.ctx.local_reply);
        FUZZ_CHECK(hit == "hit-exact" || hit == "hit-semantic", "a spared call's reply: " + hit);
        checkHit(again.ctx, answer);
      }
      chain.onComplete(again.ctx);
      if (!hit.empty()) {
        FUZZ_CHECK(again.ctx.log.textOf("cache") == hit,
                   "a hit logged as " + std::string(again.ctx.log.textOf("cache")));
      }
    }
  }
  return 0;
}
