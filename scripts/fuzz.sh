#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, ASan and UBSan into build-fuzz/ (or
# $COSTGATE_FUZZ_BUILD_DIR) and runs each for SECONDS (default 60), one after the other, on a copy
# of its seed corpus (fuzz/corpus/<target>/, which is never modified). Fails when any target
# crashes, trips a sanitizer or an invariant, leaks, runs one input for more than 10 s, or uses
# more than 2 GiB; the input that did it is kept and its path printed with the command that
# reproduces it.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS 0 replays each checked-in corpus once, without fuzzing (a quick regression check).
# Installs what is missing first (scripts/setup.sh --test: clang, libclang-rt-14-dev, the
# tokenizer's rank files).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
if ! [[ $seconds =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi
all_targets=(http_request_fuzzer http_response_fuzzer request_context_fuzzer answer_fuzzer
  sse_fuzzer cache_entry_fuzzer config_fuzzer tokenizer_fuzzer)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")

# The largest input each target is given: past its parser's limits where those are reachable
# (a request head's 16 KiB), and no larger, since longer inputs mean fewer executions.
declare -A max_len=(
  [http_request_fuzzer]=20000 [http_response_fuzzer]=8192 [request_context_fuzzer]=16384
  [answer_fuzzer]=8192 [sse_fuzzer]=8192 [config_fuzzer]=12288 [tokenizer_fuzzer]=4096
  [cache_entry_fuzzer]=8192)
declare -A dict=(
  [http_request_fuzzer]=fuzz/http.dict [http_response_fuzzer]=fuzz/http.dict
  [request_context_fuzzer]=fuzz/json.dict [answer_fuzzer]=fuzz/json.dict
  [sse_fuzzer]=fuzz/sse.dict [config_fuzzer]=fuzz/config.dict)

started=$(date +%s)
if [[ $(id -u) == 0 ]]; then
  scripts/setup.sh --test
else
  scripts/fetch-tokenizer-data.sh
fi

build_dir=${COSTGATE_FUZZ_BUILD_DIR:-build-fuzz}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DCOSTGATE_FUZZ=ON -DCOSTGATE_TESTS=OFF >/dev/null
ninja -C "$build_dir" -j "${COSTGATE_JOBS:-2}" "${targets[@]}"
built=$(date +%s)
echo "fuzz: built in $((built - started)) s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts="$build_dir/fuzz-artifacts"
logs="$build_dir/fuzz-logs"
mkdir -p "$artifacts" "$logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for target in "${targets[@]}"; do
  binary="$build_dir/fuzz/$target"
  seeds="fuzz/corpus/$target"
  [[ -x $binary && -d $seeds ]] || {
    echo "fuzz: no target or corpus named $target" >&2
    exit 2
  }
  corpus="$work/$target"
  mkdir -p "$corpus"
  cp -r "$seeds/." "$corpus/"
  log="$logs/$target.log"
  options=(-timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$target]:-4096}"
    -artifact_prefix="$artifacts/$target-" -print_final_stats=1)
  [[ -n ${dict[$target]:-} ]] && options+=(-dict="${dict[$target]}")
  if ((seconds == 0)); then
    options+=(-runs=0)
  else
    options+=(-max_total_time="$seconds")
  fi
  status=0
  "$binary" "${options[@]}" "$corpus" >"$log" 2>&1 || status=$?
  # libFuzzer's closing figures: executions, speed, coverage (edges and features), corpus.
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 || true)
  if ((status == 0)); then
    echo "fuzz: $target ok: ${runs:-?} runs, ${speed:-?}/s, ${cov:-no coverage line}"
  else
    failed+=("$target")
    echo "fuzz: $target FAILED (exit $status); log: $log" >&2
    grep -E '(==[0-9]+== ?ERROR|^SUMMARY|invariant failed|runtime error|terminate called|what\(\))' "$log" | head -5 >&2 || true
    reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    if [[ -n $reproducer ]]; then
      echo "fuzz: reproducer: $reproducer" >&2
      echo "fuzz: reproduce with: $binary $reproducer" >&2
    fi
  fi
done

echo "fuzz: ${#targets[@]} targets in $(($(date +%s) - started)) s (build included)"
if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
