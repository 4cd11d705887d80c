#!/usr/bin/env bash
# The savings harness (issue 20; docs/benchmarks.md, "Savings on realistic traffic"): a seeded
# trace of three features (support FAQ, multi-turn coding, JSON triage) replayed DIRECT to the
# mock's strong model and THROUGH costgate configured by bench/savings/costgate.yaml, against the
# mock's realistic mode (a cheap model wrong on hard prompts, prefix caching, per-tier timing).
# Prints cost, wrong answers by cause, hard prompts left on the cheap model, the provider-cached
# share of input, latency and time to first token, overall and per feature, against the targets.
#
#   bench/savings/run.sh [--requests N] [--seed S] [--time-scale X] [--concurrency C]
#                        [--coding-hard SHARE]
#
# --time-scale multiplies the mock's model times (cheap 150 ms + 4 ms a token, strong 400 ms +
# 12 ms a token); the default 0.2 replays the 2,432 requests twice in about six minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${COSTGATE_BUILD_DIR:-build}
# Always (incrementally) built: a stale binary would measure old code.
COSTGATE_BUILD_DIR=$build scripts/build.sh >/dev/null
if [[ ! -d tests/integration/node_modules/openai ]]; then
  (cd tests/integration && npm ci --no-audit --no-fund >/dev/null)
fi
exec node bench/savings/run.mjs --build "$build" "$@"
