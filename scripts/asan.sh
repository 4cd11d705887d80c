#!/usr/bin/env bash
# Builds build-asan with AddressSanitizer (LeakSanitizer included) and UndefinedBehaviorSanitizer
# (-fsanitize=undefined, plus float-cast-overflow, which GCC leaves out of "undefined": a double
# too large for the integer it becomes) and runs every test against it: the C++ unit tests
# (ctest), then the whole integration suite against its gateway and mock. Any report fails: a
# unit test aborts, and the harness fails a test whose gateway or mock printed one
# (docs/hardening.md, "Sanitizers").
# scripts/test.sh runs this after the Release build's tests; extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitizer-options.sh
COSTGATE_BUILD_DIR=build-asan scripts/build.sh -DCOSTGATE_WERROR=ON \
  -DCOSTGATE_SANITIZE=address,undefined,float-cast-overflow "$@"
ctest --test-dir build-asan --output-on-failure -j 2
[[ -d tests/integration/node_modules ]] ||
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
COSTGATE_BUILD_DIR=build-asan node --test --test-concurrency=1 tests/integration/
