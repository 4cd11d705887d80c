// The semantic_cache filter's settings:
//
//   - semantic_cache:
//       policies:                 # the first whose `match` applies is used (pipeline/policy.h)
//         - name: faq
//           match: {feature: [faq]}
//           mode: semantic        # off, exact (repeats only) or semantic (near-duplicates too)
//           threshold: 0.92       # cosine similarity a semantic hit needs (0 to 1)
//           ttl_seconds: 3600
//           max_entries: 10000    # least recently used entries go first past either limit
//           max_bytes: 64MiB
//           max_temperature: 1.0  # requests sampled hotter are not cached (absent = 1)
//           cache_tools: false    # requests with tools
//           cache_truncated: false    # answers cut by max_tokens (finish_reason length)
//           cache_tool_calls: false   # answers that call tools
//           store_answers: final_model  # or judged (also cheap answers a cascade's judge
//                                 # accepted with min_judge_margin), or any
//           min_judge_margin: 0.3 # judged: how far above its threshold the verdict must be
//           coalesce: true        # identical requests in flight share one backend call
//                                 # (across replicas too with a Redis store)
//           coalesce_wait_seconds: 60 # how long the others wait for it at most
//           embedding_model: ""   # a configured model to embed with (/v1/embeddings);
//                                 # empty: the built-in embedder below
//           embedder: words       # word vectors + lexical features, or lexical (alone);
//                                 # words falls back to lexical when its file is missing
//           word_vectors: PATH    # default: <tokenizer data>/../word-vectors/words-100d.bin
//           store: memory         # or redis://[:password@]host[:port][/db], shared by replicas

#include "filters/semantic_cache/semantic_cache_filter.h"

#include <algorithm>
#include <atomic>
#include <chrono>

#include <spdlog/spdlog.h>

#include "costgate/cache/completion_stream.h"
#include "costgate/cache/facts.h"
#include "costgate/cache/redis_store.h"
#include "costgate/cache/request_key.h"
#include "costgate/config/yaml_reader.h"
#include "costgate/jsonview/document.h"
#include "costgate/openai/usage.h"
#include "costgate/pipeline/filter_settings.h"
#include "costgate/text/ascii_case.h"
#include "filters/semantic_cache/answer_worth_storing.h"

namespace costgate::filters::semantic_cache {
namespace {

constexpr std::string_view kPolicyKeys[] = {"name",
                                            "match",
                                            "mode",
                                            "threshold",
                                            "ttl_seconds",
                                            "max_entries",
                                            "max_bytes",
                                            "max_temperature",
                                            "cache_tools",
                                            "cache_truncated",
                                            "cache_tool_calls",
                                            "store_answers",
                                            "min_judge_margin",
                                            "coalesce",
                                            "coalesce_wait_seconds",
                                            "embedding_model",
                                            "embedder",
                                            "word_vectors",
                                            "store"};
constexpr std::string_view kModes[] = {"off", "exact", "semantic"};
constexpr std::string_view kStoreAnswers[] = {"final_model", "judged", "any"};
constexpr std::string_view kEmbedders[] = {"words", "lexical"};
constexpr std::uint64_t kMaxTtlSeconds = 365ull * 24 * 3600;
constexpr std::uint64_t kMaxEntries = 100'000'000;
// Redis answers a lock in well under a millisecond; a second without an answer is a Redis in
// trouble, and the request calls the backend rather than wait on it.
constexpr std::chrono::milliseconds kLockReplyWait{1000};
// How often a request waiting for another replica's call checks that the lock is still held: a
// replica that dies holding it stops renewing it, and it expires (RedisStore::kLockTtl).
constexpr std::chrono::milliseconds kLockPoll{250};

}  // namespace

struct CacheControl {
  bool no_cache = false;  // do not answer from the cache (the answer is still stored)
  bool no_store = false;  // do not store the answer
};

// What a request keeps between the filter's steps and hooks: its key and question, what the
// lookup found, and what to store once the answer is known.
struct CacheLookup {
  const CachePolicy* policy = nullptr;
  cache::Store* store = nullptr;
  cache::InFlight* in_flight = nullptr;
  CacheControl control;
  std::optional<cache::RequestKey> key;
  bool semantic = false;  // a near-duplicate may answer it
  cache::Facts facts;
  std::optional<cache::Vector> vector;
  router::Expected expected;  // what the request asked the answer to be (JSON)
  CacheOutcome outcome;
  std::optional<cache::Entry> entry;  // set on a miss that may be stored
  cache::StreamAssembler stream;
  bool followed = false;  // waited for an identical request in flight
  // ...and again after that request's answer was one the policy does not trust: the next one on
  // its way is going to the final model, whose answer will do for all.
  bool followed_again = false;
  // Set while this request leads its key's in-flight calls.
  std::string leading_key;
  std::shared_ptr<pipeline::Signal> leading;
  // Coalescing across replicas: the policy's shared store's locks (null: none), whether this
  // request may hold its key's lock (it asked, and was not told another replica has it), whether
  // it waited for another replica's call, and until when it may.
  cache::ReplicaLocks* locks = nullptr;
  bool may_hold_lock = false;
  bool waited_on_replica = false;
  std::string_view replica_wait;  // how that wait ended (CacheStats::recordReplicaWait)
  std::chrono::steady_clock::time_point replica_wait_until{};
};

namespace {

// A lock's answer, which may come (on a store thread) after the request stopped waiting for it.
struct LockReply {
  std::shared_ptr<pipeline::Signal> answered = std::make_shared<pipeline::Signal>();
  std::atomic<cache::LockTake> take{cache::LockTake::kFailed};
};

// Wakes the requests that wait for this one's answer, here and (giving the key's lock back, after
// the answer's put) on the other replicas.
void stopLeading(CacheLookup& pending) {
  if (!pending.leading) return;
  if (pending.may_hold_lock) pending.locks->unlock(pending.leading_key);
  pending.may_hold_lock = false;
  pending.in_flight->finish(pending.leading_key, pending.leading);
  pending.leading.reset();
}

CacheControl cacheControlOf(const pipeline::RequestContext& ctx) {
  CacheControl control;
  for (const auto& [name, value] : ctx.headers) {
    if (name != "cache-control") continue;
    const std::string lower = text::lowerAscii(value);
    control.no_cache = control.no_cache || lower.find("no-cache") != std::string::npos;
    control.no_store = control.no_store || lower.find("no-store") != std::string::npos;
  }
  return control;
}

// Why this request may not be cached under `policy`, or nullopt.
std::optional<std::string_view> uncacheableRequest(const jsonview::Value& body,
                                                   const CachePolicy& policy) {
  double temperature = 1.0;
  if (auto value = body.find("temperature"); value && value->isNumber()) {
    temperature = value->number();
  }
  if (temperature > policy.max_temperature) return "temperature above the policy's bound";
  if (auto n = body.find("n"); n && n->isNumber() && n->number() > 1) return "n > 1";
  for (const char* key : {"tools", "functions"}) {
    if (auto tools = body.find(key); tools && tools->isArray() && tools->size() > 0) {
      if (!policy.cache_tools) return "the request has tools";
    }
  }
  return std::nullopt;
}

// An answer the policy does not trust: nothing is stored, and the requests waiting for it to be
// stored go on to the backend at once.
void refuseToStore(CacheLookup& pending) {
  pending.entry.reset();
  stopLeading(pending);
}

// Stores a miss's answer, if it may be stored. It runs before the answer reaches the client
// (the whole body, or the stream's [DONE]): a client that repeats its question at once must
// find it.
void storeAnswer(CacheLookup& pending, std::string answer, const std::string& model, bool trusted) {
  if (auto why = whyNotStored(answer, pending.expected, *pending.policy)) {
    pending.outcome.not_stored = *why;
    return refuseToStore(pending);
  }
  // An unverified answer never replaces a verified one (an identical request answered since).
  if (!trusted) {
    auto existing = pending.store->findExact(pending.entry->key.exact, cache::Clock::now());
    if (existing && existing->answer.trusted) return refuseToStore(pending);
  }
  auto document = jsonview::Document::parse(answer);
  if (!document) return;
  auto usage = openai::usageOf(document->root());
  pending.entry->answer = {std::move(answer), usage.value_or(pricing::Usage{}), model, trusted};
  pending.store->put(std::move(*pending.entry));
  pending.entry.reset();
  stopLeading(pending);
}

// Whether `policy` trusts the answer ctx is being served enough to replay it (StoreAnswers).
bool trusted(const pipeline::RequestContext& ctx, const CachePolicy& policy) {
  if (policy.store_answers == StoreAnswers::kAny) return true;
  if (!ctx.downgraded.empty()) return false;
  if (!ctx.cascade) return true;
  const pipeline::Cascade& cascade = *ctx.cascade;
  if (!cascade.served_index) return false;
  if (*cascade.served_index + 1 >= cascade.models.size()) return true;
  return policy.store_answers == StoreAnswers::kJudged && cascade.served_verdict &&
         cascade.served_verdict->accept &&
         cascade.served_verdict->margin >= policy.min_judge_margin;
}

// A hit the policy trusts, or none. An answer it did not trust marks the question as asked
// before: the request asks for the final model (whose answer will be trusted and answer the
// repeats after it) instead of getting the same unverified answer again.
std::optional<cache::Hit> trustedOnly(pipeline::RequestContext& ctx,
                                      std::optional<cache::Hit> hit) {
  if (!hit || hit->answer.trusted) return hit;
  ctx.wants_final_model = "repeat";
  return std::nullopt;
}

double secondsSince(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

pipeline::LocalReply hitReply(const pipeline::RequestContext& ctx, const cache::Hit& hit,
                              std::string_view result) {
  pipeline::LocalReply reply{200, "application/json", hit.answer.body, {}};
  if (ctx.stream) {
    bool include_usage = ctx.request_index && openai::asksForUsage(*ctx.request_index);
    if (auto events = cache::replayAsStream(hit.answer.body, include_usage)) {
      reply.content_type = "text/event-stream; charset=utf-8";
      reply.body = std::move(*events);
      reply.headers.emplace_back("cache-control", "no-cache");
    }
  }
  reply.headers.emplace_back("x-costgate-cache", std::string(result));
  reply.headers.emplace_back("x-costgate-model", ctx.model);
  return reply;
}

}  // namespace

std::variant<CacheConfig, config::ConfigError> parseCacheConfig(const config::FilterSpec& spec) {
  auto parsed = pipeline::readPolicies<CacheConfig>(
      spec, kPolicyKeys,
      [&spec](config::SettingsReader&, const config::Section& section, CachePolicy& policy) {
        std::string mode = "semantic";
        section.choice("mode", kModes, &mode);
        policy.mode = mode == "off" ? Mode::kOff : mode == "exact" ? Mode::kExact : Mode::kSemantic;
        double threshold = policy.threshold;
        section.number("threshold", 0, 1, &threshold);
        policy.threshold = static_cast<float>(threshold);
        std::uint64_t ttl = static_cast<std::uint64_t>(policy.ttl.count());
        section.integer("ttl_seconds", 1, kMaxTtlSeconds, &ttl);
        policy.ttl = std::chrono::seconds(ttl);
        section.integer("max_entries", 1, kMaxEntries, &policy.max_entries);
        section.byteSize("max_bytes", &policy.max_bytes);
        section.number("max_temperature", 0, 2, &policy.max_temperature);
        section.boolean("cache_tools", &policy.cache_tools);
        section.boolean("cache_truncated", &policy.cache_truncated);
        section.boolean("cache_tool_calls", &policy.cache_tool_calls);
        std::string store_answers = "final_model";
        section.choice("store_answers", kStoreAnswers, &store_answers);
        policy.store_answers = store_answers == "any"      ? StoreAnswers::kAny
                               : store_answers == "judged" ? StoreAnswers::kJudged
                                                           : StoreAnswers::kFinalModel;
        section.number("min_judge_margin", 0, 1, &policy.min_judge_margin);
        section.boolean("coalesce", &policy.coalesce);
        std::uint64_t wait = static_cast<std::uint64_t>(policy.coalesce_wait.count());
        section.integer("coalesce_wait_seconds", 1, 3600, &wait);
        policy.coalesce_wait = std::chrono::seconds(wait);
        pipeline::readModelName(spec, section, "embedding_model", &policy.embedding_model);
        std::string embedder = "words";
        section.choice("embedder", kEmbedders, &embedder);
        policy.embedder =
            embedder == "lexical" ? BuiltInEmbedder::kLexical : BuiltInEmbedder::kWords;
        policy.word_vectors = cache::defaultWordVectorsPath();
        section.nonEmptyString("word_vectors", &policy.word_vectors);
        pipeline::readStore(section, "store", &policy.redis);
      });
  if (auto* config = std::get_if<CacheConfig>(&parsed)) config->prices = spec.models;
  return parsed;
}

SemanticCacheFilter::SemanticCacheFilter(CacheConfig config, metrics::Metrics& metrics,
                                         pipeline::KeptState* kept)
    : config_(std::move(config)), stats_(metrics) {
  for (const CachePolicy& policy : config_.policies) {
    loadWordVectors(policy, kept);
    // Entries of another policy or embedder must never answer this one: both name the keys.
    std::string embedder = embedderName(policy);
    auto makeStore = [&]() -> std::shared_ptr<cache::Store> {
      if (policy.redis) {
        return std::make_shared<cache::RedisStore>(
            *policy.redis, "costgate:cache:" + policy.name + ":" + embedder + ":",
            policy.max_entries, policy.max_bytes,
            policy.embedding_model.empty() ? embedderOf(policy).dimensions() : 0);
      }
      return std::make_shared<cache::MemoryStore>(policy.max_entries, policy.max_bytes);
    };
    auto makeInFlight = [] { return std::make_shared<cache::InFlight>(); };
    if (!kept) {
      stores_.push_back({&policy, makeStore(), makeInFlight()});
      continue;
    }
    std::string store = policy.redis
                            ? "redis://" + policy.redis->password + "@" + policy.redis->host + ":" +
                                  std::to_string(policy.redis->port) + "/" +
                                  std::to_string(policy.redis->db)
                            : "memory";
    std::string key = "semantic_cache/" + policy.name + "/" + store + "/" + embedder + "/" +
                      std::to_string(policy.max_entries) + "/" + std::to_string(policy.max_bytes);
    stores_.push_back({&policy, kept->obtain<cache::Store>(key + "/store", makeStore),
                       kept->obtain<cache::InFlight>(key + "/in-flight", makeInFlight)});
  }
}

// Loaded once per file, and kept across reloads while a configuration uses it.
void SemanticCacheFilter::loadWordVectors(const CachePolicy& policy, pipeline::KeptState* kept) {
  const bool wanted = policy.mode == Mode::kSemantic && policy.embedding_model.empty() &&
                      policy.embedder == BuiltInEmbedder::kWords;
  if (!wanted || word_embedders_.contains(policy.word_vectors)) return;
  auto load = [&]() -> std::shared_ptr<cache::WordVectorEmbedder> {
    auto loaded = cache::WordVectors::load(policy.word_vectors);
    if (auto* error = std::get_if<cache::WordVectorsError>(&loaded)) {
      spdlog::warn(
          "semantic_cache: no word vectors ({}; scripts/fetch-word-vectors.sh fetches them): "
          "policies that use them embed with lexical{} instead",
          error->message, lexical_.dimensions());
      return nullptr;
    }
    return std::make_shared<cache::WordVectorEmbedder>(std::make_shared<const cache::WordVectors>(
        std::get<cache::WordVectors>(std::move(loaded))));
  };
  auto embedder = kept ? kept->obtain<cache::WordVectorEmbedder>(
                             "semantic_cache/word-vectors/" + policy.word_vectors, load)
                       : load();
  if (embedder) {
    spdlog::info("semantic_cache: embedder {} ({})", embedder->name(), policy.word_vectors);
  }
  word_embedders_.emplace(policy.word_vectors, std::move(embedder));
}

const cache::WordVectorEmbedder* SemanticCacheFilter::wordEmbedderOf(
    const CachePolicy& policy) const {
  if (policy.embedder != BuiltInEmbedder::kWords) return nullptr;
  auto found = word_embedders_.find(policy.word_vectors);
  return found == word_embedders_.end() ? nullptr : found->second.get();
}

const cache::Embedder& SemanticCacheFilter::embedderOf(const CachePolicy& policy) const {
  if (const auto* words = wordEmbedderOf(policy)) return *words;
  return lexical_;
}

std::string SemanticCacheFilter::embedderName(const CachePolicy& policy) const {
  if (!policy.embedding_model.empty()) return "model:" + policy.embedding_model;
  if (const auto* words = wordEmbedderOf(policy)) return words->name();
  return "lexical" + std::to_string(lexical_.dimensions());
}

const SemanticCacheFilter::PolicyStore& SemanticCacheFilter::storeOf(
    const CachePolicy& policy) const {
  for (const PolicyStore& store : stores_) {
    if (store.policy == &policy) return store;
  }
  return stores_.front();  // not reached: every policy has its store
}

pipeline::FilterStatus SemanticCacheFilter::onRequest(pipeline::RequestContext& ctx) const {
  using pipeline::FilterStatus;
  if (ctx.route != pipeline::Route::kChatCompletions || !ctx.request_index) {
    return FilterStatus::kContinue;
  }
  const CachePolicy* policy = pipeline::firstMatching(config_.policies, ctx);
  if (!policy || policy->mode == Mode::kOff) return FilterStatus::kContinue;
  const PolicyStore& policy_store = storeOf(*policy);
  CacheLookup& lookup = ctx.state<CacheLookup>(this);
  lookup.policy = policy;
  lookup.store = policy_store.store.get();
  lookup.in_flight = policy_store.in_flight.get();
  lookup.locks = policy->coalesce ? dynamic_cast<cache::ReplicaLocks*>(lookup.store) : nullptr;

  const jsonview::Value body = *ctx.request_index;
  // The tenant partitions the cache: without one, no entry could be kept to its owner. A gateway
  // key is part of it, so that no key's client reads another key's answers, whatever tags it
  // claims.
  const bool tenant_known = !ctx.tags.team.empty() || !ctx.tags.feature.empty();
  if (uncacheableRequest(body, *policy) || !tenant_known) return missed(ctx, lookup);
  std::string tenant = ctx.api_key_id + "/" + ctx.tags.team + "/" + ctx.tags.feature;
  auto key = cache::requestKeyOf(body, tenant, ctx.model, ctx.member_edits);
  if (std::holds_alternative<cache::Uncacheable>(key)) return missed(ctx, lookup);
  lookup.key = std::get<cache::RequestKey>(std::move(key));
  lookup.control = cacheControlOf(ctx);
  lookup.semantic = policy->mode == Mode::kSemantic && lookup.key->text_only;
  if (lookup.semantic) lookup.facts = cache::factsOf(lookup.key->question);

  if (!lookup.control.no_cache) {
    const auto started = std::chrono::steady_clock::now();
    std::optional<cache::Hit> hit =
        trustedOnly(ctx, lookup.store->findExact(lookup.key->exact, cache::Clock::now()));
    lookup.outcome.lookup_seconds += secondsSince(started);
    if (hit) return answer(ctx, lookup, std::move(*hit));
  }
  if (!lookup.semantic || (lookup.control.no_cache && lookup.control.no_store)) {
    return coalesce(ctx, lookup);
  }
  if (policy->embedding_model.empty()) {
    lookup.vector = embedderOf(*policy).embed(lookup.key->question);
    return search(ctx, lookup);
  }
  // A backend embeds the question: the search goes on when its answer is in ctx.embedding.
  ctx.awaited =
      pipeline::Awaited{pipeline::EmbeddingCall{policy->embedding_model, lookup.key->question},
                        [this](pipeline::RequestContext& resumed) {
                          CacheLookup& waited = *resumed.findState<CacheLookup>(this);
                          if (resumed.embedding)
                            waited.vector = resumed.embedding->vector;  // none: exact only
                          return search(resumed, waited);
                        }};
  return FilterStatus::kWait;
}

pipeline::FilterStatus SemanticCacheFilter::search(pipeline::RequestContext& ctx,
                                                   CacheLookup& lookup) const {
  if (lookup.control.no_cache || !lookup.vector) return coalesce(ctx, lookup);
  const auto started = std::chrono::steady_clock::now();
  const auto now = cache::Clock::now();
  std::optional<cache::Hit> hit =
      trustedOnly(ctx, lookup.store->findSimilar(lookup.key->partition, *lookup.vector,
                                                 lookup.facts, lookup.policy->threshold, now));
  // This very request's entry may have come in since findExact (another replica's answer,
  // while the question was embedded): the hit is then exact, and said so.
  if (auto exact = trustedOnly(ctx, lookup.store->findExact(lookup.key->exact, now))) {
    hit = std::move(exact);
  }
  lookup.outcome.lookup_seconds += secondsSince(started);
  if (hit) return answer(ctx, lookup, std::move(*hit));
  return coalesce(ctx, lookup);
}

pipeline::FilterStatus SemanticCacheFilter::coalesce(pipeline::RequestContext& ctx,
                                                     CacheLookup& lookup) const {
  const CachePolicy& policy = *lookup.policy;
  if (lookup.control.no_store) return missed(ctx, lookup);
  // An identical request already on its way to the backend: wait for its answer, once. A
  // request that waited in vain (the call failed) may lead the next ones.
  if (policy.coalesce && !lookup.control.no_cache && !lookup.leading) {
    auto joined = lookup.in_flight->join(lookup.key->exact);
    if (joined.leader) {
      lookup.leading_key = lookup.key->exact;
      lookup.leading = std::move(joined.signal);
      if (lookup.locks) return lockAcrossReplicas(ctx, lookup);
    } else if (!lookup.followed || (!ctx.wants_final_model.empty() && !lookup.followed_again)) {
      lookup.followed_again = lookup.followed;
      lookup.followed = true;
      ctx.awaited = pipeline::Awaited{
          pipeline::AwaitSignal{
              joined.signal,
              std::chrono::duration_cast<std::chrono::milliseconds>(policy.coalesce_wait)},
          [this](pipeline::RequestContext& resumed) {
            return afterCoalescing(resumed, *resumed.findState<CacheLookup>(this));
          }};
      return pipeline::FilterStatus::kWait;
    }
  }
  return callBackend(ctx, lookup);
}

pipeline::FilterStatus SemanticCacheFilter::callBackend(pipeline::RequestContext& ctx,
                                                        CacheLookup& lookup) const {
  lookup.expected = router::expectedOf(ctx);
  lookup.entry = cache::Entry{.key = *lookup.key,
                              .facts = lookup.facts,
                              .vector = lookup.vector,
                              .answer = {},
                              .expires_at = cache::Clock::now() + lookup.policy->ttl};
  return missed(ctx, lookup);
}

std::optional<cache::Hit> SemanticCacheFilter::lookAgain(pipeline::RequestContext& ctx,
                                                         CacheLookup& lookup) const {
  const auto started = std::chrono::steady_clock::now();
  const auto now = cache::Clock::now();
  std::optional<cache::Hit> hit = trustedOnly(ctx, lookup.store->findExact(lookup.key->exact, now));
  if (!hit && lookup.vector) {
    hit = trustedOnly(ctx, lookup.store->findSimilar(lookup.key->partition, *lookup.vector,
                                                     lookup.facts, lookup.policy->threshold, now));
  }
  lookup.outcome.lookup_seconds += secondsSince(started);
  return hit;
}

pipeline::FilterStatus SemanticCacheFilter::afterCoalescing(pipeline::RequestContext& ctx,
                                                            CacheLookup& lookup) const {
  if (auto hit = lookAgain(ctx, lookup)) return answer(ctx, lookup, std::move(*hit));
  return coalesce(ctx, lookup);
}

pipeline::FilterStatus SemanticCacheFilter::lockAcrossReplicas(pipeline::RequestContext& ctx,
                                                               CacheLookup& lookup) const {
  // The wait is bounded from the first ask, as the followers here are from when they joined (after
  // this leader did): they are not left waiting for a leader that waited as long as they may.
  if (lookup.replica_wait_until == std::chrono::steady_clock::time_point{}) {
    lookup.replica_wait_until = std::chrono::steady_clock::now() + lookup.policy->coalesce_wait;
  }
  auto reply = std::make_shared<LockReply>();
  lookup.may_hold_lock = true;  // even an answer that comes too late may have taken it
  lookup.locks->tryLock(lookup.key->exact, [reply](cache::LockTake take) {
    reply->take = take;
    reply->answered->fire();
  });
  if (reply->answered->fired()) return afterLockTry(ctx, lookup, reply->take);
  ctx.awaited = pipeline::Awaited{
      pipeline::AwaitSignal{reply->answered, kLockReplyWait},
      [this, reply](pipeline::RequestContext& resumed) {
        const cache::LockTake take =
            reply->answered->fired() ? reply->take.load() : cache::LockTake::kFailed;
        return afterLockTry(resumed, *resumed.findState<CacheLookup>(this), take);
      }};
  return pipeline::FilterStatus::kWait;
}

pipeline::FilterStatus SemanticCacheFilter::afterLockTry(pipeline::RequestContext& ctx,
                                                         CacheLookup& lookup,
                                                         cache::LockTake take) const {
  if (take == cache::LockTake::kHeldElsewhere || take == cache::LockTake::kStored) {
    lookup.may_hold_lock = false;
  }
  if (take == cache::LockTake::kHeldElsewhere) return waitForReplica(ctx, lookup);
  if (take == cache::LockTake::kStored) {
    // Its holder answered and let go before the answer's announcement came: it is here now.
    if (auto hit = lookAgain(ctx, lookup)) return servedByReplica(ctx, lookup, std::move(*hit));
    if (lookup.waited_on_replica) lookup.replica_wait = "lock_vanished";
    return callBackend(ctx, lookup);  // an answer this request may not take (not trusted)
  }
  if (take == cache::LockTake::kFailed) {
    // Redis did not answer: no lock, and the backend is called as if there were no other replica.
    if (lookup.waited_on_replica) lookup.replica_wait = "redis_error";
    return callBackend(ctx, lookup);
  }
  // Taken. The replica that held it may have answered and let go since the first lookup.
  if (auto hit = lookAgain(ctx, lookup)) return servedByReplica(ctx, lookup, std::move(*hit));
  if (lookup.waited_on_replica) lookup.replica_wait = "lock_vanished";
  return callBackend(ctx, lookup);
}

pipeline::FilterStatus SemanticCacheFilter::waitForReplica(pipeline::RequestContext& ctx,
                                                           CacheLookup& lookup) const {
  lookup.waited_on_replica = true;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(lookup.replica_wait_until -
                                                                 std::chrono::steady_clock::now());
  if (left.count() <= 0) {
    lookup.replica_wait = "timed_out";
    return callBackend(ctx, lookup);
  }
  // Watched before looking: an answer that arrives in between fires the signal.
  auto arrival = lookup.locks->watch(lookup.key->exact);
  if (auto hit = lookAgain(ctx, lookup)) {
    lookup.locks->unwatch(lookup.key->exact, arrival);
    return servedByReplica(ctx, lookup, std::move(*hit));
  }
  // Woken by the answer or the lock given back, or every kLockPoll to see whether the lock
  // expired (its holder died): then this request takes it and calls the backend.
  ctx.awaited = pipeline::Awaited{pipeline::AwaitSignal{arrival, std::min(kLockPoll, left)},
                                  [this, arrival](pipeline::RequestContext& resumed) {
                                    CacheLookup& waited = *resumed.findState<CacheLookup>(this);
                                    waited.locks->unwatch(waited.key->exact, arrival);
                                    if (auto hit = lookAgain(resumed, waited)) {
                                      return servedByReplica(resumed, waited, std::move(*hit));
                                    }
                                    return lockAcrossReplicas(resumed, waited);
                                  }};
  return pipeline::FilterStatus::kWait;
}

pipeline::FilterStatus SemanticCacheFilter::servedByReplica(pipeline::RequestContext& ctx,
                                                            CacheLookup& lookup,
                                                            cache::Hit hit) const {
  if (lookup.waited_on_replica) lookup.replica_wait = "served";
  // The followers here need not wait for this request's reply to go out.
  stopLeading(lookup);
  return answer(ctx, lookup, std::move(hit));
}

pipeline::FilterStatus SemanticCacheFilter::answer(pipeline::RequestContext& ctx,
                                                   CacheLookup& lookup, cache::Hit hit) const {
  const std::string_view result = hit.level == cache::Level::kExact ? "hit-exact" : "hit-semantic";
  lookup.outcome.coalesced = lookup.followed || lookup.waited_on_replica;
  // Without the cache, the request would have gone where this answer came from.
  const pricing::Price* price = ctx.price;
  if (auto made_by = config_.prices.find(hit.answer.model); made_by != config_.prices.end()) {
    price = made_by->second ? &*made_by->second : nullptr;
  }
  if (price) lookup.outcome.saved = pricing::costOf(*price, hit.answer.usage);
  ctx.spared = pipeline::SparedCall{hit.answer.usage, lookup.outcome.saved, "cache"};
  ctx.local_reply = hitReply(ctx, hit, result);
  finish(ctx, lookup, result);
  ctx.response_headers.clear();  // the reply carries its own headers
  return pipeline::FilterStatus::kRespond;
}

pipeline::FilterStatus SemanticCacheFilter::missed(pipeline::RequestContext& ctx,
                                                   CacheLookup& lookup) const {
  // A request the cache could not key, or was told not to answer from it, bypassed it.
  finish(ctx, lookup, lookup.key && !lookup.control.no_cache ? "miss" : "bypass");
  return pipeline::FilterStatus::kContinue;
}

void SemanticCacheFilter::finish(pipeline::RequestContext& ctx, CacheLookup& lookup,
                                 std::string_view result) const {
  const auto size = lookup.store->size();
  lookup.outcome.result = result;
  lookup.outcome.policy = lookup.policy->name;
  lookup.outcome.entries = size.entries;
  lookup.outcome.bytes = size.bytes;
  lookup.outcome.shared_store_up =
      lookup.store->shared() ? std::optional<bool>(lookup.store->inSync()) : std::nullopt;
  ctx.response_headers.emplace_back("x-costgate-cache", std::string(result));
}

void SemanticCacheFilter::onResponseBody(pipeline::RequestContext& ctx, int status,
                                         std::string_view body) const {
  CacheLookup* pending = ctx.findState<CacheLookup>(this);
  if (!pending || !pending->entry || status != 200) return;
  storeAnswer(*pending, std::string(body), ctx.served_model, trusted(ctx, *pending->policy));
}

void SemanticCacheFilter::onChunk(pipeline::RequestContext& ctx,
                                  pipeline::StreamEvent& event) const {
  CacheLookup* pending = ctx.findState<CacheLookup>(this);
  if (!pending || !pending->entry || ctx.upstream_status != 200) return;
  pending->stream.add(event.sse.data);
  if (auto answer = pending->stream.completion()) {
    storeAnswer(*pending, std::move(*answer), ctx.served_model, trusted(ctx, *pending->policy));
  }
}

void SemanticCacheFilter::onComplete(pipeline::RequestContext& ctx) const {
  CacheLookup* lookup = ctx.findState<CacheLookup>(this);
  if (!lookup) return;
  stopLeading(*lookup);
  // A request stopped before the cache was done with it (a wait that timed out into a refusal)
  // has nothing to count.
  if (!lookup->outcome.policy.empty()) stats_.record(ctx, lookup->outcome);
  if (!lookup->replica_wait.empty()) {
    stats_.recordReplicaWait(ctx, lookup->policy->name, lookup->replica_wait);
  }
}

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeSemanticCacheFilter(
    const config::FilterSpec& spec, pipeline::FilterEnvironment& environment) {
  return pipeline::filterFrom<SemanticCacheFilter>(parseCacheConfig(spec), environment.metrics,
                                                   &environment.kept);
}

}  // namespace costgate::filters::semantic_cache
