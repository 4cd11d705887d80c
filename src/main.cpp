// costgate: the gateway's command line. Loads and checks the configuration, then serves until
// SIGINT or SIGTERM, reloading it when its file changes or on SIGHUP.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "costgate/config/load.h"
#include "costgate/config/price_warnings.h"
#include "costgate/gateway/live_gateway.h"
#include "costgate/pipeline/chain.h"
#include "costgate/report/spend.h"
#include "costgate/server/http_server.h"
#include "costgate/tokenizer/tokenize_command.h"
#include "filters/registry.h"

namespace {

constexpr const char* kUsage =
    R"(usage: costgate [--config FILE] [--check-config FILE] [--version] [--help]
       costgate COMMAND [--help] ...

  --config FILE        serve with this configuration (default: config/costgate.yaml)
  --check-config FILE  load and validate FILE, print any error as file:line:column, and exit
  --version            print the version and exit
  --help               print this text and exit

commands (costgate COMMAND --help for each):
  report     spend, calls and tokens from an access log, grouped by feature, team, env or model
  tokenize   token ids (or counts) of JSON-string lines, as OpenAI's tokenizers give them
  demo       replay a small mixed workload against a running gateway and print what it saved
)";

constexpr const char* kReportUsage =
    R"(usage: costgate report [--log FILE] [--by DIMENSIONS] [--since TIME] [--until TIME]
                       [--format table|csv|json]

Spend, calls and tokens from an access log (default: standard input), grouped by DIMENSIONS, a
comma-separated list of feature, team, env and model (default: feature), for calls from TIME
(inclusive) until TIME (exclusive), given as UTC ISO 8601 prefixes such as 2026-11-28 or
2026-11-28T18:00.

  --log FILE           the access log to read (default: -, standard input)
  --by DIMENSIONS      feature, team, env, model (comma-separated; default: feature)
  --since TIME         calls at or after TIME
  --until TIME         calls before TIME
  --format FORMAT      table (default), csv or json
  --help               print this text and exit
)";

// `costgate report ...`: exit 0, or 2 on a bad argument, 1 when the log cannot be read.
int report(int argc, char** argv) {
  std::string log_path = "-";
  std::string since, until, format = "table";
  std::vector<costgate::report::Dimension> by{costgate::report::Dimension::kFeature};
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kReportUsage;
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "costgate report: '" << arg << "' needs a value\n" << kReportUsage;
      return 2;
    }
    std::string value = argv[++i];
    if (arg == "--log") {
      log_path = value;
    } else if ((arg == "--since" || arg == "--until") &&
               !costgate::report::isTimestampPrefix(value)) {
      std::cerr << "costgate report: " << arg << " takes a UTC time such as 2026-11-28 or "
                << "2026-11-28T18:00, got '" << value << "'\n";
      return 2;
    } else if (arg == "--since") {
      since = value;
    } else if (arg == "--until") {
      until = value;
    } else if (arg == "--format" && (value == "table" || value == "csv" || value == "json")) {
      format = value;
    } else if (arg == "--by") {
      by.clear();
      std::stringstream names(value);
      for (std::string name; std::getline(names, name, ',');) {
        auto dimension = costgate::report::dimensionNamed(name);
        if (!dimension) {
          std::cerr << "costgate report: cannot group by '" << name
                    << "' (feature, team, env, model)\n";
          return 2;
        }
        by.push_back(*dimension);
      }
    } else {
      std::cerr << "costgate report: unknown argument '" << arg << "'\n" << kReportUsage;
      return 2;
    }
  }
  std::ifstream file;
  if (log_path != "-") {
    file.open(log_path);
    if (!file) {
      std::cerr << "costgate report: cannot read " << log_path << "\n";
      return 1;
    }
  }
  std::istream& in = log_path == "-" ? std::cin : file;
  costgate::report::SpendTotals totals(by);
  for (std::string line; std::getline(in, line);) {
    for (const auto& call : costgate::report::callsFromLogLine(line, since, until)) {
      totals.add(call);
    }
  }
  std::cout << (format == "csv"    ? totals.csv()
                : format == "json" ? totals.json() + "\n"
                                   : totals.table());
  return 0;
}

// `costgate demo ...`: runs the demo's script (Node.js) with the arguments given; it lives in the
// source tree, beside the build directory this binary is in (build/../scripts/demo.mjs). Returns
// only when node cannot be started (127) or the script is not there (1).
int demo(int argc, char** argv) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::filesystem::path script =
      error ? std::filesystem::path("scripts/demo.mjs")
            : self.parent_path().parent_path() / "scripts" / "demo.mjs";
  if (!std::filesystem::exists(script, error)) {
    std::cerr << "costgate demo: " << script.string()
              << " is not there: the demo runs from a checkout of the source tree "
                 "(node scripts/demo.mjs --help)\n";
    return 1;
  }
  std::vector<std::string> words{"node", script.string()};
  for (int i = 2; i < argc; ++i) words.emplace_back(argv[i]);
  std::vector<char*> args;
  for (auto& word : words) args.push_back(word.data());
  args.push_back(nullptr);
  execvp("node", args.data());
  std::cerr << "costgate demo: cannot run node (" << std::strerror(errno)
            << "): the demo needs Node.js 18 or later (scripts/setup.sh installs it)\n";
  return 127;
}

struct Loaded {
  costgate::config::GatewayConfig config;
  costgate::pipeline::Chain chain;
};

// Loads the file and builds its chain; prints the error and returns nullopt when it is invalid.
std::optional<Loaded> load(const std::string& path) {
  auto result = costgate::config::loadFile(path);
  if (auto* error = std::get_if<costgate::config::ConfigError>(&result)) {
    std::cerr << error->describe() << "\n";
    return std::nullopt;
  }
  auto config = std::get<costgate::config::GatewayConfig>(std::move(result));
  // Built only to be checked: what its filters keep and count is thrown away with it.
  costgate::pipeline::KeptState kept;
  costgate::metrics::Metrics metrics;
  auto chain =
      costgate::pipeline::buildChain(config, costgate::filters::registry(), {kept, metrics, {}});
  if (auto* error = std::get_if<costgate::config::ConfigError>(&chain)) {
    std::cerr << error->describe() << "\n";
    return std::nullopt;
  }
  return Loaded{std::move(config), std::get<costgate::pipeline::Chain>(std::move(chain))};
}

// Reloads the configuration and says so in the log; why, when the file was rejected.
void reload(costgate::gateway::LiveGateway& live, std::string_view cause) {
  auto outcome = live.reload();
  if (!outcome.applied) {
    spdlog::error("configuration not reloaded ({}), still serving the previous one: {}", cause,
                  outcome.error);
    return;
  }
  const auto& config = live.current()->config();
  spdlog::info("configuration reloaded ({}): {} models, {} filters", cause, config.models.size(),
               config.filters.size());
  for (const auto& warning : costgate::config::priceWarnings(config)) spdlog::warn("{}", warning);
  for (const auto& section : outcome.restart) {
    spdlog::warn("configuration reloaded, but its '{}' settings take effect only on restart",
                 section);
  }
}

int serve(const std::string& path) {
  // Signals are taken by sigtimedwait() on this thread only. Blocked before anything starts a
  // thread (the configuration's filters do: ledger workers, the budget's sender, the access log's
  // flusher), since a thread inherits the mask: one started with SIGTERM open would take it and
  // end the process without a drain.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  spdlog::set_default_logger(spdlog::stderr_logger_mt("costgate"));
  auto opened = costgate::gateway::LiveGateway::open(path);
  if (auto* error = std::get_if<costgate::config::ConfigError>(&opened)) {
    std::cerr << error->describe() << "\n";
    return 1;
  }
  auto& live = *std::get<std::unique_ptr<costgate::gateway::LiveGateway>>(opened);
  // The server's settings are the first configuration's: a reload cannot rebind the port.
  const costgate::config::GatewayConfig first = live.current()->config();
  // The operational log only: spdlog::set_level would also silence the access log, a logger too.
  spdlog::default_logger()->set_level(spdlog::level::from_str(first.log_level));
  for (const auto& notice : first.notices) spdlog::info("{}", notice);
  for (const auto& warning : costgate::config::priceWarnings(first)) spdlog::warn("{}", warning);

  try {
    const auto& server_config = first.server;
    costgate::server::ServerLimits limits{
        server_config.max_body_bytes, server_config.max_header_bytes, server_config.header_timeout,
        server_config.body_timeout, server_config.idle_timeout};
    costgate::server::HttpServer server(
        server_config.host, server_config.port, server_config.threads, limits,
        [&live](costgate::server::Request& request, costgate::server::ResponseWriter& writer) {
          return live.handle(request, writer);
        },
        [&live](const costgate::server::ExchangeRecord& record) { live.observe(record); });
    server.setBusyPoll(std::chrono::microseconds(server_config.busy_poll_us));
    // Printed whatever the log level: with port 0 it is the only way to learn the port.
    std::cerr << "costgate " << COSTGATE_VERSION << " listening on " << server_config.host << ":"
              << server.port() << " with " << server.threads() << " threads, "
              << first.models.size() << " models, " << first.filters.size() << " filters"
              << std::endl;
    std::thread runner([&server] { server.run(); });
    // This thread watches the file, reloads, and frees the configurations replaced.
    const auto check = server_config.reload_check.count() > 0
                           ? std::chrono::milliseconds(server_config.reload_check)
                           : std::chrono::milliseconds(1000);
    int received = 0;
    for (;;) {
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(check);
      const struct timespec timeout {
        seconds.count(), static_cast<long>(std::chrono::nanoseconds(check - seconds).count())
      };
      received = sigtimedwait(&signals, nullptr, &timeout);
      if (received == SIGHUP) {
        reload(live, "SIGHUP");
      } else if (received == SIGINT || received == SIGTERM) {
        break;
      } else if (server_config.reload_check.count() > 0 && live.fileChanged()) {
        reload(live, "file changed");
      }
      live.releaseRetired();
    }
    spdlog::info("received signal {}, finishing requests in flight for up to {} ms", received,
                 server_config.drain_timeout.count());
    server.stop(server_config.drain_timeout);
    runner.join();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "report") return report(argc, argv);
  if (argc > 1 && std::string_view(argv[1]) == "demo") return demo(argc, argv);
  if (argc > 1 && std::string_view(argv[1]) == "tokenize") {
    return costgate::tokenizer::runTokenizeCommand(argc, argv);
  }
  std::string config_path = "config/costgate.yaml";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool has_value = i + 1 < argc;
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--version") {
      std::cout << "costgate " << COSTGATE_VERSION << "\n";
      return 0;
    } else if (arg == "--check-config" && has_value) {
      auto loaded = load(argv[++i]);
      if (!loaded) return 1;
      for (const auto& notice : loaded->config.notices) std::cout << "note: " << notice << "\n";
      for (const auto& warning : costgate::config::priceWarnings(loaded->config))
        std::cerr << warning << "\n";
      std::cout << argv[i] << ": OK (" << loaded->config.models.size() << " models, "
                << loaded->chain.size() << " filters)\n";
      return 0;
    } else if (arg == "--config" && has_value) {
      config_path = argv[++i];
    } else {
      std::cerr << "costgate: unknown or incomplete argument '" << arg << "'\n" << kUsage;
      return 2;
    }
  }
  return serve(config_path);
}
