#pragma once
// A filter is one stage of the request pipeline. One object per filter per configuration is shared
// by every request on every thread, so filters are immutable after construction: per-request state
// lives in the RequestContext. Filters are plain code: the I/O they ask for (a wait, an embedding
// call) is done by the gateway, which then resumes them where they stopped.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "costgate/config/load.h"
#include "costgate/metrics/metrics.h"
#include "costgate/openai/sse.h"
#include "costgate/pipeline/kept_state.h"
#include "costgate/pipeline/request_context.h"
#include "costgate/redis/connection.h"

namespace costgate::pipeline {

// One server-sent event of a streamed response, as the backend sent it.
struct StreamEvent {
  openai::SseEvent sse;
  bool drop = false;  // a filter sets this to keep the event from the client
};

// A GET endpoint a filter serves on the gateway (e.g. /admin/budgets); it needs the admin key.
struct LocalEndpoint {
  std::string path;
  // Starts the answer on the request's thread; `done` fires (on any thread) once `*reply` is set.
  // Must not block: a filter that has to do I/O does it on its own threads.
  std::function<void(std::shared_ptr<LocalReply> reply, std::shared_ptr<Signal> done)> serve;
  // Sent instead when `done` has not fired within `timeout`.
  std::chrono::milliseconds timeout{3000};
  LocalReply unavailable;
};

class Filter {
 public:
  virtual ~Filter() = default;

  // The name this filter has in the YAML chain.
  virtual std::string_view name() const = 0;

  // Before the backend is called, in chain order. Reads the body through ctx.request_index and
  // edits it with ctx.setMember / ctx.replaceBody. Returns Continue, Respond (with
  // ctx.local_reply) or Wait (with ctx.awaited, whose `resume` runs in place of a second call).
  virtual FilterStatus onRequest(RequestContext& ctx) const {
    (void)ctx;
    return FilterStatus::kContinue;
  }

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

  // Once per request after the reply went out (or failed), in reverse chain order, with
  // ctx.charged set. Never replies; the place to count the filter's metrics and write its
  // access-log fields (ctx.log) for what happened to the request.
  virtual void onComplete(RequestContext& ctx) const { (void)ctx; }

  // The local endpoints this filter serves; asked once, when the configuration is built.
  virtual std::vector<LocalEndpoint> endpoints() const { return {}; }
};

// What a filter is built with besides its YAML block: the objects a reload must not lose, and the
// process's metrics, in which it declares its own families (its stats).
// A Redis connection's commands, sent without waiting from the calling event loop's thread (the
// server layer's redis::AsyncConnection); empty where there are no event loops (`costgate check`).
using RedisOnLoop = std::function<redis::SendLater(const redis::Address& address,
                                                   std::chrono::milliseconds timeout)>;

struct FilterEnvironment {
  KeptState& kept;
  metrics::Metrics& metrics;
  RedisOnLoop redis_on_loop;
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
