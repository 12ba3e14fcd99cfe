#!/usr/bin/env bash
# Regenerates the strongSwan IKEv2 interop fixtures in this directory.
#
# Run by hand, as root, on a Debian 12 host:
#     sudo bash tests/data/ike/strongswan/capture.sh [OUTPUT_DIR]
# OUTPUT_DIR defaults to the directory of this script. CI never runs it: the
# fixtures it writes are committed data. Each run produces new random SPIs,
# nonces and keys, so a rerun rewrites every fixture file.
#
# Used to produce the committed files:
#     strongSwan 5.9.8 (Debian 12 packages 5.9.8-5+deb12u6), charon with kernel-libipsec
#     tshark/dumpcap 4.0.17 (Debian 12 package 4.0.17-0+deb12u3)
# Needs: strongswan-charon strongswan-swanctl strongswan-pki libstrongswan-standard-plugins
#        libcharon-extra-plugins libstrongswan-extra-plugins tshark iproute2 nftables
#        /usr/bin/python3 with python3-cryptography (for the key self-check).
#
# How it works: two charon daemons run in two network namespaces (ssA = the
# initiator, ssB = the responder) joined by a veth pair. Each charon gets a
# private /run (unshare -m) and its own vici socket. dumpcap records UDP 500
# and 4500 on the responder's veth end. Afterwards every IKE datagram's UDP
# payload is written as one .bin file (the 4-byte non-ESP marker of port 4500
# removed; ESP and NAT keepalives skipped), with manifest.txt, and the IKE
# keys that charon logs at "ike 4" are extracted into keys.txt. Finally the
# keys are checked twice: by decrypting and authenticating every SK/SKF
# payload in Python, and with tshark's IKEv2 decryption table.
# The configs (PSK, private keys) are for these tests only.

set -euo pipefail

if [ "$(id -u)" != 0 ]; then echo "must run as root" >&2; exit 1; fi
for t in /usr/lib/ipsec/charon swanctl pki dumpcap tshark editcap ip /usr/bin/python3; do
  command -v "$t" > /dev/null || { echo "missing $t" >&2; exit 1; }
done

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(mkdir -p "${1:-$SCRIPT_DIR}" && cd "${1:-$SCRIPT_DIR}" && pwd)
WORK=$(mktemp -d /tmp/ss-capture.XXXXXX)
NS_A=ssA
NS_B=ssB
ADDR_A=192.0.2.1
ADDR_B=192.0.2.2
PSK="test-only-psk-0123456789abcdef"
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    kill "$pid" 2> /dev/null || true
  done
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    wait "$pid" 2> /dev/null || true
  done
  ip netns del "$NS_A" 2> /dev/null || true
  ip netns del "$NS_B" 2> /dev/null || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

log() { echo "== $*" >&2; }

# --------------------------------------------------------------------------
# namespaces and daemons

setup_ns() {
  ip netns del "$NS_A" 2> /dev/null || true
  ip netns del "$NS_B" 2> /dev/null || true
  ip netns add "$NS_A"
  ip netns add "$NS_B"
  ip link add vA netns "$NS_A" type veth peer name vB netns "$NS_B"
  local ns
  for ns in "$NS_A" "$NS_B"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  ip -n "$NS_A" addr add "$ADDR_A/24" dev vA
  ip -n "$NS_B" addr add "$ADDR_B/24" dev vB
  # inner hosts of the traffic selectors (charon needs a local source for its routes)
  ip -n "$NS_A" addr add 10.1.1.1/32 dev lo
  ip -n "$NS_A" addr add 10.2.1.1/32 dev lo
  ip -n "$NS_B" addr add 10.1.2.1/32 dev lo
  ip -n "$NS_B" addr add 10.2.2.1/32 dev lo
  ip -n "$NS_A" link set vA up
  ip -n "$NS_B" link set vB up
}

teardown_ns() {
  ip netns del "$NS_A"
  ip netns del "$NS_B"
}

# $1 = instance dir, $2 = extra charon settings
write_strongswan_conf() {
  mkdir -p "$1/run"
  mkdir -p "$1"/swanctl/{conf.d,x509,x509ca,x509ocsp,x509aa,x509ac,x509crl,pubkey,private,rsa,ecdsa,bliss,pkcs8,pkcs12}
  cat > "$1/strongswan.conf" << EOF
charon {
  load = random nonce openssl aes sha1 sha2 hmac gcm kdf curve25519 x509 pem pkcs1 pkcs8 pubkey constraints revocation kernel-libipsec kernel-netlink socket-default vici
  retransmit_timeout = 2.0
  retransmit_tries = 3${2:+
  $2}
  plugins { vici { socket = unix://$1/charon.vici } }
  filelog { charon { path = $1/charon.log
    ike_name = yes
    flush_line = yes
    default = 1
    ike = 4
    chd = 4
    mgr = 2 } }
}
EOF
}

# $1 = instance dir, $2 = namespace; sets CHARON_PID
start_charon() {
  rm -f "$1/charon.vici" "$1/run/charon.pid"
  ip netns exec "$2" unshare -m --propagation private \
    sh -c "mount --bind $1/run /run && exec env STRONGSWAN_CONF=$1/strongswan.conf /usr/lib/ipsec/charon" \
    > "$1/charon.out" 2>&1 < /dev/null &
  CHARON_PID=$!
  PIDS+=("$CHARON_PID")
  for _ in $(seq 100); do [ -S "$1/charon.vici" ] && break; sleep 0.1; done
  [ -S "$1/charon.vici" ] || { cat "$1/charon.out" >&2; echo "charon did not start" >&2; exit 1; }
  sw "$1" --load-all --noprompt > "$1/load.out"
}

# swanctl against one instance: sw DIR COMMAND ARGS...
sw() {
  local dir=$1; shift
  local cmd=$1; shift
  SWANCTL_DIR="$dir/swanctl" swanctl "$cmd" --uri "unix://$dir/charon.vici" "$@"
}

# wait_log FILE COUNT REGEX: until REGEX occurs COUNT times in FILE (max 30 s)
wait_log() {
  for _ in $(seq 300); do
    [ "$(grep -cE "$3" "$1" || true)" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "timeout waiting for '$3' x$2 in $1" >&2
  exit 1
}

start_capture() {
  ip netns exec "$NS_B" dumpcap -q -i vB -f 'udp port 500 or udp port 4500' -w "$1" \
    > /dev/null 2> "$WORK/dumpcap.err" < /dev/null &
  DUMPCAP_PID=$!
  PIDS+=("$DUMPCAP_PID")
  for _ in $(seq 100); do grep -q Capturing "$WORK/dumpcap.err" && return 0; sleep 0.1; done
  cat "$WORK/dumpcap.err" >&2; exit 1
}

# reap SIGNAL PID: stop one process we started and forget its PID
reap() {
  local p keep=()
  kill "-$1" "$2" 2> /dev/null || true
  wait "$2" 2> /dev/null || true
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do [ "$p" = "$2" ] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

stop_capture() {
  sleep 1.5 # dumpcap hands over packets in blocks; give the last one time
  reap INT "$DUMPCAP_PID"
}

stop_charons() {
  reap TERM "$A_PID"
  reap TERM "$B_PID"
}

# --------------------------------------------------------------------------
# swanctl.conf generation
#
# conf LOCAL_ADDR REMOTE_ADDR LOCAL_ID REMOTE_ID IKE_PROPOSAL ESP_PROPOSAL AUTH CONN_EXTRA CHILDREN
#   AUTH: psk or pubkey:<cert file>; CHILDREN: "name:local_ts:remote_ts ..."
conf() {
  local la=$1 ra=$2 lid=$3 rid=$4 ike=$5 esp=$6 auth=$7 extra=$8 children=$9
  local lauth rauth c name lts rts
  if [ "$auth" = psk ]; then
    lauth="auth = psk"; rauth="auth = psk"
  else
    lauth="auth = pubkey
      certs = ${auth#pubkey:}"; rauth="auth = pubkey"
  fi
  echo "connections {"
  echo "  s2s {"
  echo "    version = 2"
  echo "    local_addrs = $la"
  echo "    remote_addrs = $ra"
  echo "    proposals = $ike"
  echo "    mobike = no"
  [ -n "$extra" ] && echo "$extra"
  echo "    local {"
  echo "      $lauth"
  echo "      id = $lid"
  echo "    }"
  echo "    remote {"
  echo "      $rauth"
  echo "      id = $rid"
  echo "    }"
  echo "    children {"
  for c in $children; do
    IFS=: read -r name lts rts <<< "$c"
    echo "      $name {"
    echo "        mode = tunnel"
    echo "        local_ts = $lts"
    echo "        remote_ts = $rts"
    echo "        esp_proposals = $esp"
    echo "        start_action = none"
    echo "      }"
  done
  echo "    }"
  echo "  }"
  echo "}"
  if [ "$auth" = psk ]; then
    echo "secrets {"
    echo "  ike-1 {"
    echo "    id-1 = $lid"
    echo "    id-2 = $rid"
    echo "    secret = \"$PSK\""
    echo "  }"
    echo "}"
  fi
}

# setup_scenario NAME IKE ESP AUTH A_EXTRA B_EXTRA CHARON_EXTRA CHILDREN_A
# CHILDREN_A uses A's view (local:remote); B gets them mirrored.
setup_scenario() {
  local name=$1 ike=$2 esp=$3 auth=$4 a_extra=$5 b_extra=$6 charon_extra=$7 children_a=$8
  local c n l r children_b=""
  for c in $children_a; do
    IFS=: read -r n l r <<< "$c"
    children_b+="$n:$r:$l "
  done
  A=$WORK/$name/A
  B=$WORK/$name/B
  write_strongswan_conf "$A" "$charon_extra"
  write_strongswan_conf "$B" "$charon_extra"
  local aauth=$auth bauth=$auth
  if [ "$auth" = pubkey ]; then
    aauth=pubkey:a.crt; bauth=pubkey:b.crt
    install_pki "$name"
  fi
  conf "$ADDR_A" "$ADDR_B" a.example.test b.example.test "$ike" "$esp" "$aauth" "$a_extra" "$children_a" \
    > "$A/swanctl/swanctl.conf"
  conf "$ADDR_B" "$ADDR_A" b.example.test a.example.test "$ike" "$esp" "$bauth" "$b_extra" "$children_b" \
    > "$B/swanctl/swanctl.conf"
  mkdir -p "$OUT/$name"
  rm -f "$OUT/$name"/*.bin
  cp "$A/swanctl/swanctl.conf" "$OUT/$name/swanctl.conf.A-initiator"
  cp "$B/swanctl/swanctl.conf" "$OUT/$name/swanctl.conf.B-responder"
  sed "s#$WORK/$name#\$WORK#g" "$A/strongswan.conf" > "$OUT/$name/strongswan.conf"
  setup_ns
  start_charon "$A" "$NS_A"; A_PID=$CHARON_PID
  start_charon "$B" "$NS_B"; B_PID=$CHARON_PID
  start_capture "$WORK/$name/capture.pcapng"
}

# ECDSA P-256 CA and end-entity certificates for a.example.test / b.example.test
install_pki() {
  local d=$WORK/$1/pki id
  mkdir -p "$d"
  printf 'pki {\n  load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey sha1 sha2 gmp\n}\n' > "$d/pki.conf"
  (
    cd "$d"
    export STRONGSWAN_CONF=$d/pki.conf
    pki --gen --type ecdsa --size 256 --outform pem > ca.key
    pki --self --ca --lifetime 3650 --in ca.key --type ecdsa --dn "O=ipsec test, CN=Test CA" --outform pem > ca.crt
    for id in a b; do
      pki --gen --type ecdsa --size 256 --outform pem > $id.key
      pki --pub --in $id.key --type priv | pki --issue --lifetime 3650 --cacert ca.crt --cakey ca.key \
        --dn "O=ipsec test, CN=$id.example.test" --san $id.example.test --outform pem > $id.crt
    done
  )
  for id in a b; do
    local dir=$WORK/$1/${id^^}
    cp "$d/ca.crt" "$dir/swanctl/x509ca/"
    cp "$d/$id.crt" "$dir/swanctl/x509/"
    cp "$d/$id.key" "$dir/swanctl/private/"
  done
  mkdir -p "$OUT/$1/pki"
  cp "$d"/{ca,a,b}.{crt,key} "$OUT/$1/pki/"
}

finish_scenario() {
  local name=$1
  local dir=$OUT/$name
  stop_capture
  # the charon log lines that name the payloads of each message, initiator's
  # view, taken before shutdown (charon deletes remaining SAs when stopped)
  sed -nE 's/^.*\[(ENC|NET|IKE)\] <[^>]*> ((generating|parsed|splitting|received fragment|sending packet|received packet|establishing|IKE_SA .* established|CHILD_SA .* established|rekeying|creating rekey|deleting|closing|sending DPD|initiating).*)$/\2/p' \
    "$A/charon.log" > "$dir/charon-initiator.txt"
  stop_charons
  teardown_ns
  editcap -F pcap "$WORK/$name/capture.pcapng" "$dir/capture.pcap"
  /usr/bin/python3 "$WORK/fixtures.py" extract "$dir/capture.pcap" "$A/charon.log" "$dir"
  /usr/bin/python3 "$WORK/fixtures.py" verify "$dir"
  tshark_check "$dir"
}

# tshark_check DIR: every SK/SKF payload must decrypt without expert warnings
tshark_check() {
  local dir=$1 args=() row
  while IFS= read -r row; do args+=(-o "uat:ikev2_decryption_table:$row"); done < "$dir/ikev2_decryption_table"
  local enc ok
  enc=$(tshark -r "$dir/capture.pcap" -n "${args[@]}" -T fields -e frame.number \
    -Y 'isakmp.nextpayload == 46 || isakmp.nextpayload == 53' 2> /dev/null | wc -l)
  ok=$(tshark -r "$dir/capture.pcap" -n "${args[@]}" -T fields -e frame.number \
    -Y '(isakmp.nextpayload == 46 || isakmp.nextpayload == 53) && isakmp.enc.decrypted && !(_ws.expert.severity >= warning)' \
    2> /dev/null | wc -l)
  log "$(basename "$dir"): tshark decrypted $ok of $enc encrypted messages without warnings"
  [ "$enc" -gt 0 ] && [ "$enc" = "$ok" ] || { echo "tshark check failed in $dir" >&2; exit 1; }
}

# --------------------------------------------------------------------------
# helper program: payload extraction, key extraction, self-check

cat > "$WORK/fixtures.py" << 'PYEOF'
import hashlib, hmac, os, re, subprocess, sys

EXCHANGES = {34: 'ike_sa_init', 35: 'ike_auth', 36: 'create_child_sa', 37: 'informational'}
KEY_NAMES = ['SK_d', 'SK_ai', 'SK_ar', 'SK_ei', 'SK_er', 'SK_pi', 'SK_pr']


def udp_datagrams(pcap):
    out = subprocess.run(['tshark', '-r', pcap, '-n', '-T', 'fields', '-E', 'separator=,',
                          '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'udp.dstport',
                          '-e', 'udp.payload'], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        src, sport, dst, dport, payload = line.split(',')
        yield src, int(sport), dst, int(dport), bytes.fromhex(payload)


def ike_messages(pcap):
    """Yield (src, sport, dst, dport, ike_bytes) for every IKE message in the capture."""
    for src, sport, dst, dport, data in udp_datagrams(pcap):
        if 4500 in (sport, dport):
            if data == b'\xff':
                continue                         # NAT keepalive
            if len(data) < 4 or data[:4] != b'\0\0\0\0':
                continue                         # ESP in UDP
            data = data[4:]                      # non-ESP marker
        yield src, sport, dst, dport, data


def header(msg):
    return {'spi_i': msg[0:8].hex(), 'spi_r': msg[8:16].hex(), 'next': msg[16],
            'exch': msg[18], 'flags': msg[19], 'mid': int.from_bytes(msg[20:24], 'big'),
            'length': int.from_bytes(msg[24:28], 'big')}


def parse_log(path):
    """IKE SA keys from a charon log (ike 4, mgr 2, ike_name = yes).

    Returns {sa_unique_id: {name: value}}. Keys are logged in the context of the
    SA whose IKE_SA_INIT/CREATE_CHILD_SA derived them; for an IKE rekey the
    initiator logs the new SA's keys in the old SA's context, after
    'initiating IKE_SA name[N]' for the new SA.
    """
    sas, target = {}, {}
    ctx_re = re.compile(r'\[\w+\] <([^>|]*)\|(\d+)> (.*)$')
    lines = open(path, errors='replace').read().splitlines()
    i = 0
    while i < len(lines):
        m = ctx_re.search(lines[i])
        i += 1
        if not m:
            continue
        ctx, text = int(m.group(2)), m.group(3)
        f = re.match(r'initiating IKE_SA [^\[]+\[(\d+)\]', text)
        if f:
            target[ctx] = int(f.group(1))
            continue
        f = re.match(r'checkin IKEv2 SA [^\[]+\[(\d+)\] with SPIs (\w{16})_i (\w{16})_r', text)
        if f and f.group(3) != '0' * 16:
            sa = sas.setdefault(int(f.group(1)), {})
            sa['SPI_i'], sa['SPI_r'] = f.group(2), f.group(3)
            continue
        f = re.match(r'selected proposal: IKE:(\S+)', text)
        if f:
            sas.setdefault(target.get(ctx, ctx), {})['ike_proposal'] = f.group(1)
            continue
        f = re.match(r'Sk_(\w+) secret => (\d+) bytes', text)
        if f:
            name, length, hexdata = 'SK_' + f.group(1), int(f.group(2)), ''
            while i < len(lines):
                h = ctx_re.search(lines[i])
                r = re.match(r' *\d+: ((?:[0-9A-F]{2} )+)', h.group(3)) if h and int(h.group(2)) == ctx else None
                if not r:
                    break
                hexdata += r.group(1).replace(' ', '').lower()
                i += 1
            assert len(hexdata) == 2 * length, (name, length, hexdata)
            sas.setdefault(target.get(ctx, ctx), {})[name] = hexdata
    for sa in sas.values():                     # charon logs no Sk_a* for AEAD: empty
        sa.setdefault('SK_ai', '')
        sa.setdefault('SK_ar', '')
    return {k: v for k, v in sas.items() if 'SK_d' in v}


# key lengths in bytes (SK_e incl. salt for AEAD, SK_a, SK_p = SK_d = PRF length)
ENC = {'AES_GCM_16_128': (20, True), 'AES_GCM_16_256': (36, True),
       'AES_CBC_128': (16, False), 'AES_CBC_256': (32, False)}
INTEG = {'HMAC_SHA2_256_128': (32, 16), None: (0, 0)}
PRF = {'PRF_HMAC_SHA2_256': 32}
TSHARK_ENC = {'AES_GCM_16_128': 'AES-GCM-128 with 16 octet ICV [RFC5282]',
              'AES_GCM_16_256': 'AES-GCM-256 with 16 octet ICV [RFC5282]',
              'AES_CBC_128': 'AES-CBC-128 [RFC3602]', 'AES_CBC_256': 'AES-CBC-256 [RFC3602]'}
TSHARK_INTEG = {'HMAC_SHA2_256_128': 'HMAC_SHA2_256_128 [RFC4868]', None: 'NONE [RFC4306]'}


def algorithms(proposal):
    parts = proposal.split('/')
    enc = parts[0]
    integ = next((p for p in parts if p.startswith('HMAC_')), None)
    prf = next(p for p in parts if p.startswith('PRF_'))
    return enc, integ, prf


def check_lengths(keys):
    enc, integ, prf = algorithms(keys['ike_proposal'])
    elen, aead = ENC[enc]
    alen = INTEG[integ][0]
    plen = PRF[prf]
    assert aead == (integ is None), keys['ike_proposal']
    want = {'SK_d': plen, 'SK_ai': alen, 'SK_ar': alen, 'SK_ei': elen, 'SK_er': elen, 'SK_pi': plen, 'SK_pr': plen}
    for k, n in want.items():
        assert len(keys[k]) == 2 * n, (k, n, keys[k])


def extract(pcap, log, outdir):
    msgs = list(ike_messages(pcap))
    manifest = ['# file src dst exchange_type message_id i_flag r_flag']
    for n, (src, sport, dst, dport, msg) in enumerate(msgs):
        h = header(msg)
        assert h['length'] == len(msg), 'length mismatch'
        resp = bool(h['flags'] & 0x20)
        name = '%03d-%s-%s-%d' % (n, EXCHANGES[h['exch']], 'response' if resp else 'request', h['mid'])
        if h['next'] == 53:                       # SKF: fragment number and total after the generic header
            name += '-f%d_of_%d' % (int.from_bytes(msg[32:34], 'big'), int.from_bytes(msg[34:36], 'big'))
        fn = name + '.bin'
        with open(os.path.join(outdir, fn), 'wb') as f:
            f.write(msg)
        manifest.append('%s %s:%d %s:%d %d %d %d %d' % (fn, src, sport, dst, dport, h['exch'], h['mid'],
                                                         1 if h['flags'] & 0x08 else 0, 1 if resp else 0))
    with open(os.path.join(outdir, 'manifest.txt'), 'w') as f:
        f.write('\n'.join(manifest) + '\n')

    sas = parse_log(log)
    lines, rows = [], []
    for idx, sa_id in enumerate(sorted(sas)):
        keys = sas[sa_id]
        check_lengths(keys)
        prefix = '' if idx == 0 else 'rekey%d.' % idx
        for k in ['SPI_i', 'SPI_r', 'ike_proposal'] + KEY_NAMES:
            lines.append('%s%s=%s' % (prefix, k, keys[k]))
        enc, integ, _ = algorithms(keys['ike_proposal'])
        rows.append('%s,%s,%s,%s,"%s",%s,%s,"%s"' % (keys['SPI_i'], keys['SPI_r'], keys['SK_ei'], keys['SK_er'],
                                                      TSHARK_ENC[enc], keys['SK_ai'], keys['SK_ar'],
                                                      TSHARK_INTEG[integ]))
    with open(os.path.join(outdir, 'keys.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(os.path.join(outdir, 'ikev2_decryption_table'), 'w') as f:
        f.write('\n'.join(rows) + '\n')


def load_keys(outdir):
    kv = dict(l.rstrip('\n').split('=', 1) for l in open(os.path.join(outdir, 'keys.txt')) if '=' in l)
    sets = {}
    for k, v in kv.items():
        prefix, _, name = k.rpartition('.')
        sets.setdefault(prefix, {})[name] = v
    return {(s['SPI_i'], s['SPI_r']): s for s in sets.values()}


def verify(outdir):
    """Decrypt and authenticate every SK/SKF payload with the extracted keys."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms as alg, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    keys = load_keys(outdir)
    count = 0
    for line in open(os.path.join(outdir, 'manifest.txt')):
        if line.startswith('#'):
            continue
        fn = line.split()[0]
        msg = open(os.path.join(outdir, fn), 'rb').read()
        h = header(msg)
        if h['next'] not in (46, 53):
            assert h['exch'] == 34, fn           # only IKE_SA_INIT goes unencrypted
            continue
        k = keys[(h['spi_i'], h['spi_r'])]
        side = 'i' if h['flags'] & 0x08 else 'r'
        ek, ak = bytes.fromhex(k['SK_e' + side]), bytes.fromhex(k['SK_a' + side])
        hdr_len = 36 if h['next'] == 53 else 32   # IKE header + SK (4) or SKF (8) payload header
        plen = int.from_bytes(msg[30:32], 'big')
        assert 28 + plen == len(msg), fn        # SK/SKF is the last (only) payload
        enc, integ, _ = algorithms(k['ike_proposal'])
        if integ is None:                       # AES-GCM, RFC 5282
            iv, body = msg[hdr_len:hdr_len + 8], msg[hdr_len + 8:]
            plain = AESGCM(ek[:-4]).decrypt(ek[-4:] + iv, body, msg[:hdr_len])
        else:                                   # AES-CBC + HMAC, encrypt-then-MAC
            icv_len = INTEG[integ][1]
            mac = hmac.new(ak, msg[:-icv_len], hashlib.sha256).digest()[:icv_len]
            assert hmac.compare_digest(mac, msg[-icv_len:]), fn + ': bad ICV'
            iv, body = msg[hdr_len:hdr_len + 16], msg[hdr_len + 16:-icv_len]
            d = Cipher(alg.AES(ek), modes.CBC(iv)).decryptor()
            plain = d.update(body) + d.finalize()
        pad = plain[-1]
        assert pad < len(plain), fn
        count += 1
    print('%s: %d encrypted messages decrypted and authenticated' % (os.path.basename(outdir), count))


if __name__ == '__main__':
    if sys.argv[1] == 'extract':
        extract(*sys.argv[2:5])
    else:
        verify(sys.argv[2])
PYEOF

# --------------------------------------------------------------------------
# scenario gcm: AES-GCM-256, PSK, child rekey, second child, child delete,
# liveness check, IKE delete

scenario_gcm() {
  log "gcm"
  setup_scenario gcm aes256gcm16-prfsha256-x25519 aes256gcm16 psk \
    "    dpd_delay = 4s" "" "" \
    "net:10.1.1.0/24:10.1.2.0/24 net2:10.2.1.0/24:10.2.2.0/24"
  local L=$A/charon.log
  sw "$A" --initiate --child net --timeout 20 > /dev/null
  wait_log "$L" 1 'CHILD_SA net\{[0-9]+\} established'
  sw "$A" --rekey --child net > /dev/null
  wait_log "$L" 1 'closing CHILD_SA net\{1\}'
  wait_log "$L" 1 'parsed INFORMATIONAL response 3 '
  sw "$A" --initiate --child net2 --timeout 20 > /dev/null
  wait_log "$L" 1 'CHILD_SA net2\{[0-9]+\} established'
  sw "$A" --terminate --child net2 --timeout 20 > /dev/null
  wait_log "$L" 1 'parsed INFORMATIONAL response 5 '
  # idle until the initiator's DPD (dpd_delay = 4s) sends an empty INFORMATIONAL
  wait_log "$L" 1 'generating INFORMATIONAL request 6 \[ \]'
  wait_log "$L" 1 'parsed INFORMATIONAL response 6 \[ \]'
  sw "$A" --terminate --ike s2s --timeout 20 > /dev/null
  wait_log "$L" 1 'parsed INFORMATIONAL response 7 '
  finish_scenario gcm
}

# scenario cbc: AES-CBC-128 + HMAC-SHA-256, PSK, child rekey, IKE rekey, IKE delete
scenario_cbc() {
  log "cbc"
  setup_scenario cbc aes128-sha256-modp2048 aes128-sha256 psk "" "" "" \
    "net:10.1.1.0/24:10.1.2.0/24"
  local L=$A/charon.log
  sw "$A" --initiate --child net --timeout 20 > /dev/null
  wait_log "$L" 1 'CHILD_SA net\{[0-9]+\} established'
  sw "$A" --rekey --child net > /dev/null
  wait_log "$L" 1 'parsed INFORMATIONAL response 3 '
  sw "$A" --rekey --ike s2s > /dev/null
  wait_log "$L" 1 'parsed INFORMATIONAL response 5 '
  sw "$A" --terminate --ike s2s --timeout 20 > /dev/null
  wait_log "$L" 1 'IKE_SA s2s\[2\] .*(deleted|destroying)|parsed INFORMATIONAL response 0 '
  finish_scenario cbc
}

# scenario frag: ECDSA certificates, IKEv2 fragmentation (RFC 7383) with 300-byte fragments
scenario_frag() {
  log "frag"
  setup_scenario frag aes128gcm16-prfsha256-ecp256 aes128gcm16 pubkey \
    "    fragmentation = yes" "    fragmentation = yes" "fragment_size = ${FRAG_SIZE:-300}" \
    "net:10.1.1.0/24:10.1.2.0/24"
  local L=$A/charon.log
  sw "$A" --initiate --child net --timeout 20 > /dev/null
  wait_log "$L" 1 'CHILD_SA net\{[0-9]+\} established'
  finish_scenario frag
}

for s in ${SCENARIOS:-gcm cbc frag}; do
  "scenario_$s"
done
log "done: $OUT"
