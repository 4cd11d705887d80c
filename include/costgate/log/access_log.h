#pragma once
// One JSON line per request, written through spdlog so file output is buffered and thread-safe.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "costgate/log/fields.h"
#include "costgate/server/exchange_record.h"

namespace spdlog {
class logger;
}

namespace costgate::log {

class AccessLog {
 public:
  // `path`: "-" for stdout, "" to disable, otherwise a file appended to.
  explicit AccessLog(const std::string& path);
  ~AccessLog();
  void write(const server::ExchangeRecord& record) const;
  // The JSON line write() logs, stamped with `at`.
  static std::string format(const server::ExchangeRecord& record,
                            std::chrono::system_clock::time_point at);
  // The same, appended to `out`.
  static void appendLine(std::string& out, const server::ExchangeRecord& record,
                         std::chrono::system_clock::time_point at);

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace costgate::log
