#include "filters/router/cache_affinity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace costgate::filters::router {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;
constexpr std::uint64_t kMinCachedPrefix = 1024;
constexpr std::uint64_t kCacheBlock = 128;

// Adds `text` and a separator no text can fake (its length) to the hash: FNV-1a's step over
// 8-byte words rather than bytes (a system prompt of some kilobytes is hashed on every turn), the
// words' bits spread by finish() at the end.
void mix(std::uint64_t& hash, std::string_view text) {
  std::size_t at = 0;
  for (; at + 8 <= text.size(); at += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, text.data() + at, 8);
    hash = (hash ^ word) * kFnvPrime;
  }
  std::uint64_t tail = 0;
  if (at < text.size()) std::memcpy(&tail, text.data() + at, text.size() - at);
  hash = (hash ^ tail) * kFnvPrime;
  hash = (hash ^ text.size()) * kFnvPrime;
}

// splitmix64's finalizer: every input bit reaches every output bit.
std::uint64_t finish(std::uint64_t hash) {
  hash = (hash ^ (hash >> 30)) * 0xbf58476d1ce4e5b9ull;
  hash = (hash ^ (hash >> 27)) * 0x94d049bb133111ebull;
  return hash ^ (hash >> 31);
}

void mixContent(std::uint64_t& hash, const jsonview::Value& message) {
  auto content = message.find("content");
  if (!content) return;
  if (content->isString()) {
    mix(hash, content->string());
    return;
  }
  if (!content->isArray()) return;
  for (const jsonview::Value& part : content->elements()) {
    auto text = part.isObject() ? part.find("text") : std::nullopt;
    if (text && text->isString()) mix(hash, text->string());
  }
}

}  // namespace

std::uint64_t conversationOf(const pipeline::RequestContext& ctx) {
  std::uint64_t hash = kFnvOffset;
  for (std::string_view part :
       {std::string_view(ctx.tag_labels.feature), std::string_view(ctx.tag_labels.team),
        std::string_view(ctx.tag_labels.env), std::string_view(ctx.api_key_id)}) {
    mix(hash, part);
  }
  auto messages = ctx.request_index ? ctx.request_index->find("messages") : std::nullopt;
  if (!messages || !messages->isArray()) return finish(hash);
  for (const jsonview::Value& message : messages->elements()) {
    auto role = message.isObject() ? message.find("role") : std::nullopt;
    if (!role || !role->isString()) continue;
    const bool system = role->stringEquals("system") || role->stringEquals("developer");
    if (!system && !role->stringEquals("user")) continue;
    mix(hash, role->string());
    mixContent(hash, message);
    if (!system) break;  // the first user message ends what every turn repeats
  }
  return finish(hash);
}

std::string conversationHex(std::uint64_t conversation) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(conversation));
  return text;
}

std::optional<WarmModel> ConversationAffinity::warm(std::uint64_t conversation,
                                                    std::chrono::steady_clock::time_point now,
                                                    std::chrono::seconds ttl) const {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(conversation);
  if (found == entries_.end() || now - found->second.warm.served_at >= ttl) return std::nullopt;
  return found->second.warm;
}

void ConversationAffinity::remember(std::uint64_t conversation, WarmModel warm) {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(conversation);
  if (found != entries_.end()) {
    order_.splice(order_.begin(), order_, found->second.position);
    found->second.warm = std::move(warm);
    return;
  }
  order_.push_front(conversation);
  entries_.emplace(conversation, Entry{std::move(warm), order_.begin()});
  if (entries_.size() > capacity_) {
    entries_.erase(order_.back());
    order_.pop_back();
  }
}

std::size_t ConversationAffinity::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::uint64_t cachedPrefixTokens(std::uint64_t prompt_tokens, std::uint64_t warm_tokens) {
  const std::uint64_t shared = std::min(prompt_tokens, warm_tokens);
  if (shared < kMinCachedPrefix) return 0;
  return shared / kCacheBlock * kCacheBlock;
}

bool warmModelIsCheaper(const pricing::Price& start, const pricing::Price& warm,
                        std::uint64_t prompt_tokens, std::uint64_t cached_tokens,
                        double escalation_rate) {
  const pricing::Nanos stay =
      pricing::costOf(warm, {.prompt_tokens = prompt_tokens,
                             .completion_tokens = 0,
                             .cached_tokens = std::min(cached_tokens, prompt_tokens),
                             .reasoning_tokens = 0});
  const pricing::Nanos move = pricing::costOf(start, {.prompt_tokens = prompt_tokens,
                                                      .completion_tokens = 0,
                                                      .cached_tokens = 0,
                                                      .reasoning_tokens = 0});
  const double p = std::clamp(escalation_rate, 0.0, 1.0);
  const auto escalated = static_cast<pricing::Nanos>(std::llround(p * static_cast<double>(stay)));
  return stay < pricing::addSaturating(move, escalated);
}

}  // namespace costgate::filters::router
