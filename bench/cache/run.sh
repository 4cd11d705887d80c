#!/usr/bin/env bash
# Semantic cache micro-benchmark (issue 5): lookup latency p50/p90/p99/max at N entries in one
# partition (target p99 < 1 ms with the built-in embedder) and memory per entry, on the real
# MemoryStore, LexicalEmbedder, factsOf and requestKeyOf. See bench/cache/cache_bench.cpp.
#
#   bench/cache/run.sh [--entries N] [--queries M] [--threshold T] [--seed S] [--passes P]
#
# Defaults: 100000 entries, 2000 lookups (half exact repeats, half paraphrases), threshold 0.9,
# 3 timing passes (each lookup counts its fastest). The binary is
# $COSTGATE_BUILD_DIR/costgate-cache-bench (build/ by default); it is built with scripts/build.sh
# when missing, with $COSTGATE_JOBS jobs (1 by default: these machines have 2 shared cores).
set -euo pipefail
cd "$(dirname "$0")/../.."

args=()
while (($#)); do
  case "$1" in
    --entries | --queries | --threshold | --seed | --passes)
      (($# >= 2)) || { echo "run.sh: $1 needs a value" >&2; exit 2; }
      args+=("$1" "$2")
      shift 2
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

build=${COSTGATE_BUILD_DIR:-build}
jobs=${COSTGATE_JOBS:-1}
bench=$build/costgate-cache-bench

COSTGATE_JOBS=$jobs COSTGATE_BUILD_DIR=$build scripts/build.sh >&2  # incremental: never stale
if grep -q 'costgate-cache-bench' "$build/build.ninja" 2>/dev/null; then
  # Cheap when up to date; rebuilds after a change to the store, embedder or facts.
  ninja -C "$build" -j "$jobs" costgate-cache-bench >/dev/null
else
  # CMakeLists.txt has no costgate-cache-bench target yet: link it by hand against the core
  # library of that build.
  ninja -C "$build" -j "$jobs" costgate_core >/dev/null
  if [[ ! -x $bench || $bench -ot bench/cache/cache_bench.cpp || $bench -ot $build/libcostgate_core.a ]]; then
    echo "run.sh: linking $bench by hand (no CMake target yet)" >&2
    g++ -std=c++20 -O2 -Iinclude bench/cache/cache_bench.cpp "$build/libcostgate_core.a" \
      -lcrypto -ljemalloc -o "$bench"
  fi
fi
[[ -x $bench ]] || { echo "run.sh: $bench is missing after the build" >&2; exit 1; }

exec "$bench" "${args[@]}"
