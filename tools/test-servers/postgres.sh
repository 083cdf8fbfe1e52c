#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the tests: `start DIR` creates a cluster in DIR,
# starts it on a free port with trust authentication for 127.0.0.1 only, and prints
#   VAXETL_TEST_PG_URL        a database the tests may use (each test makes its own inside)
#   VAXETL_TEST_PG_ADMIN_URL  the maintenance database, for CREATE/DROP DATABASE
#   VAXETL_TEST_PG_BIN        the server's bin directory (psql, pg_ctl)
# `stop DIR` stops it. As root, the server runs as the postgres user (it refuses root).
set -euo pipefail
verb=${1:?usage: postgres.sh start|stop DIR}
dir=${2:?usage: postgres.sh start|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/pg_ctl" ] || { echo "postgres.sh: no PostgreSQL server installed (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$verb" in
  stop)
    if [ -f "$dir/cluster" ]; then
      cluster=$(cat "$dir/cluster")
      [ -f "$cluster/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1
      rm -rf "$cluster" "$dir/cluster"
    fi
    exit 0 ;;
  start) ;;
  *) echo "postgres.sh: unknown verb $verb" >&2; exit 64 ;;
esac

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((54000 + RANDOM % 1000))
until port_free "$port"; do port=$((port + 1)); done

# The cluster lives under /tmp: the postgres user may not be able to enter the checkout.
cluster=$(mktemp -d /tmp/vaxetl-pg-XXXXXX)
echo "$cluster" > "$dir/cluster"
mkdir -p "$cluster/data" "$cluster/socket"
if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$cluster"; fi
as_owner "$bin/initdb" -D "$cluster/data" -U vaxetl --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# fsync off: the tests kill clients, never the server or the machine.
as_owner "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 start \
  -o "-p $port -k $cluster/socket -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" >/dev/null \
  || { cat "$cluster/server.log" >&2; exit 1; }
as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U vaxetl -d postgres -qAtc "CREATE DATABASE vaxetl_test" >/dev/null
echo "VAXETL_TEST_PG_URL=postgresql://vaxetl@127.0.0.1:$port/vaxetl_test"
echo "VAXETL_TEST_PG_ADMIN_URL=postgresql://vaxetl@127.0.0.1:$port/postgres"
echo "VAXETL_TEST_PG_BIN=$bin"
