#pragma once
// The gateway a server runs: the configuration in force, replaced whole when its file changes or
// on SIGHUP. A request runs to its end on the configuration it arrived under; what outlasts
// configurations (metrics, spend, the access log, caches, budget ledgers) lives in Records.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <sys/stat.h>

#include "costgate/config/load.h"
#include "costgate/gateway/gateway.h"

namespace costgate::gateway {

class LiveGateway {
 public:
  // Loads and builds the configuration at `path`; the error (file:line:column) when it cannot
  // serve.
  static std::variant<std::unique_ptr<LiveGateway>, config::ConfigError> open(std::string path);

  // The server's handler and observer (Gateway::handle, Records::observe), on any worker thread.
  server::Task<> handle(server::Request& request, server::ResponseWriter& writer);
  void observe(const server::ExchangeRecord& record) { records_.observe(record); }

  // The configuration in force.
  std::shared_ptr<const Gateway> current() const { return load(); }

  struct ReloadOutcome {
    bool applied = false;
    std::string error;                 // rejected: why, at file:line:column
    std::vector<std::string> restart;  // applied: settings that take effect only on restart
  };
  // Loads the file again and, when it is valid in full (parsed, its filters and backends built),
  // makes it the configuration new requests get; an invalid file changes nothing. Counted in the
  // metrics. On one thread at a time, not on an event loop (it may wait on files and Redis).
  ReloadOutcome reload();
  // Whether the file changed since it was last loaded (modification time, size, inode).
  bool fileChanged() const;
  // Destroys the configurations replaced that no request uses any more, on this thread: their
  // filters join threads, which must not happen on an event loop.
  void releaseRetired();

 private:
  struct FileStamp {
    struct timespec modified {};
    off_t size = 0;
    ino_t inode = 0;
    bool operator==(const FileStamp& other) const;
  };
  static std::optional<FileStamp> stampOf(const std::string& path);
  // The configuration's gateway, built, or the error that stops it.
  std::variant<std::shared_ptr<Gateway>, config::ConfigError> build(config::GatewayConfig config);

  LiveGateway(std::string path, const config::GatewayConfig& first);
  std::shared_ptr<Gateway> load() const;

  std::string path_;
  std::optional<FileStamp> loaded_stamp_;
  Records records_;
  // Under a mutex, not a std::atomic<std::shared_ptr>: libstdc++ 12 locks that with a bit of its
  // pointer, a lock ThreadSanitizer cannot see, so each reload showed as a data race with the
  // requests reading it (scripts/tsan.sh); and a request pays the same either way, one short lock
  // and a reference count.
  mutable std::mutex current_mutex_;
  std::shared_ptr<Gateway> current_;
  std::vector<std::shared_ptr<Gateway>> retired_;
};

}  // namespace costgate::gateway
