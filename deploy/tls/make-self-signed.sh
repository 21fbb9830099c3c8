#!/bin/sh
# A self-signed certificate for a TRIAL of the proxy (docs/deployment.md, "TLS"); production uses a
# certificate from the hospital's certificate authority, mounted the same way.
#
#   deploy/tls/make-self-signed.sh [HOSTNAME] [DIR]
#
# Writes DIR/tls.crt and DIR/tls.key (DIR defaults to this script's directory, which docker-compose.yml
# mounts into the proxy), an RSA 3072 key and a certificate valid 90 days for HOSTNAME (default: this
# machine's name), localhost and 127.0.0.1. Clients must be told to trust tls.crt (curl --cacert).
# The key is readable by its owner and by group 101, the proxy container's unprivileged user.
set -eu
host=${1:-$(hostname -f 2>/dev/null || hostname)}
dir=${2:-$(dirname "$0")}
command -v openssl >/dev/null || { echo "openssl is needed (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 90 \
    -keyout "$dir/tls.key" -out "$dir/tls.crt" \
    -subj "/CN=$host" \
    -addext "subjectAltName=DNS:$host,DNS:localhost,IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
    -addext "extendedKeyUsage=serverAuth" 2>/dev/null
chmod 0644 "$dir/tls.crt"
chmod 0640 "$dir/tls.key"
if [ "$(id -u)" = 0 ]; then
    chgrp 101 "$dir/tls.key"
else
    echo "note: let the proxy's user read the key: sudo chgrp 101 $dir/tls.key" >&2
fi
echo "wrote $dir/tls.crt and $dir/tls.key for $host (self-signed, 90 days: for trials only)"
openssl x509 -in "$dir/tls.crt" -noout -fingerprint -sha256
