#pragma once
// One JSON line per request: to stdout line by line, or to a file in blocks of 64 KiB per thread.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "costgate/log/fields.h"
#include "costgate/server/exchange_record.h"

namespace costgate::log {

class AccessLog {
 public:
  // `path`: "-" for stdout, "" to disable, otherwise a file appended to (throws when it cannot be
  // opened).
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
  struct Output;
  std::unique_ptr<Output> output_;
};

}  // namespace costgate::log
