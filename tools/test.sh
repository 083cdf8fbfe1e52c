#!/usr/bin/env bash
# Installs prerequisites, builds, starts the test servers on loopback (PostgreSQL, OpenSSH
# SFTP, mail, Chromium's WebDriver), and runs the whole test suite (unit, abi, integration, e2e).
#   tools/test.sh                    Release build in build/
#   VAXETL_SANITIZE=ON tools/test.sh ASan/UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-prereqs.sh --for-tests
build_dir=$(tools/build.sh | tail -n 1)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
servers="$build_dir/test-servers"
trap 'tools/test-servers/down.sh "$servers"' EXIT
tools/test-servers/up.sh "$servers"
set -a
# shellcheck disable=SC1091
. "$servers/env"
set +a
# Tests that need a server fail, rather than skip, when it is missing.
export VAXETL_TEST_REQUIRE_SERVERS=1
ctest --test-dir "$build_dir" -j2 --output-on-failure --timeout 600
