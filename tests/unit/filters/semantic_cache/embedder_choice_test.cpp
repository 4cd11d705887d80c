// Which built-in embedder a semantic_cache policy uses (`embedder`, `word_vectors`), what happens
// without the word vectors' file, and that entries of one embedder never answer another's.

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../support/filter_settings.h"
#include "../../support/request.h"
#include "../../support/test_metrics.h"
#include "cache_requests.h"
#include "costgate/cache/word_vectors.h"
#include "filters/semantic_cache/semantic_cache_filter.h"

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

// The x-costgate-cache the request was answered with, after its answer (if a miss) was stored.
std::string ask(const SemanticCacheFilter& filter, const std::string& question) {
  Request request(chat(question), pipeline::Route::kChatCompletions, nullptr, kTenant);
  const bool answered = filter.onRequest(request.ctx) == FilterStatus::kRespond;
  if (!answered) filter.onResponseBody(request.ctx, 200, answer("An answer."));
  filter.onComplete(request.ctx);
  const auto& headers =
      request.ctx.local_reply ? request.ctx.local_reply->headers : request.ctx.response_headers;
  for (const auto& [name, value] : headers) {
    if (name == "x-costgate-cache") return value;
  }
  return "";
}

TEST(SemanticCacheEmbedder, WordsByDefaultLexicalOnRequestAndAnythingElseIsAnError) {
  CacheConfig config = configOk(R"(filters:
  - semantic_cache:
      policies:
        - name: a
        - name: b
          embedder: lexical
        - name: c
          word_vectors: /srv/vectors.bin
)");
  ASSERT_EQ(config.policies.size(), 3u);
  EXPECT_EQ(config.policies[0].embedder, BuiltInEmbedder::kWords);
  EXPECT_EQ(config.policies[0].word_vectors, cache::defaultWordVectorsPath());
  EXPECT_EQ(config.policies[1].embedder, BuiltInEmbedder::kLexical);
  EXPECT_EQ(config.policies[2].word_vectors, "/srv/vectors.bin");

  auto error = test_data::configError(parseCacheConfig, "semantic_cache", R"(filters:
  - semantic_cache:
      policies:
        - name: faq
          embedder: glove
)");
  test_data::expectErrorAt(error, "semantic_cache", 5, 21, "words");
}

TEST(SemanticCacheEmbedder, WithoutTheWordVectorsFileThePolicyEmbedsLexically) {
  pipeline::KeptState kept;
  auto filter = filterWith(
      "{name: faq, coalesce: false, threshold: 0.9, word_vectors: /nonexistent/words.bin}", &kept);
  EXPECT_EQ(ask(*filter, "How do I reset my password?"), "miss");
  EXPECT_EQ(ask(*filter, "How do I reset my password ?"), "hit-semantic");
  // The same entries as a policy that asked for the lexical embedder: both name it lexical256.
  auto lexical =
      filterWith("{name: faq, coalesce: false, threshold: 0.9, embedder: lexical}", &kept);
  EXPECT_EQ(ask(*lexical, "How do I reset my password ?"), "hit-semantic");
}

TEST(SemanticCacheEmbedder, EntriesOfAnotherEmbedderAreNeverCompared) {
  if (!std::holds_alternative<cache::WordVectors>(
          cache::WordVectors::load(cache::defaultWordVectorsPath()))) {
    GTEST_SKIP() << "no " << cache::defaultWordVectorsPath();
  }
  pipeline::KeptState kept;
  auto lexical = filterWith("{name: faq, coalesce: false, embedder: lexical}", &kept);
  EXPECT_EQ(ask(*lexical, "How do I reset my password?"), "miss");
  EXPECT_EQ(ask(*lexical, "How do I reset my password ?"), "hit-semantic");
  // Reloaded with the word-vector embedder: another store, so the lexical entry is not found.
  auto words = filterWith("{name: faq, coalesce: false}", &kept);
  EXPECT_EQ(ask(*words, "How do I reset my password ?"), "miss");
  EXPECT_EQ(ask(*words, "how do i reset my password"), "hit-semantic");
  // Reloaded again as it was: the lexical entries are still there.
  auto lexical_again = filterWith("{name: faq, coalesce: false, embedder: lexical}", &kept);
  EXPECT_EQ(ask(*lexical_again, "How do I reset my password ?"), "hit-semantic");
}

}  // namespace
}  // namespace costgate::filters::semantic_cache
