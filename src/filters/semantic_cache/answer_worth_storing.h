#pragma once
// Which answers the cache keeps: a stored answer is replayed to everyone who asks the question
// again, so one that failed its asker (a refusal, an empty or hedged answer, a cut one, JSON that
// does not parse) must not be. Runs on the answer the client is being sent; plain data in, a
// reason out; no I/O.

#include <optional>
#include <string_view>

#include "filters/router/answer_judge.h"

namespace costgate::filters::semantic_cache {

struct CachePolicy;

// Why the whole chat.completion `completion` must not be stored under `policy`, or nullopt when
// it may be: "unreadable" (not one choice of a chat.completion), "truncated" (finish_reason
// length, unless cache_truncated), "tool_calls" (unless cache_tool_calls), "unfinished" (another
// finish_reason: content_filter, none), or the router's judge's first signal under its default
// weights ("empty", "refusal", "uncertainty", "invalid_json", "mean_logprob"). `expected` is
// what the request asked the answer to be.
std::optional<std::string_view> whyNotStored(std::string_view completion,
                                             const router::Expected& expected,
                                             const CachePolicy& policy);

}  // namespace costgate::filters::semantic_cache
