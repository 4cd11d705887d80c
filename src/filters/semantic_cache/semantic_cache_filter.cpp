// The semantic_cache filter's settings:
//
//   - semantic_cache:
//       policies:                 # the first whose `match` applies is used (pipeline/policy.h)
//         - name: faq
//           match: {feature: [faq]}
//           mode: semantic        # off, exact (repeats only) or semantic (near-duplicates too)
//           threshold: 0.9        # cosine similarity a semantic hit needs (0 to 1)
//           ttl_seconds: 3600
//           max_entries: 10000    # least recently used entries go first past either limit
//           max_bytes: 64MiB
//           max_temperature: 1.0  # requests sampled hotter are not cached (absent = 1)
//           cache_tools: false    # requests with tools
//           cache_truncated: false    # answers cut by max_tokens (finish_reason length)
//           cache_tool_calls: false   # answers that call tools
//           coalesce: true        # identical requests in flight share one backend call
//           coalesce_wait_seconds: 60 # how long the others wait for it at most
//           embedding_model: ""   # a configured model to embed with (/v1/embeddings);
//                                 # empty: the built-in lexical embedder
//           store: memory         # or redis://[:password@]host[:port][/db], shared by replicas

#include "costgate/filters/semantic_cache/semantic_cache_filter.h"

#include <algorithm>
#include <chrono>

#include "costgate/cache/completion_stream.h"
#include "costgate/cache/facts.h"
#include "costgate/cache/redis_store.h"
#include "costgate/cache/request_key.h"
#include "costgate/config/yaml_reader.h"
#include "costgate/jsonview/document.h"
#include "costgate/openai/usage.h"
#include "costgate/pipeline/filter_settings.h"
#include "costgate/text/ascii_case.h"

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
                                            "coalesce",
                                            "coalesce_wait_seconds",
                                            "embedding_model",
                                            "store"};
constexpr std::string_view kModes[] = {"off", "exact", "semantic"};
constexpr std::uint64_t kMaxTtlSeconds = 365ull * 24 * 3600;
constexpr std::uint64_t kMaxEntries = 100'000'000;

// What a request keeps between the filter's hooks: what to store once the answer is known, and
// what it waited for (onRequest runs again after each wait).
struct Pending {
  cache::Store* store = nullptr;
  const CachePolicy* policy = nullptr;
  std::optional<cache::Entry> entry;  // set on a miss that may be stored
  cache::StreamAssembler stream;
  double lookup_seconds = 0;  // over every run of onRequest
  bool asked_embedding = false;
  bool followed = false;  // waited for an identical request in flight
  // Set while this request leads its key's in-flight calls.
  cache::InFlight* in_flight = nullptr;
  std::string leading_key;
  std::shared_ptr<pipeline::Signal> leading;
};

// Wakes the requests that wait for this one's answer.
void stopLeading(Pending& pending) {
  if (!pending.leading) return;
  pending.in_flight->finish(pending.leading_key, pending.leading);
  pending.leading.reset();
}

struct CacheControl {
  bool no_cache = false;  // do not answer from the cache (the answer is still stored)
  bool no_store = false;  // do not store the answer
};

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

// Whether a whole chat.completion may be stored under `policy`.
bool answerCacheable(std::string_view completion, const CachePolicy& policy) {
  auto document = jsonview::Document::parse(completion);
  if (!document || !document->root().isObject()) return false;
  auto choices = document->root().find("choices");
  if (!choices || !choices->isArray() || choices->size() != 1) return false;
  const jsonview::Value choice = choices->elements()[0];
  if (!choice.isObject()) return false;
  auto finish = choice.find("finish_reason");
  if (!finish || !finish->isString()) return false;
  if (finish->stringEquals("length")) return policy.cache_truncated;
  bool calls_tools = finish->stringEquals("tool_calls") || finish->stringEquals("function_call");
  if (auto message = choice.find("message"); message && message->isObject()) {
    auto calls = message->find("tool_calls");
    calls_tools = calls_tools || (calls && calls->isArray() && calls->size() > 0);
  }
  if (calls_tools) return policy.cache_tool_calls;
  return finish->stringEquals("stop");
}

// Stores a miss's answer, if it may be stored. It runs before the answer reaches the client
// (the whole body, or the stream's [DONE]): a client that repeats its question at once must
// find it.
void storeAnswer(Pending& pending, std::string answer) {
  if (!answerCacheable(answer, *pending.policy)) return;
  auto document = jsonview::Document::parse(answer);
  if (!document) return;
  auto usage = openai::usageOf(document->root());
  pending.entry->answer = {std::move(answer), usage.value_or(pricing::Usage{})};
  pending.store->put(std::move(*pending.entry));
  pending.entry.reset();
  stopLeading(pending);
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
  return pipeline::readPolicies<CacheConfig>(
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
        section.boolean("coalesce", &policy.coalesce);
        std::uint64_t wait = static_cast<std::uint64_t>(policy.coalesce_wait.count());
        section.integer("coalesce_wait_seconds", 1, 3600, &wait);
        policy.coalesce_wait = std::chrono::seconds(wait);
        pipeline::readModelName(spec, section, "embedding_model", &policy.embedding_model);
        pipeline::readStore(section, "store", &policy.redis);
      });
}

SemanticCacheFilter::SemanticCacheFilter(CacheConfig config, pipeline::KeptState* kept)
    : config_(std::move(config)) {
  for (const CachePolicy& policy : config_.policies) {
    // Entries of another policy or embedder must never answer this one: both name the keys.
    std::string embedder = policy.embedding_model.empty()
                               ? "lexical" + std::to_string(embedder_.dimensions())
                               : "model:" + policy.embedding_model;
    auto makeStore = [&]() -> std::shared_ptr<cache::Store> {
      if (policy.redis) {
        return std::make_shared<cache::RedisStore>(
            *policy.redis, "costgate:cache:" + policy.name + ":" + embedder + ":",
            policy.max_entries, policy.max_bytes,
            policy.embedding_model.empty() ? embedder_.dimensions() : 0);
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

const SemanticCacheFilter::PolicyStore& SemanticCacheFilter::storeOf(
    const CachePolicy& policy) const {
  for (const PolicyStore& store : stores_) {
    if (store.policy == &policy) return store;
  }
  return stores_.front();  // not reached: every policy has its store
}

pipeline::FilterStatus SemanticCacheFilter::onRequest(pipeline::RequestContext& ctx) const {
  if (ctx.route != pipeline::Route::ChatCompletions || !ctx.request_index) {
    return pipeline::FilterStatus::Continue;
  }
  const CachePolicy* policy = pipeline::firstMatching(config_.policies, ctx);
  if (!policy || policy->mode == Mode::kOff) return pipeline::FilterStatus::Continue;
  const PolicyStore& policy_store = storeOf(*policy);
  cache::Store& store = *policy_store.store;
  Pending& pending = ctx.state<Pending>(this);
  pipeline::CacheOutcome outcome;
  outcome.result = "bypass";
  auto finish = [&](pipeline::CacheOutcome done) {
    auto size = store.size();
    done.policy = policy->name;
    done.entries = size.entries;
    done.bytes = size.bytes;
    done.shared_store_up = store.shared() ? std::optional<bool>(store.inSync()) : std::nullopt;
    ctx.response_headers.emplace_back("x-costgate-cache", std::string(done.result));
    ctx.cache = std::move(done);
    return pipeline::FilterStatus::Continue;
  };

  const jsonview::Value body = *ctx.request_index;
  if (uncacheableRequest(body, *policy)) return finish(outcome);
  // The tenant partitions the cache: without one, no entry could be kept to its owner. A gateway
  // key is part of it, so that no key's client reads another key's answers, whatever tags it
  // claims.
  std::string tenant = ctx.api_key_id + "/" + ctx.tags.team + "/" + ctx.tags.feature;
  if (ctx.tags.team.empty() && ctx.tags.feature.empty()) return finish(outcome);
  auto key = cache::requestKeyOf(body, tenant, ctx.model);
  if (std::holds_alternative<cache::Uncacheable>(key)) return finish(outcome);
  cache::RequestKey& request_key = std::get<cache::RequestKey>(key);

  const CacheControl control = cacheControlOf(ctx);
  const auto now = cache::Clock::now();
  const bool semantic = policy->mode == Mode::kSemantic && request_key.text_only;
  const bool backend_embedder = !policy->embedding_model.empty();
  cache::Facts facts;
  std::optional<cache::Vector> vector;
  // The question's facts and vector, once per run; false when a backend must embed it first.
  auto embed = [&] {
    if (vector) return true;
    facts = cache::factsOf(request_key.question);
    if (!backend_embedder) {
      vector = embedder_.embed(request_key.question);
      return true;
    }
    if (ctx.embedding) {
      vector = ctx.embedding->vector;  // a failed call leaves the exact level only
      return true;
    }
    if (pending.asked_embedding) return true;
    pending.asked_embedding = true;
    ctx.awaited = pipeline::EmbeddingCall{policy->embedding_model, request_key.question};
    return false;
  };
  auto wait = [&] {
    pending.lookup_seconds += outcome.lookup_seconds;
    return pipeline::FilterStatus::Wait;
  };

  if (!control.no_cache) {
    auto started = std::chrono::steady_clock::now();
    auto lookup_time = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    };
    std::optional<cache::Hit> hit = store.findExact(request_key.exact, now);
    if (!hit && semantic) {
      if (!embed()) {
        outcome.lookup_seconds = lookup_time();
        return wait();
      }
      if (vector)
        hit = store.findSimilar(request_key.partition, *vector, facts, policy->threshold, now);
      // This very request's entry may have come in since findExact (another replica's answer,
      // while the question was embedded): the hit is then exact, and said so, even when the
      // search could not see it (no vector on either side).
      if (auto exact = store.findExact(request_key.exact, now)) hit = std::move(exact);
    }
    outcome.lookup_seconds = pending.lookup_seconds + lookup_time();
    if (hit) {
      outcome.result = hit->level == cache::Level::kExact ? "hit-exact" : "hit-semantic";
      outcome.coalesced = pending.followed;
      outcome.usage = hit->answer.usage;
      if (ctx.price) outcome.saved = pricing::costOf(*ctx.price, hit->answer.usage);
      ctx.local_reply = hitReply(ctx, *hit, outcome.result);
      finish(outcome);
      ctx.response_headers.clear();  // the reply carries its own headers
      return pipeline::FilterStatus::Respond;
    }
    outcome.result = "miss";
  }
  if (control.no_store) return finish(outcome);
  if (semantic && !embed()) return wait();
  // An identical request already on its way to the backend: wait for its answer, once. A
  // request that waited in vain (the call failed) may lead the next ones.
  if (policy->coalesce && !control.no_cache && !pending.leading) {
    auto joined = policy_store.in_flight->join(request_key.exact);
    if (joined.leader) {
      pending.in_flight = policy_store.in_flight.get();
      pending.leading_key = request_key.exact;
      pending.leading = std::move(joined.signal);
    } else if (!pending.followed) {
      pending.followed = true;
      ctx.awaited = pipeline::AwaitSignal{joined.signal,
                                          std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::seconds(policy->coalesce_wait))};
      return wait();
    }
  }
  pending.store = &store;
  pending.policy = policy;
  pending.entry = cache::Entry{.key = std::move(request_key),
                               .facts = std::move(facts),
                               .vector = std::move(vector),
                               .answer = {},
                               .expires_at = now + policy->ttl};
  return finish(outcome);
}

void SemanticCacheFilter::onResponseBody(pipeline::RequestContext& ctx, int status,
                                         std::string_view body) const {
  Pending* pending = ctx.findState<Pending>(this);
  if (pending && pending->entry && status == 200) storeAnswer(*pending, std::string(body));
}

void SemanticCacheFilter::onChunk(pipeline::RequestContext& ctx,
                                  pipeline::StreamEvent& event) const {
  Pending* pending = ctx.findState<Pending>(this);
  if (!pending || !pending->entry || ctx.upstream_status != 200) return;
  pending->stream.add(event.sse.data);
  if (auto answer = pending->stream.completion()) storeAnswer(*pending, std::move(*answer));
}

void SemanticCacheFilter::onComplete(pipeline::RequestContext& ctx) const {
  if (Pending* pending = ctx.findState<Pending>(this)) stopLeading(*pending);
}

std::variant<std::unique_ptr<pipeline::Filter>, config::ConfigError> makeSemanticCacheFilter(
    const config::FilterSpec& spec, pipeline::KeptState& kept) {
  return pipeline::filterFrom<SemanticCacheFilter>(parseCacheConfig(spec), &kept);
}

}  // namespace costgate::filters::semantic_cache
