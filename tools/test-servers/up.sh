#!/usr/bin/env bash
# Starts every test server in this folder on loopback (PostgreSQL, OpenSSH SFTP, mail, ...)
# with its state under STATE_DIR, and writes STATE_DIR/env: the KEY=VALUE lines the tests
# read (VAXETL_TEST_PG_URL, VAXETL_TEST_SFTP_*, ...). tools/test.sh sources it.
#   tools/test-servers/up.sh STATE_DIR      then   tools/test-servers/down.sh STATE_DIR
# Each server is a script NAME.sh here with two verbs: `start STATE_DIR/NAME` prints its
# KEY=VALUE lines on stdout (anything else goes to stderr) and `stop STATE_DIR/NAME`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=${1:?usage: up.sh STATE_DIR}
mkdir -p "$state"
state=$(cd "$state" && pwd)
"$here/down.sh" "$state" >/dev/null 2>&1 || true
: > "$state/env"
for script in "$here"/*.sh; do
  name=$(basename "$script" .sh)
  case "$name" in up|down) continue ;; esac
  mkdir -p "$state/$name"
  echo "test servers: starting $name" >&2
  "$script" start "$state/$name" >> "$state/env"
done
