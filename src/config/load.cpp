// YAML -> GatewayConfig in three passes: check the document's structure (every key known and
// unique), substitute ${VAR} references in place, then read typed values. Substitution comes
// after the structure check because a backend switched off by `enable_if_env` is left out of it.

#include "costgate/config/load.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include "costgate/config/forward_headers.h"
#include "costgate/config/url.h"
#include "costgate/config/yaml_reader.h"
#include "costgate/error.h"
#include "costgate/pricing/price_table.h"
#include "costgate/text/ascii_case.h"
#include "costgate/tokenizer/encoding.h"

namespace costgate::config {
namespace {

// No value means success; an error is returned, never thrown.
using MaybeError = std::optional<ConfigError>;

constexpr std::string_view kTopKeys[] = {"server",     "backends",  "models",
                                         "upstream",   "tokenizer", "filters",
                                         "access_log", "log_level", "admin"};
constexpr std::string_view kUpstreamKeys[] = {
    "attempts",           "base_delay_ms",        "max_delay_ms",
    "retry_after_cap_ms", "eject_after_failures", "eject_cooldown_ms"};
constexpr std::string_view kDeploymentKeys[] = {"backend", "backend_model", "weight"};
constexpr std::string_view kServerKeys[] = {
    "listen",           "threads",           "max_body_bytes",
    "max_header_bytes", "header_timeout_ms", "body_timeout_ms",
    "idle_timeout_ms",  "drain_timeout_ms",  "busy_poll_us",
    "reload_check_ms",  "allowed_origins",   "allowed_hosts"};
constexpr std::string_view kBackendKeys[] = {"url",
                                             "api_key",
                                             "ca_file",
                                             "verify_tls",
                                             "connect_timeout_ms",
                                             "read_timeout_ms",
                                             "max_idle_connections",
                                             "forward_headers",
                                             "enable_if_env"};
constexpr std::string_view kModelKeys[] = {"backend",  "backend_model", "deployments", "fallbacks",
                                           "owned_by", "price",         "encoding"};
constexpr std::string_view kTokenizerKeys[] = {"data_dir", "default_encoding", "encodings"};
constexpr std::string_view kCustomEncodingKeys[] = {"file", "split"};
constexpr std::string_view kBuiltInEncodings[] = {"cl100k_base", "o200k_base"};
constexpr std::string_view kPriceKeys[] = {"input", "cached_input", "output", "reasoning"};
constexpr std::string_view kAccessLogKeys[] = {"path"};
constexpr std::string_view kAdminKeys[] = {"api_key", "api_key_sha256", "protect_metrics"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};

constexpr uint64_t kMaxThreads = 1024;
// More idle sockets per worker than a process usually has file descriptors is a mistake.
constexpr uint64_t kMaxIdleConnections = 65'536;
// Aliases can make a small file describe a huge or cyclic tree ("billion laughs", `&a [*a]`);
// these bound the walks over it, here and in every filter that reads its settings later.
constexpr std::size_t kMaxNodes = 100'000;
constexpr int kMaxDepth = 64;

// The file name is added by parse(), once for every error.
ConfigError errorAt(const YAML::Mark& mark, std::string message) {
  return {.where = sourceMark(mark, {}), .message = std::move(message)};
}

// Addresses.

constexpr UrlScheme kBackendSchemes[] = {{"http", 80}, {"https", 443}};

MaybeError parseListen(const Field& field, const std::string& text, ServerConfig* server) {
  auto parsed = parseHostPort(text);
  std::string problem;
  if (const auto* failed = std::get_if<Error>(&parsed))
    problem = failed->message;
  else if (!std::get<HostPort>(parsed).port)
    problem = "the port is missing";
  if (!problem.empty()) {
    return field.error("expected host:port such as 127.0.0.1:8080 or [::1]:8080, got " +
                       quoteValue(text) + " (" + problem + ")");
  }
  HostPort& address = std::get<HostPort>(parsed);
  server->host = std::move(address.host);
  server->port = *address.port;
  return std::nullopt;
}

MaybeError readBackendUrl(const Field& field, const std::string& text, BackendConfig* backend) {
  auto parsed = parseUrl(text, kBackendSchemes);
  if (const auto* problem = std::get_if<Error>(&parsed)) {
    // Credentials would end up quoted in the message and in logs: a URL with userinfo, a query
    // (`?key=...`) or a fragment is not repeated.
    const std::string got = text.find_first_of("@?#") == std::string::npos
                                ? "got " + quoteValue(text) + " "
                                : std::string("got a URL ");
    return field.error("expected a URL such as https://api.openai.com/v1, " + got + "(" +
                       problem->message + ")");
  }
  Url& url = std::get<Url>(parsed);
  if (url.user) return field.error("the URL must not contain credentials; put the key in api_key");
  std::string_view path = url.path;
  while (path.ends_with('/')) path.remove_suffix(1);
  backend->scheme = std::move(url.scheme);
  backend->host = std::move(url.host);
  backend->port = url.port;
  backend->base_path = std::string(path);
  return std::nullopt;
}

// Who may call (server.allowed_origins, server.allowed_hosts) and what a backend is sent
// (forward_headers): lists whose entries are checked, and normalized, one by one.

// Rewrites `text` in place to its normalized form, or returns why it is not valid.
using EntryCheck = std::function<MaybeError(const Field& field, std::string& text)>;

void readEntries(SettingsReader& reader, const Section& section, std::string_view key,
                 std::string_view noun, const EntryCheck& check, std::vector<std::string>* out) {
  std::vector<std::string> values;
  for (const Field& item : section.items(key, noun)) {
    if (!item.value().IsScalar()) {
      reader.fail(item.error("expected a string, got " + describeValue(item.value())));
      return;
    }
    std::string text = item.value().Scalar();
    if (MaybeError error = check(item, text)) {
      reader.fail(*std::move(error));
      return;
    }
    values.push_back(std::move(text));
  }
  if (!reader.failed() && section.has(key)) *out = std::move(values);
}

constexpr UrlScheme kOriginSchemes[] = {{"http", 80}, {"https", 443}};

// An origin as browsers send it: scheme://host[:port], lower-case, the scheme's default port
// left out; or "*".
MaybeError normalizeOrigin(const Field& field, std::string& text) {
  if (text == "*") return std::nullopt;
  auto parsed = parseUrl(text, kOriginSchemes);
  const Url* url = std::get_if<Url>(&parsed);
  std::string problem = url ? "" : std::get<Error>(parsed).message;
  if (url && url->user) problem = "an origin has no user name";
  if (url && !url->path.empty()) problem = "an origin has no path, not even '/'";
  if (!problem.empty()) {
    return field.error(
        "expected an origin such as https://app.example.com or "
        "http://localhost:3000, or \"*\" (" +
        problem + ")");
  }
  const bool default_port = url->port == (url->scheme == "https" ? 443 : 80);
  const std::string host = text::lowerAscii(url->host);
  text = url->scheme + "://" + (host.find(':') != host.npos ? "[" + host + "]" : host) +
         (default_port ? "" : ":" + std::to_string(url->port));
  return std::nullopt;
}

// A host name without port, lower-case; "*.example.com" for its subdomains; or "*".
MaybeError normalizeHost(const Field& field, std::string& text) {
  text = text::lowerAscii(text);
  if (text == "*") return std::nullopt;
  std::string_view name = text;
  if (name.starts_with("*.")) name.remove_prefix(2);
  const bool valid =
      !name.empty() && name.front() != '.' && name.back() != '.' &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
      });
  if (!valid) {
    return field.error("expected a host name without port such as gateway.example.com, " +
                       std::string("*.example.com or \"*\", got ") + quoteValue(text));
  }
  return std::nullopt;
}

// A header name (or a prefix ending in '*'), lower-case, that may be forwarded. "defaults" is
// kept as written; the caller expands it.
MaybeError normalizeForwardedHeader(const Field& field, std::string& text) {
  text = text::lowerAscii(text);
  if (text == kDefaultsEntry) return std::nullopt;
  std::string_view name = text;
  if (name.ends_with('*')) name.remove_suffix(1);
  // RFC 9110's token characters.
  static constexpr std::string_view kSymbols = "!#$%&'+-.^_`|~";
  const bool valid = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kSymbols.find(c) != kSymbols.npos;
  });
  if (!valid || (name.empty() && text.empty())) {
    return field.error("expected a header name, a prefix ending in '*' (x-stainless-*) or " +
                       std::string(kDefaultsEntry) + ", got " + quoteValue(text));
  }
  if (name.size() == text.size() && neverForwarded(name)) {
    return field.error(quoteValue(text) +
                       " is never forwarded: the backend gets the gateway's own credentials, "
                       "framing and request id");
  }
  return std::nullopt;
}

// "defaults" replaced by the default list; each name once.
std::vector<std::string> expandForwardHeaders(const std::vector<std::string>& entries) {
  std::vector<std::string> names;
  auto add = [&names](std::string_view name) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
  };
  for (const std::string& entry : entries) {
    if (entry != kDefaultsEntry) {
      add(entry);
      continue;
    }
    for (std::string_view name : defaultForwardHeaders()) add(name);
  }
  return names;
}

MaybeError checkReadableFile(const Field& field, const std::string& path) {
  std::error_code status_error;
  const std::filesystem::file_status status = std::filesystem::status(path, status_error);
  if (status_error) return field.error("cannot read '" + path + "': " + status_error.message());
  if (!std::filesystem::is_regular_file(status)) {
    return field.error("'" + path + "' is not a regular file");
  }
  if (!std::ifstream(path)) return field.error("cannot open '" + path + "' for reading");
  return std::nullopt;
}

// Expands ${...} in every scalar under a root, except in the subtrees of backends switched off by
// `enable_if_env` and of their models: the variables those use may be unset on purpose.
class Substitution {
 public:
  Substitution(const EnvLookup& getenv, std::vector<YAML::Node> skipped)
      : getenv_(getenv), skipped_(std::move(skipped)) {}

  MaybeError run(const YAML::Node& root) {
    if (auto error = collect(root, 0)) return error;
    // Every value is expanded from its original text before any node changes: an aliased scalar
    // is reached once per alias, and rewriting it at the first visit would expand it twice. The
    // assignment keeps the node's Mark, which filters use for their own errors.
    for (auto& [node, text] : rewrites_) node = text;
    return std::nullopt;
  }

 private:
  MaybeError collect(const YAML::Node& node, int depth) {
    if (++visited_ > kMaxNodes) {
      return errorAt(node.Mark(), "the document has more than " + std::to_string(kMaxNodes) +
                                      " values once aliases are expanded");
    }
    if (depth > kMaxDepth) {
      return errorAt(node.Mark(), "nested more than " + std::to_string(kMaxDepth) +
                                      " levels deep (does an alias refer to itself?)");
    }
    if (isSkipped(node)) return std::nullopt;
    if (node.IsScalar()) return expand(node);
    if (node.IsSequence()) {
      for (const YAML::Node& item : node) {
        if (auto error = collect(item, depth + 1)) return error;
      }
    }
    if (node.IsMap()) {
      for (const auto& entry : node) {
        if (auto error = collect(entry.second, depth + 1)) return error;
      }
    }
    return std::nullopt;
  }

  MaybeError expand(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    if (text.find('$') == std::string::npos) return std::nullopt;
    auto expansion = expandEnvironment(text, getenv_);
    if (auto* error = std::get_if<Error>(&expansion)) return errorAt(node.Mark(), error->message);
    std::string& expanded = std::get<std::string>(expansion);
    if (expanded != text) rewrites_.emplace_back(node, std::move(expanded));
    return std::nullopt;
  }

  bool isSkipped(const YAML::Node& node) const {
    return std::any_of(skipped_.begin(), skipped_.end(),
                       [&](const YAML::Node& skipped) { return skipped.is(node); });
  }

  const EnvLookup& getenv_;
  std::vector<YAML::Node> skipped_;
  std::vector<std::pair<YAML::Node, std::string>> rewrites_;
  std::size_t visited_ = 0;
};

class Loader {
 public:
  Loader(const std::string& file, const EnvLookup& getenv) : file_(file), getenv_(getenv) {}

  // Each step reads through `reader`, which keeps the first error; a step that needs the ones
  // before it to have succeeded runs only when no error is kept yet.
  MaybeError load(const YAML::Node& root, GatewayConfig* config) {
    SettingsReader reader(root, file_);
    const Section top = reader.root(kTopKeys);
    const std::vector<Section> backends = top.sectionMap("backends", kBackendKeys);
    const std::vector<Section> models = top.sectionMap("models", kModelKeys);
    if (!reader.failed()) findSkippedBackends(backends, &config->notices);
    if (reader.failed()) return reader.error();
    if (auto error = Substitution(getenv_, skippedSubtrees(backends, models)).run(root)) {
      return error;
    }
    readServer(reader, top.section("server", kServerKeys), &config->server);
    readBackends(reader, backends, &config->backends);
    readTokenizer(top.section("tokenizer", kTokenizerKeys), &config->tokenizer);
    if (!reader.failed()) readModels(reader, top.find("models"), models, config);
    if (!reader.failed()) readFallbacks(reader, models, config);
    readUpstream(top.section("upstream", kUpstreamKeys), &config->upstream);
    readFilters(reader, top.items("filters", "filters"), &config->filters);
    top.section("access_log", kAccessLogKeys).string("path", &config->access_log.path);
    readAdmin(reader, top.section("admin", kAdminKeys), &config->admin);
    top.choice("log_level", kLogLevels, &config->log_level);
    return reader.error();
  }

 private:
  void findSkippedBackends(const std::vector<Section>& backends,
                           std::vector<std::string>* notices) {
    for (const Section& backend : backends) {
      std::string variable;
      backend.parsed("enable_if_env",
                     [&](const Field& field, const std::string& name) -> MaybeError {
                       if (!isEnvironmentVariableName(name)) {
                         return field.error("expected the name of an environment variable, got " +
                                            quoteValue(name));
                       }
                       variable = name;
                       return std::nullopt;
                     });
      if (variable.empty()) continue;
      const std::optional<std::string> value = getenv_(variable);
      if (value && !value->empty()) continue;
      skipped_backends_.insert(backend.key());
      notices->push_back("backend '" + backend.key() + "' skipped: " + variable +
                         (value ? " is empty" : " is not set") + " (" + formatMark(backend.mark()) +
                         ")");
    }
  }

  // Judged on the text as written: a model whose `backend` is itself a ${...} reference is
  // substituted, and skipped afterwards if it turns out to name a skipped backend.
  std::vector<YAML::Node> skippedSubtrees(const std::vector<Section>& backends,
                                          const std::vector<Section>& models) const {
    std::vector<YAML::Node> subtrees;
    for (const Section& backend : backends) {
      if (skipped_backends_.contains(backend.key())) subtrees.push_back(backend.node());
    }
    for (const Section& model : models) {
      const Field* backend = model.find("backend");
      if (backend != nullptr && backend->value().IsScalar() &&
          skipped_backends_.contains(backend->value().Scalar())) {
        subtrees.push_back(model.node());
      }
    }
    return subtrees;
  }

  static void readAdmin(SettingsReader& reader, const Section& section, AdminConfig* admin) {
    std::string key, digest;
    section.string("api_key", &key);
    section.string("api_key_sha256", &digest);
    section.boolean("protect_metrics", &admin->protect_metrics);
    if (!key.empty() && !digest.empty()) {
      reader.fail(
          section.find("api_key_sha256")->error("give api_key or api_key_sha256, not both"));
    } else if (!key.empty()) {
      admin->key_digest = crypto::sha256(key);
    } else if (!digest.empty()) {
      admin->key_digest = crypto::digestFromHex(digest);
      // Never echoed: what is here when it is no digest is often the key itself.
      if (!admin->key_digest) {
        reader.fail(section.find("api_key_sha256")
                        ->error("expected 64 hex digits (sha256sum's output), got " +
                                describeSecret(digest) +
                                " (the key itself goes in api_key; its SHA-256 here)"));
      }
    }
    if (admin->protect_metrics && !admin->key_digest) {
      reader.fail(section.find("protect_metrics")->error("protect_metrics needs an admin key"));
    }
  }

  static void readServer(SettingsReader& reader, const Section& section, ServerConfig* server) {
    section.parsed("listen", [&](const Field& listen, const std::string& text) {
      return parseListen(listen, text, server);
    });
    section.integer("threads", 0, kMaxThreads, &server->threads);
    section.byteSize("max_body_bytes", &server->max_body_bytes);
    section.byteSize("max_header_bytes", &server->max_header_bytes);
    section.millis("header_timeout_ms", &server->header_timeout);
    section.millis("body_timeout_ms", &server->body_timeout);
    section.millis("idle_timeout_ms", &server->idle_timeout);
    section.millis("drain_timeout_ms", &server->drain_timeout, Millis(0));
    section.integer("busy_poll_us", 0, 10'000, &server->busy_poll_us);
    section.millis("reload_check_ms", &server->reload_check, Millis(0));
    readEntries(reader, section, "allowed_origins", "origins", normalizeOrigin,
                &server->allowed_origins);
    readEntries(reader, section, "allowed_hosts", "host names", normalizeHost,
                &server->allowed_hosts);
  }

  void readBackends(SettingsReader& reader, const std::vector<Section>& sections,
                    std::map<std::string, BackendConfig>* backends) const {
    for (const Section& section : sections) {
      if (skipped_backends_.contains(section.key())) continue;
      BackendConfig backend;
      backend.name = section.key();
      backend.mark = section.mark();
      readBackend(reader, section, &backend);
      backends->emplace(section.key(), std::move(backend));
    }
  }

  static void readBackend(SettingsReader& reader, const Section& section, BackendConfig* backend) {
    section.require("url");
    section.parsed("url", [&](const Field& field, const std::string& text) {
      return readBackendUrl(field, text, backend);
    });
    section.parsed("api_key", [&](const Field& field, const std::string& key) -> MaybeError {
      // The key goes into a header, where a stray newline would split it.
      if (std::any_of(key.begin(), key.end(), [](unsigned char c) { return std::iscntrl(c); })) {
        return field.error("contains a control character (a trailing newline?)");
      }
      backend->api_key = key;
      return std::nullopt;
    });
    section.parsed("ca_file", [&](const Field& field, const std::string& path) -> MaybeError {
      if (path.empty()) return std::nullopt;
      if (auto error = checkReadableFile(field, path)) return error;
      backend->ca_file = path;
      return std::nullopt;
    });
    section.boolean("verify_tls", &backend->verify_tls);
    section.millis("connect_timeout_ms", &backend->connect_timeout);
    section.millis("read_timeout_ms", &backend->read_timeout);
    section.integer("max_idle_connections", 0, kMaxIdleConnections, &backend->max_idle_connections);
    std::vector<std::string> forwarded;
    readEntries(reader, section, "forward_headers", "header names", normalizeForwardedHeader,
                &forwarded);
    if (section.has("forward_headers")) backend->forward_headers = expandForwardHeaders(forwarded);
  }

  void readModels(SettingsReader& reader, const Field* field, const std::vector<Section>& sections,
                  GatewayConfig* config) const {
    std::size_t skipped = 0;
    for (const Section& section : sections) {
      ModelRoute route;
      route.name = section.key();
      route.backend_model = section.key();
      route.mark = section.mark();
      auto checkBackend = [&](const Field& backend, const std::string& name) -> MaybeError {
        if (skipped_backends_.contains(name) || config->backends.contains(name)) {
          return std::nullopt;
        }
        return backend.error("no backend named " + quoteValue(name) + definedBackends(*config));
      };
      // Either one backend (backend, backend_model) or several (deployments).
      if (section.has("deployments")) {
        if (const Field* single = section.find("backend")) {
          reader.fail(single->error("give either backend or deployments, not both"));
          return;
        }
        for (const Section& entry : section.sectionList("deployments", kDeploymentKeys)) {
          Deployment deployment{.backend = "", .backend_model = section.key(), .weight = 1};
          entry.require("backend");
          entry.parsed("backend", [&](const Field& backend, const std::string& name) {
            deployment.backend = name;
            return checkBackend(backend, name);
          });
          entry.nonEmptyString("backend_model", &deployment.backend_model);
          entry.integer("weight", 1, 1000, &deployment.weight);
          if (reader.failed()) return;
          if (!skipped_backends_.contains(deployment.backend)) {
            route.deployments.push_back(std::move(deployment));
          }
        }
        if (const Field* list = section.find("deployments");
            list && route.deployments.empty() &&
            section.sectionList("deployments", kDeploymentKeys).empty()) {
          reader.fail(list->error("expected at least one deployment"));
          return;
        }
      } else {
        section.require("backend");
        Deployment deployment{.backend = "", .backend_model = section.key(), .weight = 1};
        section.parsed("backend", [&](const Field& backend, const std::string& name) {
          deployment.backend = name;
          return checkBackend(backend, name);
        });
        section.nonEmptyString("backend_model", &deployment.backend_model);
        if (reader.failed()) return;
        if (!skipped_backends_.contains(deployment.backend)) {
          route.deployments.push_back(std::move(deployment));
        }
      }
      if (reader.failed()) return;
      if (route.deployments.empty()) {
        ++skipped;
        const Field* single = section.find("backend");
        config->notices.push_back(
            "model '" + section.key() + "' skipped: " +
            (single ? "its backend '" + single->value().Scalar() + "' is skipped"
                    : std::string("every backend of its deployments is skipped")) +
            " (" + formatMark(section.mark()) + ")");
        continue;
      }
      route.backend = route.deployments.front().backend;
      route.backend_model = route.deployments.front().backend_model;
      section.nonEmptyString("owned_by", &route.owned_by);
      readModelPrice(section, &route);
      readModelEncoding(reader, section, config->tokenizer, &route);
      if (reader.failed()) return;
      config->models.emplace(section.key(), std::move(route));
    }
    if (!config->models.empty()) return;
    std::string message = "no models configured";
    if (skipped > 0) {
      message += " (" + std::to_string(skipped) + " skipped with their backends)";
    }
    reader.fail({.where = field != nullptr ? field->keyMark() : SourceMark{.file = file_},
                 .message = message});
  }

  // After every model is read: fallbacks name other models (a skipped one is left out).
  void readFallbacks(SettingsReader& reader, const std::vector<Section>& sections,
                     GatewayConfig* config) const {
    for (const Section& section : sections) {
      auto route = config->models.find(section.key());
      if (route == config->models.end()) continue;  // skipped
      std::vector<std::string> names;
      section.strings("fallbacks", &names);
      const Field* field = section.find("fallbacks");
      for (const std::string& name : names) {
        if (reader.failed()) return;
        if (name == section.key()) {
          reader.fail(field->error("a model cannot fall back to itself"));
        } else if (config->models.contains(name)) {
          route->second.fallbacks.push_back(name);
        } else if (!std::any_of(sections.begin(), sections.end(),
                                [&](const Section& other) { return other.key() == name; })) {
          reader.fail(field->error("no model named " + quoteValue(name)));
        }
      }
    }
  }

  static void readUpstream(const Section& section, UpstreamPolicy* upstream) {
    section.integer("attempts", 1, 10, &upstream->attempts);
    section.millis("base_delay_ms", &upstream->base_delay);
    section.millis("max_delay_ms", &upstream->max_delay);
    section.millis("retry_after_cap_ms", &upstream->retry_after_cap, Millis(0));
    section.integer("eject_after_failures", 1, 1000, &upstream->eject_after_failures);
    section.millis("eject_cooldown_ms", &upstream->eject_cooldown);
  }

  // The model's price: the YAML's `price`, key by key over the built-in table's line for its
  // backend model (else its name), or that line alone. Prices that load but misreport spend are
  // warned about after loading (config/price_warnings.h).
  static void readModelPrice(const Section& section, ModelRoute* route) {
    const pricing::ListedPrice* listed = pricing::listedPrice(route->backend_model);
    if (listed == nullptr) listed = pricing::listedPrice(route->name);
    const pricing::Price* base = listed != nullptr ? &listed->price : nullptr;
    if (section.has("price")) {
      route->price = readPrice(section.section("price", kPriceKeys), base);
    } else if (base != nullptr) {
      route->price = *base;
    }
  }

  // USD per million tokens, as written: `input: 0.15`. Over `base` (a built-in price) every key is
  // optional; otherwise input and output are required, and cached input and reasoning default to
  // them (pricing::Price).
  static pricing::Price readPrice(const Section& section, const pricing::Price* base) {
    pricing::Price price = base != nullptr ? *base : pricing::Price{};
    if (base == nullptr) {
      section.require("input");
      section.require("output");
    }
    auto usd = [&section](std::string_view key, pricing::Nanos* out) {
      section.parsed(key, [out](const Field& field, const std::string& text) -> MaybeError {
        // A billion dollars per million tokens is beyond any real price: a unit mistake.
        constexpr pricing::Nanos kMaxPrice = 1'000'000'000 * pricing::kNanosPerDollar;
        auto amount = pricing::parseUsd(text);
        if (!amount || *amount > kMaxPrice) {
          return field.error(
              "expected USD per million tokens such as 0.15 (at most 9 decimals, at most "
              "1000000000)");
        }
        *out = *amount;
        return std::nullopt;
      });
    };
    usd("input", &price.input);
    usd("output", &price.output);
    if (section.has("cached_input")) usd("cached_input", &price.cached_input.emplace());
    if (section.has("reasoning")) usd("reasoning", &price.reasoning.emplace());
    return price;
  }

  static void readTokenizer(const Section& section, TokenizerConfig* tokenizer) {
    tokenizer->data_dir = tokenizer::defaultDataDir();
    section.nonEmptyString("data_dir", &tokenizer->data_dir);
    for (const Section& custom : section.sectionMap("encodings", kCustomEncodingKeys)) {
      TokenizerConfig::Custom encoding{.file = "", .mark = custom.mark()};
      custom.require("file");
      custom.parsed("file", [&](const Field& field, const std::string& path) -> MaybeError {
        if (auto error = checkReadableFile(field, path)) return error;
        encoding.file = path;
        return std::nullopt;
      });
      std::string split = "o200k_base";
      custom.choice("split", kBuiltInEncodings, &split);
      encoding.rule = *tokenizer::splitRuleOf(split);
      tokenizer->encodings.emplace(custom.key(), std::move(encoding));
    }
    // Checked here, after the custom encodings it may name: a default no model falls back to is
    // still a mistake, and one that some model does fall back to is best reported where written.
    section.parsed("default_encoding", [&](const Field& field, const std::string& name) {
      MaybeError error = checkEncodingName(field, name, *tokenizer);
      if (!error) tokenizer->default_encoding = name;
      return error;
    });
  }

  // "cl100k_base, o200k_base, <custom names>, none".
  static std::string knownEncodings(const TokenizerConfig& tokenizer) {
    std::string known;
    for (std::string_view builtin_name : kBuiltInEncodings) {
      known += (known.empty() ? "" : ", ") + std::string(builtin_name);
    }
    for (const auto& [custom_name, unused] : tokenizer.encodings) known += ", " + custom_name;
    return known + ", none";
  }

  static MaybeError checkEncodingName(const Field& field, const std::string& name,
                                      const TokenizerConfig& tokenizer) {
    if (name == "none" || tokenizer.encodings.contains(name) || tokenizer::splitRuleOf(name)) {
      return std::nullopt;
    }
    return field.error("unknown encoding " + quoteValue(name) +
                       " (known: " + knownEncodings(tokenizer) + ")");
  }

  // The model's `encoding`, else OpenAI's for its backend name, else the default; the ranks are
  // loaded here so that a missing or corrupt file is a configuration error, not a request error.
  static void readModelEncoding(SettingsReader& reader, const Section& section,
                                const TokenizerConfig& tokenizer, ModelRoute* route) {
    std::string name(tokenizer::encodingForModel(route->backend_model));
    if (name.empty()) name = tokenizer.default_encoding;
    SourceMark mark = section.mark();
    std::string where = "models." + route->name;
    if (const Field* field = section.find("encoding")) {
      section.parsed("encoding", [&](const Field& value, const std::string& text) {
        MaybeError error = checkEncodingName(value, text, tokenizer);
        if (!error) name = text;
        return error;
      });
      mark = field->mark();
      where = field->path();
    }
    if (reader.failed() || name == "none") return;
    std::string path;
    tokenizer::SplitRule rule;
    if (auto custom = tokenizer.encodings.find(name); custom != tokenizer.encodings.end()) {
      path = custom->second.file;
      rule = custom->second.rule;
    } else if (auto builtin = tokenizer::splitRuleOf(name)) {
      path = (std::filesystem::path(tokenizer.data_dir) / (name + ".tiktoken")).string();
      rule = *builtin;
    } else {  // not reached: every name was checked by checkEncodingName
      reader.fail({mark, where + ": unknown encoding " + quoteValue(name)});
      return;
    }
    auto loaded = tokenizer::Encoding::loadShared(name, path, rule);
    if (auto* error = std::get_if<Error>(&loaded)) {
      reader.fail({mark, where + ": encoding " + quoteValue(name) + ": " + error->message});
      return;
    }
    route->encoding = std::get<std::shared_ptr<const tokenizer::Encoding>>(std::move(loaded));
  }

  static std::string definedBackends(const GatewayConfig& config) {
    if (config.backends.empty()) return " (no backends are defined)";
    std::string names;
    for (const auto& [name, backend] : config.backends) names += (names.empty() ? "" : ", ") + name;
    return " (defined: " + names + ")";
  }

  static void readFilters(SettingsReader& reader, const std::vector<Field>& entries,
                          std::vector<FilterSpec>* filters) {
    for (const Field& entry : entries) {
      FilterSpec spec{.name = "",
                      .settings = YAML::Node(),
                      .mark = entry.mark(),
                      .models = {},
                      .fallbacks = {}};
      if (auto error = readFilter(entry, &spec)) {
        reader.fail(*std::move(error));
        return;
      }
      filters->push_back(std::move(spec));
    }
  }

  // A filter is written as its name, or as a map with its name as the only key and its settings
  // as the value.
  static MaybeError readFilter(const Field& entry, FilterSpec* spec) {
    const YAML::Node& item = entry.value();
    if (item.IsScalar() && !item.Scalar().empty()) {
      spec->name = item.Scalar();
      return std::nullopt;
    }
    if (item.IsMap() && item.size() == 1 && item.begin()->first.IsScalar() &&
        !item.begin()->first.Scalar().empty()) {
      spec->name = item.begin()->first.Scalar();
      spec->settings = item.begin()->second;
      return std::nullopt;
    }
    std::string message = "expected a filter name, or a map with the name as its only key";
    if (item.IsMap() && item.size() > 1) {
      // The usual cause: settings written at the name's indentation instead of under it.
      message += ", got a map with " + std::to_string(item.size()) +
                 " keys (are the settings indented under the filter name?)";
    } else {
      message += ", got " + describeValue(item);
    }
    return entry.error(message);
  }

  const std::string& file_;
  const EnvLookup& getenv_;
  std::set<std::string, std::less<>> skipped_backends_;
};

// Where each document of a stream starts (its first token, and its root node, which is where
// Node::Mark() points), from the parser's events: no nodes are built.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  std::vector<YAML::Mark> roots;

  void OnDocumentStart(const YAML::Mark& mark) override {
    starts.push_back(mark);
    roots.push_back(mark);
    root_seen_ = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& mark) {
    if (root_seen_) return;
    root_seen_ = true;
    roots.back() = mark;
  }
  bool root_seen_ = false;
};

// One document, and only one: Load alone reads the first document and drops any after it without
// a word. Not LoadAll: on a document that starts with a token no node can start with (a stray ','
// as in ", a"), yaml-cpp 0.7's parser reports an empty document without consuming the token, so
// LoadAll loops forever, growing its list (found by fuzz/config_fuzzer). The documents are
// counted from the parser's events instead, stopping where one starts at the same place as the
// one before it.
MaybeError readDocument(const std::string& text, YAML::Node* root) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentStarts documents;
  while (parser.HandleNextDocument(documents)) {
    const std::vector<YAML::Mark>& starts = documents.starts;
    if (starts.size() >= 2 && starts.back().pos == starts[starts.size() - 2].pos) {
      const YAML::Mark& stuck = starts.back();
      const std::size_t at = static_cast<std::size_t>(std::max(stuck.pos, 0));
      std::string found = at < text.size() ? "'" + text.substr(at, 1) + "'" : "the end";
      return errorAt(stuck, "expected a YAML value, found " + found);
    }
  }
  if (documents.starts.size() > 1) {
    return errorAt(documents.roots[1],
                   "expected one YAML document, found " + std::to_string(documents.starts.size()));
  }
  *root = documents.starts.empty() ? YAML::Node() : YAML::Load(text);
  return std::nullopt;
}

std::optional<Error> readWholeFile(const std::string& path, std::string* text) {
  std::error_code status_error;
  if (std::filesystem::is_directory(path, status_error))
    return Error{"cannot read: it is a directory"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read: " + std::generic_category().message(errno)};
  text->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return Error{"cannot read: " + std::generic_category().message(errno)};
  return std::nullopt;
}

}  // namespace

std::string formatMark(const SourceMark& mark) {
  std::string out = mark.file;
  if (mark.line > 0) {
    out += (out.empty() ? "" : ":") + std::to_string(mark.line);
    if (mark.column > 0) out += ":" + std::to_string(mark.column);
  }
  return out;
}

std::string ConfigError::describe() const {
  const std::string location = formatMark(where);
  return location.empty() ? message : location + ": " + message;
}

LoadResult parse(const std::string& text, const std::string& file_name, const EnvLookup& getenv) {
  GatewayConfig config;
  MaybeError error;
  // yaml-cpp reports syntax errors by throwing; they become values here. Nothing else is expected
  // to throw, but a configuration error must never take the process down from a reload.
  try {
    YAML::Node root;
    error = readDocument(text, &root);
    if (!error) error = Loader(file_name, getenv).load(root, &config);
  } catch (const YAML::Exception& exception) {
    error = errorAt(exception.mark, exception.msg);
  } catch (const std::exception& exception) {
    error = errorAt(YAML::Mark::null_mark(), std::string("internal error: ") + exception.what());
  }
  if (error) {
    error->where.file = file_name;
    return *std::move(error);
  }
  config.source_file = file_name;
  return config;
}

LoadResult loadFile(const std::string& path) {
  std::string text;
  if (auto problem = readWholeFile(path, &text)) {
    ConfigError error;
    error.where.file = path;
    error.message = problem->message;
    return error;
  }
  return parse(text, path, [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
}

}  // namespace costgate::config
