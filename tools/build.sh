#!/usr/bin/env bash
# Configures and builds vaxetl. Environment:
#   VAXETL_BUILD_DIR  build directory (default: build, or build-asan with VAXETL_SANITIZE=ON)
#   VAXETL_SANITIZE   ON for an AddressSanitizer + UndefinedBehaviorSanitizer build
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-prereqs.sh
sanitize="${VAXETL_SANITIZE:-OFF}"
if [ "$sanitize" = "ON" ]; then
  build_dir="${VAXETL_BUILD_DIR:-build-asan}"; build_type=Debug
else
  build_dir="${VAXETL_BUILD_DIR:-build}"; build_type=Release
fi
# Progress goes to stderr; stdout carries only the build directory, for the calling scripts.
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" -DVAXETL_SANITIZE="$sanitize" >&2
cmake --build "$build_dir" -j "$(nproc)" >&2
echo "$build_dir"
