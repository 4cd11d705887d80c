#pragma once
// What the server observed of one request/response exchange. Plain data, so the access log and
// the metrics can use it without pulling in sockets.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "costgate/pricing/price.h"

namespace costgate::server {

struct ExchangeRecord {
  std::string request_id;
  std::string method;
  std::string target;
  // The handler's name for what was asked, e.g. "chat_completions": a string with static storage.
  std::string_view route;
  std::string model;
  std::string backend;
  int status = 0;
  bool stream = false;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::chrono::steady_clock::time_point started{};
  std::chrono::microseconds latency{0};
  std::chrono::microseconds upstream_latency{0};  // head sent to last byte read; 0 if no backend
  // Streams: the request's arrival to the first text relayed; 0 if none was.
  std::chrono::microseconds time_to_first_token{0};
  std::string error;  // why the exchange failed, if it did (client gone, upstream reset...)
  // The tokens the call used, when known, and where the count came from ("backend": its
  // `usage`; "estimated": the gateway's own count). A string with static storage.
  std::optional<pricing::Usage> usage;
  std::string_view usage_source;
  // What the call cost, for a model with a price.
  std::optional<pricing::Micros> cost;
  // The request's tags as metric label values (pipeline::RequestContext::tag_labels).
  struct TagLabels {
    std::string feature;
    std::string team;
    std::string env;
  } tag_labels;
  // The request's input tokens as the gateway counted them (exactly, by the model's encoding),
  // when a filter did.
  std::optional<std::int64_t> prompt_tokens_counted;
  // Tokens filters took out of the request, and under which policy.
  struct TokenSaving {
    std::string_view filter;  // static storage
    std::string policy;
    std::int64_t tokens = 0;
  };
  std::vector<TokenSaving> token_savings;
  // What a cache did with the request ("hit-exact", "hit-semantic", "miss", "bypass"; static
  // storage), how long its lookup took, and its size after; empty when no cache looked.
  std::string_view cache_result;
  bool cache_coalesced = false;  // a hit that waited for an identical request in flight
  double cache_lookup_seconds = 0;
  std::string cache_policy;
  std::size_t cache_entries = 0;
  std::size_t cache_bytes = 0;
  std::optional<bool> cache_shared_store_up;
  // A cache hit: what the call it spared would have cost.
  std::optional<pricing::Micros> saved;
  // Calls made for the request besides the one that answers it (a backend embedder's
  // /v1/embeddings for the cache): charged and attributed like it, to their own model.
  struct SideCall {
    std::string model;
    pricing::Usage usage;
    std::optional<pricing::Micros> cost;
  };
  std::vector<SideCall> side_calls;
  // What a budget filter did (pipeline::BudgetOutcome's fields that the metrics need).
  struct BudgetState {
    std::string name;
    pricing::Micros spent = 0;
    pricing::Micros limit = 0;
    int state = 0;  // 0 ok, 1 warn, 2 degrade, 3 open
  };
  std::vector<BudgetState> budgets;
  std::string budget_rejected;
  bool budget_rate_limited = false;
  std::string budget_degraded;
  bool budget_ledger_error = false;
  // Extra fields the handler wants in the access log (e.g. feature, team, env).
  std::vector<std::pair<std::string, std::string>> annotations;
};

}  // namespace costgate::server
