#!/usr/bin/env bash
# Configures and builds costgate in Release into build/ (or $COSTGATE_BUILD_DIR).
# Extra arguments go to cmake, e.g. -DCOSTGATE_WERROR=ON. $COSTGATE_TARGETS limits the build to
# those targets (the image builds "costgate costgate-mock"); unset, everything is built.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${COSTGATE_BUILD_DIR:-build}
# ccache keys on paths relative to the checkout, so another clone (CI's) reuses this one's objects.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
# The sanitizer builds compile with -g, for which ccache would also key on the build directory
# (debug info names it): not here, so CI's clone reuses them too. Their debug info may then name
# another checkout's directory as the compile directory, which their stack traces do not need.
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
# Two jobs: these machines have 2 cores.
read -ra targets <<<"${COSTGATE_TARGETS:-}"
ninja -C "$build_dir" -j "${COSTGATE_JOBS:-2}" "${targets[@]}"
