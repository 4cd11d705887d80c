#!/usr/bin/env bash
# The stricter passthrough benchmark: the backend is nginx answering a fixed chat.completion (no
# work per request beyond HTTP), so a proxy's own cost is most of what a proxied request costs.
# One run measures, interleaved round by round:
#   1. the nginx backend directly (the floor),
#   2. nginx as a production reverse proxy in front of it (access log off, HTTP/1.1 keep-alive
#      upstream),
#   3. costgate with an empty filter chain in front of it, access log off,
#   4. the same with its access log on (a file),
# nginx with as many worker processes as costgate has threads. Prints, per round and as the
# median of the rounds, the throughput ratio of each costgate to nginx, and the p99s.
#
#   bench/load/static_backend.sh [--duration SECONDS] [--connections N] [--threads N] [--rounds N]
#                                [--busy-poll-us N]   (costgate's server.busy_poll_us; default: its
#                                                      default)
#
# Rounds are interleaved, and each starts one target later than the one before, so that no
# target is always measured first or right after nginx; the ratios are those of the same round.
set -euo pipefail
cd "$(dirname "$0")/../.."

source bench/load/common.sh
while (($#)); do
  shared_option "$1" "${2:-}" || { echo "unknown argument $1" >&2; exit 2; }
  shift 2
done
prepare_load_bench

# The backend: one nginx worker, as the mock has one thread elsewhere. Its answer is an OpenAI
# chat.completion as OpenAI sends it (usage details included), with the headers it always sends.
completion='{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"An inference gateway gives one endpoint for every model, with routing, retries, caching and per-team cost control.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":31,"completion_tokens":22,"total_tokens":53,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_06737a9306"}'
backend_port=$(free_port)
start_nginx backend 1 "  access_log off;
  server {
    listen 127.0.0.1:$backend_port;
    keepalive_requests 1000000;
    location = /v1/chat/completions {
      default_type application/json;
      add_header x-request-id req_2b5a1c9d0e7f4a6b8c3d;
      add_header openai-processing-ms 412;
      return 200 '$completion';
    }
  }"

# The comparison proxy, configured as in production: no access log, HTTP/1.1 with keep-alive to
# the backend.
nginx_port=$(free_port)
start_nginx_proxy "$nginx_port" "$threads" "$backend_port" off

# costgate twice, as configured by default apart from the filters (none) and the access log.
declare -A costgate_ports
for log in off on; do
  port=$(free_port)
  log_path='""'
  [[ $log == on ]] && log_path="$work/costgate-access.log"
  cat >"$work/costgate-$log.yaml" <<CONF
server:
  listen: 127.0.0.1:$port
  threads: $threads
$busy_poll
backends:
  static:
    url: http://127.0.0.1:$backend_port/v1
    max_idle_connections: 128
models:
  mock-small:
    backend: static
access_log:
  path: $log_path
log_level: warn
CONF
  "$build/costgate" --config "$work/costgate-$log.yaml" 2>"$work/costgate-$log.log" &
  pids+=($!)
  costgate_ports[$log]=$port
done

targets=(backend nginx costgate-log-off costgate-log-on)
declare -A urls=([backend]="http://127.0.0.1:$backend_port" [nginx]="http://127.0.0.1:$nginx_port"
  [costgate-log-off]="http://127.0.0.1:${costgate_ports[off]}"
  [costgate-log-on]="http://127.0.0.1:${costgate_ports[on]}")
declare -A rps_of p50_of p99_of round_rps  # *_of: the rounds' figures, space-separated
for target in "${targets[@]}"; do
  wait_port "${urls[$target]##*:}"
  measure "${urls[$target]}" 2 >/dev/null  # warm-up: connections, pools, caches
done

ratio() { printf "%.3f" "$(echo "$1 / $2" | bc -l)"; }

echo "static-backend benchmark: nginx backend with a fixed chat.completion; $connections connections," \
  "$threads proxy threads/workers each; ${duration}s x $rounds interleaved rounds${busy_poll:+; costgate$busy_poll}"
printf "%-18s %6s %12s %9s %9s\n" target round "requests/s" "p50 ms" "p99 ms"
ratios_on=() ratios_off=()
for round in $(seq "$rounds"); do
  # Each round starts one target later: none is always measured first, or right after nginx.
  shift_by=$(((round - 1) % ${#targets[@]}))
  order=("${targets[@]:shift_by}" "${targets[@]:0:shift_by}")
  for target in "${order[@]}"; do
    read -r rps p50 p99 < <(measure "${urls[$target]}" "$duration")
    printf "%-18s %6s %12s %9s %9s\n" "$target" "$round" "$rps" "$p50" "$p99"
    rps_of[$target]="${rps_of[$target]:-} $rps"
    p50_of[$target]="${p50_of[$target]:-} $p50"
    p99_of[$target]="${p99_of[$target]:-} $p99"
    round_rps[$target]=$rps
  done
  on=$(ratio "${round_rps[costgate-log-on]}" "${round_rps[nginx]}")
  off=$(ratio "${round_rps[costgate-log-off]}" "${round_rps[nginx]}")
  ratios_on+=("$on") ratios_off+=("$off")
  echo "round $round: throughput ratio costgate(access log on)/nginx: $on; costgate(access log off)/nginx: $off"
done

printf "\n%-18s %12s %9s %9s   (median of the rounds)\n" target "requests/s" "p50 ms" "p99 ms"
for target in "${targets[@]}"; do
  # shellcheck disable=SC2086  # the lists are space-separated numbers
  printf "%-18s %12.0f %9.3f %9.3f\n" "$target" "$(median ${rps_of[$target]})" \
    "$(median ${p50_of[$target]})" "$(median ${p99_of[$target]})"
done
echo
echo "throughput ratio costgate(access log on)/nginx: $(median "${ratios_on[@]}") (median; by round: ${ratios_on[*]}; target >= 1.0)"
echo "throughput ratio costgate(access log off)/nginx: $(median "${ratios_off[@]}") (median; by round: ${ratios_off[*]})"
# shellcheck disable=SC2086
echo "p99 ms (median): nginx $(median ${p99_of[nginx]}), costgate(access log on) $(median ${p99_of[costgate-log-on]})," \
  "costgate(access log off) $(median ${p99_of[costgate-log-off]}), backend alone $(median ${p99_of[backend]})"
lines=$(wc -l <"$work/costgate-access.log")
echo "costgate(access log on) wrote $lines access log lines"
