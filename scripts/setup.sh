#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages the build, tests, benchmarks and fuzzers
# need. Idempotent: does nothing when everything is present. Works as root
# or through sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libsodium-dev libmbedtls-dev doctest-dev libbenchmark-dev
  clang libclang-rt-14-dev llvm   # fuzz and coverage presets: clang, libFuzzer, llvm-symbolizer, llvm-cov
  clang-format git
  clang-tidy cppcheck   # scripts/lint.sh: static analysis (.clang-tidy, .cppcheck-suppressions)
  valgrind   # scripts/valgrind.sh: unit tests under memcheck
  python3-scapy python3-cryptography tshark   # tests/interop: ESP/AH against Scapy and tshark
  # tests/interop/ike_strongswan.sh: strongSwan's charon as the IKEv2 peer, with
  # kernel-libipsec (ESP in userspace: libcharon-extra-plugins), curve25519
  # (libstrongswan-extra-plugins), openssl and gcm (libstrongswan-standard-plugins,
  # only a Recommends), swanctl and vici; network namespaces and veth (iproute2),
  # ping, and openssl to turn the test PKI into PEM
  strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libstrongswan-extra-plugins
  libcharon-extra-plugins iproute2 iputils-ping openssl
  nftables   # tests/interop/gateway_strongswan.sh: a NAT between the peers, a silent peer
)
# Intel ipsec-mb, the fastest crypto backend for the ESP transforms
# (IPSEC_WITH_IPSEC_MB=AUTO uses it when present); Debian builds it for
# amd64 only.
if [ "$(dpkg --print-architecture)" = "amd64" ]; then
  packages+=(libipsec-mb-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
