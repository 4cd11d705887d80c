#pragma once
// The deployments (backends) that serve one model: which one the next call goes to, and which ones
// are left out for a while because their calls keep failing (passive health checking). Plain data
// behind one mutex, no I/O: every event-loop thread shares the pool of a model, and every method
// takes `now` so tests drive the clock.
//
// Choice: among the available deployments, the one with the fewest outstanding calls per unit of
// weight, i.e. the lowest (outstanding + 1) / weight; equal scores take turns. So weights split the
// calls in flight: under load a weight-2 deployment carries twice the calls of a weight-1 one. At a
// concurrency of about one call the heaviest deployment takes every call, which is what the lowest
// latency asks for (none of them is busy).
//
// Health: `eject_after` consecutive failures eject a deployment for `cooldown`, doubled at each
// ejection that follows without a success in between, up to `max_cooldown`. Once the cooldown has
// passed the next call to acquire() gets the deployment as its single probe (half-open); until the
// probe reports, no other call gets it. A successful probe brings the deployment back with its
// failures and its cooldown reset; a failed one ejects it again for the next, longer cooldown.
//
// Reports only count for the state the deployment was in when the call acquired it: a call that
// started before an ejection (or before a recovery) describes the backend as it was, so its late
// failure neither extends the ejection nor its late success ends it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace costgate::upstream {

class DeploymentPool {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    int eject_after = 3;  // consecutive failures; at least 1
    Clock::duration cooldown = std::chrono::seconds(10);
    Clock::duration max_cooldown = std::chrono::minutes(5);
  };

  enum class State {
    kHealthy,
    kEjected,  // cooling down, or waiting for the call that will probe it
    kProbing,  // its one probe call is in flight
  };

  struct DeploymentStatus {
    int weight = 0;
    int outstanding = 0;  // leases not yet released
    int consecutive_failures = 0;
    State state = State::kHealthy;
    Clock::time_point ejected_until{};  // the end of the current cooldown; epoch when healthy
    Clock::duration cooldown_left{};    // ejected_until - now, zero once passed
  };

  // A call's claim on one deployment: counts as outstanding until released or destroyed. Report
  // the call's outcome with succeeded() or failed() before releasing; the first report counts, a
  // later one (or one after release()) is ignored. A lease dropped without a report (the client
  // went away) says nothing about the deployment's health; if it was the probe, the next call
  // probes instead. The pool must outlive its leases.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }

    // The deployment's position in the pool (the caller's index into its own backends).
    std::size_t index() const { return index_; }
    // Whether this call is the half-open probe of an ejected deployment.
    bool probe() const { return probe_; }

    // Reports the call as done right (the backend answered), or as failed (see FaultClass in
    // retry_policy.h for which outcomes are the backend's failure).
    void succeeded(Clock::time_point now);
    void failed(Clock::time_point now);
    // No longer outstanding. Holding the lease to the end of a streamed response and reporting
    // when its head arrives keeps the count of calls in flight true while the stream runs.
    void release();

   private:
    friend class DeploymentPool;
    Lease(DeploymentPool* pool, std::size_t index, std::uint64_t generation, bool probe)
        : pool_(pool), index_(index), generation_(generation), probe_(probe) {}

    DeploymentPool* pool_;  // null once moved from
    std::size_t index_;
    std::uint64_t generation_;  // the deployment's generation when acquired
    bool probe_;
    bool reported_ = false;
    bool released_ = false;
  };

  // One deployment per weight, at the weight's position. Throws std::invalid_argument for a weight
  // below 1 or eject_after below 1.
  DeploymentPool(std::vector<int> weights, Options options);
  // With the default Options (a default argument cannot use them inside this class).
  explicit DeploymentPool(std::vector<int> weights);
  DeploymentPool(const DeploymentPool&) = delete;
  DeploymentPool& operator=(const DeploymentPool&) = delete;

  // Leases a deployment for one call: a deployment whose cooldown has passed and that nobody
  // probes yet (as the probe), else the healthy one with the lowest (outstanding + 1) / weight.
  // Deployments with (*exclude)[i] set are skipped (those a retry already tried; a shorter vector
  // excludes nothing past its end). nullopt when none is available: every deployment is excluded,
  // ejected or being probed; the caller then moves on to a fallback model, or calls acquireAny().
  std::optional<Lease> acquire(Clock::time_point now, const std::vector<bool>* exclude = nullptr);
  // As acquire(), but when that finds nothing, leases the non-excluded deployment whose cooldown
  // ends soonest, ejected or not: for a caller without a fallback, trying a backend that may be
  // down beats failing without trying. Such a call's success brings its deployment back; its
  // failure changes nothing. nullopt only when every deployment is excluded (or there are none).
  std::optional<Lease> acquireAny(Clock::time_point now,
                                  const std::vector<bool>* exclude = nullptr);

  // Each deployment's state, in pool order, for the metrics gauges.
  std::vector<DeploymentStatus> snapshot(Clock::time_point now) const;
  // One deployment's state (the gauges after each call, without copying the others').
  DeploymentStatus status(std::size_t index, Clock::time_point now) const;
  std::size_t size() const { return deployments_.size(); }

 private:
  struct Deployment {
    int weight = 1;
    int outstanding = 0;
    int consecutive_failures = 0;
    int ejections = 0;  // in a row, without a success between: sets the next cooldown
    bool ejected = false;
    bool probe_in_flight = false;
    Clock::time_point ejected_until{};
    // Changes at every ejection and recovery, so reports from calls leased before are ignored.
    std::uint64_t generation = 0;
  };

  static bool excluded(const std::vector<bool>* exclude, std::size_t index);
  DeploymentStatus statusLocked(const Deployment& deployment, Clock::time_point now) const;
  // Under mutex_: the lease acquire() would hand out, if any.
  std::optional<Lease> acquireLocked(Clock::time_point now, const std::vector<bool>* exclude);
  Lease leaseLocked(std::size_t index, bool probe);
  void ejectLocked(Deployment& deployment, Clock::time_point now);
  void report(Lease& lease, bool success, Clock::time_point now);
  void release(Lease& lease);

  Options options_;
  mutable std::mutex mutex_;
  std::vector<Deployment> deployments_;
  std::size_t rotation_ = 0;  // where the next scan starts, so equal scores take turns
};

}  // namespace costgate::upstream
