#!/usr/bin/env bash
# Configures and builds costgate in Release into build/ (or $COSTGATE_BUILD_DIR).
# Extra arguments go to cmake, e.g. -DCOSTGATE_WERROR=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${COSTGATE_BUILD_DIR:-build}
# ccache keys on paths relative to the checkout, so another clone (CI's) reuses this one's objects.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
# Two jobs: these machines have 2 cores.
ninja -C "$build_dir" -j "${COSTGATE_JOBS:-2}"
