# Sourced by the load benchmarks, after bench/processes.sh: wrk runs and what is made of them.
# Uses $work, $connections and $script.

# Runs wrk for $2 seconds against $1 (at ${3:-$connections} connections) and prints
# "requests_per_second p50_ms p99_ms". Any non-2xx answer ends the benchmark.
measure() {
  local url=$1 seconds=$2 conns=${3:-$connections} wrk_threads=2
  ((conns < 2)) && wrk_threads=1
  wrk -t "$wrk_threads" -c "$conns" -d "${seconds}s" --latency -s "$script" "$url/v1/chat/completions" >"$work/wrk.out"
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

# The lines an nginx.conf needs to keep every file nginx writes inside $1.
nginx_paths() {
  cat <<CONF
error_log $1/error.log warn;
pid $1/nginx.pid;
CONF
}
nginx_http_paths() {
  local temp
  for temp in client_body proxy fastcgi uwsgi scgi; do echo "  ${temp}_temp_path $1/$temp;"; done
}
