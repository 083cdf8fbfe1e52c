#!/usr/bin/env bash
# Installs prerequisites, builds, and runs the whole test suite (unit, abi, integration).
#   tools/test.sh                    Release build in build/
#   VAXETL_SANITIZE=ON tools/test.sh ASan/UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=$(tools/build.sh | tail -n 1)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$build_dir" -j2 --output-on-failure --timeout 600
