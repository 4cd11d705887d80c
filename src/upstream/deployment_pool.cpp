#include "costgate/upstream/deployment_pool.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace costgate::upstream {

DeploymentPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      index_(other.index_),
      generation_(other.generation_),
      probe_(other.probe_),
      reported_(other.reported_),
      released_(other.released_) {}

DeploymentPool::Lease& DeploymentPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::exchange(other.pool_, nullptr);
    index_ = other.index_;
    generation_ = other.generation_;
    probe_ = other.probe_;
    reported_ = other.reported_;
    released_ = other.released_;
  }
  return *this;
}

void DeploymentPool::Lease::succeeded(Clock::time_point now) {
  if (pool_ == nullptr || reported_ || released_) return;
  reported_ = true;
  pool_->report(*this, true, now);
}

void DeploymentPool::Lease::failed(Clock::time_point now) {
  if (pool_ == nullptr || reported_ || released_) return;
  reported_ = true;
  pool_->report(*this, false, now);
}

void DeploymentPool::Lease::release() {
  if (pool_ == nullptr || released_) return;
  released_ = true;
  pool_->release(*this);
}

DeploymentPool::DeploymentPool(std::vector<int> weights, Options options) : options_(options) {
  if (options_.eject_after < 1) {
    throw std::invalid_argument("deployment pool: eject_after must be at least 1");
  }
  deployments_.reserve(weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] < 1) {
      throw std::invalid_argument("deployment pool: the weight of deployment " + std::to_string(i) +
                                  " must be at least 1");
    }
    Deployment deployment;
    deployment.weight = weights[i];
    deployments_.push_back(deployment);
  }
}

DeploymentPool::DeploymentPool(std::vector<int> weights)
    : DeploymentPool(std::move(weights), Options()) {}

bool DeploymentPool::excluded(const std::vector<bool>* exclude, std::size_t index) {
  return exclude != nullptr && index < exclude->size() && (*exclude)[index];
}

DeploymentPool::Lease DeploymentPool::leaseLocked(std::size_t index, bool probe) {
  Deployment& deployment = deployments_[index];
  ++deployment.outstanding;
  if (probe) deployment.probe_in_flight = true;
  return Lease(this, index, deployment.generation, probe);
}

std::optional<DeploymentPool::Lease> DeploymentPool::acquireLocked(
    Clock::time_point now, const std::vector<bool>* exclude) {
  const std::size_t count = deployments_.size();
  if (count == 0) return std::nullopt;
  const std::size_t start = rotation_++ % count;
  std::optional<std::size_t> best;
  for (std::size_t step = 0; step < count; ++step) {
    const std::size_t i = (start + step) % count;
    if (excluded(exclude, i)) continue;
    const Deployment& d = deployments_[i];
    if (d.ejected) {
      // The first call after the cooldown probes, so a recovered backend comes back at once
      // rather than when its score happens to be the lowest.
      if (!d.probe_in_flight && now >= d.ejected_until) return leaseLocked(i, true);
      continue;
    }
    if (!best) {
      best = i;
      continue;
    }
    // (outstanding + 1) / weight below the best's, compared without division. Strictly below, so
    // among equal scores the first in this call's rotated order wins.
    const Deployment& b = deployments_[*best];
    const auto score = static_cast<std::int64_t>(d.outstanding + 1) * b.weight;
    const auto best_score = static_cast<std::int64_t>(b.outstanding + 1) * d.weight;
    if (score < best_score) best = i;
  }
  if (!best) return std::nullopt;
  return leaseLocked(*best, false);
}

std::optional<DeploymentPool::Lease> DeploymentPool::acquire(Clock::time_point now,
                                                             const std::vector<bool>* exclude) {
  std::lock_guard lock(mutex_);
  return acquireLocked(now, exclude);
}

std::optional<DeploymentPool::Lease> DeploymentPool::acquireAny(Clock::time_point now,
                                                                const std::vector<bool>* exclude) {
  std::lock_guard lock(mutex_);
  if (auto lease = acquireLocked(now, exclude)) return lease;
  // Every candidate left is ejected or being probed: the one closest to the end of its cooldown
  // is the likeliest to have recovered.
  std::optional<std::size_t> soonest;
  for (std::size_t i = 0; i < deployments_.size(); ++i) {
    if (excluded(exclude, i)) continue;
    if (!soonest || deployments_[i].ejected_until < deployments_[*soonest].ejected_until) {
      soonest = i;
    }
  }
  if (!soonest) return std::nullopt;
  return leaseLocked(*soonest, false);
}

void DeploymentPool::ejectLocked(Deployment& deployment, Clock::time_point now) {
  ++deployment.ejections;
  // cooldown * 2^(ejections - 1), doubled step by step so it cannot overflow past max_cooldown.
  Clock::duration cooldown = options_.cooldown;
  for (int i = 1; i < deployment.ejections && cooldown < options_.max_cooldown; ++i) {
    cooldown *= 2;
  }
  if (cooldown > options_.max_cooldown) cooldown = options_.max_cooldown;
  deployment.ejected = true;
  deployment.probe_in_flight = false;
  deployment.ejected_until = now + cooldown;
  ++deployment.generation;
}

void DeploymentPool::report(Lease& lease, bool success, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  Deployment& d = deployments_[lease.index_];
  if (lease.generation_ != d.generation) return;  // leased before the last ejection or recovery
  if (success) {
    if (d.ejected) {
      // The probe, or an acquireAny() call, got an answer: the backend is back.
      d.ejected = false;
      d.probe_in_flight = false;
      d.ejected_until = {};
      ++d.generation;
    }
    d.consecutive_failures = 0;
    d.ejections = 0;
    return;
  }
  if (d.ejected) {
    // Only the probe's failure counts while ejected: an acquireAny() call was a long shot that
    // says nothing new, and must not stretch the cooldown.
    if (lease.probe_ && d.probe_in_flight) {
      ++d.consecutive_failures;
      ejectLocked(d, now);
    }
    return;
  }
  if (++d.consecutive_failures >= options_.eject_after) ejectLocked(d, now);
}

void DeploymentPool::release(Lease& lease) {
  std::lock_guard lock(mutex_);
  Deployment& d = deployments_[lease.index_];
  --d.outstanding;
  // A probe that ends without a report (the client went away) leaves the slot to the next call.
  if (lease.probe_ && lease.generation_ == d.generation && d.probe_in_flight) {
    d.probe_in_flight = false;
  }
}

DeploymentPool::DeploymentStatus DeploymentPool::statusLocked(const Deployment& d,
                                                              Clock::time_point now) const {
  State state = State::kHealthy;
  if (d.ejected) state = d.probe_in_flight ? State::kProbing : State::kEjected;
  const Clock::duration left =
      d.ejected && d.ejected_until > now ? d.ejected_until - now : Clock::duration::zero();
  return DeploymentStatus{.weight = d.weight,
                          .outstanding = d.outstanding,
                          .consecutive_failures = d.consecutive_failures,
                          .state = state,
                          .ejected_until = d.ejected_until,
                          .cooldown_left = left};
}

std::vector<DeploymentPool::DeploymentStatus> DeploymentPool::snapshot(
    Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  std::vector<DeploymentStatus> statuses;
  statuses.reserve(deployments_.size());
  for (const Deployment& d : deployments_) statuses.push_back(statusLocked(d, now));
  return statuses;
}

DeploymentPool::DeploymentStatus DeploymentPool::status(std::size_t index,
                                                        Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  return statusLocked(deployments_.at(index), now);
}

}  // namespace costgate::upstream
