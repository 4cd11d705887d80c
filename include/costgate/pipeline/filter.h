#pragma once
// A filter is one stage of the request pipeline. One object per filter per configuration is shared
// by every request on every thread, so filters are immutable after construction: per-request state
// lives in the RequestContext.

#include <memory>
#include <string_view>
#include <variant>

#include "costgate/config/load.h"
#include "costgate/openai/sse.h"
#include "costgate/pipeline/request_context.h"

namespace costgate::pipeline {

enum class FilterStatus {
  // Go on to the next filter, and to the backend after the last one.
  Continue,
  // Stop here and send ctx.local_reply to the client; later filters' onRequest and the backend are
  // skipped, but onComplete still runs for every filter.
  Respond,
  // Stop here until what ctx.awaited names is done (the gateway does it), then run this filter's
  // onRequest again. A filter must not wait twice for the same thing: the second run goes on.
  Wait,
};

// One server-sent event of a streamed response, as the backend sent it.
struct StreamEvent {
  openai::SseEvent sse;
  bool drop = false;  // a filter sets this to keep the event from the client
};

class Filter {
 public:
  virtual ~Filter() = default;

  // The name this filter has in the YAML chain.
  virtual std::string_view name() const = 0;

  // Before the backend is called, in chain order. May edit ctx.body and ctx.tags. Must set
  // ctx.local_reply when it returns Respond.
  virtual FilterStatus onRequest(RequestContext& ctx) const {
    (void)ctx;
    return FilterStatus::Continue;
  }

  // After a whole (non-streamed) successful response is parsed into ctx.response, in reverse
  // chain order. May edit ctx.response. Runs only if some filter's readsResponse() is true:
  // otherwise the backend's bytes go to the client untouched and unparsed.
  virtual void onResponse(RequestContext& ctx) const { (void)ctx; }
  // True for filters that implement onResponse.
  virtual bool readsResponse() const { return false; }
  // False for filters that only read the request body, through ctx.request_index: the DOM
  // (ctx.body) is then built only if another filter needs it, since it costs more than the rest
  // of a proxied call.
  virtual bool usesBody() const { return true; }

  // After a whole (non-streamed) response arrived, with its status and bytes as the backend sent
  // them, in reverse chain order; observes only. Runs only if observesResponseBody() is true.
  virtual void onResponseBody(RequestContext& ctx, int status, std::string_view body) const {
    (void)ctx;
    (void)status;
    (void)body;
  }
  virtual bool observesResponseBody() const { return false; }

  // For each event of a streamed response, in reverse chain order, before it is relayed.
  virtual void onChunk(RequestContext& ctx, StreamEvent& event) const {
    (void)ctx;
    (void)event;
  }

  // Once per request after the reply went out (or failed), in reverse chain order. Never replies.
  virtual void onComplete(RequestContext& ctx) const { (void)ctx; }
};

// The end of every filter's factory: the filter built from its parsed settings (and `more` of
// its constructor's arguments), or the error that parsing them found.
template <class FilterType, class Config, class... More>
std::variant<std::unique_ptr<Filter>, config::ConfigError> filterFrom(
    std::variant<Config, config::ConfigError> parsed, More&&... more) {
  if (auto* error = std::get_if<config::ConfigError>(&parsed)) return std::move(*error);
  return std::make_unique<FilterType>(std::get<Config>(std::move(parsed)),
                                      std::forward<More>(more)...);
}

}  // namespace costgate::pipeline
