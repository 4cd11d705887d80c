#pragma once
// The pieces of what the gateway answers a client, shared by its steps: error replies in OpenAI's
// shape, the headers that tell what filters did and what a call cost, and the redaction of a
// backend's key from anything relayed. Plain functions over plain data.

#include <optional>
#include <string>
#include <string_view>

#include "costgate/http1/response.h"
#include "costgate/openai/error.h"
#include "costgate/pipeline/request_context.h"
#include "costgate/server/exchange_record.h"
#include "costgate/upstream/upstream_client.h"

namespace costgate::gateway {

http1::Response jsonResponse(int status, std::string body);
http1::Response errorResponse(const openai::ApiError& error);
// 404 model_not_found.
openai::ApiError modelNotFound(std::string_view model);
// A backend call's failure as the error code clients see (upstream_timeout...).
std::string_view failureCode(upstream::FailureKind kind);
// ...and as the error reply: 504 for a timeout, else 502.
openai::ApiError failureError(const upstream::Failure& failure);

// `text` with every occurrence of `secret` replaced by "[redacted]" (nothing when it is empty).
void redact(std::string& text, std::string_view secret);
std::string redacted(std::string_view text, std::string_view secret);

// The headers filters asked for (ctx.response_headers) and x-costgate-tokens-saved.
void addFilterHeaders(const pipeline::RequestContext& ctx, http1::Response& response);
// What a whole answer used and cost: x-costgate-tokens-in, -out and x-costgate-cost-usd.
void addCostHeaders(const server::ExchangeRecord& record, http1::Response& response);
// The SSE comment (ignored by clients) that tells what a stream used and cost, sent before
// [DONE]: a stream's headers leave before its cost is known.
std::string costComment(const server::ExchangeRecord& record);
// A whole chat.completion replayed to a client that asked for a stream (the backend answered
// whole, or a cascade judged it whole), with the cost comment before its [DONE]; the record
// takes the replay's time as its first token's. nullopt when `completion` cannot be replayed.
std::optional<std::string> replayWithCost(std::string_view completion, bool include_usage,
                                          server::ExchangeRecord& record);

}  // namespace costgate::gateway
