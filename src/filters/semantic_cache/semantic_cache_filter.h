#pragma once
// The semantic-cache filter: answers a chat request from an earlier answer instead of calling the
// backend, when the request is an exact repeat (same partition, same question) or, in semantic
// mode, a near-duplicate (embedding similarity above the policy's threshold, and the facts the
// answer depends on agree: cache/facts.h). A wrong hit is worse than a miss: anything the cache
// cannot partition, or that may not be cached, is a bypass.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "costgate/cache/embedder.h"
#include "costgate/cache/in_flight.h"
#include "costgate/cache/replica_locks.h"
#include "costgate/cache/store.h"
#include "costgate/cache/word_vectors.h"
#include "costgate/config/config.h"
#include "costgate/config/load.h"
#include "costgate/pipeline/filter.h"
#include "costgate/pipeline/kept_state.h"
#include "costgate/pipeline/policy.h"
#include "costgate/redis/connection.h"
#include "filters/semantic_cache/cache_stats.h"

namespace costgate::filters::semantic_cache {

enum class Mode { kOff, kExact, kSemantic };

// Which answers a policy stores, by who made them. A cheap model's answer a judge accepted may
// still be wrong (no judge catches a confident mistake); stored, it would be replayed to every
// repeat. kFinalModel stores answers of requests that were not cascaded and of a cascade's last
// model; kJudged also those a judge accepted with at least min_judge_margin; kAny every answer.
enum class StoreAnswers { kFinalModel, kJudged, kAny };

enum class BuiltInEmbedder { kWords, kLexical };

struct CachePolicy {
  std::string name;
  pipeline::PolicyMatch match;
  Mode mode = Mode::kSemantic;
  // The cosine similarity a semantic hit needs; the default is measured for the default embedder
  // (docs/cache.md, "The word-vector embedder").
  float threshold = 0.92f;
  std::chrono::seconds ttl{3600};
  std::size_t max_entries = 10'000;
  std::size_t max_bytes = 64 * 1024 * 1024;
  // Which requests may be cached: a temperature above this is not (an absent one counts as 1, as
  // OpenAI defaults it), nor tools (unless cache_tools), nor n > 1.
  double max_temperature = 1.0;
  bool cache_tools = false;
  // Which answers may be stored: never errors; truncated (finish_reason length) and tool-call
  // answers only when the policy says so.
  bool cache_truncated = false;
  bool cache_tool_calls = false;
  StoreAnswers store_answers = StoreAnswers::kFinalModel;
  double min_judge_margin = 0.3;
  // Identical requests in flight at once share one backend call: the others wait for its answer
  // to be stored, for at most coalesce_wait, then call the backend themselves. With a Redis store
  // the replicas sharing it coalesce too (a lock per question: cache/replica_locks.h).
  bool coalesce = true;
  std::chrono::seconds coalesce_wait{60};
  // The gateway model whose /v1/embeddings embeds questions (its calls are charged to the
  // request); empty: a built-in embedder, `embedder`.
  std::string embedding_model;
  // The built-in embedder: word vectors with lexical features (cache/word_vectors.h), read from
  // `word_vectors` (default: next to the tokenizer's data), or the lexical one alone. Without the
  // word vectors' file, the lexical one.
  BuiltInEmbedder embedder = BuiltInEmbedder::kWords;
  std::string word_vectors;
  // Where the entries live: this process's memory (none), or Redis, shared by every replica
  // (cache/redis_store.h).
  std::optional<redis::Address> redis;
};

struct CacheConfig {
  std::vector<CachePolicy> policies;
  // Every model's price (config::FilterSpec::models): a hit saves what the model that made the
  // answer charges.
  std::map<std::string, std::optional<pricing::Price>> prices;
};

std::variant<CacheConfig, config::ConfigError> parseCacheConfig(const config::FilterSpec& spec);

// One request's way through the cache (semantic_cache_filter.cpp).
struct CacheLookup;

class SemanticCacheFilter : public pipeline::Filter {
 public:
  // Each policy's store (and its requests in flight) comes from `kept` when a previous
  // configuration left one built the same way (the policy's name, store, embedder and limits), so
  // that a reload keeps the entries (null: new stores). Its stats are declared in `metrics`.
  SemanticCacheFilter(CacheConfig config, metrics::Metrics& metrics,
                      pipeline::KeptState* kept = nullptr);
  std::string_view name() const override { return "semantic_cache"; }
  // Looks the request up; a hit replies (a whole completion, or its replay as a stream) with
  // x-costgate-cache: hit-exact or hit-semantic, and sets ctx.spared with the saving. A
  // semantic lookup with a backend embedder waits for the embedding; an identical request in
  // flight is waited for once.
  pipeline::FilterStatus onRequest(pipeline::RequestContext& ctx) const override;
  // Store a miss's answer: a whole 200 answer, or a stream once its [DONE] comes.
  void onResponseBody(pipeline::RequestContext& ctx, int status,
                      std::string_view body) const override;
  bool observesResponseBody() const override { return true; }
  void onChunk(pipeline::RequestContext& ctx, pipeline::StreamEvent& event) const override;
  // Wakes the requests waiting for this one's answer, if it led and has not yet; counts the
  // request in the cache's stats and log fields.
  void onComplete(pipeline::RequestContext& ctx) const override;

 private:
  struct PolicyStore {
    const CachePolicy* policy;
    std::shared_ptr<cache::Store> store;
    std::shared_ptr<cache::InFlight> in_flight;
  };
  const PolicyStore& storeOf(const CachePolicy& policy) const;
  // The steps of onRequest, each resumed after what the one before waited for.
  pipeline::FilterStatus search(pipeline::RequestContext& ctx, CacheLookup& lookup) const;
  pipeline::FilterStatus coalesce(pipeline::RequestContext& ctx, CacheLookup& lookup) const;
  pipeline::FilterStatus afterCoalescing(pipeline::RequestContext& ctx, CacheLookup& lookup) const;
  // Coalescing across replicas (a Redis store): the leader here takes the key's lock, or waits for
  // the replica that holds it (replica_locks.h).
  pipeline::FilterStatus lockAcrossReplicas(pipeline::RequestContext& ctx,
                                            CacheLookup& lookup) const;
  pipeline::FilterStatus afterLockTry(pipeline::RequestContext& ctx, CacheLookup& lookup,
                                      cache::LockTake take) const;
  pipeline::FilterStatus waitForReplica(pipeline::RequestContext& ctx, CacheLookup& lookup) const;
  pipeline::FilterStatus servedByReplica(pipeline::RequestContext& ctx, CacheLookup& lookup,
                                         cache::Hit hit) const;
  // The request goes to the backend, its answer to be stored.
  pipeline::FilterStatus callBackend(pipeline::RequestContext& ctx, CacheLookup& lookup) const;
  // The request's entry, or a near one, if it has come since the first lookup.
  std::optional<cache::Hit> lookAgain(pipeline::RequestContext& ctx, CacheLookup& lookup) const;
  pipeline::FilterStatus answer(pipeline::RequestContext& ctx, CacheLookup& lookup,
                                cache::Hit hit) const;
  pipeline::FilterStatus missed(pipeline::RequestContext& ctx, CacheLookup& lookup) const;
  // The lookup's result so far, with the store's size, for onComplete.
  void finish(pipeline::RequestContext& ctx, CacheLookup& lookup, std::string_view result) const;

  // Loads the word vectors `policy` uses, once per file (warns when they cannot be).
  void loadWordVectors(const CachePolicy& policy, pipeline::KeptState* kept);
  // The built-in embedder a policy uses (without an embedding_model), and its name in the store's
  // keys: entries of another embedder are never compared.
  const cache::Embedder& embedderOf(const CachePolicy& policy) const;
  const cache::WordVectorEmbedder* wordEmbedderOf(const CachePolicy& policy) const;
  std::string embedderName(const CachePolicy& policy) const;

  CacheConfig config_;
  CacheStats stats_;
  std::vector<PolicyStore> stores_;  // one per policy: each has its own limits
  cache::LexicalEmbedder lexical_;
  // By the path of their file; a policy whose file could not be loaded has none here.
  std::map<std::string, std::shared_ptr<const cache::WordVectorEmbedder>> word_embedders_;
};

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeSemanticCacheFilter(
    const config::FilterSpec& spec, pipeline::FilterEnvironment& environment);

}  // namespace costgate::filters::semantic_cache
