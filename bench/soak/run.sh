#!/usr/bin/env bash
# Soak test (issue 9): mixed traffic (bench/soak/traffic.mjs: cache misses and hits, streams,
# escalations, budget refusals, client disconnects, backend faults, slow calls) through the real
# gateway for a while, sampling its memory and open descriptors; then checks that no charge was
# lost: the spend in the metrics equals the sum over the access log and the live spend report.
#
#   bench/soak/run.sh [--seconds S] [--concurrency C] [--seed N]     (default: 600 s, 16, 1)
#
# Exits 1 when a bound is broken: RSS grows more than 16 MiB after the first minute, descriptors
# outnumber the idle ones before the run by more than the upstream pool may keep, or the three
# spend totals differ.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=600
concurrency=16
seed=1
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
build=${COSTGATE_BUILD_DIR:-build}
# Always (incrementally) built: a stale binary would soak old code.
COSTGATE_BUILD_DIR=$build scripts/build.sh >/dev/null

source bench/processes.sh

start_mock
gateway_port=$(free_port)
max_idle=16
threads=2
cat >"$work/costgate.yaml" <<CONF
server:
  listen: 127.0.0.1:$gateway_port
  threads: $threads
backends:
  mock:
    url: http://127.0.0.1:$mock_port/v1
    max_idle_connections: $max_idle
models:
  mock-small:
    backend: mock
    price: {input: 0.15, output: 0.6}
  mock-large:
    backend: mock
    price: {input: 2.5, output: 10}
filters:
  - tagging: {defaults: {feature: chat, team: soak, env: bench}}
  - semantic_cache:
      policies: [{name: all, mode: semantic, max_entries: 2000, ttl_seconds: 3600}]
  - router:
      policies:
        - name: cascade
          match: {feature: [cascade]}
          tiers: [{name: cascade, models: [mock-small, mock-large]}]
          rules: [{name: all, when: {}, tier: cascade}]
  - budget:
      budgets: [{name: capped-minute, match: {feature: [capped]}, amount_usd: 0.0005, window: minute}]
access_log: {path: "$work/access.log"}
log_level: warn
CONF
"$build/costgate" --config "$work/costgate.yaml" 2>"$work/costgate.log" &
gateway_pid=$!
pids+=("$gateway_pid")
wait_port "$gateway_port"
url=http://127.0.0.1:$gateway_port

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$gateway_pid/status"; }
fds() { find "/proc/$gateway_pid/fd" -mindepth 1 | wc -l; }
mib() { echo "scale=1; $1 / 1024" | bc; }

fds_before=$(fds)
rss_before=$(rss_kib)
echo "soak: ${seconds} s of mixed traffic, ${concurrency} clients, seed ${seed}"
node bench/soak/traffic.mjs "$url" "$seconds" "$concurrency" "$seed" >"$work/traffic.json" &
traffic_pid=$!
pids+=("$traffic_pid")

started=$(date +%s)
rss_warm=""
rss_peak=0
fds_peak=0
while kill -0 "$traffic_pid" 2>/dev/null; do
  sleep 10
  kill -0 "$gateway_pid" 2>/dev/null || { echo "soak: the gateway died" >&2; tail "$work/costgate.log" >&2; exit 1; }
  rss=$(rss_kib)
  open=$(fds)
  ((rss > rss_peak)) && rss_peak=$rss
  ((open > fds_peak)) && fds_peak=$open
  elapsed=$(($(date +%s) - started))
  [[ -z $rss_warm && $elapsed -ge 60 ]] && rss_warm=$rss
  printf 'soak: %4d s  RSS %6s MiB  fds %4d\n' "$elapsed" "$(mib "$rss")" "$open"
done
wait "$traffic_pid"
[[ -n $rss_warm ]] || rss_warm=$rss_before
# Idle: the clients' keep-alive connections close, the last records are written.
sleep 6
rss_end=$(rss_kib)
fds_end=$(fds)

echo "traffic: $(cat "$work/traffic.json")"
metrics=$(curl -sf "$url/metrics")
metrics_usd=$(awk '/^costgate_cost_usd_total\{/ {sum += $NF} END {printf "%.6f", sum}' <<<"$metrics")
log_usd=$("$build/costgate" report --log "$work/access.log" --format json |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).total.cost_usd))')
live_usd=$(curl -sf "$url/costgate/spend" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).total.cost_usd))')
requests=$(awk '/^costgate_requests_total\{/ && /route="chat_completions"/ {sum += $NF} END {print sum}' <<<"$metrics")
log_lines=$(grep -c '"route":"chat_completions"' "$work/access.log")
streams=$(grep '^costgate_streams_total' <<<"$metrics" | sed 's/costgate_streams_total//' | tr '\n' ' ')

failed=0
echo "chat requests answered: $requests (metrics), $log_lines (access log lines); streams: $streams"
growth=$((rss_end - rss_warm))
echo "RSS: $(mib "$rss_before") MiB idle before, $(mib "$rss_warm") MiB after the first minute, $(mib "$rss_peak") MiB peak, $(mib "$rss_end") MiB at the end; growth after the first minute $(mib "$growth") MiB (bound: 16 MiB)"
((growth <= 16 * 1024)) || { echo "soak: RSS grew past its bound" >&2; failed=1; }
allowed=$((fds_before + threads * max_idle))
echo "open descriptors: $fds_before idle before, $fds_peak peak, $fds_end idle after (bound: $allowed, the idle count plus $threads threads x $max_idle pooled upstream connections)"
((fds_end <= allowed)) || { echo "soak: descriptors leaked" >&2; failed=1; }
echo "spend: metrics \$$metrics_usd, access log \$$log_usd, live spend report \$$live_usd"
if [[ $metrics_usd == "$log_usd" && $log_usd == "$live_usd" && $requests == "$log_lines" ]]; then
  echo "accounting: every charge in all three, every request logged (lost: 0)"
else
  echo "soak: the totals differ" >&2
  failed=1
fi
[[ -n ${SOAK_KEEP:-} ]] && cp "$work/access.log" "$SOAK_KEEP"
exit $failed
