# Sourced by the load benchmarks (run.sh, static_backend.sh) before their arguments are read: the
# options they share, with their defaults, then what they run once those are read
# (prepare_load_bench: tools, build, work directory), how nginx is started and wrk is run.

duration=8
connections=64
threads=2
rounds=5
busy_poll=""  # costgate's server.busy_poll_us line; empty: its default
script=bench/load/chat.lua
path=/v1/chat/completions  # what measure() posts to

# Takes the shared option $1 with its value $2; false for any other.
shared_option() {
  case "$1" in
    --duration) duration=$2 ;;
    --connections) connections=$2 ;;
    --threads) threads=$2 ;;
    --rounds) rounds=$2 ;;
    --busy-poll-us) busy_poll="  busy_poll_us: $2" ;;
    *) return 1 ;;
  esac
}

# Checks for wrk and nginx, builds costgate (incrementally, into $build) and sources
# bench/processes.sh (the work directory, ports).
prepare_load_bench() {
  local tool
  for tool in wrk nginx; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (scripts/setup.sh --test)" >&2; exit 1; }
  done
  build=${COSTGATE_BUILD_DIR:-build}
  # Always (incrementally) built: a stale binary would measure old code.
  COSTGATE_BUILD_DIR=$build scripts/build.sh >/dev/null
  source bench/processes.sh
}

# Starts nginx with $2 worker processes and $3 as the body of its http block, its files in the
# work directory's folder $1.
start_nginx() {
  local dir=$work/$1
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<CONF
worker_processes $2;
error_log $dir/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
$3
}
CONF
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
  pids+=($!)
}

# nginx as a reverse proxy on port $1 with $2 workers, to 127.0.0.1:$3 over HTTP/1.1 with
# keep-alive (as in production), its access log $4 (a file, or "off").
start_nginx_proxy() {
  start_nginx proxy "$2" "  access_log $4;
  upstream backend { server 127.0.0.1:$3; keepalive 128; }
  server {
    listen 127.0.0.1:$1 reuseport;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }"
}

# Runs wrk for $2 seconds against $1 (at ${3:-$connections} connections) and prints
# "requests_per_second p50_ms p99_ms". Any non-2xx answer ends the benchmark.
measure() {
  local url=$1 seconds=$2 conns=${3:-$connections} wrk_threads=2
  ((conns < 2)) && wrk_threads=1
  wrk -t "$wrk_threads" -c "$conns" -d "${seconds}s" --latency -s "$script" "$url$path" >"$work/wrk.out"
  if grep -q "Non-2xx" "$work/wrk.out"; then
    echo "bench: $url answered with errors:" >&2; cat "$work/wrk.out" >&2; exit 1
  fi
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }' "$work/wrk.out"
}

# The median of the numbers given as arguments.
median() {
  printf "%s\n" "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
}
