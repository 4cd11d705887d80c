#!/usr/bin/env bash
# Tokenizer benchmark: single-thread throughput of costgate's Encoding::encode against tiktoken's
# wasm build (the npm package, encode_ordinary) on the same seeded corpus of prose, code, JSON, CJK
# and emoji, for cl100k_base and o200k_base; then the time costgate takes on inputs that are
# quadratic for a naive byte-pair merge (1 MiB of one repeated character, 1 MiB of random bytes).
#
#   bench/tokenizer/run.sh [--repeat N] [--mib N]
#
# Throughput is the best of N runs after a warm-up, in MB/s (10^6 bytes per second). Both sides
# must produce the same ids (same count and same hash of the id sequence) or the run fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

repeat=5
mib=4
while (($#)); do
  case "$1" in
    --repeat) repeat=$2; shift 2 ;;
    --mib) mib=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

build=${COSTGATE_BUILD_DIR:-build}
bench=$build/costgate-tokenizer-bench
COSTGATE_BUILD_DIR=$build scripts/build.sh >/dev/null  # incremental: never a stale binary
[[ -x $bench ]] || { echo "bench: $bench is missing after the build" >&2; exit 1; }
scripts/fetch-tokenizer-data.sh
if [[ ! -d bench/tokenizer/node_modules/tiktoken ]]; then
  (cd bench/tokenizer && npm ci --silent --no-audit --no-fund >/dev/null)
fi

# These machines are shared: a busy one lowers both sides' figures, not always by the same factor.
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node bench/tokenizer/wasm.mjs corpus "$work/corpus.txt" --mib "$mib"
node bench/tokenizer/wasm.mjs bench --corpus "$work/corpus.txt" --repeat "$repeat" >"$work/wasm.txt"
"$bench" --data-dir data/tokenizer --corpus "$work/corpus.txt" --repeat "$repeat" >"$work/costgate.txt"

cat "$work/wasm.txt" "$work/costgate.txt" | awk -v repeat="$repeat" '
  function field(key,   i) {
    for (i = 2; i <= NF; ++i) if (index($i, key "=") == 1) return substr($i, length(key) + 2)
    return ""
  }
  {
    impl = field("impl"); enc = field("encoding")
    if (!(enc in seen)) { seen[enc] = 1; order[++encodings] = enc }
  }
  $1 == "load" { load[impl, enc] = field("ms") }
  $1 == "encode" {
    bytes = field("bytes"); tokens[impl, enc] = field("tokens"); hash[impl, enc] = field("ids_fnv")
    mbps[impl, enc] = field("mbps")
  }
  $1 == "count" { count_mbps[enc] = field("mbps") }
  $1 == "linear" {
    input = field("input")
    if (!(input in seen_input)) { seen_input[input] = 1; inputs[++n_inputs] = input }
    linear[input, enc] = field("ms"); linear_tokens[input, enc] = field("tokens")
  }
  END {
    printf "tokenizer throughput, one thread, %.2f MiB corpus, best of %d after a warm-up (MB = 10^6 bytes)\n",
      bytes / 1048576, repeat
    printf "%-12s %9s %10s %14s %16s %16s\n", "encoding", "tokens", "wasm MB/s", "costgate MB/s",
      "costgate/wasm", "(target >= 3)"
    failed = 0
    for (i = 1; i <= encodings; ++i) {
      enc = order[i]
      if (tokens["wasm", enc] != tokens["costgate", enc] || hash["wasm", enc] != hash["costgate", enc]) {
        printf "%s: the ids differ: wasm %s tokens (fnv %s), costgate %s tokens (fnv %s)\n", enc,
          tokens["wasm", enc], hash["wasm", enc], tokens["costgate", enc], hash["costgate", enc]
        failed = 1
      }
      ratio = mbps["costgate", enc] / mbps["wasm", enc]
      printf "%-12s %9d %10.2f %14.2f %15.2fx %16s\n", enc, tokens["costgate", enc], mbps["wasm", enc],
        mbps["costgate", enc], ratio, (ratio >= 3 ? "met" : "NOT MET")
    }
    for (i = 1; i <= encodings; ++i) {
      enc = order[i]
      printf "%s: same ids on both sides (%d tokens, fnv %s); costgate count() %.2f MB/s; load: wasm %s ms, costgate %s ms\n",
        enc, tokens["costgate", enc], hash["costgate", enc], count_mbps[enc], load["wasm", enc], load["costgate", enc]
    }
    if (n_inputs > 0) {
      printf "\ncostgate encode on adversarial inputs, ms (target: well under 1000 each)\n"
      printf "%-18s", "input"
      for (i = 1; i <= encodings; ++i) printf " %18s", order[i]
      printf "\n"
      for (j = 1; j <= n_inputs; ++j) {
        printf "%-18s", inputs[j]
        for (i = 1; i <= encodings; ++i) printf " %9.2f (%6d t)", linear[inputs[j], order[i]], linear_tokens[inputs[j], order[i]]
        printf "\n"
      }
      printf "growth from 256 KiB to 1 MiB of \"a\" (4x the bytes; ~4x time is linear):"
      for (i = 1; i <= encodings; ++i) {
        small = linear["a_256KiB", order[i]]
        printf " %s %.2fx", order[i], (small > 0 ? linear["a_1MiB", order[i]] / small : 0)
      }
      printf "\n"
    }
    exit failed
  }'
