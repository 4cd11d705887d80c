#!/usr/bin/env bash
# The budget chaos test (tests/integration/budget_chaos.test.mjs) at length: two gateway replicas on
# a real redis-server under mixed traffic while Redis is killed, restarted, frozen and thawed and a
# replica is drained, in fail-open and fail-closed mode. It passes when Redis's spend equals every
# replica's access-log charges to the nano-dollar with no hold left, and the closed run stays
# within one worst case of its budget.
#
#   bench/budget/chaos.sh [SECONDS]   (per mode; default 120; the suite runs 12)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-120}
build=${COSTGATE_BUILD_DIR:-build}
COSTGATE_BUILD_DIR=$build scripts/build.sh >/dev/null
[[ -d tests/integration/node_modules ]] ||
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
CHAOS_SECONDS=$seconds COSTGATE_BUILD_DIR=$build \
  node --test --test-concurrency=1 tests/integration/budget_chaos.test.mjs
