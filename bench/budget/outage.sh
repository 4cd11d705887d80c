#!/usr/bin/env bash
# How far a Redis outage lets a budget be passed with on_ledger_error: open (bench/budget/outage.mjs):
# two replicas, Redis frozen after they spent 60% of a small budget, concurrent clients on both
# until each one's stand-in ledger refuses.
#
#   bench/budget/outage.sh [BUDGET_USD] [CLIENTS_PER_REPLICA]   (default 0.05 and 16)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${COSTGATE_BUILD_DIR:-build}
COSTGATE_BUILD_DIR=$build scripts/build.sh >/dev/null
[[ -d tests/integration/node_modules ]] ||
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
COSTGATE_BUILD_DIR=$build node bench/budget/outage.mjs "$@"
