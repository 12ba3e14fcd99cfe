#!/usr/bin/env bash
# Certificates and keys for the IKE engine tests (tests/ike/engine_test.cpp):
# per algorithm a CA and two peers, a.example.test and b.example.test, with
# the name as CN and as a DNS subjectAltName, valid for 20 years from the day
# they are made (the tests judge validity at 2027-06-01).
# Regenerate with: bash tests/data/ike/pki/generate.sh [rsa|ec|ed25519 ...]
# (default: all three; needs openssl).
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/ext.cnf" <<'CNF'
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf_a]
basicConstraints = critical, CA:FALSE
subjectAltName = DNS:a.example.test
[leaf_b]
basicConstraints = critical, CA:FALSE
subjectAltName = DNS:b.example.test
CNF
key() {  # $1 = algorithm (rsa|ec|ed25519), $2 = output
  case "$1" in
    rsa) openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$2" ;;
    ec) openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$2" ;;
    ed25519) openssl genpkey -quiet -algorithm ED25519 -out "$2" ;;
  esac
}
algs=("$@")
[ ${#algs[@]} -eq 0 ] && algs=(rsa ec ed25519)
for alg in "${algs[@]}"; do
  md=(-sha256)
  [ "$alg" = ed25519 ] && md=()  # EdDSA hashes the message itself (RFC 8032)
  key $alg "$work/$alg-ca.key"
  openssl req -new -x509 -key "$work/$alg-ca.key" -subj "/O=ipsec test/CN=IKE $alg CA" "${md[@]}" -days 7300 \
    -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n'; cat "$work/ext.cnf") -extensions ca -out "$work/$alg-ca.pem"
  openssl x509 -in "$work/$alg-ca.pem" -outform DER -out "$alg-ca.der"
  for peer in a b; do
    key $alg "$work/$alg-$peer.key"
    openssl req -new -key "$work/$alg-$peer.key" -subj "/O=ipsec test/CN=$peer.example.test" -out "$work/$peer.csr"
    openssl x509 -req -in "$work/$peer.csr" -CA "$work/$alg-ca.pem" -CAkey "$work/$alg-ca.key" -CAcreateserial \
      "${md[@]}" -days 7300 -extfile "$work/ext.cnf" -extensions "leaf_$peer" -outform DER -out "$alg-$peer.der" 2>/dev/null
    openssl pkcs8 -topk8 -nocrypt -in "$work/$alg-$peer.key" -outform DER -out "$alg-$peer.key.der"
  done
done
echo "written to $(pwd)"
