#pragma once
// Keeping providers' prompt caches warm. A provider bills a prompt prefix it has seen recently at
// a fraction of the input price (OpenAI: prefixes of 1024 tokens and more, in blocks of 128), on
// the model that saw it: a conversation moved to another model pays its whole history again.
// ConversationAffinity remembers, per conversation, the model that served its last turn and that
// turn's prompt size; startCost() compares what starting a new turn on each model is expected to
// cost. Shared by every worker thread and kept across reloads (pipeline::KeptState); no I/O.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "costgate/pipeline/request_context.h"
#include "costgate/pricing/price.h"

namespace costgate::filters::router {

struct AffinityConfig {
  bool enabled = true;
  std::chrono::seconds ttl{300};  // a conversation is warm this long after its last turn
};

// A conversation: its tags, the gateway key it came with, its system messages and its first user
// message (what stays the same from turn to turn), hashed (the same in every process: replicas
// give a conversation the same prompt_cache_key).
std::uint64_t conversationOf(const pipeline::RequestContext& ctx);
std::string conversationHex(std::uint64_t conversation);  // 16 hex digits

// The model that served a conversation's last turn.
struct WarmModel {
  std::string model;
  std::uint64_t prompt_tokens = 0;  // that turn's prompt: the prefix a new turn shares with it
  std::chrono::steady_clock::time_point served_at;
};

class ConversationAffinity {
 public:
  explicit ConversationAffinity(std::size_t capacity = 10'000) : capacity_(capacity) {}
  // The model the conversation was last served by, if that was less than `ttl` before `now`.
  // Thread-safe.
  std::optional<WarmModel> warm(std::uint64_t conversation,
                                std::chrono::steady_clock::time_point now,
                                std::chrono::seconds ttl) const;
  // Remembers the model that served the conversation's latest turn; the least recently served
  // conversation goes when there are more than `capacity`. Thread-safe.
  void remember(std::uint64_t conversation, WarmModel warm);
  std::size_t size() const;

 private:
  using Order = std::list<std::uint64_t>;  // most recently served first
  struct Entry {
    WarmModel warm;
    Order::iterator position;
  };
  std::size_t capacity_;
  mutable std::mutex mutex_;
  Order order_;
  std::unordered_map<std::uint64_t, Entry> entries_;
};

// The tokens of a `prompt_tokens` prompt a provider would read from its cache when it last saw a
// `warm_tokens` prompt of the same conversation: the shared prefix in whole 128-token blocks,
// nothing under 1024.
std::uint64_t cachedPrefixTokens(std::uint64_t prompt_tokens, std::uint64_t warm_tokens);

// Whether a turn of `prompt_tokens` should start on the warm model rather than `start`, the model
// it would otherwise start on: staying costs the warm model's input with the cached prefix;
// starting elsewhere costs `start`'s whole input plus, when it escalates (with probability
// `escalation_rate`), the warm model's again. Compares input costs only (pricing::costOf).
bool warmModelIsCheaper(const pricing::Price& start, const pricing::Price& warm,
                        std::uint64_t prompt_tokens, std::uint64_t cached_tokens,
                        double escalation_rate);

}  // namespace costgate::filters::router
