#pragma once
// The gateway's request handler: routes OpenAI API paths, runs the filter chain, dispatches to the
// backend a model maps to, relays the answer (streamed or whole), and records every exchange.
// LiveGateway (live_gateway.h) swaps one configuration's Gateway for the next on a reload.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "costgate/config/config.h"
#include "costgate/jsonview/document.h"
#include "costgate/log/access_log.h"
#include "costgate/metrics/metrics.h"
#include "costgate/pipeline/chain.h"
#include "costgate/pipeline/kept_state.h"
#include "costgate/report/spend.h"
#include "costgate/server/http_server.h"
#include "costgate/upstream/deployment_pool.h"
#include "costgate/upstream/upstream_client.h"

namespace costgate::gateway {

// What the gateway keeps across configurations, made once per process: the metrics, the spend
// since start, the access log, and what filters keep across reloads (caches, budget ledgers).
class Records {
 public:
  // `access_log_path`: as AccessLog takes it.
  explicit Records(const std::string& access_log_path);

  // The server's observer for every finished exchange, on any worker thread: the access log, the
  // metrics and the spend.
  void observe(const server::ExchangeRecord& record);
  // GET /costgate/spend: report::SpendTotals::json() of the calls since start, by feature, team,
  // env and model, with "since" (Unix seconds).
  std::string spendJson() const;

  metrics::Metrics& metrics() { return metrics_; }
  pipeline::KeptState& kept() { return kept_; }
  long long startedUnix() const {
    return std::chrono::duration_cast<std::chrono::seconds>(metrics_.startedAt().time_since_epoch())
        .count();
  }

 private:
  metrics::Metrics metrics_;
  mutable std::mutex spend_mutex_;  // observe() runs on every worker thread
  report::SpendTotals spend_{{report::Dimension::Feature, report::Dimension::Team,
                              report::Dimension::Env, report::Dimension::Model}};
  log::AccessLog access_log_;
  pipeline::KeptState kept_;
};

// One configuration's request handler: routes OpenAI API paths, runs its filter chain, calls the
// backends its models map to. Made with std::make_shared: each request holds it to its end, so a
// reload can replace it while requests are still running on it.
class Gateway : public std::enable_shared_from_this<Gateway> {
 public:
  // Throws std::runtime_error when a backend's TLS settings cannot be loaded. `records` must
  // outlive it.
  Gateway(config::GatewayConfig config, pipeline::Chain chain, Records& records);

  // The server's handler for every request.
  server::Task<> handle(server::Request& request, server::ResponseWriter& writer);

  const config::GatewayConfig& config() const { return config_; }

  // What a call is charged from: the usage its backend reports (for a stream, the final usage
  // chunk, which the gateway asks for and hides from a client that did not); without one (or
  // with one that cannot be trusted), its own count of the prompt sent and of the text answered.
  struct CallAccounting {
    bool client_asked_for_usage = false;    // streams: the client asked for the usage chunk
    const pricing::Price* price = nullptr;  // null: not priced
    // The prompt's tokens as a filter counted them.
    std::optional<pipeline::TokenCount> prompt_tokens;
    // Otherwise the body sent, counted only if the backend reports no usage (rarely), with the
    // model's encoding if it has one: tokenizing every prompt up front would be work for nothing.
    const tokenizer::Encoding* encoding = nullptr;
    pipeline::Route route = pipeline::Route::ChatCompletions;
    std::string_view sent_body;  // the forwarded body, kept alive by the request

    // The prompt's tokens by the gateway's own count.
    std::uint64_t promptTokens() const;
  };

 private:
  struct Route {
    const config::ModelRoute* model;
    std::vector<const upstream::Backend*> backends;  // by deployment
    std::unique_ptr<upstream::DeploymentPool> pool;  // shared by every worker thread
  };
  // One call to a gateway model with its retries and fallbacks (config::UpstreamPolicy).
  struct ModelCall {
    std::unique_ptr<upstream::Exchange> exchange;          // a response head arrived (any status)
    std::optional<upstream::DeploymentPool::Lease> lease;  // released when the call is done
    std::optional<upstream::Failure> failure;  // no deployment answered: the last failure
    std::string model;                         // who answered: a fallback's name after one
    std::string backend;
    int attempts = 0;
  };
  // Calls `model` (and its fallbacks) at `path` with the body `body_for(backend_model)` makes:
  // the first deployment to answer with anything but a retryable error (429, 5xx) wins; after
  // the attempts run out, the last answer (or failure) is the result. Counts fallbacks and
  // deployment health in the metrics.
  server::Task<> callModel(std::string model, std::string path,
                           std::function<std::string(std::string_view backend_model)> body_for,
                           const std::vector<upstream::Header>& headers, ModelCall& out);
  // `self` keeps this configuration alive until the request is done.
  server::Task<> proxy(std::shared_ptr<Gateway> self, pipeline::Route route,
                       server::Request& request, server::ResponseWriter& writer);
  // Admin endpoints, models, and the errors for unknown paths and wrong methods.
  server::Task<> answerLocally(std::shared_ptr<Gateway> self, server::Request& request,
                               server::ResponseWriter& writer);
  // Tries the cascade's models but the last (ctx.cascade): each a whole call, judged; serves the
  // first answer accepted (replayed as a stream to a streaming client) and returns true, or
  // returns false with the escalations recorded, for the last model to answer. Every judged
  // attempt is charged.
  server::Task<bool> runCascade(pipeline::RequestContext& ctx, const jsonview::Value& filtered,
                                const std::string& path,
                                const std::vector<upstream::Header>& headers,
                                const CallAccounting& accounting, server::ResponseWriter& writer,
                                int& attempts);
  server::Task<> relayStream(pipeline::RequestContext& ctx, upstream::Exchange& exchange,
                             server::ResponseWriter& writer, CallAccounting accounting);
  // A whole answer. A 200 that is not JSON is refused (502 upstream_protocol_error); a JSON
  // answer to a client that asked for a stream is replayed to it as one (chat completions).
  server::Task<> relayWhole(pipeline::RequestContext& ctx, upstream::Exchange& exchange,
                            server::ResponseWriter& writer, const CallAccounting& accounting);
  // Does what a filter that returned Wait asked for (ctx.awaited): waits for another request's
  // signal, or calls a model's /v1/embeddings into ctx.embedding (charged to the request as a
  // side call in `record`). Failures leave ctx.embedding without a vector; never throws.
  server::Task<> fulfil(pipeline::RequestContext& ctx, server::ExchangeRecord& record);
  server::Response modelsResponse(std::string_view target) const;
  // The refusal of a request for an admin endpoint without the admin key (401), or when there is
  // no admin key (403); nothing when the request carries it.
  std::optional<server::Response> adminRefusal(const server::Request& request) const;
  // GET /admin/budgets: every budget's spend, reservations, limit and state.
  server::Task<server::Response> budgetsResponse();
  // The end of every proxied request: what it was charged (ctx.charged, from `record`: the call,
  // its side calls), then the filters' onComplete.
  void complete(pipeline::RequestContext& ctx, const server::ExchangeRecord& record) const;
  // What a cache filter did (ctx.cache) into the record; a hit is charged nothing and records
  // what it saved.
  static void recordCacheOutcome(const pipeline::RequestContext& ctx,
                                 server::ExchangeRecord& record);
  // The body to send the backend: `filtered` (the body as the filters left it) with their member
  // edits spliced in, or the DOM when a filter edited that; the client's bytes, moved, when
  // nothing changed.
  static std::string forwardedBody(pipeline::RequestContext& ctx, const jsonview::Value& filtered,
                                   std::string& client_body);
  // The body as the filters left it with `edits` set on top: spliced into `filtered`, or set on
  // a copy of the DOM when a filter edited that (a cascade's attempts, the forwarded body).
  static std::string bodyWith(const pipeline::RequestContext& ctx, const jsonview::Value& filtered,
                              std::span<const std::pair<std::string, std::string>> edits);
  // What a whole 200 answer used, into `record`, and for a priced model its cost: the usage
  // `answer` reports, or else the gateway's own count (usage_source "estimated").
  static void priceWholeAnswer(const jsonview::Value& answer, const CallAccounting& accounting,
                               server::ExchangeRecord& record);
  // The api_key of the backend named `backend`, or empty: never relayed to a client.
  std::string_view backendKey(std::string_view backend) const;

  config::GatewayConfig config_;
  pipeline::Chain chain_;
  std::map<std::string, std::unique_ptr<upstream::Backend>> backends_;
  std::map<std::string, Route, std::less<>> routes_;
  std::string models_body_;
  Records& records_;
  metrics::Metrics& metrics_;  // records_'
};

}  // namespace costgate::gateway
