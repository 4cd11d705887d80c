#!/usr/bin/env bash
# Load benchmark: requests/s and latency of non-streaming chat completions, in one run, for
#   1. the mock backend directly (the floor),
#   2. nginx as a plain reverse proxy in front of the mock (the baseline),
#   3. costgate with an empty filter chain in front of the mock,
# nginx with as many worker processes as costgate has threads. Prints costgate/nginx ratios and
# costgate's peak RSS. Only loopback addresses are used; every run is bounded in time.
#
#   bench/load/run.sh [--duration SECONDS] [--connections N] [--threads N] [--rounds N]
#                     [--busy-poll-us N]   (costgate's server.busy_poll_us; default: the config's)
#                     [--with-costs]       (costgate with the tagging filter and a priced model)
#                     [--with-tokens]      (--with-costs, plus prompt_pruning and token_cap: every
#                                           request's input counted exactly, whitespace and
#                                           duplicates checked, max_tokens clamped in the body)
#                     [--with-cache hit|miss]  (--with-costs, plus semantic_cache: every request
#                                           an exact hit, or every request a new question: a
#                                           semantic lookup, a miss and a store)
#                     [--with-budget memory|redis]  (--with-costs, plus a budget breaker with a
#                                           daily budget and a rate limit that never refuse:
#                                           every request read, reserved and settled on the
#                                           ledger; redis starts a redis-server)
#                     [--with-routing]     (--with-costs, plus a router whose cascade tries
#                                           mock-small first: every answer asked with logprobs,
#                                           judged, accepted, and its logprobs removed)
#
# The ratio is printed as the ratio of mean throughputs, and as the median of the rounds' ratios,
# which a single disturbed round moves less.
set -euo pipefail
cd "$(dirname "$0")/../.."

source bench/load/common.sh
with_costs=""
with_tokens=""
with_cache=""
with_routing=""
with_budget=""
target_ratio=1.0
while (($#)); do
  if shared_option "$1" "${2:-}"; then shift 2; continue; fi
  case "$1" in
    --with-costs) with_costs=1; shift ;;
    --with-tokens) with_costs=1; with_tokens=1; target_ratio=0.9; shift ;;
    --with-cache) with_costs=1; with_cache=$2; shift 2 ;;
    --with-routing) with_costs=1; with_routing=1; shift ;;
    --with-budget) with_costs=1; with_budget=$2; target_ratio=0.8; shift 2 ;;  # issue 19
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
prepare_load_bench

start_mock --threads 1

nginx_port=$(free_port)
start_nginx_proxy "$nginx_port" "$threads" "$mock_port" "$work/nginx-access.log"
wait_port "$nginx_port"

gateway_port=$(free_port)
filters=""
[[ -n $with_costs ]] && filters+="  - tagging"$'\n'
if [[ -n $with_tokens ]]; then
  # The bench request asks for 64 output tokens: the cap of 32 makes every request an edited one.
  filters+="  - prompt_pruning: {policies: [{name: tidy, max_input_tokens: 4000}]}"$'\n'
  filters+="  - token_cap: {policies: [{name: default, max_output_tokens: 32, max_n: 1,"
  filters+=" max_input_tokens: 8000, over_input: prune}]}"$'\n'
fi
if [[ -n $with_cache ]]; then
  [[ $with_cache == hit || $with_cache == miss ]] || { echo "--with-cache takes hit or miss" >&2; exit 2; }
  filters+="  - semantic_cache: {policies: [{name: bench, mode: semantic, max_entries: 100000}]}"$'\n'
  if [[ $with_cache == miss ]]; then script=bench/load/chat_unique.lua; fi
fi
if [[ -n $with_budget ]]; then
  [[ $with_budget == memory || $with_budget == redis ]] || { echo "--with-budget takes memory or redis" >&2; exit 2; }
  ledger=memory
  if [[ $with_budget == redis ]]; then
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
    pids+=($!)
    wait_port "$redis_port"
    ledger="redis://127.0.0.1:$redis_port"
  fi
  filters+="  - budget: {ledger: \"$ledger\", budgets: [{name: bench, amount_usd: 1000000, window: day}],"
  filters+=" rate_limits: [{name: bench-rpm, requests_per_minute: 100000000}]}"$'\n'
fi
if [[ -n $with_routing ]]; then
  filters+="  - router: {policies: [{name: bench, tiers: [{name: cascade, models: [mock-small,"
  filters+=" mock-large]}], rules: [{name: all, when: {}, tier: cascade}]}]}"$'\n'
fi
cat >"$work/costgate.yaml" <<CONF
server:
  listen: 127.0.0.1:$gateway_port
  threads: $threads
$busy_poll
backends:
  mock:
    url: http://127.0.0.1:$mock_port/v1
    max_idle_connections: 128
models:
  mock-small:
    backend: mock
${with_costs:+    price: {input: 0.15, cached_input: 0.075, output: 0.6\}}
  mock-large:
    backend: mock
${with_costs:+    price: {input: 2.5, output: 10\}}
filters:
${filters}
access_log:
  path: $work/costgate-access.log
log_level: warn
CONF
"$build/costgate" --config "$work/costgate.yaml" 2>"$work/costgate.log" &
gateway_pid=$!
pids+=($gateway_pid)
wait_port "$gateway_port"

declare -A total_rps total_p50 total_p99 round_rps
round_ratios=()
targets=(mock nginx costgate)
declare -A urls=([mock]="http://127.0.0.1:$mock_port" [nginx]="http://127.0.0.1:$nginx_port" [costgate]="http://127.0.0.1:$gateway_port")
for target in "${targets[@]}"; do
  measure "${urls[$target]}" 2 >/dev/null  # warm-up: connections, pools, caches
  total_rps[$target]=0; total_p50[$target]=0; total_p99[$target]=0
done

echo "load benchmark: $connections connections, $threads proxy threads/workers, ${duration}s x $rounds rounds, non-streaming chat${busy_poll:+, costgate$busy_poll}${with_costs:+, costgate with tagging and pricing}${with_tokens:+, prompt_pruning and token_cap}${with_cache:+, semantic_cache (all $with_cache)}${with_routing:+, router (cascade: judged and accepted)}${with_budget:+, budget breaker ($with_budget ledger)}"
printf "%-10s %6s %12s %9s %9s\n" target round "requests/s" "p50 ms" "p99 ms"
for round in $(seq "$rounds"); do
  for target in "${targets[@]}"; do
    read -r rps p50 p99 < <(measure "${urls[$target]}" "$duration")
    printf "%-10s %6s %12s %9s %9s\n" "$target" "$round" "$rps" "$p50" "$p99"
    total_rps[$target]=$(echo "${total_rps[$target]} + $rps" | bc -l)
    round_rps[$target]=$rps
    total_p50[$target]=$(echo "${total_p50[$target]} + $p50" | bc -l)
    total_p99[$target]=$(echo "${total_p99[$target]} + $p99" | bc -l)
  done
  round_ratios+=("$(echo "scale=3; ${round_rps[costgate]} / ${round_rps[nginx]}" | bc -l)")
done

avg() { echo "scale=3; $1 / $rounds" | bc -l; }
printf "\n%-10s %12s %9s %9s\n" "mean" "requests/s" "p50 ms" "p99 ms"
for target in "${targets[@]}"; do
  printf "%-10s %12.0f %9.3f %9.3f\n" "$target" "$(avg "${total_rps[$target]}")" \
    "$(avg "${total_p50[$target]}")" "$(avg "${total_p99[$target]}")"
done

# Latency added by the proxy itself, without queueing: one connection, one request at a time.
declare -A quiet_p50 quiet_p99
printf "\n%-10s %12s %9s %9s   (1 connection)\n" target "requests/s" "p50 ms" "p99 ms"
for target in "${targets[@]}"; do
  read -r rps p50 p99 < <(measure "${urls[$target]}" "$duration" 1)
  quiet_p50[$target]=$p50
  quiet_p99[$target]=$p99
  printf "%-10s %12s %9s %9s\n" "$target" "$rps" "$p50" "$p99"
done

ratio=$(echo "scale=3; ${total_rps[costgate]} / ${total_rps[nginx]}" | bc -l)
added_costgate=$(echo "scale=3; (${total_p99[costgate]} - ${total_p99[mock]}) / $rounds" | bc -l)
added_nginx=$(echo "scale=3; (${total_p99[nginx]} - ${total_p99[mock]}) / $rounds" | bc -l)
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$gateway_pid/status")
echo
median=$(median "${round_ratios[@]}")
echo "throughput ratio costgate/nginx: $ratio (target >= $target_ratio); by round: ${round_ratios[*]}; median $median"
echo "p99 added over the mock at $connections connections: costgate ${added_costgate} ms, nginx ${added_nginx} ms"
quiet_costgate=$(echo "scale=3; ${quiet_p99[costgate]} - ${quiet_p99[mock]}" | bc -l)
quiet_nginx=$(echo "scale=3; ${quiet_p99[nginx]} - ${quiet_p99[mock]}" | bc -l)
echo "p99 added over the mock at 1 connection: costgate ${quiet_costgate} ms, nginx ${quiet_nginx} ms (target: costgate < 1 ms)"
printf "costgate peak RSS: %.1f MiB (target < 64 MiB)\n" "$(echo "$rss_kib / 1024" | bc -l)"
if [[ -n $with_routing ]]; then
  # Each routed request makes the mock compute logprobs, which costs it several times a plain
  # answer: the ceiling of this run is the mock's rate with them, not nginx's without.
  script=bench/load/chat_logprobs.lua
  read -r rps p50 p99 < <(measure "${urls[mock]}" "$duration")
  mock_ratio=$(echo "scale=3; ${total_rps[costgate]} / $rounds / $rps" | bc -l)
  echo "the mock alone answering with logprobs: $rps requests/s; costgate with routing / that: $mock_ratio"
fi
