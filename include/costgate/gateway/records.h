#pragma once
// What the gateway keeps across configurations, made once per process: the metrics, the spend
// since start, the access log, and what filters keep across reloads (caches, budget ledgers).

#include <chrono>
#include <mutex>
#include <string>

#include "costgate/log/access_log.h"
#include "costgate/metrics/metrics.h"
#include "costgate/pipeline/kept_state.h"
#include "costgate/report/spend.h"
#include "costgate/server/exchange_record.h"

namespace costgate::gateway {

class Records {
 public:
  // `access_log_path`: as AccessLog takes it.
  explicit Records(const std::string& access_log_path);

  // The server's observer for every finished exchange, on any worker thread: the access log, the
  // request's metrics and the spend. (Filters count their own metrics in onComplete.)
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
  void addSpend(const report::Call& call);

  metrics::Metrics metrics_;
  mutable std::mutex spend_mutex_;  // observe() runs on every worker thread
  report::SpendTotals spend_{{report::Dimension::kFeature, report::Dimension::kTeam,
                              report::Dimension::kEnv, report::Dimension::kModel}};
  log::AccessLog access_log_;
  pipeline::KeptState kept_;
};

}  // namespace costgate::gateway
