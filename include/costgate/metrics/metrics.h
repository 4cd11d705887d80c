#pragma once
// Every Prometheus family the gateway exports is declared here, with bounded label values only:
// callers pass route names, configured model and backend names, status codes and fixed kinds.

#include <memory>
#include <string>
#include <string_view>

namespace prometheus {
class Registry;
}

namespace costgate::metrics {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One finished request: `model` must be a configured model name or "unknown".
  void countRequest(std::string_view route, std::string_view model, int status, double seconds);
  // Time from sending a call to a backend until its last byte.
  void observeUpstream(std::string_view backend, double seconds);
  // A call that failed before the backend answered; `kind` names the failure.
  void countUpstreamFailure(std::string_view backend, std::string_view kind);
  // A streamed response relayed to its end (`completed`) or cut short.
  void countStream(std::string_view outcome);

  // The registry in Prometheus' text exposition format.
  std::string serialize() const;

 private:
  struct Families;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
};

}  // namespace costgate::metrics
