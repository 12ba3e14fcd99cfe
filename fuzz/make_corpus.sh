#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fuzz/make_corpus.sh: regenerates the seed corpora that are written by
# programs rather than found by fuzzing; run by hand, the results are
# committed. Two parts:
#   generated   make_ike_seeds (fuzz/corpus/ike_message, ike_inner) and the
#               seed writers of the engine targets (IPSEC_FUZZ_IKE_ENGINE_SEEDS,
#               IPSEC_FUZZ_IKE_ESTABLISHED_SEEDS: fuzz/corpus/ike_engine,
#               ike_established). Deterministic: a rerun rewrites the same
#               files (seeds a writer no longer makes are not removed).
#   strongswan  real messages from strongSwan's charon and our engine
#               (examples/ike_peer), each in a network namespace joined by a
#               veth pair: charon initiates (PSK, aes256gcm16-prfsha256-x25519,
#               child aes256gcm16), ike_peer rekeys the child SA (--child-rekey,
#               so it also deletes the old one), then deletes the IKE SA on
#               SIGTERM. dumpcap records the veth; the first IKE_SA_INIT,
#               IKE_AUTH, CREATE_CHILD_SA and INFORMATIONAL request and response
#               (UDP 500, or 4500 without its non-ESP marker, RFC 3948 2.2)
#               become fuzz/corpus/ike_message/strongswan-1..8, replacing the
#               previous strongswan-* (new SPIs, nonces and keys each run).
#               charon with kernel-libipsec fakes a NAT (see
#               tests/interop/ike_strongswan.sh), so IKE_AUTH onwards is on 4500.
#               Needs root, network namespaces, strongSwan (scripts/setup.sh)
#               and tshark/dumpcap; namespaces and processes are removed by
#               PID/name on exit.
# usage: fuzz/make_corpus.sh [--build DIR] [--out DIR] [--only generated|strongswan] [--keep]
#   --build DIR  build tree for make_ike_seeds, the two targets and ike_peer
#                (default build/corpus; configured here: fuzz targets on, as
#                replay binaries unless DIR is already a libFuzzer build)
#   --out DIR    the corpus root (default fuzz/corpus)
#   --keep       keep the strongSwan work directory (capture, logs)
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/corpus out=fuzz/corpus only="" keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--build DIR] [--out DIR] [--only generated|strongswan] [--keep]" >&2; exit 2 ;;
  esac
done
case $only in "" | generated | strongswan) ;; *) echo "--only: generated or strongswan" >&2; exit 2 ;; esac

targets=(make_ike_seeds fuzz_ike_engine fuzz_ike_established)
[ "$only" = generated ] || targets+=(ike_peer)
if [ ! -f "$build/CMakeCache.txt" ]; then
  generator=()
  command -v ninja > /dev/null && generator=(-G Ninja)
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DIPSEC_BUILD_FUZZERS=ON \
    -DIPSEC_BUILD_EXAMPLES=ON -DIPSEC_BUILD_TESTS=OFF -DIPSEC_BUILD_BENCHMARKS=OFF > /dev/null
fi
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target "${targets[@]}"

if [ "$only" != strongswan ]; then
  echo "== generated seeds into $out"
  # A directory per target (fuzz/<name>_fuzz.cpp): make_ike_seeds writes
  # into several.
  for f in fuzz/*_fuzz.cpp; do
    f=${f#fuzz/}
    mkdir -p "$out/${f%_fuzz.cpp}"
  done
  "$build/fuzz/make_ike_seeds" "$out"
  # The writers run on the first input and exit; /dev/null is an (empty)
  # input both to libFuzzer and to the replay main.
  IPSEC_FUZZ_IKE_ENGINE_SEEDS="$out/ike_engine" "$build/fuzz/fuzz_ike_engine" /dev/null
  IPSEC_FUZZ_IKE_ESTABLISHED_SEEDS="$out/ike_established" "$build/fuzz/fuzz_ike_established" /dev/null
  echo "ike_message $(ls "$out/ike_message" | wc -l), ike_inner $(ls "$out/ike_inner" | wc -l)," \
    "ike_engine $(ls "$out/ike_engine" | wc -l), ike_established $(ls "$out/ike_established" | wc -l) files"
fi
[ "$only" != generated ] || exit 0

echo "== strongSwan captures into $out/ike_message"
charon=/usr/lib/ipsec/charon
[ "$(id -u)" -eq 0 ] || { echo "make_corpus: the strongSwan part needs root (or --only generated)" >&2; exit 1; }
for cmd in ip unshare mount swanctl dumpcap tshark python3; do
  command -v $cmd > /dev/null || { echo "make_corpus: $cmd is missing (scripts/setup.sh)" >&2; exit 1; }
done
[ -x $charon ] || { echo "make_corpus: $charon is missing (scripts/setup.sh)" >&2; exit 1; }

work=$(mktemp -d /tmp/mkcorpus.XXXXXX)  # short: the vici socket path must stay under 108 bytes
sw=mcsw$$ fp=mcfp$$ pids=() namespaces=()
cleanup() {
  local p _
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 20); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$p" 2> /dev/null || true
  done
  for p in "${namespaces[@]}"; do ip netns del "$p" 2> /dev/null || true; done
  if [ "$keep" -eq 1 ]; then echo "work directory: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_for() {  # CONDITION-COMMAND SECONDS: poll every 0.1 s
  local _
  for _ in $(seq $(($2 * 10))); do eval "$1" && return 0; sleep 0.1; done
  echo "make_corpus: timed out waiting for: $1" >&2
  return 1
}

namespaces=("$sw" "$fp")
ip netns add "$sw"
ip netns add "$fp"
ip link add fp0 netns "$fp" type veth peer name sw0 netns "$sw"
for ns in "$sw" "$fp"; do
  ip -n "$ns" link set lo up
  # IPv6 off: no ND/MLD in the capture.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$fp" addr add 10.0.0.1/24 dev fp0
ip -n "$fp" addr add 10.1.1.1/32 dev lo
ip -n "$fp" link set fp0 up
ip -n "$sw" addr add 10.0.0.2/24 dev sw0
ip -n "$sw" addr add 10.1.2.1/32 dev lo
ip -n "$sw" link set sw0 up
ip netns exec "$fp" ping -c 1 -W 3 -q 10.0.0.2 > /dev/null

psk="corpus-psk-0123456789abcdef"
c=$work/charon
mkdir -p "$c/run" "$c"/swanctl/{conf.d,x509,x509ca,x509ocsp,x509aa,x509ac,x509crl,pubkey,private,rsa,ecdsa,bliss,pkcs8,pkcs12}
# kernel-libipsec before kernel-netlink (the first IPsec backend wins); kdf
# for the PRF-based key derivation.
cat > "$c/strongswan.conf" << EOF
charon {
  load = random nonce openssl aes sha1 sha2 hmac gcm kdf curve25519 x509 pem pkcs1 pkcs8 pubkey constraints revocation kernel-libipsec kernel-netlink socket-default vici
  retransmit_timeout = 1.0
  retransmit_base = 1.4
  retransmit_tries = 3
  plugins {
    vici {
      socket = unix://$c/charon.vici
    }
  }
  filelog {
    charon {
      path = $c/charon.log
      ike_name = yes
      flush_line = yes
      default = 1
      ike = 2
    }
  }
}
EOF
cat > "$c/swanctl/swanctl.conf" << EOF
connections {
  s2s {
    version = 2
    local_addrs = 10.0.0.2
    remote_addrs = 10.0.0.1
    proposals = aes256gcm16-prfsha256-x25519
    mobike = no
    local {
      auth = psk
      id = b.example.test
    }
    remote {
      auth = psk
      id = a.example.test
    }
    children {
      net {
        mode = tunnel
        local_ts = 10.1.2.0/24
        remote_ts = 10.1.1.0/24
        esp_proposals = aes256gcm16
        start_action = none
      }
    }
  }
}
secrets {
  ike-1 {
    id-1 = b.example.test
    id-2 = a.example.test
    secret = "$psk"
  }
}
EOF
# A private /run: charon's pid file path is compiled in.
ip netns exec "$sw" unshare -m --propagation private sh -c \
  "mount --bind $c/run /run && exec env STRONGSWAN_CONF=$c/strongswan.conf $charon" > "$c/charon.out" 2>&1 < /dev/null &
pids+=($!)
wait_for "[ -S $c/charon.vici ]" 10
swanctl_c() { SWANCTL_DIR=$c/swanctl swanctl "$@" --uri "unix://$c/charon.vici"; }
swanctl_c --load-all --noprompt > "$work/swanctl-load.txt" 2>&1

ip netns exec "$fp" "$build/examples/ike_peer" --name ours --local 10.0.0.1 --remote 10.0.0.2 \
  --id fqdn:a.example.test --remote-id fqdn:b.example.test --local-ts 10.1.1.0/24 --remote-ts 10.1.2.0/24 \
  --ike aes256gcm16-prfsha256-x25519 --esp aes256gcm16 --psk "$psk" --timeout 20 --child-rekey 2 \
  > "$work/ike_peer.txt" 2>&1 &
peer=$!
pids+=("$peer")
wait_for "grep -qs listening $work/ike_peer.txt" 5

# Started as the plain ip netns exec command in the background, so that $!
# is dumpcap itself (SIGINT to it ends the capture cleanly).
ip netns exec "$sw" dumpcap -q -i sw0 -f "udp port 500 or udp port 4500" -w "$work/ike.pcapng" \
  > /dev/null 2> "$work/dumpcap.err" < /dev/null &
cap=$!
pids+=("$cap")
wait_for "grep -qs Capturing $work/dumpcap.err" 10

swanctl_c --initiate --child net --timeout 15 > "$work/swanctl-initiate.txt" 2>&1
wait_for "grep -qs 'event child_sa_up' $work/ike_peer.txt" 10
# The rekey (CREATE_CHILD_SA) and the old child SA's delete (INFORMATIONAL).
wait_for "grep -Eqs 'received INFORMATIONAL response [0-9]+ \[ D \]' $work/ike_peer.txt" 15
kill -TERM "$peer"  # ike_peer deletes the IKE SA: INFORMATIONAL { D }
wait_for "grep -qs '] exit ' $work/ike_peer.txt" 5
# dumpcap hands packets over in blocks on a timeout; SIGINT at once would
# drop the last ones.
sleep 1.2
kill -INT "$cap"
wait "$cap" || true

# One row per UDP datagram: source address, ports, payload in hex.
tshark -n -r "$work/ike.pcapng" -Y udp -T fields -E separator=/t -e ip.src -e udp.srcport -e udp.dstport \
  -e udp.payload > "$work/udp.tsv" 2> "$work/tshark.err"
rm -f "$out"/ike_message/strongswan-*
python3 - "$work/udp.tsv" "$out/ike_message" << 'EOF'
import sys
names = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL"}
seen, n = set(), 0
for row in open(sys.argv[1]):
    src, sport, dport, payload = (row.rstrip("\n").split("\t") + [""] * 4)[:4]
    data = bytes.fromhex(payload.replace(":", ""))
    if "4500" in (sport, dport):
        # RFC 3948 2.2: IKE on 4500 follows four zero octets; anything else
        # is ESP (non-zero SPI) or a NAT-keepalive (one 0xFF octet).
        if len(data) < 4 or data[:4] != bytes(4):
            continue
        data = data[4:]
    if len(data) < 28:
        continue
    exchange, response = data[18], bool(data[19] & 0x20)
    if exchange not in names or (exchange, response) in seen:
        continue
    seen.add((exchange, response))
    n += 1
    with open(f"{sys.argv[2]}/strongswan-{n}", "wb") as f:
        f.write(data)
    who = "charon" if src == "10.0.0.2" else "ike_peer"
    print(f"strongswan-{n}: {names[exchange]} {'response' if response else 'request'} from {who},"
          f" message ID {int.from_bytes(data[20:24], 'big')}, {len(data)} octets")
if len(seen) != 2 * len(names):
    sys.exit(f"make_corpus: captured only {sorted(seen)}")
EOF
