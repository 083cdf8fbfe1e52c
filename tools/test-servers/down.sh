#!/usr/bin/env bash
# Stops the test servers up.sh started under STATE_DIR. Safe to run when none are running.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=${1:?usage: down.sh STATE_DIR}
for script in "$here"/*.sh; do
  name=$(basename "$script" .sh)
  case "$name" in up|down) continue ;; esac
  [ -d "$state/$name" ] && "$script" stop "$state/$name" >&2
done
exit 0
