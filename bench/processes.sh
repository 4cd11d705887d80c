# Sourced by the benchmark scripts: a work directory and the processes they start (add their pids
# to `pids`), both cleaned up at exit, and loopback ports for them.

work=$(mktemp -d /tmp/costgate-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A port nothing listens on right now.
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

# Waits until something listens on port $1 (at most 5 s).
wait_port() {
  for _ in $(seq 100); do
    (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: nothing listens on port $1" >&2; exit 1
}

# Starts $build/costgate-mock (extra arguments go to it) on a free port, sets mock_port, and
# waits until it listens.
start_mock() {
  mock_port=$(free_port)
  "$build/costgate-mock" --listen "127.0.0.1:$mock_port" "$@" >"$work/mock.log" 2>&1 &
  pids+=($!)
  wait_port "$mock_port"
}
