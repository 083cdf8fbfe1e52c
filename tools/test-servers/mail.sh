#!/usr/bin/env bash
# A throwaway mail server on loopback for the Direct (S/MIME mail) tests. Dovecot serves IMAP
# and SMTP submission (each with STARTTLS and with implicit TLS; login required, never in
# plaintext) and relays submitted mail to OpenSMTPD on an internal loopback port, which
# delivers mail for the domain direct.test into the maildirs Dovecot serves. (Debian 12's
# OpenSMTPD cannot do TLS with OpenSSL 3, so TLS is Dovecot's job.)
# `start DIR` makes a throwaway TLS CA and server certificate, a Direct trust anchor with two
# S/MIME identities (ours and a provider's), two mailboxes, and prints
#   VAXETL_TEST_MAIL_HOST, _IMAP_PORT (STARTTLS), _IMAPS_PORT, _SMTP_PORT (STARTTLS), _SMTPS_PORT
#   VAXETL_TEST_MAIL_TLS_CA                 the CA that signed the servers' TLS certificate
#   VAXETL_TEST_MAIL_USER, _PASSWORD        our mailbox (vaxetl@direct.test)
#   VAXETL_TEST_MAIL_PEER_USER, _PEER_PASSWORD  the provider's mailbox (provider@direct.test)
#   VAXETL_TEST_MAIL_ANCHOR                 the Direct trust anchor (CA of both S/MIME certificates)
#   VAXETL_TEST_MAIL_CERT, _KEY             our S/MIME certificate and key
#   VAXETL_TEST_MAIL_PEER_CERT, _PEER_KEY   the provider's
#   VAXETL_TEST_MAIL_ROGUE_CERT, _ROGUE_KEY an S/MIME identity for the provider's address from
#                                           another CA (its signatures must not verify)
# Needs root: OpenSMTPD runs in a mount namespace of its own (private queue and control
# socket, so several instances can run at once). `stop DIR` stops both servers.
set -euo pipefail
verb=${1:?usage: mail.sh start|stop DIR}
dir=${2:?usage: mail.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

stop_servers() {
  for pidfile in "$dir/smtpd.pid" "$dir/dovecot.pid"; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
  done
  if [ -f "$dir/state" ]; then rm -rf "$(cat "$dir/state")" "$dir/state"; fi
}

case "$verb" in
  stop) stop_servers; exit 0 ;;
  start) stop_servers ;;
  *) echo "mail.sh: unknown verb $verb" >&2; exit 64 ;;
esac

[ "$(id -u)" -eq 0 ] || { echo "mail.sh: needs root (OpenSMTPD runs in its own mount namespace)" >&2; exit 1; }
[ -x /usr/sbin/dovecot ] || { echo "mail.sh: apt-get install dovecot-imapd" >&2; exit 1; }
[ -x /usr/sbin/smtpd ] || { echo "mail.sh: apt-get install opensmtpd" >&2; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port=$((53000 + RANDOM % 900))
# take_port VAR: sets VAR to the next free port.
take_port() {
  until port_free "$next_port"; do next_port=$((next_port + 1)); done
  printf -v "$1" '%s' "$next_port"
  next_port=$((next_port + 1))
}
take_port imap_port; take_port imaps_port; take_port smtp_port; take_port smtps_port; take_port relay_port

# Mailboxes live under /tmp: the mail user must be able to reach them.
state=$(mktemp -d /tmp/vaxetl-mail-XXXXXX)
echo "$state" > "$dir/state"
chmod 755 "$state"
pki="$dir/pki"
rm -rf "$pki"; mkdir -p "$pki"

quiet() { "$@" >/dev/null 2>&1 || { echo "mail.sh: failed: $*" >&2; exit 1; }; }
# make_ca NAME SUBJECT
make_ca() {
  quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "$2" -keyout "$pki/$1.key" -out "$pki/$1.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
# make_leaf NAME CA SUBJECT EXTENSIONS...   (RSA keys: S/MIME encryption needs key transport)
make_leaf() {
  local name=$1 ca=$2 subject=$3; shift 3
  quiet openssl req -newkey rsa:2048 -nodes -subj "$subject" -keyout "$pki/$name.key" -out "$pki/$name.csr"
  printf '%s\n' "$@" > "$pki/$name.ext"
  quiet openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" -CAcreateserial \
    -days 30 -out "$pki/$name.crt" -extfile "$pki/$name.ext"
}
make_ca tls_ca "/CN=vaxetl test mail TLS CA"
make_leaf server tls_ca "/CN=mail.test" "subjectAltName=DNS:mail.test,DNS:localhost,IP:127.0.0.1" \
  "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature,keyEncipherment"
make_ca anchor "/CN=vaxetl test Direct trust anchor"
smime_ext=("keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=emailProtection")
make_leaf ours anchor "/CN=vaxetl@direct.test" "subjectAltName=email:vaxetl@direct.test" "${smime_ext[@]}"
make_leaf peer anchor "/CN=provider@direct.test" "subjectAltName=email:provider@direct.test" "${smime_ext[@]}"
make_ca rogue_ca "/CN=not a trust anchor"
make_leaf rogue rogue_ca "/CN=provider@direct.test" "subjectAltName=email:provider@direct.test" "${smime_ext[@]}"
chmod 600 "$pki"/*.key

password=$(openssl rand -hex 12)
peer_password=$(openssl rand -hex 12)
mkdir -p "$state/run" "$state/mail"
chown mail:mail "$state/mail"
cat > "$state/users" <<USERS
vaxetl@direct.test:{PLAIN}$password
provider@direct.test:{PLAIN}$peer_password
USERS
chmod 644 "$state/users"
cp "$pki/server.crt" "$pki/server.key" "$state/"
chmod 600 "$state/server.key"

cat > "$state/dovecot.conf" <<CONF
base_dir = $state/run
state_dir = $state/run
log_path = $dir/dovecot.log
protocols = imap submission
hostname = mail.test
submission_relay_host = 127.0.0.1
submission_relay_port = $relay_port
submission_relay_ssl = no
listen = 127.0.0.1
ssl = required
ssl_cert = <$state/server.crt
ssl_key = <$state/server.key
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 8
mail_uid = mail
mail_gid = mail
mail_location = maildir:$state/mail/%n/Maildir
namespace inbox {
  inbox = yes
}
passdb {
  driver = passwd-file
  args = $state/users
}
userdb {
  driver = static
  args = uid=mail gid=mail home=$state/mail/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps_port
    ssl = yes
  }
}
service submission-login {
  inet_listener submission {
    address = 127.0.0.1
    port = $smtp_port
  }
  inet_listener submissions {
    address = 127.0.0.1
    port = $smtps_port
    ssl = yes
  }
}
CONF

cat > "$state/smtpd.conf" <<CONF
listen on 127.0.0.1 port $relay_port
table direct_users { "vaxetl@direct.test" = "mail", "provider@direct.test" = "mail" }
action "direct" maildir "$state/mail/%{rcpt.user}/Maildir" virtual <direct_users>
match from any for domain "direct.test" action "direct"
CONF

nohup /usr/sbin/dovecot -F -c "$state/dovecot.conf" </dev/null >>"$dir/dovecot.log" 2>&1 &
echo $! > "$dir/dovecot.pid"
# Private /var/spool (queue) and /run (control socket) for this OpenSMTPD only.
nohup unshare --mount --propagation private sh -c \
  'mount -t tmpfs tmpfs /var/spool && mount -t tmpfs tmpfs /run && exec /usr/sbin/smtpd -d -f "$1"' \
  smtpd "$state/smtpd.conf" </dev/null >>"$dir/smtpd.log" 2>&1 &
echo $! > "$dir/smtpd.pid"

for port in $imap_port $imaps_port $smtp_port $smtps_port $relay_port; do
  for _ in $(seq 1 100); do port_free "$port" || break; sleep 0.1; done
  if port_free "$port"; then
    cat "$dir/dovecot.log" "$dir/smtpd.log" >&2
    echo "mail.sh: nothing listens on port $port" >&2
    exit 1
  fi
done

echo "VAXETL_TEST_MAIL_HOST=127.0.0.1"
echo "VAXETL_TEST_MAIL_IMAP_PORT=$imap_port"
echo "VAXETL_TEST_MAIL_IMAPS_PORT=$imaps_port"
echo "VAXETL_TEST_MAIL_SMTP_PORT=$smtp_port"
echo "VAXETL_TEST_MAIL_SMTPS_PORT=$smtps_port"
echo "VAXETL_TEST_MAIL_TLS_CA=$pki/tls_ca.crt"
echo "VAXETL_TEST_MAIL_USER=vaxetl@direct.test"
echo "VAXETL_TEST_MAIL_PASSWORD=$password"
echo "VAXETL_TEST_MAIL_PEER_USER=provider@direct.test"
echo "VAXETL_TEST_MAIL_PEER_PASSWORD=$peer_password"
echo "VAXETL_TEST_MAIL_ANCHOR=$pki/anchor.crt"
echo "VAXETL_TEST_MAIL_CERT=$pki/ours.crt"
echo "VAXETL_TEST_MAIL_KEY=$pki/ours.key"
echo "VAXETL_TEST_MAIL_PEER_CERT=$pki/peer.crt"
echo "VAXETL_TEST_MAIL_PEER_KEY=$pki/peer.key"
echo "VAXETL_TEST_MAIL_ROGUE_CERT=$pki/rogue.crt"
echo "VAXETL_TEST_MAIL_ROGUE_KEY=$pki/rogue.key"
