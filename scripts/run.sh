#!/usr/bin/env bash
# Installs what is missing, builds, starts the mock backend and serves the default config.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
config=${1:-config/costgate.yaml}
mock_address=${COSTGATE_MOCK_ADDRESS:-127.0.0.1:8081}
build/costgate-mock --listen "$mock_address" --threads 1 &
mock_pid=$!
trap 'kill $mock_pid 2>/dev/null || true' EXIT
export COSTGATE_MOCK_ADDRESS=$mock_address
echo "costgate: serving $config; from another terminal, build/costgate demo shows what it saves," \
  "and the dashboard is at http://${COSTGATE_LISTEN:-127.0.0.1:8080}/dashboard" >&2
build/costgate --config "$config"
