#!/usr/bin/env bash
# Builds costgate's image from docker/Dockerfile on this machine, tagged costgate:local (or $1):
# starts the engine if needed (scripts/docker-engine.sh), makes the Debian bases when no registry
# provides them (scripts/debian-base-images.sh), and passes this host's proxy settings and npm
# registry to the build, so apt and npm inside it go where they go on the host. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-costgate:local}

scripts/docker-engine.sh
scripts/debian-base-images.sh

build_args=()
# Docker passes these to RUN steps without an ARG; they stay out of the image's history.
for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [[ -n "${!name:-}" ]] && build_args+=(--build-arg "$name=${!name}")
done
# npm's settings from the host's npmrc files (the Dockerfile declares these ARGs).
for key in registry proxy https-proxy; do
  value=$(npm config get "$key" 2>/dev/null || true)
  [[ -n "$value" && "$value" != null ]] && build_args+=(--build-arg "npm_config_${key//-/_}=$value")
done
[[ -n "${COSTGATE_JOBS:-}" ]] && build_args+=(--build-arg "COSTGATE_JOBS=$COSTGATE_JOBS")

# The legacy builder: BuildKit would look for its frontend and base images in a registry.
DOCKER_BUILDKIT=0 docker build --network host "${build_args[@]}" -f docker/Dockerfile -t "$tag" .
