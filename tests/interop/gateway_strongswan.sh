#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# gateway_strongswan.sh: the site-to-site gateway (examples/gateway) against
# strongSwan's charon (Debian 12: 5.9.8, kernel-libipsec) in network
# namespaces. Per scenario, in fresh namespaces of its own (so that up to
# --jobs of them run at once):
#   gw  runs our gateway: outer 10.0.0.1 (veth), the inside host 10.1.1.1/32
#       on lo (our subnet 10.1.1.0/24); the gateway's TUN device and its
#       routes for the remote subnet carry the plaintext
#   sw  runs charon: outer 10.0.0.2, inside host 10.1.2.1/32 on lo
#       (10.1.2.0/24); kernel-libipsec: TUN ipsec0, routes in table 220
# Scenarios (aes256gcm16-prfsha256-x25519 / esp aes256gcm16 and PSK unless
# said otherwise; "gw" is our gateway):
#   a   gw initiates (start_action = start)
#   b   charon initiates, gw responds (start_action = none, remote_addrs = %any)
#   c   ECDSA P-256 certificates, gw initiates
#   d   RSA-2048 certificates, charon initiates
#   e   Ed25519 certificates, gw initiates
#   f   aes128-sha256-ecp256 / esp aes128-sha256 (AES-CBC + HMAC-SHA2-256)
#   g   chacha20poly1305-prfsha256-modp2048 / esp chacha20poly1305
#   h   NAT: gw (10.0.1.1) behind an nftables masquerade (random ports) in
#       a namespace between gw and sw: ESP in UDP 4500 on both links
#   h2  as h, then the tunnel idle for 27 s with the NAT's UDP timeouts at
#       25 s: the gateway's NAT-keepalives (RFC 3948 4) must hold the
#       mapping (3 pings each way pass afterwards)
#   i   IPv6 outer (fd00::1/fd00::2) and inner (fd01:1::1, fd01:2::1)
#   j   start_action = trap: the first ping triggers the IKE SA; after
#       charon deleted it, the next ping sets up new SAs
#   k   charon rekeys the child SA (rekey_time 5s) during 12 s of pings
#   l   gw rekeys the child SA (rekey_time = 5s) during 12 s of pings
#   m   gw rekeys the IKE SA (ike_rekey_time = 5s) during 12 s of pings
#   m2  charon rekeys the IKE SA (rekey_time 5s) during 12 s of pings
#   n   gw's DPD (dpd_delay = 2s, retransmit_timeout = 1s, tries 2); charon
#       killed (SIGKILL): gw reports ike_sa_down with peer_dead in time
#   o   gw stopped with SIGTERM deletes its SAs: charon holds none
#   o2  as o with charon silent (nftables drop): gw waits 2 s, exits 0
#   p   key_export: tshark decrypts the captured ESP and IKE with the
#       esp_sa and ikev2_decryption_table files the gateway wrote (also in
#       f, k, l, m, m2: AES-CBC + HMAC rows, rekeyed child and IKE SAs)
# Every scenario: the child SA comes up (both sides: the same IKE and ESP
# SPIs, algorithms, identities, traffic selectors; charon logged the
# peer's authentication), 3 pings each way between the inside hosts
# (10.1.1.1 <-> 10.1.2.1) all answered, charon and the gateway (status line,
# SIGUSR1) count them, and a capture on the outer link (dumpcap, read by
# tshark without keys) shows the echoes crossing as ESP (IP protocol 50 or
# UDP 4500) on the child SAs' SPIs and no packet of the inside addresses
# in the clear. The gateway then gets SIGTERM: it must exit 0 and remove
# its TUN device and routes. Rekey scenarios lose at most 1 ping of 60 each
# way and end with one child SA pair with the same (for k, l: new) SPIs on
# both sides.
#
# kernel-libipsec only does UDP-encapsulated ESP: charon fakes a NAT (a
# wrong NAT_DETECTION_SOURCE_IP) and the gateway must move to port 4500.
#
# Needs root, network namespaces and the packages scripts/setup.sh installs
# (strongswan-charon, strongswan-swanctl, libstrongswan-standard-plugins,
# libstrongswan-extra-plugins, libcharon-extra-plugins, iproute2,
# iputils-ping, openssl, tshark (with dumpcap), nftables). Without them it
# exits 77 (ctest: skipped), unless CI=true: then it fails.
#
# usage: gateway_strongswan.sh --gateway PATH/gateway --pki tests/data/ike/pki
#          [--only a,c] [--keep] [--jobs N]
# shellcheck disable=SC2317  # the body_* functions are called as "$body"
# shellcheck disable=SC2015  # "A && B || fail ...": fail only records a failure
set -uo pipefail

gateway="" pki="" only="" keep=0 jobs=6
while [ $# -gt 0 ]; do
  case "$1" in
    --gateway) gateway=$2; shift 2 ;;
    --pki) pki=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;     # keep the work directory (logs, captures) after a pass
    --jobs) jobs=$2; shift 2 ;;  # scenarios at once (default 6)
    *) echo "usage: $0 --gateway PATH --pki DIR [--only a,b,...] [--keep] [--jobs N]" >&2; exit 2 ;;
  esac
done

name=gateway_strongswan
# shellcheck source=tests/interop/scenarios.sh
source "$(dirname "$0")/scenarios.sh"

charon=/usr/lib/ipsec/charon
plugins=/usr/lib/ipsec/plugins
[ -x "$gateway" ] || { echo "gateway_strongswan: --gateway '$gateway' is not an executable" >&2; exit 2; }
[ -r "$pki/ec-ca.der" ] || { echo "gateway_strongswan: --pki '$pki' has no ec-ca.der" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "gateway_strongswan: --jobs wants a positive number" >&2; exit 2; }
gateway=$(realpath "$gateway") pki=$(realpath "$pki")
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, TUN devices, charon)"
for cmd in ip unshare mount openssl ping swanctl dumpcap tshark nft; do
  command -v $cmd > /dev/null || skip "$cmd is missing"
done
[ -x $charon ] || skip "$charon is missing (strongswan-charon)"
for p in kernel-libipsec kernel-netlink curve25519 chapoly openssl gcm kdf vici x509 pem pkcs8; do
  [ -e $plugins/libstrongswan-$p.so ] || skip "charon plugin $p is missing"
done
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
probe=gwprobe$$
ip netns add $probe 2> /dev/null || skip "cannot create network namespaces"
ip netns del $probe

work=$(mktemp -d /tmp/gw-sw.XXXXXX)  # short: vici socket paths must stay under 108 bytes
mkdir -p "$work/ws-empty"            # tshark without personal settings (no ESP keys)
trap cleanup EXIT
# The scenarios run in the background and clean up after themselves on SIGTERM.
trap 'echo "gateway_strongswan: interrupted; logs: $work"; kill "${bg[@]}" 2> /dev/null; wait; exit 130' INT TERM

psk="interop-psk-0123456789abcdef"
# The PKI for charon (the "b" side) in PEM, as swanctl expects it.
mkdir -p "$work/pem"
for alg in ec rsa ed25519; do
  if ! { openssl x509 -inform DER -in "$pki/$alg-ca.der" -out "$work/pem/$alg-ca.pem" &&
    openssl x509 -inform DER -in "$pki/$alg-b.der" -out "$work/pem/$alg-b.pem" &&
    openssl pkey -inform DER -in "$pki/$alg-b.key.der" -out "$work/pem/$alg-b.key.pem"; } 2> "$work/openssl.err"; then
    echo "gateway_strongswan: openssl could not convert the test PKI:" >&2
    cat "$work/openssl.err" >&2
    exit 1
  fi
done

# sw_ctl ARGS...: swanctl against this scenario's charon.
sw_ctl() { SWANCTL_DIR=$dir/charon/swanctl swanctl "$@" --uri "unix://$dir/charon/charon.vici"; }

# ---- one scenario's pieces (they use the scenario's local variables) ----

# setup_net: namespaces, links and addresses for net=v4|v6|nat (see the top).
setup_net() {
  namespaces+=("$gwns" "$swns")
  ip netns add "$gwns" && ip netns add "$swns" || { fail "cannot create namespaces"; return 1; }
  local ns v6off=1 nodad=""
  [ "$net" = v6 ] && v6off=0 nodad=nodad
  if [ "$net" = nat ]; then
    namespaces+=("$natns")
    ip netns add "$natns" && ip -n "$natns" link set lo up &&
      ip link add ext0 netns "$gwns" type veth peer name nat0 netns "$natns" &&
      ip link add nat1 netns "$natns" type veth peer name ext0 netns "$swns" &&
      ip netns exec "$natns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 &&
      ip -n "$natns" addr add 10.0.1.254/24 dev nat0 && ip -n "$natns" addr add 10.0.0.1/24 dev nat1 &&
      ip -n "$natns" link set nat0 up && ip -n "$natns" link set nat1 up || { fail "cannot set up the NAT"; return 1; }
    # Masquerade with random source ports: the gateway sees a real NAT (its
    # ports change too) and must keep to UDP 4500 (RFC 3948).
    printf '%s\n' 'table ip nat {' \
      '  chain post { type nat hook postrouting priority srcnat; policy accept; oifname "nat1" masquerade random; }' \
      '}' > "$dir/nat.nft"
    ip netns exec "$natns" nft -f "$dir/nat.nft" || { fail "nft: cannot load the NAT rules"; return 1; }
    # h2: the NAT forgets a UDP mapping after nat_udp_timeout s without packets.
    [ -z "$nat_udp_timeout" ] || ip netns exec "$natns" sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$nat_udp_timeout" \
      net.netfilter.nf_conntrack_udp_timeout_stream="$nat_udp_timeout" || { fail "cannot set the NAT's UDP timeouts"; return 1; }
  else
    ip link add ext0 netns "$gwns" type veth peer name ext0 netns "$swns" || { fail "cannot create the veth pair"; return 1; }
  fi
  for ns in "$gwns" "$swns"; do
    ip -n "$ns" link set lo up
    # IPv6 off unless used: no ND/MLD/RS in the captures.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=$v6off net.ipv6.conf.default.disable_ipv6=$v6off
  done
  ip -n "$gwns" addr add "$gw_out/$plen" dev ext0 $nodad && ip -n "$gwns" addr add "$gw_in/$hlen" dev lo $nodad &&
    ip -n "$gwns" link set ext0 up && ip -n "$swns" addr add "$sw_out/$plen" dev ext0 $nodad &&
    ip -n "$swns" addr add "$sw_in/$hlen" dev lo $nodad && ip -n "$swns" link set ext0 up ||
    { fail "cannot configure addresses"; return 1; }
  [ "$net" != nat ] || ip -n "$gwns" route add default via 10.0.1.254 || { fail "cannot add gw's default route"; return 1; }
  # One ping checks the path and resolves the neighbours.
  ip netns exec "$gwns" ping -c 1 -W 3 -q "$sw_out" > /dev/null 2>&1 || { fail "no connectivity $gw_out -> $sw_out"; return 1; }
}

# write_charon: strongswan.conf and swanctl.conf for this scenario's charon.
write_charon() {
  local d=$dir/charon local_auth="auth = psk" remote_auth="auth = psk"
  mkdir -p "$d/run" "$d"/swanctl/{conf.d,x509,x509ca,x509ocsp,x509aa,x509ac,x509crl,pubkey,private,rsa,ecdsa,bliss,pkcs8,pkcs12}
  # kernel-libipsec before kernel-netlink (the first IPsec backend wins);
  # kdf for the PRF-based key derivation; chapoly for scenario g. Short
  # retransmissions; a rekeyed child SA's inbound SA stays 1 s, not 5.
  cat > "$d/strongswan.conf" << EOF
charon {
  load = random nonce openssl aes sha1 sha2 hmac gcm chapoly kdf curve25519 x509 pem pkcs1 pkcs8 pubkey constraints revocation kernel-libipsec kernel-netlink socket-default vici
  delete_rekeyed_delay = 1
  retransmit_timeout = 1.0
  retransmit_base = 1.4
  retransmit_tries = 3
  plugins {
    vici {
      socket = unix://$d/charon.vici
    }
  }
  filelog {
    charon {
      path = $d/charon.log
      time_format = %T
      ike_name = yes
      flush_line = yes
      default = 1
      ike = 2
      cfg = 1
      enc = 1
      knl = 1
    }
  }
}
EOF
  if [ "$auth" != psk ]; then
    cp "$work/pem/$auth-ca.pem" "$d/swanctl/x509ca/"
    cp "$work/pem/$auth-b.pem" "$d/swanctl/x509/"
    cp "$work/pem/$auth-b.key.pem" "$d/swanctl/private/"
    local_auth=$'auth = pubkey\n      certs = '$auth-b.pem
    remote_auth="auth = pubkey"
  fi
  cat > "$d/swanctl/swanctl.conf" << EOF
connections {
  s2s {
    version = 2
    local_addrs = $sw_out
    remote_addrs = $sw_peer
    proposals = $ike
    mobike = no
    local {
      $local_auth
      id = b.example.test
    }
    remote {
      $remote_auth
      id = a.example.test
    }
    children {
      net {
        mode = tunnel
        local_ts = $sw_net
        remote_ts = $gw_net
        esp_proposals = $esp
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
  # swanctl merges sections of the same name: extra settings go last.
  [ -z "$sw_extra" ] || printf '%s\n' "$sw_extra" >> "$d/swanctl/swanctl.conf"
}

# start_charon: charon in sw with a private /run (its pid file path is
# compiled in), its own strongswan.conf, swanctl directory and vici socket.
start_charon() {
  write_charon
  rm -f "$dir/charon/charon.vici" "$dir/charon/run/charon.pid"
  ip netns exec "$swns" unshare -m --propagation private sh -c \
    "mount --bind $dir/charon/run /run && exec env STRONGSWAN_CONF=$dir/charon/strongswan.conf $charon" \
    > "$dir/charon/charon.out" 2>&1 < /dev/null &
  cpid=$!
  pids+=("$cpid")
  wait_for "[ -S $dir/charon/charon.vici ]" 10 || { fail "charon did not start"; return 1; }
  sw_ctl --load-all --noprompt > "$dir/swanctl-load.txt" 2>&1 || { fail "swanctl --load-all failed"; return 1; }
}

# write_gateway: the gateway's configuration file.
write_gateway() {
  local f=$dir/gateway.conf
  mkdir -p "$dir/keys"
  {
    echo "# gateway_strongswan.sh scenario $id: $desc"
    echo "[gateway]"
    echo "tun = $tun"
    if [ "$auth" != psk ]; then
      echo "cert = $pki/$auth-a.der"
      echo "key = $pki/$auth-a.key.der"
      echo "ca = $pki/$auth-ca.der"
    fi
    # KEYDIR: this scenario's key export directory.
    [ -z "$gw_global" ] || printf '%s\n' "${gw_global//KEYDIR/$dir/keys}"
    echo
    echo "[connection to-sw]"
    echo "local_addrs = $gw_out"
    echo "remote_addrs = $gw_peer"
    echo "local_id = fqdn:a.example.test"
    echo "remote_id = fqdn:b.example.test"
    if [ "$auth" = psk ]; then
      echo "auth = psk"
      echo "psk = \"$psk\""
    else
      echo "auth = pubkey"
    fi
    echo "proposals = $ike"
    echo "esp_proposals = $esp"
    echo "local_ts = $gw_net"
    echo "remote_ts = $sw_net"
    echo "start_action = $start_action"
    [ -z "$gw_conn" ] || printf '%s\n' "$gw_conn"
  } > "$f"
}

# start_gateway: --check the configuration, then run the gateway in gw.
start_gateway() {
  write_gateway
  if ! "$gateway" --config "$dir/gateway.conf" --check > "$dir/gateway-check.txt" 2>&1; then
    fail "gateway --check rejects the configuration: $(tr '\n' ' ' < "$dir/gateway-check.txt")"
    return 1
  fi
  ip netns exec "$gwns" "$gateway" --config "$dir/gateway.conf" --name gw --verbose > "$dir/gateway.txt" 2>&1 < /dev/null &
  gpid=$!
  pids+=("$gpid")
  wait_for "grep -qs '] listening on ' $dir/gateway.txt || ! alive $gpid" 5
  grep -qs '] listening on ' "$dir/gateway.txt" || { fail "gateway did not start (no 'listening on')"; return 1; }
}

# start_capture: dumpcap on the outer link (both links of the NAT in h).
start_capture() {
  local where=$swns ifs=(-i ext0)
  [ "$net" = nat ] && where=$natns ifs=(-i nat0 -i nat1)
  ip netns exec "$where" dumpcap -q "${ifs[@]}" -w "$dir/outer.pcapng" > /dev/null 2> "$dir/dumpcap.err" < /dev/null &
  cap=$!
  pids+=("$cap")
  wait_for "grep -qs Capturing $dir/dumpcap.err || ! alive $cap" 5
  grep -qs Capturing "$dir/dumpcap.err" || { fail "dumpcap did not start: $(cat "$dir/dumpcap.err")"; return 1; }
}
# stop_capture: dumpcap hands packets over in blocks on a timeout, and
# SIGINT drops a partly filled block: wait first.
stop_capture() {
  [ -n "$cap" ] || return 0
  sleep 1.2
  kill -INT "$cap" 2> /dev/null
  wait_for "! alive $cap" 5 || fail "dumpcap did not stop"
  wait "$cap" 2> /dev/null
  cap=""
}

# gw_child_spis: the gateway's child SAs "IN OUT" (hex, no 0x), one per
# child_sa_up event, oldest first.
gw_child_spis() {
  sed -n 's/.*] event child_sa_up .* SPIs 0x\([0-9a-f]*\)_i 0x\([0-9a-f]*\)_o .*/\1 \2/p' "$dir/gateway.txt"
}
# gw_live_child: the child SAs up and not deleted since ("IN OUT" lines).
gw_live_child() {
  local in out
  while read -r in out; do
    grep -q "] event child_sa_delete .* SPIs 0x${in}_i " "$dir/gateway.txt" || echo "$in $out"
  done < <(gw_child_spis)
}

# gw_status: the gateway's status line (SIGUSR1), into $status.
gw_status() {
  local before
  status=""
  before=$(grep -c '] status: ' "$dir/gateway.txt")
  kill -USR1 "$gpid" 2> /dev/null || return 1
  wait_for "[ \$(grep -c '] status: ' $dir/gateway.txt) -gt $before ]" 2 || return 1
  status=$(grep '] status: ' "$dir/gateway.txt" | tail -1)
}

# ping_both COUNT MAX_LOST: COUNT pings each way between the inside hosts,
# 5 a second, at the same time; at most MAX_LOST lost each way. Adds the
# replies to $replies (each one an ESP packet each way on the wire).
ping_both() {
  pings=$((pings + 1))
  local a=$dir/ping-$pings-gw.txt b=$dir/ping-$pings-sw.txt pa pb f got
  ip netns exec "$gwns" ping -c "$1" -i 0.2 -W 1 -I "$gw_in" "$sw_in" > "$a" 2>&1 &
  pa=$!
  ip netns exec "$swns" ping -c "$1" -i 0.2 -W 1 -I "$sw_in" "$gw_in" > "$b" 2>&1 &
  pb=$!
  pids+=("$pa" "$pb")
  wait "$pa" "$pb"
  for f in "$a" "$b"; do
    got=$(sed -n "s/^$1 packets transmitted, \([0-9]*\) received.*/\1/p" "$f")
    replies=$((replies + ${got:-0}))
    [ -n "$got" ] && [ "$got" -ge $(($1 - $2)) ] ||
      fail "ping ${f#"$dir"/}: $(grep transmitted "$f" || tail -1 "$f") (at most $2 of $1 lost)"
  done
}

# check_up: right after the child SA came up: charon's view (swanctl
# --list-sas) agrees with the gateway's events.
check_up() {
  local f=$dir/list-sas.txt
  wait_for "sw_ctl --list-sas > $f 2>&1; grep -q INSTALLED $f" 3 || { fail "charon: no INSTALLED child SA"; return 1; }
  local want
  for want in "ESTABLISHED" "$ike_algs" "ESP:$esp_algs" "local  'b.example.test' @ $sw_out\[4500\]" \
    "remote 'a.example.test' @ $sw_peer\[" "local  $sw_net\$" "remote $gw_net\$"; do
    grep -q -- "$want" "$f" || fail "charon: no '$want' in swanctl --list-sas (list-sas.txt)"
  done
  grep -Eq "INSTALLED, TUNNEL(-in-UDP)?," "$f" || fail "charon: the child SA is not INSTALLED in tunnel mode"
  local method="pre-shared key"
  case $auth in
    ec) method=ECDSA_WITH_SHA256_DER ;;
    rsa) method=RSA_EMSA_PKCS1_SHA2_256 ;;
    ed25519) method=ED25519 ;;
  esac
  grep -q "authentication of 'a.example.test' with $method successful" "$dir/charon/charon.log" ||
    fail "charon: no \"authentication of 'a.example.test' with $method successful\""
  # The same IKE SPIs (charon marks its own with *) and ESP SPIs (our inbound is charon's outbound).
  local spi_i spi_r in out
  read -r spi_i spi_r <<< "$(sed -n 's/.*] event ike_sa_up .* SPIs \([0-9a-f]*\)_i \([0-9a-f]*\)_r .*/\1 \2/p' \
    "$dir/gateway.txt" | head -1)"
  read -r in out <<< "$(gw_child_spis | head -1)"
  if [ -z "$spi_r" ] || [ -z "$out" ]; then
    fail "gateway: no ike_sa_up or child_sa_up event with SPIs"
    return 1
  fi
  grep -Eq "^s2s: #[0-9]+, ESTABLISHED, IKEv2, ${spi_i}_i\*? ${spi_r}_r" "$f" ||
    fail "charon: IKE SPIs differ from the gateway's (${spi_i}_i ${spi_r}_r)"
  grep -Eq "^ +out $in," "$f" && grep -Eq "^ +in +$out," "$f" ||
    fail "charon: ESP SPIs differ from the gateway's (in 0x$in, out 0x$out)"
  local ip_version=4
  [ "$net" = v6 ] && ip_version=6
  grep -q "] event child_sa_up .* tunnel.* $gw_net === $sw_net" "$dir/gateway.txt" ||
    fail "gateway: child_sa_up is not 'tunnel ... $gw_net === $sw_net'"
  ip -n "$gwns" -$ip_version route show "$sw_net" | grep -q "dev $tun" ||
    fail "gateway: no route for $sw_net via $tun in gw"
}

# check_traffic: after the pings: charon and the gateway counted them.
check_traffic() {
  local f=$dir/list-sas-traffic.txt n
  sw_ctl --list-sas > "$f" 2>&1
  # charon: its current child SA saw at least the last ping round's packets.
  n=$(sed -n 's/^ \+in \+[0-9a-f]*, \+[0-9]* bytes, \+\([0-9]*\) packets.*/\1/p' "$f" | tail -1)
  [ "${n:-0}" -ge "$1" ] || fail "charon: ${n:-0} packets in on the child SA, not at least $1 (list-sas-traffic.txt)"
  n=$(sed -n 's/^ \+out \+[0-9a-f]*, \+[0-9]* bytes, \+\([0-9]*\) packets.*/\1/p' "$f" | tail -1)
  [ "${n:-0}" -ge "$1" ] || fail "charon: ${n:-0} packets out on the child SA, not at least $1 (list-sas-traffic.txt)"
  if ! gw_status; then
    fail "gateway: no status line on SIGUSR1"
    return
  fi
  local tun_in tun_out esp_in esp_out drops
  read -r tun_in tun_out esp_in esp_out drops <<< "$(sed -n \
    's/.*; tun [^:]*: in \([0-9]*\) packets [0-9]* bytes, out \([0-9]*\) packets [0-9]* bytes; esp: in \([0-9]*\), out \([0-9]*\), drops \([0-9]*\).*/\1 \2 \3 \4 \5/p' \
    <<< "$status")"
  if [ -z "$drops" ]; then
    fail "gateway: status line not as specified: $status"
    return
  fi
  [ "$tun_in" -ge "$replies" ] && [ "$tun_out" -ge "$replies" ] && [ "$esp_in" -ge "$replies" ] &&
    [ "$esp_out" -ge "$replies" ] || fail "gateway: counters below the $replies echo round trips: $status"
  [ "$strict_drops" = 0 ] || [ "$drops" -eq 0 ] || fail "gateway: drops in its status line: $status"
}

# check_capture: the outer link as captured (tshark without keys): every
# echo round trip crossed as one ESP packet each way, on the gateway's
# child SAs' SPIs, as raw ESP or in UDP 4500 (with h: UDP 4500 on both
# links); no packet from or to an inside address in the clear.
check_capture() {
  [ -s "$dir/outer.pcapng" ] || { fail "no capture"; return; }
  local filter="esp || ip.addr == $gw_in || ip.addr == $sw_in"
  [ "$net" = v6 ] && filter="esp || ipv6.addr == $gw_in || ipv6.addr == $sw_in"
  WIRESHARK_CONFIG_DIR=$work/ws-empty tshark -n -r "$dir/outer.pcapng" -Y "$filter" -T fields \
    -e frame.interface_name -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e udp.srcport -e udp.dstport \
    -e esp.spi -e icmp.type -e icmpv6.type > "$dir/outer.txt" 2> "$dir/tshark.err" ||
    { fail "tshark cannot read the capture: $(grep -v 'Running as user' "$dir/tshark.err")"; return; }
  # The link whose ESP is judged: the outer veth (h: the NAT's outside, nat1).
  local link=ext0 gw_seen=$gw_out
  [ "$net" = nat ] && link=nat1 gw_seen=10.0.0.1
  local spis_out spis_in
  spis_out=$(gw_child_spis | awk '{ print "0x" $2 }' | tr '\n' ' ')
  spis_in=$(gw_child_spis | awk '{ print "0x" $1 }' | tr '\n' ' ')
  local summary
  summary=$(awk -F'\t' -v link="$link" -v gw="$gw_seen" -v sw="$sw_out" \
    -v outs="$spis_out" -v ins="$spis_in" -v nat="$net" '
    BEGIN { n = split(outs, a, " "); for (i = 1; i <= n; i++) ours_out[a[i]] = 1
            n = split(ins, a, " "); for (i = 1; i <= n; i++) ours_in[a[i]] = 1 }
    {
      src = $2 $3; dst = $4 $5; sub(/,.*/, "", src); sub(/,.*/, "", dst)
      if ($8 == "") { clear++; if (clear <= 3) leak = leak " " src "->" dst; next }
      if ($9 != "" || $10 != "") { icmp_errors++; next }  # ESP quoted in an ICMP error (h2: a lost NAT mapping)
      spi = $8; sub(/,.*/, "", spi)
      udp = ($6 != "")
      if ($1 != link) {  # h: the inside link, gw 10.0.1.1 <-> sw, both ports 4500
        inside++
        if (!(udp && $6 == 4500 && $7 == 4500)) bad_inside++
        next
      }
      if (src == gw && dst == sw) { dir = "out"; ok = (spi in ours_out) } else if (src == sw && dst == gw) { dir = "in"; ok = (spi in ours_in) }
      else { other++; next }
      count[dir]++; spis[dir, spi] = 1
      if (!ok) { foreign[dir]++; if (!(dir spi in seen)) { seen[dir spi] = 1; foreign_spis = foreign_spis " " spi } }
      if (udp) {
        # ESP in UDP (RFC 3948): charon always on 4500; the gateway on 4500 unless NATed.
        port_ok = (dir == "out") ? ($7 == 4500 && (nat == "nat" || $6 == 4500)) : ($6 == 4500 && (nat == "nat" || $7 == 4500))
        udp_n[dir]++; if (!port_ok) bad_ports++
      } else raw[dir]++
    }
    END {
      for (k in spis) { split(k, p, SUBSEP); distinct[p[1]]++ }
      printf "out=%d in=%d udp_out=%d udp_in=%d raw_out=%d raw_in=%d spis_out=%d spis_in=%d foreign_out=%d foreign_in=%d bad_ports=%d clear=%d other=%d icmp_errors=%d inside=%d bad_inside=%d\n",
        count["out"], count["in"], udp_n["out"], udp_n["in"], raw["out"], raw["in"], distinct["out"], distinct["in"],
        foreign["out"], foreign["in"], bad_ports, clear, other, icmp_errors, inside, bad_inside
      printf "leak=%s\nforeign_spis=%s\n", leak, foreign_spis
    }' "$dir/outer.txt")
  echo "capture ($link): $(head -1 <<< "$summary")"
  local out=0 in=0 udp_out=0 udp_in=0 spis_out=0 spis_in=0 foreign_out=0 foreign_in=0 \
    bad_ports=0 clear=0 inside=0 bad_inside=0 kv
  for kv in $(head -1 <<< "$summary"); do
    case ${kv%%=*} in raw_* | other | icmp_errors) continue ;; esac  # shown above, not judged
    local "${kv%%=*}=${kv#*=}"
  done
  [ "$out" -ge "$replies" ] && [ "$in" -ge "$replies" ] ||
    fail "capture: ESP packets gw->sw $out, sw->gw $in, not at least the $replies echo round trips each way"
  [ "$clear" -eq 0 ] || fail "capture: $clear packets of the inside addresses in the clear:$(sed -n 's/^leak=//p' <<< "$summary")"
  [ $((foreign_out + foreign_in)) -eq 0 ] ||
    fail "capture: ESP on SPIs the gateway never announced:$(sed -n 's/^foreign_spis=//p' <<< "$summary")"
  [ "$bad_ports" -eq 0 ] || fail "capture: $bad_ports ESP-in-UDP packets not on port 4500"
  [ "$spis_out" -ge "$min_spis" ] && [ "$spis_in" -ge "$min_spis" ] ||
    fail "capture: ESP on $spis_out SPIs gw->sw and $spis_in sw->gw, not at least $min_spis each"
  if [ "$net" = nat ]; then
    [ "$udp_out" -eq "$out" ] && [ "$udp_in" -eq "$in" ] || fail "capture: ESP not in UDP behind the NAT"
    [ "$inside" -ge $((2 * replies)) ] && [ "$bad_inside" -eq 0 ] ||
      fail "capture: ESP between the gateway and the NAT: $inside packets ($bad_inside not UDP 4500->4500)"
  fi
}

# stop_gateway: SIGTERM; it must exit 0 within 5 s (it waits up to 2 s for
# the answers to its Deletes) and remove its TUN device and routes.
stop_gateway() {
  [ -n "$gpid" ] || return 0
  local rc=0 t0
  t0=$(now_ms)
  kill -TERM "$gpid" 2> /dev/null
  if ! wait_for "! alive $gpid" 5; then
    fail "gateway: still running 5 s after SIGTERM"
    kill -9 "$gpid"
  fi
  wait "$gpid" || rc=$?
  stopped_ms=$(($(now_ms) - t0))
  gpid=""
  [ "$rc" -eq 0 ] || fail "gateway exited with $rc after SIGTERM"
  grep -q "] exit 0" "$dir/gateway.txt" || fail "gateway: no 'exit 0' line"
  ! ip -n "$gwns" link show "$tun" > /dev/null 2>&1 || fail "gateway: TUN $tun still exists after exit"
  ! ip -n "$gwns" route show | grep -q "dev $tun" || fail "gateway: routes via $tun left after exit"
}

# ---- scenario bodies: after the SAs are up and 3 pings each way ----

# body_child_rekey WHO(charon|gw): 60 pings each way (12 s) while WHO
# rekeys the child SA every ~5 s: at most 1 lost each way, at least 2
# rekeys, the old SAs deleted; then one child SA pair on both sides with
# the same, new SPIs (and the capture shows at least 3 SPIs each way).
body_child_rekey() {
  local first
  first=$(gw_child_spis | head -1)
  ping_both 60 1
  local rekeys="CREATE_CHILD_SA request [0-9]+ \[ N\(REKEY_SA\)"
  if [ "$1" = charon ]; then
    at_least 2 "generating $rekeys" "$dir/charon/charon.log" "charon: child SA rekeys it initiated"
    at_least 2 "received $rekeys" "$dir/gateway.txt" "gateway: child SA rekeys it answered"
  else
    at_least 2 "sending $rekeys" "$dir/gateway.txt" "gateway: child SA rekeys it initiated"
    at_least 2 "parsed $rekeys" "$dir/charon/charon.log" "charon: child SA rekeys it answered"
  fi
  at_least 3 "] event child_sa_up " "$dir/gateway.txt" "gateway: child SAs up (the first and 2 rekeys)"
  at_least 2 "] event child_sa_delete " "$dir/gateway.txt" "gateway: old child SAs deleted"
  ! grep -Eq "] event child_sa_(failed|delete .*expired)" "$dir/gateway.txt" || fail "gateway: a child SA failed or expired"
  settle || return
  local live
  live=$(gw_live_child)
  [ "$live" != "$first" ] || fail "gateway: the child SA pair is still the first ($first)"
}

# body_ike_rekey WHO(charon|gw): 60 pings each way (12 s) while WHO rekeys
# the IKE SA every ~5 s: at most 1 lost each way, at least 2 rekeys, the
# child SA moved (not deleted); then one IKE SA on both sides with the
# gateway's newest SPIs, and the first child SA still.
body_ike_rekey() {
  local first_ike first_child
  first_ike=$(sed -n 's/.*] event ike_sa_up <[^|]*|\([0-9a-f]*\)>.*/\1/p' "$dir/gateway.txt" | head -1)
  first_child=$(gw_child_spis | head -1)
  ping_both 60 1
  local rekeys="CREATE_CHILD_SA request [0-9]+ \[ SA No KE \]"
  if [ "$1" = charon ]; then
    at_least 2 "generating $rekeys" "$dir/charon/charon.log" "charon: IKE SA rekeys it initiated"
    at_least 2 "received $rekeys" "$dir/gateway.txt" "gateway: IKE SA rekeys it answered"
  else
    at_least 2 "sending $rekeys" "$dir/gateway.txt" "gateway: IKE SA rekeys it initiated"
    at_least 2 "parsed $rekeys" "$dir/charon/charon.log" "charon: IKE SA rekeys it answered"
  fi
  at_least 2 "] event ike_sa_rekeyed <[^|]*\|[0-9a-f]+> replaces " "$dir/gateway.txt" "gateway: ike_sa_rekeyed events"
  ! grep -Eq "] event (child_sa_delete|child_sa_failed|ike_sa_down)" "$dir/gateway.txt" ||
    fail "gateway: a child SA or IKE SA went down (the child SA must move to the new IKE SA)"
  # Settled means charon's IKE SA is the gateway's newest (a rekey may
  # still be under way when the pings end).
  local newest
  settle charon_on_newest_ike || {
    fail "charon: its IKE SA is not the gateway's newest (${newest:-none}) (list-sas-settled.txt)"
    return
  }
  [ -n "$newest" ] && [ "$newest" != "$first_ike" ] || fail "gateway: still the first IKE SA $first_ike"
  [ "$(gw_live_child)" = "$first_child" ] || fail "gateway: the child SA changed ($first_child -> $(gw_live_child))"
  # Each replaced IKE SA was deleted (a Delete either way).
  local old
  while read -r old; do
    grep -Eq "log: <[^|]*\|$old> IKE SA down: (deleted|deleted by the peer|rekeyed)" "$dir/gateway.txt" ||
      fail "gateway: the replaced IKE SA $old was not deleted"
  done < <(sed -n 's/.*] event ike_sa_rekeyed <[^|]*|[0-9a-f]*> replaces \([0-9a-f]*\)$/\1/p' "$dir/gateway.txt")
}

# charon_on_newest_ike (for settle): charon's one IKE SA is the gateway's
# newest (sets newest).
charon_on_newest_ike() {
  newest=$(gw_newest_ike)
  grep -Eq "^s2s: #[0-9]+, ESTABLISHED, IKEv2, ([0-9a-f]+_i\*? )?${newest:-none}_[ir]" "$dir/list-sas-settled.txt"
}
# gw_newest_ike: the gateway's newest IKE SA (after its rekeys).
gw_newest_ike() {
  sed -n 's/.*] event ike_sa_rekeyed <[^|]*|\([0-9a-f]*\)> replaces .*/\1/p; s/.*] event ike_sa_up <[^|]*|\([0-9a-f]*\)>.*/\1/p' \
    "$dir/gateway.txt" | tail -1
}

# settle [CONDITION]: within 5 s both sides hold one IKE SA and one child SA
# pair with the same SPIs: charon's list-sas (a rekeyed child SA's inbound
# half may linger, state DELETED or REKEYED) and the gateway's status line;
# CONDITION (eval'd, $f is charon's list-sas) must hold too.
settle() {
  local f=$dir/list-sas-settled.txt _ in out
  for _ in $(seq 10); do
    read -r in out <<< "$(gw_live_child)"
    sw_ctl --list-sas > "$f" 2>&1
    if [ "$(grep -c '^s2s: #' "$f")" -eq 1 ] && [ "$(grep -c '^  net: #.*INSTALLED' "$f")" -eq 1 ] &&
      [ "$(gw_live_child | wc -l)" -eq 1 ] && grep -Eq "^ +out $in," "$f" && grep -Eq "^ +in +$out," "$f" &&
      gw_status && [[ "$status" == *"status: 1 IKE SA(s), 1 established, 1 child SA(s);"* ]] && eval "${1:-true}"; then
      return 0
    fi
    sleep 0.5
  done
  fail "not settled: want 1 IKE SA and 1 child SA pair, the same SPIs on both sides; charon:" \
    "$(grep -c '^s2s: #' "$f") IKE SA(s), $(grep -c '^  net: #.*INSTALLED' "$f") installed child SA(s)" \
    "(list-sas-settled.txt); gateway: live child SAs: $(gw_live_child | tr '\n' ';') ${status:-no status line}"
  return 1
}

# body_dpd: the gateway's DPD (dpd_delay, retransmit_* from its config) on
# the idle tunnel: once a DPD request was answered, charon is killed
# (SIGKILL: no Delete). The gateway must report ike_sa_down with peer_dead
# dpd_delay + retransmit_timeout * (1 + base + ... + base^tries) after it
# last heard from charon (its own clock), its child SA deleted.
body_dpd() {
  local dpd rt base tries c=$dir/gateway.conf
  dpd=$(conf_seconds "$c" dpd_delay 30) rt=$(conf_seconds "$c" retransmit_timeout 4)
  base=$(conf_seconds "$c" retransmit_base 1.8) tries=$(conf_seconds "$c" retransmit_tries 5)
  if ! wait_for "grep -Eq 'received INFORMATIONAL response [0-9]+ \[ \]' $dir/gateway.txt" "$dpd + 3"; then
    fail "gateway: no DPD exchange (empty INFORMATIONAL) within $dpd + 3 s"
    return
  fi
  local killed t0 ms
  killed=$(cat "$dir/charon/run/charon.pid" 2> /dev/null)
  [ -n "$killed" ] || { fail "no charon pid file"; return; }
  echo "DPD: dpd_delay $dpd s, retransmit_timeout $rt s, retransmit_base $base, retransmit_tries $tries"
  t0=$(now_ms)
  kill -9 "$killed"
  [ "$killed" != "$cpid" ] || { wait "$cpid"; } 2> /dev/null  # no "Killed" job message
  local expect
  expect=$(awk -v d="$dpd" -v r="$rt" -v b="$base" -v n="$tries" 'BEGIN { s = 0; for (k = 0; k <= n; k++) s += r * b ^ k; print d + s }')
  if ! wait_for "grep -q '] event ike_sa_down' $dir/gateway.txt" "$(awk -v e="$expect" 'BEGIN { print e + 3 }')"; then
    fail "gateway: no ike_sa_down within $expect + 3 s of charon's death"
    return
  fi
  ms=$(($(now_ms) - t0))
  # On the gateway's clock: from the last message it received to ike_sa_down.
  local heard down
  heard=$(sed -n '/] event ike_sa_down/q; s/^\[gw *\([0-9.]*\)\] log: .* received .*/\1/p' "$dir/gateway.txt" | tail -1)
  down=$(sed -n 's/^\[gw *\([0-9.]*\)\] event ike_sa_down.*/\1/p' "$dir/gateway.txt" | head -1)
  local took
  took=$(awk -v h="${heard:-0}" -v d="$down" 'BEGIN { printf "%.3f", d - h }')
  echo "ike_sa_down $ms ms after charon was killed, $took s after the gateway last heard from it (expected $expect s)"
  awk -v t="$took" -v e="$expect" 'BEGIN { exit !(t >= e - 0.2 && t <= e + 1.0) }' ||
    fail "gateway: ike_sa_down $took s after it last heard from charon, not $expect s (-0.2/+1.0)"
  [ "$ms" -le "$(awk -v e="$expect" 'BEGIN { print int((e + 1.5) * 1000) }')" ] ||
    fail "gateway: ike_sa_down $ms ms after charon was killed, more than $expect + 1.5 s"
  grep -Eq "] event ike_sa_down .*peer not responding.*\(peer_dead\)|] event peer_dead" "$dir/gateway.txt" ||
    fail "gateway: ike_sa_down without peer_dead"
  at_least "$tries" "retransmit [0-9]+ of request" "$dir/gateway.txt" "gateway: DPD retransmissions"
  grep -q "] event child_sa_delete" "$dir/gateway.txt" || fail "gateway: no child_sa_delete"
  cpid=""  # nothing left to stop
}

# body_delete: SIGTERM: the gateway deletes the IKE SA (INFORMATIONAL
# { D }, answered), exits 0 within 3 s, and charon holds no SA.
body_delete() {
  stop_gateway
  echo "the gateway exited $stopped_ms ms after SIGTERM"
  [ "$stopped_ms" -le 3000 ] || fail "gateway: exit took $stopped_ms ms after SIGTERM (the Delete is answered at once)"
  grep -Eq "parsed INFORMATIONAL request [0-9]+ \[ D \]" "$dir/charon/charon.log" &&
    grep -Eq "generating INFORMATIONAL response [0-9]+ \[ \]" "$dir/charon/charon.log" ||
    fail "charon: no INFORMATIONAL { D } request from the gateway answered"
  grep -q "] event ike_sa_down .*deleted" "$dir/gateway.txt" || fail "gateway: no ike_sa_down 'deleted'"
  sw_ctl --list-sas > "$dir/list-sas-after.txt" 2>&1
  ! grep -q '^s2s: #' "$dir/list-sas-after.txt" || fail "charon: still holds an IKE SA (list-sas-after.txt)"
  [ -z "$(ip -n "$swns" route show table 220 2> /dev/null)" ] || fail "charon: routes left in table 220"
}

# body_unanswered_delete: charon stops answering (nftables drops UDP 500
# and 4500 in sw): on SIGTERM the gateway sends its Delete, waits up to 2 s
# for the answer, and exits 0 (within 2-3.5 s).
body_unanswered_delete() {
  printf '%s\n' 'table inet blk {' \
    '  chain in { type filter hook input priority 0; policy accept; udp dport { 500, 4500 } drop; }' '}' > "$dir/blk.nft"
  ip netns exec "$swns" nft -f "$dir/blk.nft" || { fail "nft: cannot block charon's input"; return; }
  stop_gateway
  echo "the gateway exited $stopped_ms ms after SIGTERM (charon not answering)"
  [ "$stopped_ms" -ge 1800 ] && [ "$stopped_ms" -le 3500 ] ||
    fail "gateway: exit $stopped_ms ms after SIGTERM with the peer silent, not after its 2 s wait (1.8-3.5 s)"
  grep -Eq "sending INFORMATIONAL request [0-9]+ \[ D \]" "$dir/gateway.txt" || fail "gateway: no Delete sent"
}

# body_nat_idle (h2): the tunnel idle for longer than the NAT keeps a UDP
# mapping (nat_udp_timeout, 25 s): the gateway behind the NAT must keep
# its mapping with NAT-keepalives (RFC 3948 4: every 20 s by default;
# check_keepalives counts them), so that 3 pings each way pass afterwards.
body_nat_idle() {
  local idle=$((nat_udp_timeout + 2))
  echo "idle for $idle s (the NAT drops UDP mappings after $nat_udp_timeout s without packets)"
  sleep "$idle"
  ping_both 3 0
}
# check_keepalives (h2, after the capture): NAT-keepalives (UDP 4500, one
# octet 0xFF) from the gateway on the link between it and the NAT.
check_keepalives() {
  local n
  n=$(WIRESHARK_CONFIG_DIR=$work/ws-empty tshark -n -r "$dir/outer.pcapng" \
    -Y "udpencap.nat_keepalive && ip.src == $gw_out && frame.interface_name == nat0" 2> /dev/null | wc -l)
  echo "NAT-keepalives from the gateway: $n"
  [ "$n" -ge 1 ] || fail "gateway: no NAT-keepalive in $nat_udp_timeout s + 2 s of idle tunnel behind the NAT (RFC 3948 4)"
}

# body_trap_again (j): charon deletes the IKE SA; the trap stays: the next
# ping sets up new SAs (a second IKE_SA_INIT), and 3 pings each way pass.
body_trap_again() {
  sw_ctl --terminate --ike s2s --timeout 5 > "$dir/swanctl-terminate.txt" 2>&1 || fail "swanctl --terminate failed"
  wait_for "grep -q '] event ike_sa_down' $dir/gateway.txt" 3 || { fail "gateway: no ike_sa_down after charon's Delete"; return; }
  ip netns exec "$gwns" ping -c 5 -i 0.2 -W 3 -I "$gw_in" "$sw_in" > "$dir/ping-trap-again.txt" 2>&1
  local got
  got=$(sed -n 's/^5 packets transmitted, \([0-9]*\) received.*/\1/p' "$dir/ping-trap-again.txt")
  echo "trap again: $got of 5 pings answered while new SAs came up"
  [ "${got:-0}" -ge 3 ] || fail "trap again: ${got:-0} of 5 pings answered (want at least 3)"
  [ "$(grep -c "sending IKE_SA_INIT request" "$dir/gateway.txt")" -ge 2 ] || fail "gateway: no second IKE_SA_INIT"
  wait_for "[ \$(grep -c '] event child_sa_up' $dir/gateway.txt) -ge 2 ]" 3 || { fail "gateway: no second child SA"; return; }
  ping_both 3 0
}

# check_keys (after the capture; with key_export = KEYDIR): tshark with the
# gateway's esp_sa and ikev2_decryption_table (Wireshark UAT files)
# decrypts every captured ESP packet (all of them ICMP echoes between the
# inside hosts, ICV good; at least 3 requests and replies each way) and
# every encrypted IKE message (IKE_AUTH and later, with rekeys: new keys)
# without an expert warning.
check_keys() {
  local k=$dir/keys f
  for f in esp_sa ikev2_decryption_table; do
    [ -s "$k/$f" ] || { fail "key_export: no $k/$f"; return; }
  done
  check_decryption "$k" "$gw_in" "$sw_in" gw sw
}

# ---- running the scenarios ----

# scenario ID DESCRIPTION [KEY=VALUE...]: run one in the background (at
# most --jobs at once). Keys: init (gw|sw|trap), auth (psk|ec|rsa|ed25519),
# net (v4|v6|nat), ike, esp, ike_algs, esp_algs (charon's names, checked
# in swanctl --list-sas), gw_global, gw_conn (lines added to the
# gateway's [gateway] and [connection] sections), sw_extra (appended to
# swanctl.conf), body, post (after the capture), min_spis, strict_drops.

run_scenario() {
  local id=$1 desc=$2
  shift 2
  scenario_traps
  local init=gw auth=psk net=v4 ike=aes256gcm16-prfsha256-x25519 esp=aes256gcm16
  local ike_algs=AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519 esp_algs=AES_GCM_16-256
  local gw_global="" gw_conn="" sw_extra="" body="" post="" min_spis=1 strict_drops=1 nat_udp_timeout="" kv
  for kv in "$@"; do local "${kv%%=*}=${kv#*=}"; done
  local started dir=$work/$id fails=() pings=0 replies=0 status="" stopped_ms=0
  local gwns=gsgw$$$id swns=gssw$$$id natns=gsnat$$$id tun=gwtun cpid="" gpid="" cap=""
  local gw_out=10.0.0.1 sw_out=10.0.0.2 plen=24 gw_in=10.1.1.1 sw_in=10.1.2.1 hlen=32
  local gw_net=10.1.1.0/24 sw_net=10.1.2.0/24
  if [ "$net" = v6 ]; then
    gw_out=fd00::1 sw_out=fd00::2 plen=64 gw_in=fd01:1::1 sw_in=fd01:2::1 hlen=128
    gw_net=fd01:1::/64 sw_net=fd01:2::/64
  fi
  [ "$net" = nat ] && gw_out=10.0.1.1
  local sw_peer=$gw_out gw_peer=$sw_out start_action=start
  [ "$net" = nat ] && sw_peer=10.0.0.1  # charon sees the NAT's address
  [ "$init" = sw ] && start_action=none
  [ "$init" = trap ] && start_action="trap"
  [ "$id" = b ] && gw_peer=%any
  started=$(date +%s%N)
  echo "=== $id: $desc"

  if setup_net && start_charon && start_capture && start_gateway; then
    local up=1
    case $init in
      sw)
        sw_ctl --initiate --child net --timeout 10 > "$dir/swanctl-initiate.txt" 2>&1 || fail "swanctl --initiate failed"
        ;;
      trap)
        # Nothing until the first packet: then the ACQUIRE starts the IKE SA.
        sleep 1
        ! grep -q "IKE_SA_INIT" "$dir/gateway.txt" || fail "gateway: IKE_SA_INIT before any packet (start_action = trap)"
        sw_ctl --list-sas > "$dir/list-sas-before.txt" 2>&1
        ! grep -q '^s2s: #' "$dir/list-sas-before.txt" || fail "charon: an IKE SA before the first packet"
        ip netns exec "$gwns" ping -c 5 -i 0.2 -W 3 -I "$gw_in" "$sw_in" > "$dir/ping-trap.txt" 2>&1
        local got
        got=$(sed -n 's/^5 packets transmitted, \([0-9]*\) received.*/\1/p' "$dir/ping-trap.txt")
        echo "trap: $got of 5 pings answered while the SAs came up"
        [ "${got:-0}" -ge 3 ] || fail "trap: ${got:-0} of 5 pings answered (want at least 3)"
        grep -q "sending IKE_SA_INIT request" "$dir/gateway.txt" || fail "gateway: no IKE_SA_INIT after the first packet"
        ;;
    esac
    if ! wait_for "grep -qs '] event child_sa_up' $dir/gateway.txt || ! alive $gpid" 10 ||
      ! grep -qs '] event child_sa_up' "$dir/gateway.txt"; then
      fail "gateway: no child SA (no child_sa_up event)"
      up=0
    fi
    if [ "$up" = 1 ] && [ "$net" = nat ]; then  # a real NAT, seen by both
      grep -q "] event ike_sa_up .*, NAT detected" "$dir/gateway.txt" || fail "gateway: ike_sa_up without 'NAT detected'"
      grep -q "remote host is behind NAT" "$dir/charon/charon.log" || fail "charon: no 'remote host is behind NAT'"
    fi
    if [ "$up" = 1 ] && check_up; then
      ping_both 3 0
      check_traffic "$replies"
      [ -z "$body" ] || $body
    fi
  fi
  stop_gateway
  stop_capture
  check_capture
  [ -z "$post" ] || $post
  ! grep -q "] log error: " "$dir/gateway.txt" 2> /dev/null || fail "gateway: engine error lines ('log error:')"
  cleanup
  local tenths=$((($(date +%s%N) - started) / 100000000))
  if [ ${#fails[@]} -eq 0 ]; then
    echo "PASS $tenths" > "$dir/result"
  else
    echo "FAIL $tenths" > "$dir/result"
    echo "--- $id FAILED:"
    printf '    %s\n' "${fails[@]}"
    local f
    for f in gateway-check.txt gateway.txt swanctl-load.txt swanctl-initiate.txt list-sas.txt list-sas-settled.txt \
      ping-trap.txt dumpcap.err charon/charon.out; do
      [ -s "$dir/$f" ] || continue
      echo "--- $id: $f"
      cat "$dir/$f"
    done
    echo "--- $id: charon/charon.log (last 80 lines; all of it in $dir)"
    tail -80 "$dir/charon/charon.log" 2> /dev/null
  fi
}

child5=$'connections {\n  s2s {\n    children {\n      net {\n        rekey_time = 5s\n        rand_time = 1s\n      }\n    }\n  }\n}'
ike5=$'connections {\n  s2s {\n    rekey_time = 5s\n    over_time = 5s\n    rand_time = 1s\n  }\n}'
cbc=(ike=aes128-sha256-ecp256 esp=aes128-sha256 ike_algs=AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256
  esp_algs=AES_CBC-128/HMAC_SHA2_256_128)
# key_export into the scenario's keys/, read by tshark after the capture
# (tshark 4.0 has no ChaCha20-Poly1305; behind the NAT its ESP rows name
# the addresses the gateway sees, not the outside ones).
keys=("gw_global=key_export = KEYDIR" post=check_keys)
chacha=(ike=chacha20poly1305-prfsha256-modp2048 esp=chacha20poly1305
  ike_algs=CHACHA20_POLY1305/PRF_HMAC_SHA2_256/MODP_2048 esp_algs=CHACHA20_POLY1305)

# The long ones first (they mostly wait for timers).
scenario h2 "NAT as h, the tunnel idle 27 s (the NAT forgets UDP mappings after 25 s): NAT-keepalives hold it" \
  net=nat nat_udp_timeout=25 gw_conn="dpd_delay = 0" body=body_nat_idle post=check_keepalives
scenario k "charon rekeys the child SA (rekey_time 5s) during 12 s of pings both ways; key export" init=gw \
  sw_extra="$child5" body="body_child_rekey charon" min_spis=3 strict_drops=0 "${keys[@]}"
scenario l "gateway rekeys the child SA (rekey_time = 5s) during 12 s of pings both ways; key export" init=sw \
  gw_conn="rekey_time = 5s" body="body_child_rekey gw" min_spis=3 strict_drops=0 "${keys[@]}"
scenario m "gateway rekeys the IKE SA (ike_rekey_time = 5s) during 12 s of pings both ways; key export" init=gw \
  gw_conn="ike_rekey_time = 5s" body="body_ike_rekey gw" strict_drops=0 "${keys[@]}"
scenario m2 "charon rekeys the IKE SA (rekey_time 5s) during 12 s of pings both ways; key export" init=sw \
  sw_extra="$ike5" body="body_ike_rekey charon" strict_drops=0 "${keys[@]}"
scenario n "gateway's DPD (dpd_delay 2s, retransmit 1s x1.8^n, 2 tries); charon killed: peer_dead in time" \
  gw_global=$'retransmit_timeout = 1s\nretransmit_tries = 2' gw_conn="dpd_delay = 2s" body=body_dpd
scenario a "gateway initiates (start_action = start), PSK, aes256gcm16-prfsha256-x25519 / esp aes256gcm16"
scenario b "charon initiates, gateway responds (start_action = none, remote_addrs = %any), PSK" init=sw
scenario c "ECDSA P-256 certificates, gateway initiates" auth=ec
scenario d "RSA-2048 certificates, charon initiates" auth=rsa init=sw
scenario e "Ed25519 certificates, gateway initiates" auth=ed25519
scenario f "aes128-sha256-ecp256 / esp aes128-sha256 (AES-CBC + HMAC-SHA2-256); key export" "${cbc[@]}" "${keys[@]}"
scenario g "chacha20poly1305-prfsha256-modp2048 / esp chacha20poly1305" "${chacha[@]}"
scenario h "NAT: gateway behind nftables masquerade (random ports), initiates; ESP in UDP 4500" net=nat
scenario i "IPv6 outer (fd00::1 - fd00::2) and inner (fd01:1::1 - fd01:2::1)" net=v6 strict_drops=0
scenario j "start_action = trap: the first ping sets up the SAs; again after charon deleted them" init=trap \
  strict_drops=0 body=body_trap_again
scenario o "SIGTERM: the gateway deletes its SAs, charon holds none" body=body_delete
scenario o2 "SIGTERM with charon silent (nftables drop): the gateway waits 2 s for the Delete's answer, exits 0" \
  body=body_unanswered_delete
scenario p "key_export: tshark decrypts the captured ESP and IKE with the exported UAT files" "${keys[@]}"

finish_scenarios "gateway_strongswan: strongSwan $(dpkg-query -W -f='${Version}' strongswan-charon 2> /dev/null), tshark $(dpkg-query -W -f='${Version}' tshark 2> /dev/null)"
