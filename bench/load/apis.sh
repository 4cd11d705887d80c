#!/usr/bin/env bash
# The APIs a client may speak, against one gateway: requests/s and latency of the same question
# asked as a chat completion (bench/load/chat.lua), as a Responses API request (responses.lua)
# and as an Anthropic Messages request (messages.lua), non-streaming, with the tagging filter and
# a priced model, the mock as the backend. The Responses and Messages requests are translated to
# chat and their answers back (docs/api-translation.md); the ratios say what that costs.
#
#   bench/load/apis.sh [--duration SECONDS] [--connections N] [--threads N] [--rounds N]
#
# Rounds are interleaved, each starting one API later than the one before; the ratios are those
# of the same round, and their median is printed with the ratio of the means. Target: each
# translated API within 10% of chat (ratio >= 0.9).
set -euo pipefail
cd "$(dirname "$0")/../.."

source bench/load/common.sh
while (($#)); do
  shared_option "$1" "${2:-}" || { echo "unknown argument $1" >&2; exit 2; }
  shift 2
done
prepare_load_bench

start_mock

gateway_port=$(free_port)
cat >"$work/costgate.yaml" <<CONF
server:
  listen: 127.0.0.1:$gateway_port
  threads: $threads
$busy_poll
backends:
  mock:
    url: http://127.0.0.1:$mock_port/v1
    api_key: bench-key
models:
  mock-small:
    backend: mock
    price: {input: 0.15, cached_input: 0.075, output: 0.6}
filters:
  - tagging
access_log:
  path: $work/costgate-access.log
log_level: warn
CONF
"$build/costgate" --config "$work/costgate.yaml" 2>"$work/costgate.log" &
gateway_pid=$!
pids+=($gateway_pid)
wait_port "$gateway_port"
url="http://127.0.0.1:$gateway_port"

apis=(chat responses messages)
declare -A scripts=([chat]=bench/load/chat.lua [responses]=bench/load/responses.lua [messages]=bench/load/messages.lua)
declare -A paths=([chat]=/v1/chat/completions [responses]=/v1/responses [messages]=/v1/messages)
declare -A total_rps total_p99 round_rps
declare -A round_ratios=([responses]="" [messages]="")
use_api() { script=${scripts[$1]}; path=${paths[$1]}; }
for api in "${apis[@]}"; do
  use_api "$api"
  measure "$url" 2 >/dev/null  # warm-up
  total_rps[$api]=0; total_p99[$api]=0
done

echo "API benchmark: $connections connections, $threads gateway threads, ${duration}s x $rounds rounds, non-streaming, tagging and pricing, the mock as the backend"
printf "%-10s %6s %12s %9s %9s\n" api round "requests/s" "p50 ms" "p99 ms"
for round in $(seq "$rounds"); do
  for i in 0 1 2; do
    api=${apis[$(((i + round) % 3))]}
    use_api "$api"
    read -r rps p50 p99 < <(measure "$url" "$duration")
    printf "%-10s %6s %12s %9s %9s\n" "$api" "$round" "$rps" "$p50" "$p99"
    total_rps[$api]=$(echo "${total_rps[$api]} + $rps" | bc -l)
    total_p99[$api]=$(echo "${total_p99[$api]} + $p99" | bc -l)
    round_rps[$api]=$rps
  done
  for api in responses messages; do
    round_ratios[$api]+=" $(echo "scale=3; ${round_rps[$api]} / ${round_rps[chat]}" | bc -l)"
  done
done

echo
for api in "${apis[@]}"; do
  printf "%-10s mean %10.0f requests/s, p99 %.3f ms\n" "$api" \
    "$(echo "${total_rps[$api]} / $rounds" | bc -l)" "$(echo "${total_p99[$api]} / $rounds" | bc -l)"
done
for api in responses messages; do
  ratio=$(echo "scale=3; ${total_rps[$api]} / ${total_rps[chat]}" | bc -l)
  # shellcheck disable=SC2086  # the ratios are words
  echo "throughput ratio $api/chat: $ratio (target >= 0.9); by round:${round_ratios[$api]}; median $(median ${round_ratios[$api]})"
done
printf "gateway peak RSS: %.1f MiB\n" "$(echo "$(awk '/VmHWM/ {print $2}' "/proc/$gateway_pid/status") / 1024" | bc -l)"
