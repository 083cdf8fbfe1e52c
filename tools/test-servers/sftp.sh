#!/usr/bin/env bash
# A throwaway OpenSSH SFTP server on loopback for the tests: `start DIR` generates a host key and
# a client key in DIR, starts sshd (internal-sftp, key login only) on a free port, and prints
#   VAXETL_TEST_SFTP_HOST, VAXETL_TEST_SFTP_PORT, VAXETL_TEST_SFTP_USER
#   VAXETL_TEST_SFTP_KEY          the client's private key (no passphrase)
#   VAXETL_TEST_SFTP_KNOWN_HOSTS  a known_hosts file holding the server's host key
#   VAXETL_TEST_SFTP_ROOT         an absolute directory the SFTP user reads and writes (so do the tests)
#   VAXETL_TEST_SFTP_PASSWORD_USER, VAXETL_TEST_SFTP_PASSWORD   (as root only) a second user,
#                                 vaxetl-sftp, who logs in with a password
# The key user is the one running this script (root in CI: root logs in with the key only).
# As root, the system user vaxetl-sftp is created if missing, with a random password kept in
# /var/lib/vaxetl-test-servers/ (root only) and reused by later starts.
# `stop DIR` stops it.
set -euo pipefail
verb=${1:?usage: sftp.sh start|stop DIR}
dir=${2:?usage: sftp.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# The server runs in the foreground (-D) as a background job of ours: its pid is $!, written
# by us, not by sshd (whose own pid file a dying server removes under its successor).
stop_server() {
  if [ -f "$dir/server.pid" ]; then
    pid=$(cat "$dir/server.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$dir/server.pid"
  fi
}

case "$verb" in
  stop) stop_server; exit 0 ;;
  start) stop_server ;;  # a server left running in DIR is replaced, not orphaned
  *) echo "sftp.sh: unknown verb $verb" >&2; exit 64 ;;
esac

sshd=/usr/sbin/sshd
[ -x "$sshd" ] || { echo "sftp.sh: no OpenSSH server installed (apt-get install openssh-server)" >&2; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((52000 + RANDOM % 1000))
until port_free "$port"; do port=$((port + 1)); done

user=$(id -un)
rm -f "$dir"/host_key* "$dir"/client_key*
# ECDSA keys in PEM form: every libssh2 build libcurl may use reads them.
ssh-keygen -q -t ecdsa -b 256 -m PEM -N '' -C vaxetl-test-host -f "$dir/host_key"
ssh-keygen -q -t ecdsa -b 256 -m PEM -N '' -C vaxetl-test-client -f "$dir/client_key"
cp "$dir/client_key.pub" "$dir/authorized_keys"
chmod 600 "$dir/authorized_keys" "$dir/client_key" "$dir/host_key"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" > "$dir/known_hosts"
mkdir -p "$dir/root"
# sshd needs its privilege-separation directory when started as root.
password_user=
if [ "$(id -u)" -eq 0 ]; then
  mkdir -p /run/sshd && chmod 755 /run/sshd
  password_user=vaxetl-sftp
  id "$password_user" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$password_user"
  # One password per machine, kept root-only: a second test server started while the first
  # runs (another checkout's tests) must not change the password the first one handed out.
  password_file=/var/lib/vaxetl-test-servers/$password_user.password
  if [ -s "$password_file" ]; then
    password=$(cat "$password_file")
  else
    mkdir -p "$(dirname "$password_file")" && chmod 700 "$(dirname "$password_file")"
    password=$(openssl rand -hex 12)
    (umask 077 && echo "$password" > "$password_file")
  fi
  echo "$password_user:$password" | chpasswd
fi

cat > "$dir/sshd_config" <<CONFIG
ListenAddress 127.0.0.1:$port
HostKey $dir/host_key
PidFile none
AuthorizedKeysFile $dir/authorized_keys
AllowUsers $user $password_user
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
X11Forwarding no
AllowTcpForwarding no
PermitTTY no
MaxStartups 100
MaxSessions 100
LogLevel VERBOSE
Subsystem sftp internal-sftp
ForceCommand internal-sftp
CONFIG
if [ -n "$password_user" ]; then
  cat >> "$dir/sshd_config" <<CONFIG
Match User $password_user
  PasswordAuthentication yes
CONFIG
fi

"$sshd" -t -f "$dir/sshd_config" || { echo "sftp.sh: sshd refused its configuration" >&2; exit 1; }
nohup "$sshd" -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null >/dev/null 2>&1 &
echo $! > "$dir/server.pid"
for _ in $(seq 1 100); do
  if ! port_free "$port"; then break; fi
  sleep 0.1
done
port_free "$port" && { cat "$dir/sshd.log" >&2; echo "sftp.sh: sshd did not start" >&2; exit 1; }

echo "VAXETL_TEST_SFTP_HOST=127.0.0.1"
echo "VAXETL_TEST_SFTP_PORT=$port"
echo "VAXETL_TEST_SFTP_USER=$user"
echo "VAXETL_TEST_SFTP_KEY=$dir/client_key"
echo "VAXETL_TEST_SFTP_KNOWN_HOSTS=$dir/known_hosts"
echo "VAXETL_TEST_SFTP_ROOT=$dir/root"
if [ -n "$password_user" ]; then
  echo "VAXETL_TEST_SFTP_PASSWORD_USER=$password_user"
  echo "VAXETL_TEST_SFTP_PASSWORD=$password"
fi
