#!/usr/bin/env bash
# Installs the Debian 12 packages vaxetl builds and tests with, if any is missing.
# Safe to run repeatedly: it does nothing when everything is present.
#   tools/install-prereqs.sh              what building and the demo need
#   tools/install-prereqs.sh --for-tests  also the servers the tests start on loopback
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost-dev libboost-filesystem-dev libyaml-cpp-dev libpoco-dev libspdlog-dev libfmt-dev
  libcurl4-openssl-dev libssl-dev libsqlite3-dev sqlite3
  libgtest-dev libgmock-dev libpq-dev
)
# Real servers for the integration and end-to-end tests (tools/test-servers/), and headless
# Chromium for the operator page's browser test.
test_packages=(
  postgresql openssh-server openssh-client dovecot-imapd dovecot-pop3d dovecot-submissiond opensmtpd openssl
  chromium chromium-driver procps
)
[ "${1:-}" = "--for-tests" ] && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
