#pragma once
// The typed gateway configuration, built once from YAML by config::load() and never mutated after.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "costgate/config/forward_headers.h"
#include "costgate/crypto/sha256.h"
#include "costgate/pricing/price.h"
#include "costgate/tokenizer/encoding.h"

namespace costgate::config {

using Millis = std::chrono::milliseconds;

// Where a value came from, so errors found after parsing can still point at the YAML.
struct SourceMark {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 picks a free port; the bound one is logged
  unsigned threads = 0;  // 0 = one per core
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  Millis header_timeout{10'000};  // a new connection must send its request head within this
  Millis body_timeout{30'000};    // the whole body must arrive within this
  Millis idle_timeout{60'000};    // keep-alive connections idle longer are closed
  Millis drain_timeout{10'000};   // on SIGTERM, requests in flight get this long to finish
  unsigned busy_poll_us = 15;     // after work, poll this long before sleeping (0 = never)
  Millis reload_check{1'000};     // how often the file is checked for changes (0: SIGHUP only)
  // Who may call, applied by each configuration (a reload changes it without a restart):
  // the origins (scheme://host[:port], or "*" for any) whose web pages may call; a request with
  // any other Origin header is refused. None by default: browsers may not call at all.
  std::vector<std::string> allowed_origins;
  // Host names (lower-case, without port; "*" accepts any) served besides those that are always
  // (IP literals, localhost) and, on a non-loopback listen address, private names
  // (gateway/browser_policy.h: the DNS-rebinding defence).
  std::vector<std::string> allowed_hosts;

  bool operator==(const ServerConfig&) const = default;
};

struct BackendConfig {
  std::string name;
  std::string scheme;  // "http" or "https"
  std::string host;
  uint16_t port = 0;
  std::string base_path;  // path prefix from the URL without a trailing slash, e.g. "/v1"
  std::string api_key;    // sent as "Authorization: Bearer"; empty sends none
  std::string ca_file;    // https: trust these CAs instead of the system store
  bool verify_tls = true;
  Millis connect_timeout{5'000};
  Millis read_timeout{120'000};           // max wait for the response head and between body bytes
  std::size_t max_idle_connections = 64;  // per worker thread
  // The client headers this backend may be sent (config/forward_headers.h): lower-case names or
  // prefixes ending in '*'.
  std::vector<std::string> forward_headers =
      std::vector<std::string>(defaultForwardHeaders().begin(), defaultForwardHeaders().end());
  SourceMark mark;
};

// Where token counts come from.
struct TokenizerConfig {
  std::string data_dir;  // holds <name>.tiktoken for the built-in encodings
  // For models whose name is not one of OpenAI's families (tokenizer::encodingForModel); "none"
  // leaves them without token counts.
  std::string default_encoding = "o200k_base";
  // Encodings beyond the built-in ones (or other files for them): a rank file and the split rule
  // of a built-in encoding.
  struct Custom {
    std::string file;
    tokenizer::SplitRule rule = tokenizer::SplitRule::kO200k;
    SourceMark mark;
  };
  std::map<std::string, Custom> encodings;
};

// One backend serving a model; a model's deployments share its load (weighted, least
// outstanding requests first) and stand in for each other when one fails.
struct Deployment {
  std::string backend;        // key into GatewayConfig::backends
  std::string backend_model;  // what that backend is sent as "model"
  unsigned weight = 1;
};

struct ModelRoute {
  std::string name;                     // what clients send as "model"
  std::string backend;                  // the first deployment's backend...
  std::string backend_model;            // ...and the model name it is sent
  std::vector<Deployment> deployments;  // at least one; the first is backend/backend_model
  // Models tried, in order, when every deployment of this one failed (after retries).
  std::vector<std::string> fallbacks;
  std::string owned_by = "costgate";
  std::optional<pricing::Price> price;  // none: calls to this model are not priced
  // How the model counts tokens; null when it has none (TokenizerConfig::default_encoding: none).
  std::shared_ptr<const tokenizer::Encoding> encoding;
  SourceMark mark;
};

// One entry of the filter chain as written in YAML; the filter registry turns it into a Filter.
struct FilterSpec {
  std::string name;
  YAML::Node settings;  // the filter's own block (may be null)
  SourceMark mark;
  // The gateway's models and their prices (none: unpriced), for settings that name a model or
  // price a request, and each model's fallbacks, for filters that bound what a request may cost
  // (both set by buildChain).
  std::map<std::string, std::optional<pricing::Price>> models;
  std::map<std::string, std::vector<std::string>> fallbacks;
};

// How calls to backends are retried and failing deployments set aside (every model's).
struct UpstreamPolicy {
  unsigned attempts = 2;    // per model, the first try included; a retry goes to another
                            // deployment when there is one
  Millis base_delay{100};   // backoff: full jitter up to base x 2^(retry-1), at most max_delay;
  Millis max_delay{2'000};  // a Retry-After up to retry_after_cap is honoured instead
  Millis retry_after_cap{10'000};
  unsigned eject_after_failures = 3;  // consecutive failures that eject a deployment...
  Millis eject_cooldown{10'000};      // ...for this long (doubling while it keeps failing)
};

// The admin key (given as `api_key`, or as `api_key_sha256` to keep it out of the file), kept as
// its SHA-256. With one, GET /admin/budgets, /costgate/spend and /costgate/summary (and /metrics
// when protect_metrics is set) answer only requests carrying it (Authorization: Bearer, or
// x-costgate-admin-key); without one, /admin/budgets is off and the others are open.
struct AdminConfig {
  std::optional<crypto::Sha256Digest> key_digest;
  bool protect_metrics = false;
};

struct AccessLogConfig {
  std::string path = "-";  // "-" = stdout, "" = off
};

struct GatewayConfig {
  std::string source_file;
  ServerConfig server;
  std::map<std::string, BackendConfig> backends;
  std::map<std::string, ModelRoute> models;
  UpstreamPolicy upstream;
  AdminConfig admin;
  TokenizerConfig tokenizer;
  std::vector<FilterSpec> filters;
  AccessLogConfig access_log;
  std::string log_level = "info";
  std::vector<std::string> notices;  // e.g. backends skipped because their enable_if_env is unset
};

}  // namespace costgate::config
