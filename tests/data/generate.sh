#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Regenerates the key, signature and certificate fixtures used by
# tests/crypto/signature_test.cpp and tests/crypto/x509_test.cpp with the
# OpenSSL command line tool (written against OpenSSL 3.0).
#
# The tests depend only on what this script fixes (subjects, SANs, validity
# dates, the signed message), never on particular key values, so running it
# again gives new keys and signatures and the tests still pass. Certificate
# dates are explicit (openssl ca -startdate/-enddate) and the tests pass
# explicit times to verify_chain, so nothing here expires with the clock.
#
# Usage: tests/data/generate.sh   (from anywhere; writes keys/ and x509/ next
# to this script)
set -euo pipefail

OPENSSL=${OPENSSL:-openssl}
here=$(cd "$(dirname "$0")" && pwd)
keys="$here/keys"
x509="$here/x509"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$keys" "$x509"
mkdir -p "$keys" "$x509"

# ---- Keys --------------------------------------------------------------------

# The message every fixture signature is over.
printf 'IKEv2 AUTH octets for the ipsec signature tests\n' >"$keys/message.bin"

# pk8_der IN OUT: unencrypted PKCS#8 DER (OpenSSL 3.0 "pkey -outform DER"
# writes the traditional form for RSA and EC keys, so ask pkcs8 for it).
pk8_der() { "$OPENSSL" pkcs8 -topk8 -nocrypt -in "$1" -outform DER -out "$2"; }

rsa_key() {  # name bits
  local n=$1
  "$OPENSSL" genpkey -quiet -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$keys/$n.pk8.pem"
  pk8_der "$keys/$n.pk8.pem" "$keys/$n.pk8.der"
  # Traditional form: PKCS#1 RSAPrivateKey ("RSA PRIVATE KEY").
  "$OPENSSL" pkey -in "$keys/$n.pk8.pem" -traditional -out "$keys/$n.pkcs1.pem"
  "$OPENSSL" rsa -in "$keys/$n.pk8.pem" -traditional -outform DER -out "$keys/$n.pkcs1.der" 2>/dev/null
  "$OPENSSL" pkey -in "$keys/$n.pk8.pem" -pubout -out "$keys/$n.pub.pem"
  "$OPENSSL" pkey -in "$keys/$n.pk8.pem" -pubout -outform DER -out "$keys/$n.pub.der"
}

ec_key() {  # name curve
  local n=$1
  "$OPENSSL" genpkey -quiet -algorithm EC -pkeyopt "ec_paramgen_curve:$2" \
    -pkeyopt ec_param_enc:named_curve -out "$keys/$n.pk8.pem"
  pk8_der "$keys/$n.pk8.pem" "$keys/$n.pk8.der"
  # Traditional form: SEC1 ECPrivateKey ("EC PRIVATE KEY", RFC 5915).
  "$OPENSSL" pkey -in "$keys/$n.pk8.pem" -traditional -out "$keys/$n.sec1.pem"
  "$OPENSSL" ec -in "$keys/$n.pk8.pem" -outform DER -out "$keys/$n.sec1.der" 2>/dev/null
  "$OPENSSL" pkey -in "$keys/$n.pk8.pem" -pubout -out "$keys/$n.pub.pem"
  "$OPENSSL" pkey -in "$keys/$n.pk8.pem" -pubout -outform DER -out "$keys/$n.pub.der"
}

rsa_key rsa2048 2048
ec_key p256 P-256
ec_key p384 P-384
ec_key p521 P-521

# Ed25519 has no traditional form: PKCS#8 (RFC 8410 section 7) only.
"$OPENSSL" genpkey -quiet -algorithm ED25519 -out "$keys/ed25519.pk8.pem"
pk8_der "$keys/ed25519.pk8.pem" "$keys/ed25519.pk8.der"
"$OPENSSL" pkey -in "$keys/ed25519.pk8.pem" -pubout -out "$keys/ed25519.pub.pem"
"$OPENSSL" pkey -in "$keys/ed25519.pk8.pem" -pubout -outform DER -out "$keys/ed25519.pub.der"

# Keys the library must refuse: RSA-1024 (below its 2048-bit floor),
# secp256k1 (not an IKEv2 curve), and encrypted private keys (PKCS#8
# EncryptedPrivateKeyInfo and a legacy "Proc-Type: 4,ENCRYPTED" PEM).
"$OPENSSL" genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$work/rsa1024.pem"
"$OPENSSL" pkey -in "$work/rsa1024.pem" -pubout -outform DER -out "$keys/rsa1024.pub.der"
"$OPENSSL" genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 \
  -pkeyopt ec_param_enc:named_curve -out "$work/secp256k1.pem"
pk8_der "$work/secp256k1.pem" "$keys/secp256k1.pk8.der"
"$OPENSSL" pkey -in "$keys/p256.pk8.pem" -aes-128-cbc -passout pass:test -out "$keys/p256.pk8.enc.pem"
"$OPENSSL" pkey -in "$keys/rsa2048.pk8.pem" -traditional -aes-128-cbc -passout pass:test \
  -out "$keys/rsa2048.pkcs1.enc.pem"

# ---- Reference signatures over message.bin -----------------------------------

msg="$keys/message.bin"
# RSASSA-PKCS1-v1_5 is deterministic: the library must produce these bytes.
"$OPENSSL" dgst -sha256 -sign "$keys/rsa2048.pk8.pem" -out "$keys/rsa2048.pkcs1_sha256.sig" "$msg"
"$OPENSSL" dgst -sha512 -sign "$keys/rsa2048.pk8.pem" -out "$keys/rsa2048.pkcs1_sha512.sig" "$msg"
# RSASSA-PSS, MGF1 with the same hash, salt as long as the hash (RFC 8017 9.1).
for h in sha256 sha384; do
  "$OPENSSL" dgst -"$h" -sign "$keys/rsa2048.pk8.pem" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:digest -sigopt "rsa_mgf1_md:$h" -out "$keys/rsa2048.pss_$h.sig" "$msg"
done
# ECDSA (DER Ecdsa-Sig-Value) and Ed25519 made by OpenSSL, for interop.
"$OPENSSL" dgst -sha256 -sign "$keys/p256.pk8.pem" -out "$keys/p256.sha256.sig" "$msg"
"$OPENSSL" dgst -sha384 -sign "$keys/p384.pk8.pem" -out "$keys/p384.sha384.sig" "$msg"
"$OPENSSL" dgst -sha512 -sign "$keys/p521.pk8.pem" -out "$keys/p521.sha512.sig" "$msg"
"$OPENSSL" pkeyutl -sign -rawin -inkey "$keys/ed25519.pk8.pem" -in "$msg" -out "$keys/ed25519.sig"

# ---- Certificates ------------------------------------------------------------

mkdir -p "$work/ca/newcerts"
: >"$work/ca/index.txt"
echo 1000 >"$work/ca/serial"
cat >"$work/ca.cnf" <<EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = $work/ca
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
[ policy_any ]
organizationName = optional
commonName = supplied
[ v3_root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_int ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_int_any ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_leaf_san ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @san
[ san ]
DNS.1 = vpn.example.com
DNS.2 = gw.example.net
email.1 = admin@example.com
IP.1 = 192.0.2.1
IP.2 = 2001:db8::1
EOF

# issue NAME SUBJECT KEY EXT START END ISSUER [extra ca options...]
# ISSUER is "self" or the NAME of an earlier certificate. Writes NAME.der.
issue() {
  local name=$1 subj=$2 key=$3 ext=$4 start=$5 end=$6 issuer=$7
  shift 7
  "$OPENSSL" req -new -key "$key" -subj "$subj" -out "$work/$name.csr"
  local sign=()
  if [[ $issuer == self ]]; then
    sign=(-selfsign -keyfile "$key")
  else
    sign=(-cert "$work/$issuer.pem" -keyfile "$work/$issuer.key")
  fi
  "$OPENSSL" ca -batch -notext -preserveDN -config "$work/ca.cnf" -extensions "$ext" \
    -startdate "$start" -enddate "$end" "${sign[@]}" "$@" \
    -in "$work/$name.csr" -out "$work/$name.pem" >"$work/ca.log" 2>&1 || {
    cat "$work/ca.log" >&2
    exit 1
  }
  cp "$key" "$work/$name.key"
  "$OPENSSL" x509 -in "$work/$name.pem" -outform DER -out "$x509/$name.der"
}
ec() { "$OPENSSL" genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$1.k"; }
rsa() { "$OPENSSL" genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/$1.k"; }

# Validity used throughout (the tests hard-code these instants):
#   CAs            2020-01-01 .. 2040-01-01
#   leaves         2024-01-01 .. 2034-01-01
#   expired leaf   2020-01-01 .. 2021-01-01
#   future leaf    2035-01-01 .. 2036-01-01
#   unrelated root 2000-01-01 .. 2100-01-01 (GeneralizedTime after 2049)
ca_from=20200101000000Z ca_to=20400101000000Z
leaf_from=20240101000000Z leaf_to=20340101000000Z

# ECDSA P-256: root -> intermediate -> leaf (with SANs).
ec ec-root; ec ec-int; ec ec-leaf; ec ec-leaf-expired; ec ec-leaf-future; ec ec-by-leaf
issue ec-root "/O=ipsec test/CN=ECDSA Root CA" "$work/ec-root.k" v3_root $ca_from $ca_to self
issue ec-int "/O=ipsec test/CN=ECDSA Intermediate CA" "$work/ec-int.k" v3_int $ca_from $ca_to ec-root
issue ec-leaf "/O=ipsec test/CN=vpn.example.com" "$work/ec-leaf.k" v3_leaf_san $leaf_from $leaf_to ec-int
issue ec-leaf-expired "/O=ipsec test/CN=expired.example.com" "$work/ec-leaf-expired.k" v3_leaf \
  20200101000000Z 20210101000000Z ec-int
issue ec-leaf-future "/O=ipsec test/CN=future.example.com" "$work/ec-leaf-future.k" v3_leaf \
  20350101000000Z 20360101000000Z ec-int
# Signed by the leaf, which is not a CA (basicConstraints CA:FALSE).
issue ec-by-leaf "/O=ipsec test/CN=signed-by-leaf.example.com" "$work/ec-by-leaf.k" v3_leaf \
  $leaf_from $leaf_to ec-leaf
pk8_der "$work/ec-leaf.k" "$x509/ec-leaf.key.der"
# A longer path under the same root, for intermediates given in any order:
# root -> ec-int-a -> ec-int-b -> ec-leaf-deep.
ec ec-int-a; ec ec-int-b; ec ec-leaf-deep
issue ec-int-a "/O=ipsec test/CN=ECDSA Intermediate A" "$work/ec-int-a.k" v3_int_any $ca_from $ca_to ec-root
issue ec-int-b "/O=ipsec test/CN=ECDSA Intermediate B" "$work/ec-int-b.k" v3_int $ca_from $ca_to ec-int-a
issue ec-leaf-deep "/O=ipsec test/CN=deep.example.com" "$work/ec-leaf-deep.k" v3_leaf $leaf_from $leaf_to \
  ec-int-b
"$OPENSSL" x509 -in "$work/ec-root.pem" -out "$x509/ec-root.pem"
# A PEM bundle: the leaf first, then its issuer (parse_pem takes the first).
"$OPENSSL" x509 -in "$work/ec-leaf.pem" >"$x509/ec-leaf-bundle.pem"
"$OPENSSL" x509 -in "$work/ec-int.pem" >>"$x509/ec-leaf-bundle.pem"

# An unrelated CA and a leaf it issued.
ec other-root; ec other-leaf
issue other-root "/O=somebody else/CN=Unrelated Root CA" "$work/other-root.k" v3_root \
  20000101000000Z 21000101000000Z self
issue other-leaf "/O=somebody else/CN=vpn.example.com" "$work/other-leaf.k" v3_leaf \
  $leaf_from $leaf_to other-root

# RSA-2048: root -> intermediate (sha256WithRSAEncryption) -> leaf signed
# with RSASSA-PSS (SHA-256, MGF1-SHA-256, 32-octet salt).
rsa rsa-root; rsa rsa-int; rsa rsa-leaf
issue rsa-root "/O=ipsec test/CN=RSA Root CA" "$work/rsa-root.k" v3_root $ca_from $ca_to self
issue rsa-int "/O=ipsec test/CN=RSA Intermediate CA" "$work/rsa-int.k" v3_int $ca_from $ca_to rsa-root
issue rsa-leaf "/O=ipsec test/CN=rsa.example.com" "$work/rsa-leaf.k" v3_leaf $leaf_from $leaf_to rsa-int \
  -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha256

# Ed25519 (RFC 8410): mbedTLS 2.28 cannot parse it; the library parses it
# itself. More Ed25519 certificates: generate-ed25519.sh (x509/ed25519/).
"$OPENSSL" genpkey -quiet -algorithm ED25519 -out "$work/ed-root.k"
issue ed25519-root "/O=ipsec test/CN=Ed25519 Root CA" "$work/ed-root.k" v3_root $ca_from $ca_to self \
  -md default

echo "fixtures written to $keys and $x509"
