#include "costgate/gateway/replies.h"

#include <chrono>

#include "costgate/cache/completion_stream.h"
#include "costgate/pricing/price.h"

namespace costgate::gateway {

http1::Response jsonResponse(int status, std::string body) {
  return http1::Response(status, "application/json", std::move(body));
}

http1::Response errorResponse(const openai::ApiError& error) {
  return jsonResponse(error.status, error.body());
}

openai::ApiError modelNotFound(std::string_view model) {
  return openai::notFound(
      "The model '" + std::string(model) + "' does not exist or is not served by this gateway",
      "model_not_found");
}

std::string_view failureCode(upstream::FailureKind kind) {
  switch (kind) {
    case upstream::FailureKind::kConnect:
      return "upstream_unreachable";
    case upstream::FailureKind::kTls:
      return "upstream_tls_error";
    case upstream::FailureKind::kTimeout:
      return "upstream_timeout";
    case upstream::FailureKind::kReset:
      return "upstream_reset";
    case upstream::FailureKind::kProtocol:
      return "upstream_protocol_error";
    case upstream::FailureKind::kCancelled:
      return "cancelled";
    case upstream::FailureKind::kTooLarge:
      return "upstream_response_too_large";
  }
  return "upstream_error";
}

openai::ApiError failureError(const upstream::Failure& failure) {
  int status = failure.kind == upstream::FailureKind::kTimeout ? 504 : 502;
  return openai::serverError(status, failure.message, std::string(failureCode(failure.kind)));
}

void redact(std::string& text, std::string_view secret) {
  if (secret.empty()) return;
  constexpr std::string_view kRedacted = "[redacted]";
  for (auto at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + kRedacted.size())) {
    text.replace(at, secret.size(), kRedacted);
  }
}

std::string redacted(std::string_view text, std::string_view secret) {
  std::string copy(text);
  redact(copy, secret);
  return copy;
}

void addFilterHeaders(const pipeline::RequestContext& ctx, http1::Response& response) {
  for (const auto& [name, value] : ctx.response_headers) response.add(name, value);
  if (std::int64_t saved = ctx.tokensSaved(); saved > 0) {
    response.add("x-costgate-tokens-saved", std::to_string(saved));
  }
}

void addCostHeaders(const server::ExchangeRecord& record, http1::Response& response) {
  if (!record.usage) return;
  response.add("x-costgate-tokens-in", std::to_string(record.usage->prompt_tokens));
  response.add("x-costgate-tokens-out", std::to_string(record.usage->completion_tokens));
  if (record.cost) response.add("x-costgate-cost-usd", pricing::formatUsd(*record.cost));
}

std::string costComment(const server::ExchangeRecord& record) {
  std::string comment = ": costgate usage=" + std::string(record.usage_source) +
                        " tokens_in=" + std::to_string(record.usage->prompt_tokens) +
                        " tokens_out=" + std::to_string(record.usage->completion_tokens);
  if (record.cost) comment += " cost_usd=" + pricing::formatUsd(*record.cost);
  return comment + "\n\n";
}

std::optional<std::string> replayWithCost(std::string_view completion, bool include_usage,
                                          server::ExchangeRecord& record) {
  auto events = cache::replayAsStream(completion, include_usage);
  if (!events) return std::nullopt;
  if (const auto done = events->rfind("data: [DONE]"); record.usage && done != std::string::npos) {
    events->insert(done, costComment(record));
  }
  record.time_to_first_token = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - record.started);
  return events;
}

}  // namespace costgate::gateway
