#!/usr/bin/env bash
# ThreadSanitizer run (docs/hardening.md, "Sanitizers"): builds build-tsan (-DCOSTGATE_SANITIZE=
# thread), then runs every unit test and the whole integration suite against its gateway and mock;
# any report fails. With --quick, only the unit tests of the code threads share (cache stores and
# coalescing within and across replicas, budget ledgers, leases and owed charges, deployment
# pools, signals, the event loop and its mailbox, metrics, Redis connections, the mock's cascades,
# the router's learned rates and cache affinity, held streams) and the integration tests that
# drive the gateway's threads hardest (gateway, cache, cache_redis, cache_redis_coalescing,
# budget, reload, router, savings). Not part of
# .ci/run: a cold build takes longer than the whole budget for it. Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
if [[ "${1:-}" == "--quick" ]]; then
  quick=1
  shift
fi
source scripts/sanitizer-options.sh
COSTGATE_BUILD_DIR=build-tsan scripts/build.sh -DCOSTGATE_WERROR=ON -DCOSTGATE_SANITIZE=thread "$@"
[[ -d tests/integration/node_modules ]] ||
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
if ((quick)); then
  suites='MemoryStore|InFlight|RedisStoreTest|RedisConnection|LeasedLedger|OwedCharges|AsyncConnection'
  suites+='|MemoryLedger|RedisLedger'
  suites+='|Memory|Redis|DeploymentPool|Signal|EventLoopTest|SocketTest|Metrics|MetricsSummary'
  suites+='|Mock(Attempts|CascadeHeaders|Confidence|Shapes|Targeting)|BudgetFilter|SemanticCacheFilter'
  suites+='|EscalationRates|CacheAffinity|RouterFilter|HeldStream|Proxy|ReplicaLocksTest'
  suites+='|ReplicaCoalescingTest'
  ctest --test-dir build-tsan --output-on-failure -j 2 -R "^($suites)\."
  COSTGATE_BUILD_DIR=build-tsan node --test --test-concurrency=1 tests/integration/{gateway,cache,cache_redis,cache_redis_coalescing,budget,reload,router,savings}.test.mjs
else
  ctest --test-dir build-tsan --output-on-failure -j 2
  COSTGATE_BUILD_DIR=build-tsan node --test --test-concurrency=1 tests/integration/
fi
