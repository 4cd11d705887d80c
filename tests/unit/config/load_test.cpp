#include "costgate/config/load.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include <gtest/gtest.h>

#include "../support/config_results.h"

namespace costgate::config {
namespace {

using Env = std::map<std::string, std::string>;

constexpr char kFile[] = "test.yaml";

// Every YAML text below starts on line 1 right after R"(, so the lines asserted are the lines
// as they appear in the literal.
constexpr char kMinimal[] = R"(backends:
  mock:
    url: http://127.0.0.1:8081/v1
models:
  gpt-4o-mini:
    backend: mock
)";

EnvLookup lookupIn(const Env& env) {
  return [env](const std::string& name) -> std::optional<std::string> {
    const auto found = env.find(name);
    if (found == env.end()) return std::nullopt;
    return found->second;
  };
}

GatewayConfig parseOk(const std::string& yaml, const Env& env = {}) {
  return test_data::configOk(
      [&](const std::string& text) { return parse(text, kFile, lookupIn(env)); }, yaml);
}

ConfigError parseError(const std::string& yaml, const Env& env = {}) {
  return test_data::configError(
      [&](const std::string& text) { return parse(text, kFile, lookupIn(env)); }, yaml);
}

// A file that exists for the duration of one test.
class TempFile {
 public:
  explicit TempFile(const std::string& name, const std::string& contents = "x")
      : path_(std::filesystem::temp_directory_path() / name) {
    std::ofstream(path_) << contents;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(ConfigLoad, FullConfigRoundTrip) {
  const TempFile ca("costgate_load_test_ca.pem");
  const GatewayConfig config = parseOk(R"(server:
  listen: "[::1]:9090"
  threads: 8
  max_body_bytes: 8MiB
  max_header_bytes: 32768
  header_timeout_ms: 1000
  body_timeout_ms: 2000
  idle_timeout_ms: 3000
backends:
  openai:
    url: https://api.openai.com/v1/
    api_key: ${OPENAI_API_KEY}
    ca_file: ${CA_FILE}
    verify_tls: false
    connect_timeout_ms: 250
    read_timeout_ms: 9000
    max_idle_connections: 8
    enable_if_env: OPENAI_API_KEY
models:
  gpt-4o-mini:
    backend: openai
    backend_model: gpt-4o-mini-2024-07-18
    owned_by: openai
filters:
  - tagging
  - tagging: { header_prefix: x-costgate- }
access_log:
  path: /var/log/costgate.log
log_level: debug
)",
                                       {{"OPENAI_API_KEY", "sk-test"}, {"CA_FILE", ca.path()}});

  EXPECT_EQ(config.source_file, kFile);
  EXPECT_EQ(config.server.host, "::1");
  EXPECT_EQ(config.server.port, 9090);
  EXPECT_EQ(config.server.threads, 8u);
  EXPECT_EQ(config.server.max_body_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(config.server.max_header_bytes, 32768u);
  EXPECT_EQ(config.server.header_timeout, Millis(1000));
  EXPECT_EQ(config.server.body_timeout, Millis(2000));
  EXPECT_EQ(config.server.idle_timeout, Millis(3000));

  ASSERT_EQ(config.backends.size(), 1u);
  const BackendConfig& backend = config.backends.at("openai");
  EXPECT_EQ(backend.name, "openai");
  EXPECT_EQ(backend.scheme, "https");
  EXPECT_EQ(backend.host, "api.openai.com");
  EXPECT_EQ(backend.port, 443);
  EXPECT_EQ(backend.base_path, "/v1");
  EXPECT_EQ(backend.api_key, "sk-test");
  EXPECT_EQ(backend.ca_file, ca.path());
  EXPECT_FALSE(backend.verify_tls);
  EXPECT_EQ(backend.connect_timeout, Millis(250));
  EXPECT_EQ(backend.read_timeout, Millis(9000));
  EXPECT_EQ(backend.max_idle_connections, 8u);
  EXPECT_EQ(backend.mark.file, kFile);
  EXPECT_EQ(backend.mark.line, 10);
  EXPECT_EQ(backend.mark.column, 3);

  ASSERT_EQ(config.models.size(), 1u);
  const ModelRoute& model = config.models.at("gpt-4o-mini");
  EXPECT_EQ(model.name, "gpt-4o-mini");
  EXPECT_EQ(model.backend, "openai");
  EXPECT_EQ(model.backend_model, "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(model.owned_by, "openai");
  EXPECT_EQ(model.mark.line, 20);
  EXPECT_EQ(model.mark.column, 3);

  ASSERT_EQ(config.filters.size(), 2u);
  EXPECT_EQ(config.filters[0].name, "tagging");
  EXPECT_TRUE(config.filters[0].settings.IsNull());
  EXPECT_EQ(config.filters[0].mark.line, 25);
  EXPECT_EQ(config.filters[0].mark.column, 5);
  EXPECT_EQ(config.filters[1].name, "tagging");
  const YAML::Node& settings = config.filters[1].settings;
  ASSERT_TRUE(settings.IsMap());
  EXPECT_EQ(settings["header_prefix"].Scalar(), "x-costgate-");
  EXPECT_EQ(config.filters[1].mark.line, 26);
  EXPECT_EQ(config.filters[1].mark.column, 5);

  EXPECT_EQ(config.access_log.path, "/var/log/costgate.log");
  EXPECT_EQ(config.log_level, "debug");
  EXPECT_TRUE(config.notices.empty());
}

TEST(ConfigLoad, ModelPrices) {
  GatewayConfig config = parseOk(std::string(kMinimal) + R"(    price:
      input: 0.15
      cached_input: 0.075
      output: 0.6
  plain:
    backend: mock
)");
  const auto& price = config.models.at("gpt-4o-mini").price;
  ASSERT_TRUE(price.has_value());
  EXPECT_EQ(price->input, 150'000'000);
  EXPECT_EQ(price->cached_input, 75'000'000);
  EXPECT_EQ(price->output, 600'000'000);
  EXPECT_EQ(price->reasoning, std::nullopt);  // priced as output
  EXPECT_FALSE(config.models.at("plain").price.has_value());
}

TEST(ConfigLoad, DrainTimeoutMayBeZero) {
  // Zero means "stop at once" on SIGTERM; other timeouts must be positive.
  const GatewayConfig config = parseOk("server:\n  drain_timeout_ms: 0\n" + std::string(kMinimal));
  EXPECT_EQ(config.server.drain_timeout, Millis(0));
  EXPECT_EQ(
      parseOk("server:\n  drain_timeout_ms: 2500\n" + std::string(kMinimal)).server.drain_timeout,
      Millis(2500));
}

TEST(ConfigLoad, DefaultsWhenSectionsAbsent) {
  const GatewayConfig config = parseOk(kMinimal);
  const ServerConfig defaults;
  EXPECT_EQ(config.server.host, defaults.host);
  EXPECT_EQ(config.server.port, defaults.port);
  EXPECT_EQ(config.server.threads, 0u);
  EXPECT_EQ(config.server.max_body_bytes, defaults.max_body_bytes);
  EXPECT_EQ(config.server.max_header_bytes, defaults.max_header_bytes);
  EXPECT_EQ(config.server.header_timeout, defaults.header_timeout);
  EXPECT_EQ(config.server.body_timeout, defaults.body_timeout);
  EXPECT_EQ(config.server.idle_timeout, defaults.idle_timeout);
  EXPECT_EQ(config.server.drain_timeout, defaults.drain_timeout);

  const BackendConfig& backend = config.backends.at("mock");
  EXPECT_EQ(backend.scheme, "http");
  EXPECT_EQ(backend.host, "127.0.0.1");
  EXPECT_EQ(backend.port, 8081);
  EXPECT_EQ(backend.base_path, "/v1");
  EXPECT_EQ(backend.api_key, "");
  EXPECT_EQ(backend.ca_file, "");
  EXPECT_TRUE(backend.verify_tls);
  EXPECT_EQ(backend.connect_timeout, Millis(5000));
  EXPECT_EQ(backend.read_timeout, Millis(120000));
  EXPECT_EQ(backend.max_idle_connections, 64u);
  EXPECT_EQ(backend.mark.line, 2);
  EXPECT_EQ(backend.mark.column, 3);

  const ModelRoute& model = config.models.at("gpt-4o-mini");
  EXPECT_EQ(model.backend, "mock");
  EXPECT_EQ(model.backend_model, "gpt-4o-mini");
  EXPECT_EQ(model.owned_by, "costgate");
  EXPECT_EQ(model.mark.line, 5);
  EXPECT_EQ(model.mark.column, 3);

  EXPECT_TRUE(config.filters.empty());
  EXPECT_EQ(config.access_log.path, "-");
  EXPECT_EQ(config.log_level, "info");
  EXPECT_TRUE(config.notices.empty());
}

TEST(ConfigLoad, EmptySectionsKeepDefaults) {
  const GatewayConfig config =
      parseOk(std::string(kMinimal) + "server:\nfilters:\naccess_log:\n  path: \"\"\n");
  EXPECT_EQ(config.server.port, 8080);
  EXPECT_TRUE(config.filters.empty());
  EXPECT_EQ(config.access_log.path, "");
}

TEST(ConfigLoad, ListenForms) {
  struct Case {
    std::string listen;
    std::string host;
    uint16_t port;
  };
  const Case cases[] = {{"127.0.0.1:8080", "127.0.0.1", 8080},
                        {"\"[::1]:8080\"", "::1", 8080},
                        {"\"[::]:443\"", "::", 443},
                        {"0.0.0.0:0", "0.0.0.0", 0},
                        {"localhost:65535", "localhost", 65535}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.listen);
    const GatewayConfig config =
        parseOk(std::string(kMinimal) + "server:\n  listen: " + c.listen + "\n");
    EXPECT_EQ(config.server.host, c.host);
    EXPECT_EQ(config.server.port, c.port);
  }
}

TEST(ConfigLoad, ListenErrors) {
  struct Case {
    std::string listen;
    std::string problem;
  };
  const Case cases[] = {
      {"8080", "the port is missing"},
      {"\"::1:8080\"", "an IPv6 address needs brackets, e.g. [::1]:8080"},
      {"\"[::1\"", "missing ']' after the IPv6 address"},
      {"\"[::1]8080\"", "unexpected text after the host"},
      {":8080", "the host is missing"},
      {"host:65536", "the port must be a number from 0 to 65535"},
      {"host:-1", "the port must be a number from 0 to 65535"},
      {"\"bad host:80\"", "invalid host"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.listen);
    // kMinimal is 6 lines; "  listen: " puts the value at column 11 of line 8.
    const ConfigError error =
        parseError(std::string(kMinimal) + "server:\n  listen: " + c.listen + "\n");
    EXPECT_EQ(error.where.line, 8);
    EXPECT_EQ(error.where.column, 11);
    EXPECT_NE(error.message.find("server.listen: expected host:port"), std::string::npos)
        << error.message;
    EXPECT_NE(error.message.find("(" + c.problem + ")"), std::string::npos) << error.message;
  }
}

TEST(ConfigLoad, ByteSizes) {
  struct Case {
    std::string text;
    std::size_t bytes;
  };
  const Case cases[] = {{"4194304", 4194304},
                        {"1KiB", 1024},
                        {"512 KiB", 512 * 1024},
                        {"4MiB", 4 * 1024 * 1024},
                        {"2GiB", 2ULL * 1024 * 1024 * 1024}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const GatewayConfig config =
        parseOk(std::string(kMinimal) + "server:\n  max_body_bytes: " + c.text + "\n");
    EXPECT_EQ(config.server.max_body_bytes, c.bytes);
  }
}

TEST(ConfigLoad, ByteSizeErrors) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::string expected =
      "server.max_body_bytes: expected a size in bytes such as 4194304 or 4MiB (units: KiB, MiB, "
      "GiB), got ";
  const Case cases[] = {
      {"1MB", expected + "'1MB'"},
      {"abc", expected + "'abc'"},
      {"-1", expected + "'-1'"},
      {"MiB", expected + "'MiB'"},
      {"0", "server.max_body_bytes: must be at least 1 byte, got '0'"},
      {"99999999999999GiB", "server.max_body_bytes: is too large: '99999999999999GiB'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const ConfigError error =
        parseError(std::string(kMinimal) + "server:\n  max_body_bytes: " + c.text + "\n");
    EXPECT_EQ(error.message, c.message);
    EXPECT_EQ(error.where.line, 8);
    EXPECT_EQ(error.where.column, 19);
  }
}

TEST(ConfigLoad, BackendUrls) {
  struct Case {
    std::string url;
    std::string scheme;
    std::string host;
    uint16_t port;
    std::string base_path;
  };
  const Case cases[] = {
      {"https://api.openai.com/v1", "https", "api.openai.com", 443, "/v1"},
      {"http://localhost", "http", "localhost", 80, ""},
      {"http://localhost/", "http", "localhost", 80, ""},
      {"HTTPS://example.com:8443/openai/v1//", "https", "example.com", 8443, "/openai/v1"},
      {"\"http://[::1]:8081/v1\"", "http", "::1", 8081, "/v1"},
      {"http://host/v1/team@acme", "http", "host", 80, "/v1/team@acme"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    const GatewayConfig config =
        parseOk("backends:\n  b:\n    url: " + c.url + "\nmodels:\n  m:\n    backend: b\n");
    const BackendConfig& backend = config.backends.at("b");
    EXPECT_EQ(backend.scheme, c.scheme);
    EXPECT_EQ(backend.host, c.host);
    EXPECT_EQ(backend.port, c.port);
    EXPECT_EQ(backend.base_path, c.base_path);
  }
}

TEST(ConfigLoad, BackendUrlErrors) {
  struct Case {
    std::string url;
    std::string message;
  };
  const std::string expected =
      "backends.b.url: expected a URL such as https://api.openai.com/v1, got ";
  const Case cases[] = {
      {"api.openai.com/v1", expected + "'api.openai.com/v1' (the scheme is missing)"},
      {"ftp://host/v1", expected + "'ftp://host/v1' (the scheme must be http or https)"},
      // A query may hold a key (?key=...): not repeated either.
      {"http://host/v1?key=sk-secret", expected.substr(0, expected.size() - 4) +
                                           "got a URL (a query or fragment is not supported)"},
      {"http://host:0/v1",
       expected + "'http://host:0/v1' (the port must be a number from 1 to 65535)"},
      {"http:///v1", expected + "'http:///v1' (the host is missing)"},
      // The password must not be repeated in the message.
      {"https://user:secret@host/v1",
       "backends.b.url: the URL must not contain credentials; put the key in api_key"},
      {"ftp://user:secret@host/v1",
       expected.substr(0, expected.size() - 4) + "got a URL (the scheme must be http or https)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    const ConfigError error =
        parseError("backends:\n  b:\n    url: " + c.url + "\nmodels:\n  m:\n    backend: b\n");
    EXPECT_EQ(error.message, c.message);
    EXPECT_EQ(error.where.line, 3);
    EXPECT_EQ(error.where.column, 10);
  }
}

// A secret in the wrong place (a plain key where its digest goes, a key with a stray newline, a
// password in a Redis URL) is never printed back: --check-config and the reload log show these
// messages.
TEST(ConfigLoad, SecretFieldErrorsNeverShowTheValue) {
  const std::string models = "models:\n  m:\n    backend: b\n";
  const std::string backend = "backends:\n  b:\n    url: http://127.0.0.1:1\n";
  const ConfigError plain_key =
      parseError("admin:\n  api_key_sha256: sk-admin-plain-secret-123\n" + backend + models);
  EXPECT_EQ(plain_key.message,
            "admin.api_key_sha256: expected 64 hex digits (sha256sum's output), got a value of 25 "
            "characters (the key itself goes in api_key; its SHA-256 here)");
  EXPECT_EQ(plain_key.where.line, 2);
  const ConfigError both = parseError(
      "admin:\n  api_key: sk-admin-secret\n  api_key_sha256: sk-admin-secret\n" + backend + models);
  EXPECT_EQ(both.message.find("sk-admin-secret"), std::string::npos) << both.message;
  const ConfigError newline = parseError(
      "backends:\n  b:\n    url: http://127.0.0.1:1\n    api_key: \"sk-backend-secret\\n\"\n" +
      models);
  EXPECT_EQ(newline.message.find("sk-backend-secret"), std::string::npos) << newline.message;
  EXPECT_NE(newline.message.find("control character"), std::string::npos) << newline.message;
  const ConfigError userinfo =
      parseError("backends:\n  b:\n    url: https://user:sk-url-secret@host/v1?x=1\n" + models);
  EXPECT_EQ(userinfo.message.find("sk-url-secret"), std::string::npos) << userinfo.message;
}

// Each error with the exact position it reports: the offending value, or the key when the value
// is missing or the key itself is the problem.
TEST(ConfigLoad, ErrorsPointAtTheProblem) {
  struct Case {
    std::string name;
    std::string yaml;
    int line;
    int column;
    std::string message;
  };
  const std::string backends = "backends:\n  mock:\n    url: http://localhost\n";  // lines 1-3
  const std::string models = "models:\n  m:\n    backend: mock\n";                 // lines 4-6
  const std::string minimal = backends + models;
  const Case cases[] = {
      {"syntax error", "server:\n  listen: [1,\n", 3, 1, "end of sequence flow not found"},
      {"threads not a number", minimal + "server:\n  threads: abc\n", 8, 12,
       "server.threads: expected a non-negative integer, got 'abc'"},
      {"negative threads", minimal + "server:\n  threads: -2\n", 8, 12,
       "server.threads: expected a non-negative integer, got '-2'"},
      {"too many threads", minimal + "server:\n  threads: 5000\n", 8, 12,
       "server.threads: must be between 0 and 1024, got '5000'"},
      {"integer overflow", minimal + "server:\n  threads: 99999999999999999999999\n", 8, 12,
       "server.threads: must be between 0 and 1024, got '99999999999999999999999'"},
      {"empty value points at the key", minimal + "server:\n  threads:\n  listen: a:1\n", 8, 3,
       "server.threads: expected a non-negative integer, got nothing"},
      {"listen is a list", minimal + "server:\n  listen: [1]\n", 8, 11,
       "server.listen: expected a string, got a list"},
      {"zero timeout", minimal + "server:\n  header_timeout_ms: 0\n", 8, 22,
       "server.header_timeout_ms: must be between 1 and 86400000, got '0'"},
      {"backend timeout", backends + "    read_timeout_ms: 1.5\n" + models, 4, 22,
       "backends.mock.read_timeout_ms: expected a non-negative integer, got '1.5'"},
      {"unknown server key", minimal + "server:\n  thread: 2\n", 8, 3,
       "unknown key 'thread' in server (did you mean 'threads'?)"},
      {"unknown backend key", backends + "    apikey: x\n" + models, 4, 5,
       "unknown key 'apikey' in backends.mock (did you mean 'api_key'?)"},
      {"unknown model key", minimal + "    color: red\n", 7, 5, "unknown key 'color' in models.m"},
      {"price not a decimal", minimal + "    price:\n      input: 1e-3\n      output: 1\n", 8, 14,
       "models.m.price.input: expected USD per million tokens such as 0.15 (at most 9 decimals, at "
       "most 1000000000)"},
      {"price too large", minimal + "    price:\n      input: 1000000001\n      output: 1\n", 8, 14,
       "models.m.price.input: expected USD per million tokens such as 0.15 (at most 9 decimals, at "
       "most 1000000000)"},
      {"price without output", minimal + "    price:\n      input: 0.15\n", 7, 5,
       "models.m.price: missing required key 'output'"},
      {"unknown price key", minimal + "    price:\n      inputs: 1\n", 8, 7,
       "unknown key 'inputs' in models.m.price (did you mean 'input'?)"},
      {"unknown top-level key", minimal + "filter:\n  - tagging\n", 7, 1,
       "unknown key 'filter' at the top level (did you mean 'filters'?)"},
      {"duplicate key", minimal + "server:\n  threads: 1\n  threads: 2\n", 9, 3,
       "duplicate key 'threads' in server (first at line 8)"},
      {"duplicate backend", backends + "  mock:\n    url: http://x\n" + models, 4, 3,
       "duplicate key 'mock' in backends (first at line 2)"},
      {"section not a map", minimal + "server: 8080\n", 7, 9, "server: expected a map, got '8080'"},
      {"document not a map", "- a\n- b\n", 1, 1, "expected a map, got a list"},
      {"undefined backend", backends + "models:\n  m:\n    backend: mokc\n", 6, 14,
       "models.m.backend: no backend named 'mokc' (defined: mock)"},
      {"model without backend", backends + "models:\n  m:\n    owned_by: me\n", 5, 3,
       "models.m: missing required key 'backend'"},
      {"backend without url", "backends:\n  mock:\n    verify_tls: true\n" + models, 2, 3,
       "backends.mock: missing required key 'url'"},
      {"empty backend_model", minimal + "    backend_model: \"\"\n", 7, 20,
       "models.m.backend_model: must not be empty"},
      {"bad bool", backends + "    verify_tls: yes\n" + models, 4, 17,
       "backends.mock.verify_tls: expected true or false, got 'yes'"},
      {"missing ca_file", backends + "    ca_file: /nonexistent/ca.pem\n" + models, 4, 14,
       "backends.mock.ca_file: cannot read '/nonexistent/ca.pem': No such file or directory"},
      {"ca_file is a directory", backends + "    ca_file: /\n" + models, 4, 14,
       "backends.mock.ca_file: '/' is not a regular file"},
      {"bad log level", minimal + "log_level: verbose\n", 7, 12,
       "log_level: expected one of trace, debug, info, warn, error, off, got 'verbose'"},
      {"filters not a list", minimal + "filters: tagging\n", 7, 10,
       "filters: expected a list of filters, got 'tagging'"},
      {"filter settings not indented", minimal + "filters:\n  - tagging:\n    header_prefix: x\n",
       8, 5,
       "filters[0]: expected a filter name, or a map with the name as its only key, got a map "
       "with 2 keys (are the settings indented under the filter name?)"},
      {"filter is a list", minimal + "filters:\n  - [tagging]\n", 8, 5,
       "filters[0]: expected a filter name, or a map with the name as its only key, got a list"},
      {"two documents", minimal + "---\nserver: {}\n", 8, 1, "expected one YAML document, found 2"},
      {"recursive alias", minimal + "filters:\n  - tagging: &loop [*loop]\n", 8, 14,
       "nested more than 64 levels deep (does an alias refer to itself?)"},
      {"no models", backends, 0, 0, "no models configured"},
      {"empty models", backends + "models: {}\n", 4, 1, "no models configured"},
      {"empty document", "", 0, 0, "no models configured"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const ConfigError error = parseError(c.yaml);
    EXPECT_EQ(error.where.file, kFile);
    EXPECT_EQ(error.where.line, c.line);
    EXPECT_EQ(error.where.column, c.column);
    EXPECT_EQ(error.message, c.message);
  }
}

// yaml-cpp 0.7's LoadAll never returned on a document starting with a stray ',': the gateway hung
// on --check-config or a reload of such a file (found by fuzz/config_fuzzer; the input is
// fuzz/corpus/config_fuzzer/regression-stray-comma.yaml).
TEST(ConfigLoad, StrayFlowEntryIsAnErrorNotAHang) {
  const struct {
    std::string yaml;
    int line;
    int column;
  } cases[] = {{",", 1, 1},        {", a", 1, 1},          {",\nmodels: {}\n", 1, 1},
               {"---\n,\n", 2, 1}, {"# comment\n,", 2, 1}, {"&anchor ,", 1, 9},
               {"!tag ,", 1, 6}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    const ConfigError error = parseError(c.yaml);
    EXPECT_EQ(error.where.file, kFile);
    EXPECT_EQ(error.where.line, c.line);
    EXPECT_EQ(error.where.column, c.column);
    EXPECT_EQ(error.message, "expected a YAML value, found ','");
  }
  // In a later document too.
  const ConfigError later = parseError(std::string(kMinimal) + "---\n,\n");
  EXPECT_EQ(later.where.line, 8);
  EXPECT_EQ(later.message, "expected a YAML value, found ','");
}

ConfigError errorIn(const std::string& file, int line, int column) {
  ConfigError error;
  error.where.file = file;
  error.where.line = line;
  error.where.column = column;
  error.message = "bad";
  return error;
}

TEST(ConfigLoad, DescribeFormatsLikeACompiler) {
  EXPECT_EQ(errorIn("a.yaml", 3, 7).describe(), "a.yaml:3:7: bad");
  EXPECT_EQ(errorIn("a.yaml", 3, 0).describe(), "a.yaml:3: bad");
  EXPECT_EQ(errorIn("a.yaml", 0, 0).describe(), "a.yaml: bad");
  EXPECT_EQ(errorIn("", 0, 0).describe(), "bad");
  EXPECT_EQ(parseError("server: [\n").describe(), "test.yaml:2:1: end of sequence flow not found");
}

TEST(ConfigEnv, ExpandsReferences) {
  const EnvLookup env = lookupIn({{"SET", "value"}, {"EMPTY", ""}});
  struct Case {
    std::string text;
    std::string expanded;
  };
  const Case cases[] = {
      {"plain", "plain"},
      {"${SET}", "value"},
      {"a-${SET}-${SET}-b", "a-value-value-b"},
      {"${UNSET:-fallback}", "fallback"},
      {"${SET:-fallback}", "value"},
      {"${EMPTY:-fallback}", "fallback"},
      {"${EMPTY}", ""},
      {"${UNSET:-}", ""},
      {"${UNSET:-http://host:80/v1}", "http://host:80/v1"},
      {"$${SET}", "${SET}"},
      {"cost: $5 and $$", "cost: $5 and $$"},
      {"$SET", "$SET"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const auto expansion = expandEnvironment(c.text, env);
    ASSERT_TRUE(std::holds_alternative<std::string>(expansion));
    EXPECT_EQ(std::get<std::string>(expansion), c.expanded);
  }
}

TEST(ConfigEnv, RejectsBadReferences) {
  const EnvLookup env = lookupIn({});
  struct Case {
    std::string text;
    std::string error;
  };
  const std::string malformed =
      ": expected ${NAME} or ${NAME:-default}, where NAME is letters, digits and '_' and does not "
      "start with a digit";
  const Case cases[] = {
      {"${UNSET}", "environment variable UNSET is not set"},
      {"abc ${NAME", "unterminated reference '${NAME': expected '}'"},
      {"${", "unterminated reference '${': expected '}'"},
      {"${1BAD}", "malformed reference '${1BAD}'" + malformed},
      {"${}", "malformed reference '${}'" + malformed},
      {"${A-b}", "malformed reference '${A-b}'" + malformed},
      {"${A:-${B}}", "nested references are not supported: '${A:-${B}'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const auto expansion = expandEnvironment(c.text, env);
    ASSERT_TRUE(std::holds_alternative<Error>(expansion));
    EXPECT_EQ(std::get<Error>(expansion).message, c.error);
  }
}

TEST(ConfigEnv, SubstitutesEverywhereBeforeReading) {
  const GatewayConfig config = parseOk(R"(server:
  listen: ${HOST:-127.0.0.1}:${PORT}
  threads: ${THREADS:-4}
backends:
  mock:
    url: ${MOCK_URL:-http://127.0.0.1:8081/v1}
    api_key: ${MOCK_API_KEY:-}
models:
  m:
    backend: mock
    owned_by: $${literal}
filters:
  - tagging: { header_prefix: "${PREFIX}", nested: [ "${PREFIX}" ] }
)",
                                       {{"PORT", "9000"}, {"PREFIX", "x-acme-"}});
  EXPECT_EQ(config.server.host, "127.0.0.1");
  EXPECT_EQ(config.server.port, 9000);
  EXPECT_EQ(config.server.threads, 4u);
  EXPECT_EQ(config.backends.at("mock").port, 8081);
  EXPECT_EQ(config.backends.at("mock").api_key, "");
  EXPECT_EQ(config.models.at("m").owned_by, "${literal}");
  const YAML::Node& settings = config.filters.at(0).settings;
  EXPECT_EQ(settings["header_prefix"].Scalar(), "x-acme-");
  EXPECT_EQ(settings["nested"][0].Scalar(), "x-acme-");
}

TEST(ConfigEnv, UnsetVariableIsAnErrorAtItsScalar) {
  const ConfigError error = parseError(std::string(kMinimal) + R"(filters:
  - tagging:
      header_prefix: ok
      api_keys: { k: "${TAGGING_KEY}" }
)");
  EXPECT_EQ(error.describe(), "test.yaml:10:22: environment variable TAGGING_KEY is not set");
}

TEST(ConfigEnv, MalformedReferenceIsAnErrorAtItsScalar) {
  const ConfigError error = parseError(std::string(kMinimal) + "log_level: ${LEVEL\n");
  EXPECT_EQ(error.where.line, 7);
  EXPECT_EQ(error.where.column, 12);
  EXPECT_EQ(error.message, "unterminated reference '${LEVEL': expected '}'");
}

// Filters report errors in their settings with the marks of the nodes; substitution rewrites
// nodes in place, so those marks must survive it.
TEST(ConfigEnv, SubstitutionKeepsMarks) {
  const GatewayConfig config = parseOk(std::string(kMinimal) + R"(filters:
  - tagging:
      header_prefix: ${PREFIX}
      untouched: plain
)",
                                       {{"PREFIX", "x-team-"}});
  const YAML::Node& settings = config.filters.at(0).settings;
  const YAML::Node prefix = settings["header_prefix"];
  EXPECT_EQ(prefix.Scalar(), "x-team-");
  EXPECT_EQ(prefix.Mark().line + 1, 9);
  EXPECT_EQ(prefix.Mark().column + 1, 22);
  EXPECT_EQ(settings["untouched"].Mark().line + 1, 10);
}

// An aliased scalar is reached once per alias; it must be expanded once, not once per visit.
TEST(ConfigEnv, AliasedValueIsExpandedOnce) {
  const GatewayConfig config = parseOk(std::string(kMinimal) + R"(filters:
  - tagging: { a: &shared "$${NOT_A_REFERENCE}", b: *shared }
)");
  const YAML::Node& settings = config.filters.at(0).settings;
  EXPECT_EQ(settings["a"].Scalar(), "${NOT_A_REFERENCE}");
  EXPECT_EQ(settings["b"].Scalar(), "${NOT_A_REFERENCE}");
}

TEST(ConfigEnv, AliasBombIsRejected) {
  std::string yaml = std::string(kMinimal) +
                     "filters:\n  - tagging:\n      l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int level = 1; level <= 6; ++level) {
    const std::string previous = "*l" + std::to_string(level - 1);
    yaml += "      l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) yaml += (i ? ", " : "") + previous;
    yaml += "]\n";
  }
  const ConfigError error = parseError(yaml);
  EXPECT_EQ(error.message, "the document has more than 100000 values once aliases are expanded");
}

constexpr char kWithOptionalBackend[] = R"(backends:
  mock:
    url: http://127.0.0.1:8081/v1
  openai:
    url: https://api.openai.com/v1
    api_key: ${OPENAI_API_KEY}
    enable_if_env: OPENAI_API_KEY
models:
  local:
    backend: mock
  gpt-4o:
    backend: openai
    backend_model: ${GPT4O_MODEL}
)";

TEST(ConfigEnv, BackendSkippedWhenItsVariableIsUnset) {
  const GatewayConfig config = parseOk(kWithOptionalBackend);
  EXPECT_EQ(config.backends.size(), 1u);
  EXPECT_TRUE(config.backends.contains("mock"));
  EXPECT_EQ(config.models.size(), 1u);
  EXPECT_TRUE(config.models.contains("local"));
  // Unset variables inside the skipped backend and its model are not errors.
  ASSERT_EQ(config.notices.size(), 2u);
  EXPECT_EQ(config.notices[0],
            "backend 'openai' skipped: OPENAI_API_KEY is not set (test.yaml:4:3)");
  EXPECT_EQ(config.notices[1],
            "model 'gpt-4o' skipped: its backend 'openai' is skipped (test.yaml:11:3)");
}

TEST(ConfigEnv, BackendSkippedWhenItsVariableIsEmpty) {
  const GatewayConfig config = parseOk(kWithOptionalBackend, {{"OPENAI_API_KEY", ""}});
  EXPECT_FALSE(config.backends.contains("openai"));
  ASSERT_FALSE(config.notices.empty());
  EXPECT_EQ(config.notices[0], "backend 'openai' skipped: OPENAI_API_KEY is empty (test.yaml:4:3)");
}

TEST(ConfigEnv, BackendKeptWhenItsVariableIsSet) {
  const GatewayConfig config =
      parseOk(kWithOptionalBackend, {{"OPENAI_API_KEY", "sk-1"}, {"GPT4O_MODEL", "gpt-4o-2024"}});
  EXPECT_EQ(config.backends.at("openai").api_key, "sk-1");
  EXPECT_EQ(config.models.at("gpt-4o").backend_model, "gpt-4o-2024");
  EXPECT_TRUE(config.notices.empty());
}

TEST(ConfigEnv, KeptBackendStillNeedsItsVariables) {
  const ConfigError error = parseError(kWithOptionalBackend, {{"OPENAI_API_KEY", "sk-1"}});
  EXPECT_EQ(error.describe(), "test.yaml:13:20: environment variable GPT4O_MODEL is not set");
}

TEST(ConfigEnv, SkippedBackendIsStillCheckedForTypos) {
  const ConfigError error = parseError(R"(backends:
  openai:
    url: https://api.openai.com/v1
    enable_if_env: OPENAI_API_KEY
    verfy_tls: false
models:
  m:
    backend: openai
)");
  EXPECT_EQ(error.describe(),
            "test.yaml:5:5: unknown key 'verfy_tls' in backends.openai (did you mean "
            "'verify_tls'?)");
}

TEST(ConfigEnv, NoModelsLeftAfterSkipping) {
  const ConfigError error = parseError(R"(backends:
  openai:
    url: https://api.openai.com/v1
    enable_if_env: OPENAI_API_KEY
models:
  gpt-4o:
    backend: openai
)");
  EXPECT_EQ(error.describe(),
            "test.yaml:5:1: no models configured (1 skipped with their backends)");
}

TEST(ConfigEnv, EnableIfEnvMustNameAVariable) {
  const ConfigError error = parseError(R"(backends:
  openai:
    url: https://api.openai.com/v1
    enable_if_env: ${OPENAI_API_KEY}
models:
  gpt-4o:
    backend: openai
)");
  EXPECT_EQ(error.describe(),
            "test.yaml:4:20: backends.openai.enable_if_env: expected the name of an environment "
            "variable, got '${OPENAI_API_KEY}'");
}

TEST(ConfigEnv, ApiKeyWithNewlineIsRejectedWithoutEchoingIt) {
  const ConfigError error = parseError(R"(backends:
  mock:
    url: http://localhost
    api_key: ${KEY}
models:
  m:
    backend: mock
)",
                                       {{"KEY", "sk-secret\n"}});
  EXPECT_EQ(error.describe(),
            "test.yaml:4:14: backends.mock.api_key: contains a control character (a trailing "
            "newline?)");
}

TEST(ConfigLoad, FilterListForms) {
  const GatewayConfig config = parseOk(std::string(kMinimal) + R"(filters:
  - tagging
  - budget:
  - cache:
      ttl_seconds: 60
  - router: { default: cheap }
)");
  ASSERT_EQ(config.filters.size(), 4u);
  const std::string names[] = {"tagging", "budget", "cache", "router"};
  const int lines[] = {8, 9, 10, 12};
  for (std::size_t i = 0; i < config.filters.size(); ++i) {
    SCOPED_TRACE(names[i]);
    EXPECT_EQ(config.filters[i].name, names[i]);
    EXPECT_EQ(config.filters[i].mark.file, kFile);
    EXPECT_EQ(config.filters[i].mark.line, lines[i]);
    EXPECT_EQ(config.filters[i].mark.column, 5);
  }
  EXPECT_TRUE(config.filters[0].settings.IsNull());
  EXPECT_TRUE(config.filters[1].settings.IsNull());
  const YAML::Node& cache = config.filters[2].settings;
  EXPECT_EQ(cache["ttl_seconds"].Scalar(), "60");
  EXPECT_EQ(cache["ttl_seconds"].Mark().line + 1, 11);
  EXPECT_EQ(config.filters[3].settings["default"].Scalar(), "cheap");
}

TEST(ConfigLoadFile, MissingFile) {
  const std::string path = "/nonexistent/costgate.yaml";
  const LoadResult result = loadFile(path);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(result));
  const ConfigError& error = std::get<ConfigError>(result);
  EXPECT_EQ(error.where.file, path);
  EXPECT_EQ(error.where.line, 0);
  EXPECT_EQ(error.describe(), path + ": cannot read: No such file or directory");
}

TEST(ConfigLoadFile, Directory) {
  const LoadResult result = loadFile("/");
  ASSERT_TRUE(std::holds_alternative<ConfigError>(result));
  EXPECT_EQ(std::get<ConfigError>(result).describe(), "/: cannot read: it is a directory");
}

TEST(ConfigLoadFile, ReadsAndNamesTheFile) {
  const TempFile file("costgate_load_test.yaml", std::string(kMinimal) + "log_level: bogus\n");
  const LoadResult result = loadFile(file.path());
  ASSERT_TRUE(std::holds_alternative<ConfigError>(result));
  EXPECT_EQ(std::get<ConfigError>(result).where.file, file.path());
  EXPECT_EQ(std::get<ConfigError>(result).where.line, 7);

  const TempFile good("costgate_load_test_good.yaml", kMinimal);
  const LoadResult loaded = loadFile(good.path());
  ASSERT_TRUE(std::holds_alternative<GatewayConfig>(loaded));
  EXPECT_EQ(std::get<GatewayConfig>(loaded).source_file, good.path());
}

}  // namespace
}  // namespace costgate::config
