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

#include "costgate/log/fields.h"
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
  // `usage`; "estimated": the gateway's own count; a spared call's source, e.g. "cache"). A
  // string with static storage.
  std::optional<pricing::Usage> usage;
  std::string_view usage_source;
  // What the call cost, for a model with a price.
  std::optional<pricing::Nanos> cost;
  // Why the served answer ended (openai::finishReasonOf's labels, static storage); empty when
  // unknown.
  std::string_view finish_reason;
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
  // A reply a filter gave in place of the backend call (a cache hit): `usage` is what that call
  // used, billed at nothing, and `saved` what it would have cost.
  bool spared = false;
  std::optional<pricing::Nanos> saved;
  // Calls made for the request besides the one that answers it (a filter's embedding call, a
  // cascade's judged-weak answers): charged and attributed like it, to their own model.
  struct SideCall {
    std::string model;
    pricing::Usage usage;
    std::optional<pricing::Nanos> cost;
    // "backend" (its reported usage) or "estimated" (the gateway's count: a cancelled stream
    // reports none). Static storage.
    std::string_view usage_source = "backend";
  };
  std::vector<SideCall> side_calls;
  // Fields the handler and the filters add to the access-log line (log/fields.h).
  log::Fields fields;
};

}  // namespace costgate::server
