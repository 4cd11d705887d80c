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
build/costgate --config "$config"
