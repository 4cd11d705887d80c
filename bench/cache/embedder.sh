#!/usr/bin/env bash
# The semantic cache's embedders compared (bench/cache/embedder_bench.cpp): recall and false hits
# on tests/data/cache_pairs.jsonl per kind and over a threshold sweep, embed time per question,
# and the word vectors' load time and memory (RSS).
#
#   bench/cache/embedder.sh [--vectors FILE] [--pairs FILE] [--threshold T] [--passes P]
#
# The word vectors come from scripts/fetch-word-vectors.sh (run here when missing). The binary is
# $COSTGATE_BUILD_DIR/costgate-embedder-bench (build/ by default), built with scripts/build.sh
# with $COSTGATE_JOBS jobs (1).
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${COSTGATE_BUILD_DIR:-build}
jobs=${COSTGATE_JOBS:-1}
bench=$build/costgate-embedder-bench

scripts/fetch-word-vectors.sh >&2
COSTGATE_JOBS=$jobs COSTGATE_BUILD_DIR=$build scripts/build.sh >&2  # incremental: never stale
exec "$bench" "$@"
