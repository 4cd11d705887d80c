#!/usr/bin/env bash
# Budget breaker micro-benchmark (issue 7): the added latency of a budget check on the memory and
# the Redis ledger (p50/p99), one request at a time, against a redis-server it starts on a free
# port. The gateway load benchmark with budgets on is bench/load/run.sh --with-budget.
#
#   bench/budget/run.sh [--requests N]
set -euo pipefail
cd "$(dirname "$0")/../.."
requests=20000
while (($#)); do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
build=${COSTGATE_BUILD_DIR:-build}
COSTGATE_BUILD_DIR=$build scripts/build.sh >/dev/null  # incremental: never a stale binary
source bench/processes.sh
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_port "$redis_port"
"$build/costgate-budget-bench" "redis://127.0.0.1:$redis_port" "$requests"
