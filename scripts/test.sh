#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, and runs every test: the C++ unit
# tests (ctest), then the integration and end-to-end tests (node's test runner, against the real
# gateway, the mock backend, nginx as a TLS terminator, promtool and the official openai SDK).
# Then all of them again on a build with AddressSanitizer and UndefinedBehaviorSanitizer
# (scripts/asan.sh, build-asan/), where any report fails a test (docs/hardening.md). The Docker
# image is built and run in the first pass only (tests/integration/docker_image.test.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# Formatting is part of the contract (.clang-format); a file that drifts fails here, first.
git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror
scripts/build.sh -DCOSTGATE_WERROR=ON
ctest --test-dir build --output-on-failure -j 2
(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
node --test --test-concurrency=1 tests/integration/
scripts/asan.sh
