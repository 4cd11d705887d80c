#!/usr/bin/env bash
# Makes sure a Docker engine answers, for scripts/build-image.sh and the image test. Where none
# does and this is root with Debian's docker.io installed (scripts/setup.sh --test installs it)
# but no service manager started it (a container, a CI sandbox), starts dockerd in the
# background, logging to /var/log/costgate-dockerd.log; it keeps running afterwards, as the
# service would, so the next build finds its layer cache warm and starts at once.
# Exit status: 0 when an engine answers, 77 (the test's "skip") with the reason on stderr when
# none can be started.
set -euo pipefail

answers() { timeout 10 docker info >/dev/null 2>&1; }

if ! command -v docker >/dev/null; then
  echo "docker-engine: no docker client (apt-get install docker.io)" >&2
  exit 77
fi
answers && exit 0
if ! command -v dockerd >/dev/null; then
  echo "docker-engine: no engine answers and dockerd is not installed (apt-get install docker.io)" >&2
  exit 77
fi
if ((EUID != 0)); then
  echo "docker-engine: no engine answers, and starting dockerd needs root" >&2
  exit 77
fi
log=/var/log/costgate-dockerd.log
echo "docker-engine: starting dockerd (log: $log)" >&2
setsid dockerd >>"$log" 2>&1 </dev/null &
for _ in $(seq 60); do
  answers && exit 0
  kill -0 $! 2>/dev/null || break
  sleep 0.5
done
echo "docker-engine: dockerd did not start; the end of $log:" >&2
tail -n 15 "$log" >&2
exit 77
