#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Regenerates the Ed25519 certificate fixtures (RFC 8410) in x509/ed25519/
# used by tests/crypto/x509_test.cpp, with the OpenSSL command line tool
# (written against OpenSSL 3.0). Self-contained: it makes its own ECDSA and
# RSA CAs for the mixed chains, so it can run without generate.sh.
#
# mbedTLS 2.28 cannot parse these certificates; the library parses and
# verifies them itself (src/crypto/x509.cpp). The tests depend only on what
# this script fixes (subjects, SANs, extensions, validity dates), never on
# key values, so running it again gives new keys and the tests still pass.
#
#   ed-root            Ed25519 root CA                       (CAs: 2020..2040)
#   ed-leaf            Ed25519 leaf by ed-root, DNS SAN       (leaves: 2024..2034)
#   ed-leaf-rich       Ed25519 leaf by ed-root: a subject of many attribute
#                      types and a multi-valued RDN, every kind of SAN, and
#                      notAfter 2100 (GeneralizedTime)
#   ed-leaf-expired    Ed25519 leaf by ed-root, 2020..2021
#   ed-leaf-future     Ed25519 leaf by ed-root, 2035..2036
#   ed-leaf-badsig     ed-leaf with one bit of its signature flipped
#   ed-by-leaf         Ed25519 leaf signed by ed-leaf (not a CA)
#   ed-other-root      another Ed25519 root with ed-root's very subject Name
#   ed-int             Ed25519 intermediate by ed-root, pathlen:0
#   ed-int-sub         Ed25519 CA under ed-int (breaks ed-int's pathlen:0)
#   ed-leaf-deep       Ed25519 leaf by ed-int-sub
#   ed-leaf-int        Ed25519 leaf by ed-int (within pathlen:0)
#   ed-ca-nocertsign   Ed25519 CA by ed-root whose keyUsage lacks keyCertSign
#   ed-by-nocertsign   Ed25519 leaf by ed-ca-nocertsign
#   ed-critical        Ed25519 leaf by ed-root with an unknown critical extension
#   ed-self            self-signed Ed25519 leaf (not a CA), for pinning
#   ed448-root         self-signed Ed448 root CA (the library has no Ed448)
#   ec-root, ec-int    ECDSA P-256 root and intermediate (mbedTLS parses these)
#   ed-by-ec           Ed25519 leaf by ec-int (ecdsa-with-SHA256), DNS SAN
#   ec-int-by-ed       ECDSA P-256 intermediate signed by ed-root (Ed25519)
#   ec-leaf-by-ed      ECDSA P-256 leaf by ec-int-by-ed (mbedTLS parses it)
#   rsa-root           RSA-2048 root CA (sha256WithRSAEncryption)
#   ed-by-rsa          Ed25519 leaf by rsa-root, sha384WithRSAEncryption
#   ed-by-rsa-pss      Ed25519 leaf by rsa-root, RSASSA-PSS SHA-256
#
# Usage: tests/data/generate-ed25519.sh   (from anywhere)
set -euo pipefail

OPENSSL=${OPENSSL:-openssl}
here=$(cd "$(dirname "$0")" && pwd)
out="$here/x509/ed25519"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$out"
mkdir -p "$out" "$work/ca/newcerts"
: >"$work/ca/index.txt"
echo 2000 >"$work/ca/serial"
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
copy_extensions = none
[ policy_any ]
commonName = supplied
[ v3_root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_int0 ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_int ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_ca_nocertsign ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature
[ v3_leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_leaf_dns ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:ed25519.example.com
[ v3_leaf_mixed ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectAltName = DNS:mixed.example.com
[ v3_leaf_rich ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, nonRepudiation
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = @rich_san
[ rich_san ]
DNS.1 = rich.example.com
email.1 = rich@example.com
IP.1 = 198.51.100.7
IP.2 = 2001:db8::7
URI.1 = https://rich.example.com/
dirName.1 = rich_dir
otherName.1 = 1.3.6.1.4.1.311.20.2.3;UTF8:rich@upn.example.com
[ rich_dir ]
O = ipsec test
CN = directory name
[ v3_leaf_critical ]
basicConstraints = critical, CA:FALSE
1.3.6.1.4.1.55555.1 = critical, ASN1:UTF8String:must understand
EOF

# issue NAME SUBJECT EXT START END ISSUER [extra ca options...]
# The key is $work/NAME.k; ISSUER is "self" or an earlier NAME. Writes NAME.der.
issue() {
  local name=$1 subj=$2 ext=$3 start=$4 end=$5 issuer=$6
  shift 6
  "$OPENSSL" req -new -multivalue-rdn -key "$work/$name.k" -subj "$subj" -out "$work/$name.csr"
  local sign=()
  if [[ $issuer == self ]]; then
    sign=(-selfsign -keyfile "$work/$name.k")
  else
    sign=(-cert "$work/$issuer.pem" -keyfile "$work/$issuer.k")
  fi
  "$OPENSSL" ca -batch -notext -preserveDN -multivalue-rdn -config "$work/ca.cnf" -extensions "$ext" \
    -startdate "$start" -enddate "$end" "${sign[@]}" "$@" \
    -in "$work/$name.csr" -out "$work/$name.pem" >"$work/ca.log" 2>&1 || {
    cat "$work/ca.log" >&2
    exit 1
  }
  "$OPENSSL" x509 -in "$work/$name.pem" -outform DER -out "$out/$name.der"
}
ed() { "$OPENSSL" genpkey -quiet -algorithm ED25519 -out "$work/$1.k"; }
ec() { "$OPENSSL" genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$1.k"; }
rsa() { "$OPENSSL" genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/$1.k"; }

ca_from=20200101000000Z ca_to=20400101000000Z
leaf_from=20240101000000Z leaf_to=20340101000000Z
# An Ed25519 issuer signs with PureEdDSA: no digest to choose.
by_ed=(-md default)

# ---- Ed25519 root and what it issues --------------------------------------------
ed ed-root
issue ed-root "/O=ipsec test/CN=Ed25519 Root CA" v3_root $ca_from $ca_to self "${by_ed[@]}"
ed ed-leaf
issue ed-leaf "/O=ipsec test/CN=ed25519.example.com" v3_leaf_dns $leaf_from $leaf_to ed-root "${by_ed[@]}"
ed ed-leaf-rich
issue ed-leaf-rich \
  "/C=DE/ST=Berlin/L=Berlin/O=ipsec test/OU=unit+OU=tests/CN=rich.example.com/emailAddress=rich@example.com/serialNumber=42/DC=example/GN=Alice/SN=Liddell" \
  v3_leaf_rich $leaf_from 21000101000000Z ed-root "${by_ed[@]}"
ed ed-leaf-expired
issue ed-leaf-expired "/O=ipsec test/CN=expired.example.com" v3_leaf 20200101000000Z 20210101000000Z ed-root \
  "${by_ed[@]}"
ed ed-leaf-future
issue ed-leaf-future "/O=ipsec test/CN=future.example.com" v3_leaf 20350101000000Z 20360101000000Z ed-root \
  "${by_ed[@]}"
ed ed-by-leaf
issue ed-by-leaf "/O=ipsec test/CN=signed-by-leaf.example.com" v3_leaf $leaf_from $leaf_to ed-leaf "${by_ed[@]}"
ed ed-other-root
issue ed-other-root "/O=ipsec test/CN=Ed25519 Root CA" v3_root $ca_from $ca_to self "${by_ed[@]}"

# pathlen:0 on ed-int: a leaf right under it is fine, a CA under it is not.
ed ed-int; ed ed-int-sub; ed ed-leaf-deep; ed ed-leaf-int
issue ed-int "/O=ipsec test/CN=Ed25519 Intermediate CA" v3_int0 $ca_from $ca_to ed-root "${by_ed[@]}"
issue ed-int-sub "/O=ipsec test/CN=Ed25519 Sub CA" v3_int $ca_from $ca_to ed-int "${by_ed[@]}"
issue ed-leaf-deep "/O=ipsec test/CN=deep.example.com" v3_leaf $leaf_from $leaf_to ed-int-sub "${by_ed[@]}"
issue ed-leaf-int "/O=ipsec test/CN=int.example.com" v3_leaf $leaf_from $leaf_to ed-int "${by_ed[@]}"

ed ed-ca-nocertsign; ed ed-by-nocertsign
issue ed-ca-nocertsign "/O=ipsec test/CN=Ed25519 CA without keyCertSign" v3_ca_nocertsign $ca_from $ca_to \
  ed-root "${by_ed[@]}"
issue ed-by-nocertsign "/O=ipsec test/CN=nocertsign.example.com" v3_leaf $leaf_from $leaf_to ed-ca-nocertsign \
  "${by_ed[@]}"

ed ed-critical
issue ed-critical "/O=ipsec test/CN=critical.example.com" v3_leaf_critical $leaf_from $leaf_to ed-root \
  "${by_ed[@]}"

ed ed-self
issue ed-self "/O=ipsec test/CN=self.example.com" v3_leaf_dns $leaf_from $leaf_to self "${by_ed[@]}"

"$OPENSSL" genpkey -quiet -algorithm ED448 -out "$work/ed448-root.k"
issue ed448-root "/O=ipsec test/CN=Ed448 Root CA" v3_root $ca_from $ca_to self "${by_ed[@]}"

# A bad signature: the last bit of the Ed25519 signature (the final octet
# of the certificate) flipped.
hex=$(xxd -p "$out/ed-leaf.der" | tr -d '\n')
last=$((16#${hex: -2} ^ 1))
printf '%s%02x' "${hex:0:${#hex}-2}" "$last" | xxd -r -p >"$out/ed-leaf-badsig.der"

# ---- Mixed chains --------------------------------------------------------------
# ECDSA root -> ECDSA intermediate -> Ed25519 leaf.
ec ec-root; ec ec-int; ed ed-by-ec
issue ec-root "/O=ipsec test/CN=ECDSA Root CA for Ed25519" v3_root $ca_from $ca_to self
issue ec-int "/O=ipsec test/CN=ECDSA Intermediate CA for Ed25519" v3_int $ca_from $ca_to ec-root
issue ed-by-ec "/O=ipsec test/CN=mixed.example.com" v3_leaf_mixed $leaf_from $leaf_to ec-int
# Ed25519 root -> ECDSA intermediate (an Ed25519 signature) -> ECDSA leaf.
ec ec-int-by-ed; ec ec-leaf-by-ed
issue ec-int-by-ed "/O=ipsec test/CN=ECDSA CA under Ed25519" v3_int $ca_from $ca_to ed-root "${by_ed[@]}"
issue ec-leaf-by-ed "/O=ipsec test/CN=ecdsa-under-ed25519.example.com" v3_leaf $leaf_from $leaf_to ec-int-by-ed
# RSA root -> Ed25519 leaves (PKCS#1 v1.5 SHA-384, and RSASSA-PSS SHA-256).
rsa rsa-root; ed ed-by-rsa; ed ed-by-rsa-pss
issue rsa-root "/O=ipsec test/CN=RSA Root CA for Ed25519" v3_root $ca_from $ca_to self
issue ed-by-rsa "/O=ipsec test/CN=rsa.example.com" v3_leaf $leaf_from $leaf_to rsa-root -md sha384
issue ed-by-rsa-pss "/O=ipsec test/CN=rsa-pss.example.com" v3_leaf $leaf_from $leaf_to rsa-root \
  -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha256

echo "fixtures written to $out"
