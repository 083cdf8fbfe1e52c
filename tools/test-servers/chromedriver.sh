#!/usr/bin/env bash
# Debian's chromedriver on a free loopback port, for the browser tests of the operator's page.
# `start DIR` starts it and prints
#   VAXETL_TEST_CHROMEDRIVER_URL  the WebDriver endpoint (http://127.0.0.1:PORT)
#   VAXETL_TEST_CHROMIUM_BINARY   the browser the tests ask for
#   VAXETL_TEST_CHROMIUM_ARGS     its flags: headless, and --no-sandbox when running as root
# `stop DIR` stops it. Needs the chromium and chromium-driver packages.
set -euo pipefail
verb=${1:?usage: chromedriver.sh start|stop DIR}
dir=${2:?usage: chromedriver.sh start|stop DIR}

case "$verb" in
  stop)
    if [ -f "$dir/pid" ]; then
      kill "$(cat "$dir/pid")" 2>/dev/null || true
      rm -f "$dir/pid"
    fi
    exit 0 ;;
  start) ;;
  *) echo "chromedriver.sh: unknown verb $verb" >&2; exit 64 ;;
esac

driver=$(command -v chromedriver || true)
[ -x "$driver" ] || { echo "chromedriver.sh: no chromedriver installed (apt-get install chromium-driver)" >&2; exit 1; }
browser=/usr/lib/chromium/chromium
[ -x "$browser" ] || browser=$(command -v chromium || true)
[ -x "$browser" ] || { echo "chromedriver.sh: no chromium installed (apt-get install chromium)" >&2; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((47000 + RANDOM % 1000))
until port_free "$port"; do port=$((port + 1)); done

mkdir -p "$dir"
# setsid: the driver outlives this script, and `stop` ends it by its own pid.
setsid "$driver" --port="$port" --allowed-ips=127.0.0.1 --log-path="$dir/chromedriver.log" \
  </dev/null >/dev/null 2>&1 &
echo $! > "$dir/pid"
for _ in $(seq 1 100); do
  port_free "$port" || break
  sleep 0.1
done
! port_free "$port" \
  || { echo "chromedriver.sh: chromedriver did not answer on port $port" >&2; cat "$dir/chromedriver.log" >&2 || true; exit 1; }

args="--headless=new --disable-gpu --disable-dev-shm-usage --window-size=1280,1000"
if [ "$(id -u)" -eq 0 ]; then args="$args --no-sandbox"; fi
echo "VAXETL_TEST_CHROMEDRIVER_URL=http://127.0.0.1:$port"
echo "VAXETL_TEST_CHROMIUM_BINARY=$browser"
echo "VAXETL_TEST_CHROMIUM_ARGS=\"$args\""
