#!/usr/bin/env bash
# Cascading router benchmark (issue 6): a synthetic mixed workload (bench/router/mixed_workload.mjs
# documents the mix) through a cascade and straight to the large model; prints the share the
# small model served, the cost ratio to all-large and the hard prompts wrongly kept small.
#
#   bench/router/run.sh [--prompts N] [--concurrency C] [--seed S]
#
# Prices: mock-small $0.15/$0.60, mock-large $2.50/$10 per million tokens (gpt-4o-mini, gpt-4o).
# The gateway throughput with routing on is bench/load/run.sh --with-routing.
set -euo pipefail
cd "$(dirname "$0")/../.."

prompts=400
concurrency=8
seed=7
while (($#)); do
  case "$1" in
    --prompts) prompts=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
build=${COSTGATE_BUILD_DIR:-build}
# Always (incrementally) built: a stale binary would measure old code.
COSTGATE_BUILD_DIR=$build scripts/build.sh >/dev/null

source bench/processes.sh

start_mock
gateway_port=$(free_port)
cat >"$work/costgate.yaml" <<CONF
server:
  listen: 127.0.0.1:$gateway_port
  threads: 2
backends:
  mock:
    url: http://127.0.0.1:$mock_port/v1
models:
  mock-small:
    backend: mock
    price: {input: 0.15, output: 0.6}
  mock-large:
    backend: mock
    price: {input: 2.5, output: 10}
filters:
  - tagging: {defaults: {team: bench, env: bench}}
  - router:
      policies:
        - name: cascade
          match: {feature: [cascade]}
          tiers: [{name: cascade, models: [mock-small, mock-large]}]
          rules: [{name: all, when: {}, tier: cascade}]
        - name: direct
          match: {feature: [direct]}
          tiers: [{name: strong, models: [mock-large]}]
          rules: [{name: all, when: {}, tier: strong}]
access_log: {path: ""}
log_level: warn
CONF
"$build/costgate" --config "$work/costgate.yaml" 2>"$work/costgate.log" &
pids+=($!)
wait_port "$gateway_port"
node bench/router/mixed_workload.mjs "http://127.0.0.1:$gateway_port" "$prompts" "$concurrency" "$seed"
