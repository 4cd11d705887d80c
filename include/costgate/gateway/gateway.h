#pragma once
// The gateway's request handler for one configuration. A request takes one of two ways:
//   local_endpoints.cpp  health, readiness, metrics, spend, the dashboard, /v1/models and the
//                        endpoints filters serve; 404 and 405 for the rest;
//   proxy.cpp            parse -> filter chain -> dispatch -> relay -> complete, with
//                        cascade.cpp (cheaper models judged first) and relay.cpp (whole and
//                        streamed answers, with their charge).
// Model calls (deployments, retries, fallbacks) are ModelCalls'; what outlives a configuration is
// Records'. LiveGateway (live_gateway.h) swaps one configuration's Gateway for the next.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "costgate/config/config.h"
#include "costgate/gateway/browser_policy.h"
#include "costgate/gateway/client_api.h"
#include "costgate/gateway/held_stream.h"
#include "costgate/gateway/model_calls.h"
#include "costgate/gateway/records.h"
#include "costgate/openai/error.h"
#include "costgate/pipeline/chain.h"
#include "costgate/server/http_server.h"
#include "costgate/upstream/upstream_client.h"

namespace costgate::gateway {

struct ProxyCall;  // one proxied request's state (proxy_call.h)

// Whether `path` is one of the API routes proxied to backends (POST /v1/chat/completions...).
bool isProxiedPath(std::string_view path);
struct CallAccounting;  // charges.h

// Made with std::make_shared: each request holds it to its end, so a reload can replace it while
// requests are still running on it.
class Gateway : public std::enable_shared_from_this<Gateway> {
 public:
  // Throws std::runtime_error when a backend's TLS settings cannot be loaded. `records` must
  // outlive it.
  Gateway(config::GatewayConfig config, pipeline::Chain chain, Records& records);

  // The server's handler for every request.
  server::Task<> handle(server::Request& request, server::ResponseWriter& writer);

  const config::GatewayConfig& config() const { return config_; }

 private:
  // gateway.cpp: the refusal of a request the browser policy does not serve (a Host no DNS
  // rebinding could have made, an Origin not allowed, an API call not sent as JSON), or the
  // answer to a CORS preflight; nothing when it goes on, with the CORS fields for an allowed
  // origin added to `writer`.
  std::optional<server::Response> browserCheck(const server::Request& request,
                                               std::string_view path,
                                               server::ResponseWriter& writer) const;

  // local_endpoints.cpp. `self` keeps this configuration alive until the request is done.
  server::Task<> answerLocally(std::shared_ptr<Gateway> self, server::Request& request,
                               server::ResponseWriter& writer);
  // The response of a GET endpoint the gateway itself serves, or nullopt for an unknown path.
  std::optional<server::Response> builtInEndpoint(std::string_view path,
                                                  std::string_view target) const;
  // A filter's endpoint: its reply, or its `unavailable` one when it takes too long.
  server::Task<server::Response> filterEndpoint(const pipeline::LocalEndpoint& endpoint) const;
  // The refusal of a request for an admin endpoint without the admin key (401), or when there is
  // no admin key (403); nothing when the request carries it.
  std::optional<server::Response> adminRefusal(const server::Request& request) const;
  server::Response modelsResponse(std::string_view target) const;
  // count_tokens.cpp: POST /v1/messages/count_tokens, counted here (an estimate for Claude).
  server::Response countMessageTokens(const server::Request& request) const;

  // proxy.cpp: the proxy sequence and its steps.
  // `api`: what the client speaks; its request reaches the filters as `route`'s (client_api.h).
  server::Task<> proxy(std::shared_ptr<Gateway> self, pipeline::Route route, ClientApi api,
                       server::Request& request, server::ResponseWriter& writer);
  // The body parsed and checked into `call`; the error to answer when it is not valid.
  std::optional<openai::ApiError> parse(ProxyCall& call, const server::Request& request) const;
  // The filters' onRequest, with the waits they ask for done in between.
  server::Task<pipeline::FilterStatus> runChain(ProxyCall& call);
  server::Task<> replyLocally(ProxyCall& call);
  // Sends the request to its model (after a cascade, if the router asked for one) and relays the
  // answer.
  server::Task<> dispatch(ProxyCall& call, server::Request& request);
  // The model's call and its relay, once `body` is what the backend is sent.
  server::Task<> callAndRelay(ProxyCall& call, std::string body);
  // Does what a filter waits for (ctx.awaited): another request's signal, or an embedding call
  // into ctx.embedding (charged to the request as a side call). Never throws.
  server::Task<> fulfil(ProxyCall& call, const pipeline::Awaited& awaited);
  // The end of every proxied request: its charge and the filters' onComplete, then their log
  // fields into the record.
  void complete(ProxyCall& call) const;

  // cascade.cpp: tries the cascade's models but the last (ctx.cascade), each judged; serves the
  // first answer accepted and returns true, or returns false with the escalations recorded, for
  // the last model to answer. A streaming request's attempts are streams held for their first
  // tokens and judged on them (Cascade::stream_hold_tokens), or else whole calls replayed as a
  // stream. Every attempt is charged, a cancelled one for what it used.
  server::Task<bool> runCascade(ProxyCall& call);
  // One attempt, whole: nullopt once its answer was accepted and served, else why it was not.
  server::Task<std::optional<std::string>> wholeAttempt(ProxyCall& call, std::size_t index);
  // One attempt, streamed and held while judged; relayed when accepted (returns nullopt).
  // A backend that answers the stream with a whole answer is judged whole.
  server::Task<std::optional<std::string>> heldStreamAttempt(ProxyCall& call, std::size_t index);
  // A whole 200 answer of attempt `index` (begun at `started`), read and judged; served when
  // accepted (returns nullopt), else charged as a side call (returns why).
  server::Task<std::optional<std::string>> judgeWhole(ProxyCall& call, std::size_t index,
                                                      ModelCalls::Answer& answer,
                                                      std::chrono::steady_clock::time_point started,
                                                      std::string_view sent);
  // The accepted whole answer of a cascade, sent.
  server::Task<> serveCascadeAnswer(ProxyCall& call, const ModelCalls::Answer& answer,
                                    std::string body);
  // Marks `answer` of attempt `index` as the one served, on `verdict` (the record, ctx, headers).
  void markServed(ProxyCall& call, const ModelCalls::Answer& answer, std::size_t index,
                  pipeline::Judgement verdict) const;
  // An attempt's accounting (CallAccounting) for the body it was `sent` (which must outlive it).
  void prepareAccounting(ProxyCall& call, std::string_view sent) const;
  // An attempt judged too weak (or cut off): charged as a side call for what it used.
  void chargeRejected(ProxyCall& call, const std::string& model, const pricing::Usage& usage,
                      std::string_view source) const;
  // The time a served backend call took (since `started`), into the record and the histogram.
  void recordUpstreamTime(ProxyCall& call, std::chrono::steady_clock::time_point started);

  // relay.cpp: the backend's answer to the client.
  // A stream: `held` is the start a cascade held back and judged, relayed first (null: none).
  server::Task<> relayStream(ProxyCall& call, upstream::Exchange& exchange,
                             HeldStream* held = nullptr);
  // A stream the backend broke off: the error as a last event (`out` holds the whole events
  // before it), unless the client is gone.
  server::Task<> endBrokenStream(ProxyCall& call, const upstream::Failure& failure,
                                 std::string& out);
  // A whole answer. A 200 that is not JSON is refused (502 upstream_protocol_error); a JSON
  // answer to a client that asked for a stream is replayed to it as one (chat completions).
  server::Task<> relayWhole(ProxyCall& call, upstream::Exchange& exchange);
  // The headers of the backend's answer a client gets (rate limits, its own request id), with
  // the backend's key redacted.
  void addRelayedHeaders(const ProxyCall& call, const upstream::Exchange& exchange,
                         server::Response& response) const;

  config::GatewayConfig config_;
  BrowserPolicy browser_;
  pipeline::Chain chain_;
  ModelCalls calls_;
  std::string models_body_;
  Records& records_;
  metrics::Metrics& metrics_;  // records_'
};

}  // namespace costgate::gateway
