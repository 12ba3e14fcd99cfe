#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ike_strongswan.sh: IKEv2 interoperability of our engine (examples/ike_peer)
# with strongSwan's charon (Debian 12: 5.9.8), each side in its own network
# namespace joined by a veth pair. Per scenario, in fresh namespaces
# (* : with a ping through the tunnel, see below):
#   a* ike_peer initiates, charon responds, PSK,  aes256gcm16-prfsha256-x25519 / esp aes256gcm16
#   b* charon initiates, ike_peer responds, PSK,  same proposals
#   c* ike_peer initiates, ECDSA P-256 certificates (tests/data/ike/pki)
#   d* charon initiates, ECDSA P-256 certificates
#   e* ike_peer initiates, PSK, aes128-sha256-modp2048 / esp aes128-sha256
#   f* charon initiates, PSK, aes128-sha256-modp2048 / esp aes128-sha256
#   g* ike_peer initiates, PSK; on SIGTERM it deletes the IKE SA (INFORMATIONAL { D })
#   h* ike_peer initiates, PSK; charon deletes the IKE SA (swanctl --terminate)
#   i, j  as c and d with RSA-2048 certificates (our IKE_AUTH messages exceed
#         1280 octets: RFC 7383 fragmentation both ways); ike_peer --exit-when-up
#   k*, l*  as a and d over IPv6 (outer addresses; the traffic selectors stay IPv4)
# A scenario passes when ike_peer's child SA came up (and it exited 0) and
# charon's `swanctl --list-sas` shows the IKE SA ESTABLISHED and the child
# INSTALLED with the expected algorithms and the same SPIs, and charon
# logged the peer's authentication.
#
# The kernel here has XFRM but no ESP transforms, so charon runs with
# kernel-libipsec (ESP in userspace, plaintext through its TUN ipsec0 and
# routes in table 220), which only does UDP-encapsulated ESP: charon then
# fakes a NAT (a wrong NAT_DETECTION_SOURCE_IP), and both sides move to
# port 4500. ike_peer has no TUN device, but with --esp-echo it opens the
# ESP it receives with the child SA keys our engine derived and answers ICMP
# echo requests to our traffic selector, sealed with the outbound keys. In
# the * scenarios charon's namespace pings 10.1.2.1 -> 10.1.1.1 (both /32 on
# lo) through the tunnel; they also pass only when the ping gets 3/3
# replies, ike_peer decrypted 3 echo requests on its inbound SPI with no
# decrypt failure, and charon counted 3 packets each way on the child SA:
# our KEYMAT (RFC 7296 2.17), SPIs and ESP framing agree with charon's in
# both directions. ike_peer then stays up until the ping is done, and the
# scenario ends with a SIGTERM (ike_peer deletes the IKE SA) unless charon
# deletes it.
#
# The life of the tunnel (RFC 7296 1.3, 1.4, 2.4, 2.8, 2.18), PSK and
# aes256gcm16, ike_peer --esp-echo; these run in the background, up to
# --jobs (6) at once, the last of them while a-l run (each waits mostly for
# timers):
#   m, n  charon rekeys the child SA (rekey_time 5s); ike_peer responds to
#         the IKE SA (m) or initiates it (n, with PFS: esp aes256gcm16-x25519)
#   o, p  ike_peer rekeys it (--child-rekey 5; o: --child-life 8; p: PFS)
#   q     both rekey it every 3-4 s (collisions when they happen to meet)
#   x     both rekey it at once, every time (ike_peer --collide child):
#         rekey collisions (2.8.1), won and lost by either side
#   r, s  charon (r) or ike_peer (s: --ike-rekey 5) rekeys the IKE SA
#   y     both rekey the IKE SA at once, every time (--collide ike, 2.8.2)
#   x2, y2  as x and y, but our request leaves after our answer to charon's
#         (--collide child-late/ike-late): charon may finish its rekey and
#         delete the old SA before it sees ours (it answers TEMPORARY_FAILURE)
#   t     charon's DPD (dpd_delay 1s) on an idle tunnel, answered
#   u     ike_peer's DPD (--dpd 1), answered; charon killed: ike_peer
#         reports the IKE SA down with peer_dead within 2-8 s
#   z     as u with --dpd-action restart, charon restarted: SAs set up again
#   v     charon deletes the child SA, then the IKE SA (swanctl --terminate)
#   w     ike_peer deletes them (--close-child-after, --close-after)
# The rekey scenarios ping through the tunnel for 12 s (at most 1 of 60
# lost) and pass when the rekeys happened (both sides' logs), the echo
# requests came through and were answered on at least 3 SA pairs, and in
# the end both sides hold exactly one IKE SA and one child SA pair with the
# same, new SPIs (ike_peer's status line on SIGUSR1, swanctl --list-sas),
# which carry 3 more pings. See the life_* functions for each one's checks.
#
# Needs root, network namespaces and the packages scripts/setup.sh installs
# (strongswan-charon, strongswan-swanctl, libstrongswan-standard-plugins,
# libstrongswan-extra-plugins, libcharon-extra-plugins, iproute2, iputils-ping,
# openssl).
# Without them it exits 77 (ctest: skipped), unless CI=true: then it fails.
#
# usage: ike_strongswan.sh --peer PATH/ike_peer --pki tests/data/ike/pki [--only a,c] [--keep] [--jobs N]
# shellcheck disable=SC2317  # the life_* bodies are called as "$body"
set -uo pipefail

peer="" pki="" only="" keep=0 jobs=6
while [ $# -gt 0 ]; do
  case "$1" in
    --peer) peer=$2; shift 2 ;;
    --pki) pki=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;  # keep the work directory (logs) after a pass
    --jobs) jobs=$2; shift 2 ;;  # scenarios m-z at once (default 6)
    *) echo "usage: $0 --peer PATH --pki DIR [--only a,b,...] [--keep] [--jobs N]" >&2; exit 2 ;;
  esac
done

skip() {
  echo "ike_strongswan: cannot run: $*"
  if [ "${CI:-}" = true ]; then
    echo "ike_strongswan: FAIL (CI=true: this test must run; see scripts/setup.sh)"
    exit 1
  fi
  echo "ike_strongswan: skipped"
  exit 77
}

charon=/usr/lib/ipsec/charon
plugins=/usr/lib/ipsec/plugins
[ -x "$peer" ] || { echo "ike_strongswan: --peer '$peer' is not an executable" >&2; exit 2; }
[ -r "$pki/ec-ca.der" ] || { echo "ike_strongswan: --pki '$pki' has no ec-ca.der" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, charon)"
for cmd in ip unshare mount openssl ping swanctl; do
  command -v $cmd > /dev/null || skip "$cmd is missing"
done
[ -x $charon ] || skip "$charon is missing (strongswan-charon)"
for p in kernel-libipsec kernel-netlink curve25519 openssl gcm kdf vici x509 pem pkcs8; do
  [ -e $plugins/libstrongswan-$p.so ] || skip "charon plugin $p is missing"
done
probe=ikeprobe$$
ip netns add $probe 2> /dev/null || skip "cannot create network namespaces"
ip netns del $probe

work=$(mktemp -d /tmp/ike-sw.XXXXXX)  # short: vici socket paths must stay under 108 bytes
pids=() namespaces=()
cleanup() {
  local p _
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 20); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$p" 2> /dev/null
  done
  for p in "${namespaces[@]}"; do ip netns del "$p" 2> /dev/null; done
  pids=() namespaces=()
}
trap cleanup EXIT
life_jobs=()
# The background scenarios (m-u) clean up after themselves on SIGTERM.
trap 'echo "ike_strongswan: interrupted; logs: $work"; kill "${life_jobs[@]}" 2> /dev/null; wait; exit 130' INT TERM

psk="interop-psk-0123456789abcdef"
# The PKI for charon (the "b" side) in PEM, as swanctl expects it.
mkdir -p "$work/pem"
for alg in ec rsa; do
  if ! { openssl x509 -inform DER -in "$pki/$alg-ca.der" -out "$work/pem/$alg-ca.pem" &&
    openssl x509 -inform DER -in "$pki/$alg-b.der" -out "$work/pem/$alg-b.pem" &&
    openssl pkey -inform DER -in "$pki/$alg-b.key.der" -out "$work/pem/$alg-b.key.pem"; }; then
    echo "ike_strongswan: openssl could not convert the test PKI" >&2
    exit 1
  fi
done

# write_charon DIR AUTH(psk|ec|rsa) IKE ESP LOCAL REMOTE: strongswan.conf and swanctl.conf.
write_charon() {
  local dir=$1 auth=$2 ike=$3 esp=$4 local_addr=$5 remote_addr=$6 local_auth="auth = psk" remote_auth="auth = psk"
  mkdir -p "$dir/run" "$dir"/swanctl/{conf.d,x509,x509ca,x509ocsp,x509aa,x509ac,x509crl,pubkey,private,rsa,ecdsa,bliss,pkcs8,pkcs12}
  # kernel-libipsec before kernel-netlink (the first IPsec backend wins);
  # kdf is needed for the PRF-based key derivation. Short retransmissions.
  # A rekeyed child SA's inbound SA stays (state DELETED) for 1 s, not 5.
  cat > "$dir/strongswan.conf" << EOF
charon {
  load = random nonce openssl aes sha1 sha2 hmac gcm kdf curve25519 x509 pem pkcs1 pkcs8 pubkey constraints revocation kernel-libipsec kernel-netlink socket-default vici
  delete_rekeyed_delay = 1
  retransmit_timeout = 1.0
  retransmit_base = 1.4
  retransmit_tries = 3
  plugins {
    vici {
      socket = unix://$dir/charon.vici
    }
  }
  filelog {
    charon {
      path = $dir/charon.log
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
    cp "$work/pem/$auth-ca.pem" "$dir/swanctl/x509ca/"
    cp "$work/pem/$auth-b.pem" "$dir/swanctl/x509/"
    cp "$work/pem/$auth-b.key.pem" "$dir/swanctl/private/"
    local_auth=$'auth = pubkey\n      certs = '$auth-b.pem
    remote_auth="auth = pubkey"
  fi
  cat > "$dir/swanctl/swanctl.conf" << EOF
connections {
  s2s {
    version = 2
    local_addrs = $local_addr
    remote_addrs = $remote_addr
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
        local_ts = 10.1.2.0/24
        remote_ts = 10.1.1.0/24
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
}

# setup_link (in a scenario: uses its dir, sw, fp, fp_addr, sw_addr, plen,
# v6off, nodad; adds to fails): namespaces fp (ike_peer) 10.0.0.1 <-> sw
# (charon) 10.0.0.2 (or IPv6) joined by a veth pair; the inside networks'
# hosts are /32 on lo (no dummy driver here). IPv6 is off unless used, to
# keep ND/MLD away.
setup_link() {
  namespaces+=("$sw" "$fp")
  ip netns add "$sw" && ip netns add "$fp" &&
    ip link add fp0 netns "$fp" type veth peer name sw0 netns "$sw" || fails+=("cannot set up namespaces")
  local ns
  for ns in "$sw" "$fp"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=$v6off net.ipv6.conf.default.disable_ipv6=$v6off
  done
  ip -n "$fp" addr add $fp_addr/$plen dev fp0 $nodad && ip -n "$fp" addr add 10.1.1.1/32 dev lo &&
    ip -n "$fp" link set fp0 up && ip -n "$sw" addr add $sw_addr/$plen dev sw0 $nodad &&
    ip -n "$sw" addr add 10.1.2.1/32 dev lo && ip -n "$sw" link set sw0 up || fails+=("cannot configure addresses")
  # One ping checks the link and resolves the neighbour (IPv6 ND would delay IKE_SA_INIT ~1 s).
  ip netns exec "$fp" ping -c 1 -W 3 -q "$sw_addr" > /dev/null 2>&1 || fails+=("no connectivity $fp_addr -> $sw_addr")
}

# start_charon AUTH IKE ESP [EXTRA] (in a scenario; sets its cpid and uri):
# charon in namespace sw with a private /run (its pid file path is compiled
# in), its own strongswan.conf, swanctl directory and vici socket. EXTRA is
# appended to swanctl.conf (swanctl merges sections of the same name).
start_charon() {
  write_charon "$dir/charon" "$1" "$2" "$3" $sw_addr $fp_addr
  [ -z "${4:-}" ] || printf '%s\n' "$4" >> "$dir/charon/swanctl/swanctl.conf"
  uri=unix://$dir/charon/charon.vici
  ip netns exec "$sw" unshare -m --propagation private sh -c \
    "mount --bind $dir/charon/run /run && exec env STRONGSWAN_CONF=$dir/charon/strongswan.conf $charon" \
    > "$dir/charon/charon.out" 2>&1 < /dev/null &
  cpid=$!
  pids+=("$cpid")
  wait_for "[ -S $dir/charon/charon.vici ]" 10 || fails+=("charon did not start")
  SWANCTL_DIR=$dir/charon/swanctl swanctl --load-all --noprompt --uri "$uri" > "$dir/swanctl-load.txt" 2>&1 ||
    fails+=("swanctl --load-all failed")
}

# wait_for CONDITION-COMMAND SECONDS: poll every 0.1 s.
wait_for() {
  local _
  for _ in $(seq $(($2 * 10))); do eval "$1" && return 0; sleep 0.1; done
  return 1
}

declare -A result seconds detail
order=()

# scenario ID INITIATOR(ours|charon) AUTH(psk|ec|rsa) IKE ESP IKE_ALGS ESP_ALGS DESCRIPTION [END]
# END: exit (ike_peer --exit-when-up), sigterm (ike_peer deletes the IKE SA
# on SIGTERM) or peer-delete (charon deletes it: swanctl --terminate).
# With v6=1 the outer addresses are IPv6 (the traffic selectors stay IPv4).
# With echo=1 ike_peer runs with --esp-echo and charon pings through the
# tunnel once the SAs are up; END exit then becomes sigterm (ike_peer must
# stay up for the ping).
scenario() {
  local id=$1 initiator=$2 auth=$3 ike=$4 esp=$5 ike_algs=$6 esp_algs=$7 desc=$8 end=${9:-exit}
  local ping=${echo:-0}
  if [ -n "$only" ] && [[ ",$only," != *",$id,"* ]]; then return; fi
  [ "$ping" = 1 ] && [ "$end" = exit ] && end=sigterm
  order+=("$id")
  detail[$id]=$desc
  local started dir=$work/$id sw=ikesw$$$id fp=ikefp$$$id fails=()
  local fp_addr=10.0.0.1 sw_addr=10.0.0.2 plen=24 v6off=1 nodad=""
  [ "${v6:-0}" = 1 ] && fp_addr=fd00:1ce::1 sw_addr=fd00:1ce::2 plen=64 v6off=0 nodad=nodad
  started=$(date +%s%N)
  mkdir -p "$dir"
  echo "=== $id: $desc"

  setup_link
  local uri cpid ppid rc=0
  start_charon "$auth" "$ike" "$esp"

  local args=(--name ours --local "$fp_addr" --id fqdn:a.example.test --remote-id fqdn:b.example.test
    --local-ts 10.1.1.0/24 --remote-ts 10.1.2.0/24 --ike "$ike" --esp "$esp" --timeout 20)
  [ "$end" = exit ] && args+=(--exit-when-up)
  [ "$ping" = 1 ] && args+=(--esp-echo)
  if [ "$auth" != psk ]; then
    args+=(--cert "$pki/$auth-a.der" --key "$pki/$auth-a.key.der" --ca "$pki/$auth-ca.der")
  else
    args+=(--psk "$psk")
  fi
  if [ ${#fails[@]} -eq 0 ]; then
    if [ "$initiator" = ours ]; then
      ip netns exec "$fp" "$peer" "${args[@]}" --remote $sw_addr --initiate > "$dir/ike_peer.txt" 2>&1 &
      ppid=$!
      pids+=("$ppid")
      if [ "$end" = exit ]; then
        wait "$ppid" || rc=$?
        pids=("$cpid")
      else
        wait_for "grep -qs 'event child_sa_up' $dir/ike_peer.txt" 15 || fails+=("ike_peer: no child SA")
      fi
    else
      # As responder: for any peer in b, restricted to charon's address in the others.
      [ "$id" = b ] || args+=(--remote "$sw_addr")
      ip netns exec "$fp" "$peer" "${args[@]}" > "$dir/ike_peer.txt" 2>&1 &
      ppid=$!
      pids+=("$ppid")
      wait_for "grep -qs listening $dir/ike_peer.txt" 5 || fails+=("ike_peer did not start")
      if ! SWANCTL_DIR=$dir/charon/swanctl swanctl --initiate --child net --timeout 15 --uri "$uri" \
        > "$dir/swanctl-initiate.txt" 2>&1; then
        fails+=("swanctl --initiate failed")
        kill -TERM "$ppid"  # do not wait for its --timeout
      fi
      if [ "$end" = exit ]; then
        wait "$ppid" || rc=$?
        pids=("$cpid")
      else
        wait_for "grep -qs 'event child_sa_up' $dir/ike_peer.txt" 5 || fails+=("ike_peer: no child SA")
      fi
    fi
    [ "$rc" -eq 0 ] || fails+=("ike_peer exited with $rc")
  fi
  local up=${#fails[@]}

  # charon's view of the SAs.
  SWANCTL_DIR=$dir/charon/swanctl swanctl --list-sas --uri "$uri" > "$dir/list-sas.txt" 2>&1
  local want
  for want in "ESTABLISHED" "$ike_algs" "INSTALLED, TUNNEL-in-UDP" "ESP:$esp_algs" \
    "local  'b.example.test' @ $sw_addr\[4500\]" "remote 'a.example.test' @ $fp_addr\[4500\]"; do
    grep -q -- "$want" "$dir/list-sas.txt" || fails+=("charon: no '$want' in swanctl --list-sas")
  done
  local method="pre-shared key"
  [ "$auth" = ec ] && method="ECDSA_WITH_SHA256_DER"
  [ "$auth" = rsa ] && method="RSA_EMSA_PKCS1_SHA2_256"
  grep -q "authentication of 'a.example.test' with $method successful" "$dir/charon/charon.log" ||
    fails+=("charon: no \"authentication of 'a.example.test' with $method successful\"")
  # Both sides agree on the SPIs: IKE (SPIi, SPIr) and ESP (our inbound is charon's outbound).
  local spis esp_spis our_in our_out
  spis=$(sed -n 's/.*event ike_sa_up .* SPIs \([0-9a-f]*_i\) \([0-9a-f]*_r\) .*/\1\\*? \2/p' "$dir/ike_peer.txt" 2> /dev/null)
  esp_spis=$(sed -n 's/.*event child_sa_up .* SPIs 0x\([0-9a-f]*\)_i 0x\([0-9a-f]*\)_o .*/\1 \2/p' \
    "$dir/ike_peer.txt" 2> /dev/null)
  if [ -z "$spis" ] || [ -z "$esp_spis" ]; then
    fails+=("ike_peer: no ike_sa_up or child_sa_up event")
  else
    grep -Eq "$spis" "$dir/list-sas.txt" || fails+=("charon: IKE SPIs differ from ours ($spis)")
    read -r our_in our_out <<< "$esp_spis"
    grep -Eq "^ +out $our_in," "$dir/list-sas.txt" && grep -Eq "^ +in +$our_out," "$dir/list-sas.txt" ||
      fails+=("charon: ESP SPIs differ from ours (ours: in $our_in, out $our_out)")
  fi

  # Traffic (echo=1): charon's ping is sealed with its outbound keys and
  # opened by ike_peer with our inbound keys; the replies go the other way.
  if [ "$ping" = 1 ] && [ "$up" -eq 0 ]; then
    ip netns exec "$sw" ping -c 3 -i 0.2 -W 2 -I 10.1.2.1 10.1.1.1 > "$dir/ping.txt" 2>&1
    grep -q "3 packets transmitted, 3 received" "$dir/ping.txt" ||
      fails+=("ping 10.1.2.1 -> 10.1.1.1 through the tunnel: $(grep transmitted "$dir/ping.txt" || echo failed)")
    local echoes echo_line="ESP in: spi=0x${our_in:-none}, seq=[0-9]+, ICMP echo 10\.1\.2\.1 -> 10\.1\.1\.1"
    echoes=$(grep -Ec "$echo_line id=[0-9]+ seq=[0-9]+; reply sent" "$dir/ike_peer.txt")
    [ "$echoes" -eq 3 ] || fails+=("ike_peer: $echoes decrypted and answered echo requests, not 3")
    ! grep -q "] ESP in: .*: decrypt failure" "$dir/ike_peer.txt" || fails+=("ike_peer: ESP decrypt failures")
    # charon's counters: 3 packets of 84 octets each way (ICMP with 56 octets of data).
    SWANCTL_DIR=$dir/charon/swanctl swanctl --list-sas --uri "$uri" > "$dir/list-sas-ping.txt" 2>&1
    grep -Eq "^ +in +${our_out:-none}, +252 bytes, +3 packets" "$dir/list-sas-ping.txt" &&
      grep -Eq "^ +out ${our_in:-none}, +252 bytes, +3 packets" "$dir/list-sas-ping.txt" ||
      fails+=("charon: not 3 packets (252 bytes) each way on the child SA")
  fi

  # Deleting the IKE SA (RFC 7296 1.4.1): INFORMATIONAL { D } and its empty answer.
  if [ "$end" != exit ] && [ "$up" -eq 0 ]; then
    local request=parsed response=generating
    if [ "$end" = sigterm ]; then
      kill -TERM "$ppid"
    else
      request=generating response=parsed
      SWANCTL_DIR=$dir/charon/swanctl swanctl --terminate --ike s2s --timeout 10 --uri "$uri" \
        > "$dir/swanctl-terminate.txt" 2>&1 || fails+=("swanctl --terminate failed")
    fi
    if ! wait_for "grep -qs '] exit ' $dir/ike_peer.txt" 5; then
      fails+=("ike_peer did not exit")
      kill -9 "$ppid"
    fi
    rc=0
    wait "$ppid" || rc=$?
    pids=("$cpid")
    [ "$rc" -eq 0 ] || fails+=("ike_peer exited with $rc after the delete")
    grep -q "event ike_sa_down" "$dir/ike_peer.txt" || fails+=("ike_peer: no ike_sa_down event")
    if [ "$ping" = 1 ]; then  # its counters, printed on exit
      grep -q "esp-echo: 3 decrypted, 3 replies, 0 decrypt failures, 0 dropped" "$dir/ike_peer.txt" ||
        fails+=("ike_peer: not 'esp-echo: 3 decrypted, 3 replies, 0 decrypt failures, 0 dropped'")
    fi
    grep -Eq "$request INFORMATIONAL request [0-9]+ \[ D \]" "$dir/charon/charon.log" &&
      grep -Eq "$response INFORMATIONAL response [0-9]+ \[ \]" "$dir/charon/charon.log" ||
      fails+=("charon: no INFORMATIONAL { D } exchange ($request request, $response response)")
    SWANCTL_DIR=$dir/charon/swanctl swanctl --list-sas --uri "$uri" > "$dir/list-sas-after.txt" 2>&1
    ! grep -q ESTABLISHED "$dir/list-sas-after.txt" || fails+=("charon: the IKE SA is still ESTABLISHED")
  fi

  cleanup
  seconds[$id]=$((($(date +%s%N) - started) / 100000000))  # tenths of a second
  if [ ${#fails[@]} -eq 0 ]; then
    result[$id]=PASS
  else
    result[$id]=FAIL
    echo "--- $id FAILED:"
    printf '    %s\n' "${fails[@]}"
    for f in ike_peer.txt swanctl-load.txt swanctl-initiate.txt list-sas.txt ping.txt list-sas-ping.txt \
      swanctl-terminate.txt list-sas-after.txt charon/charon.out charon/charon.log; do
      [ -e "$dir/$f" ] || continue
      echo "--- $id: $f"
      cat "$dir/$f"
    done
  fi
}

# ---- The life of the tunnel: rekeying, dead peer detection, deletes ----
# Scenarios m-u run in the background, each in its own namespaces and work
# directory, while a-l run (they mostly wait for timers); their outputs
# follow a-l's. Each brings up one IKE SA and child SA (PSK, aes256gcm16-
# prfsha256-x25519 / esp aes256gcm16, ike_peer --esp-echo), then runs its
# body: life_child_rekey, life_ike_rekey, life_charon_dpd, life_peer_dpd,
# life_charon_deletes or life_peer_deletes (see each). charon's extra
# settings (short rekey_time, dpd_delay) are merged into its swanctl.conf.
life_ids=()

# sw_ctl ARGS...: swanctl against this scenario's charon.
sw_ctl() { SWANCTL_DIR=$dir/charon/swanctl swanctl "$@" --uri "$uri"; }

# ping_start COUNT: charon's namespace pings 10.1.2.1 -> 10.1.1.1 through the
# tunnel, 5 a second, in the background (into ping-N.txt: N counts calls).
ping_start() {
  pings=$((pings + 1))
  ip netns exec "$sw" ping -c "$1" -i 0.2 -W 1 -I 10.1.2.1 10.1.1.1 > "$dir/ping-$pings.txt" 2>&1 &
  ping_pid=$!
  pids+=("$ping_pid")
}
# ping_check COUNT MAX_LOST: wait for the ping; at most MAX_LOST lost.
ping_check() {
  wait "$ping_pid"
  local got
  got=$(sed -n "s/^$1 packets transmitted, \([0-9]*\) received.*/\1/p" "$dir/ping-$pings.txt")
  [ -n "$got" ] && [ "$got" -ge $(($1 - $2)) ] ||
    fails+=("ping $pings through the tunnel: $(grep transmitted "$dir/ping-$pings.txt" || echo failed) (at most $2 lost)")
}

# peer_status: ike_peer's status line (SIGUSR1): "status: N IKE SA(s), N
# established, N child SA(s); IKE SAs up: H...; child SAs up: 0xSPI...;
# esp-echo: N SA pair(s): 0xIN_i 0xOUT_o...".
peer_status() {
  local before
  before=$(grep -c '] status: ' "$dir/ike_peer.txt")
  kill -USR1 "$ppid" 2> /dev/null || return 1
  wait_for "[ \$(grep -c '] status: ' $dir/ike_peer.txt) -gt $before ]" 2 || return 1
  grep '] status: ' "$dir/ike_peer.txt" | tail -1
}

# settled IKE CHILD: both sides hold exactly IKE IKE SAs and CHILD child SA
# pairs (charon: swanctl --list-sas into list-sas-settled.txt; ike_peer: its
# engine's counts and --esp-echo's SAs), with the same SPIs. Sets
# settled_status (ike_peer's status line). With zombies_ok=1 ike_peer may
# hold one more (not established) IKE SA for each IKE rekey collision that
# charon abandoned without deleting its redundant IKE SA (see life_ike_rekey).
settled() {
  local f=$dir/list-sas-settled.txt h pair total zombies=0
  sw_ctl --list-sas > "$f" 2>&1
  # A child SA charon deleted after a rekey keeps its inbound SA for a
  # moment (state DELETED, delete_rekeyed_delay): not counted.
  [ "$(grep -c '^s2s: #' "$f")" -eq "$1" ] && [ "$(grep '^  net: #' "$f" | grep -vc ', DELETED,')" -eq "$2" ] ||
    return 1
  [ "$1" -eq 0 ] || [ "$(grep -c '^s2s: #.*ESTABLISHED' "$f")" -eq "$1" ] || return 1
  [ "$2" -eq 0 ] || [ "$(grep -c '^  net: #.*INSTALLED' "$f")" -eq "$2" ] || return 1
  settled_status=$(peer_status) || return 1
  [ "${zombies_ok:-0}" = 0 ] ||
    zombies=$(grep -c "peer did not notice IKE_SA rekey collision" "$dir/charon/charon.log")
  total=$(sed -n 's/.*status: \([0-9]*\) IKE SA(s), .*/\1/p' <<< "$settled_status")
  [ -n "$total" ] && [ "$total" -ge "$1" ] && [ "$total" -le $(($1 + zombies)) ] || return 1
  [[ "$settled_status" == *" IKE SA(s), $1 established, $2 child SA(s);"* ]] || return 1
  [[ "$settled_status" == *"esp-echo: $2 SA pair(s)"* ]] || return 1
  local handles pairs
  read -ra handles <<< "$(sed 's/.*IKE SAs up:\(.*\); child SAs.*/\1/; s/none//' <<< "$settled_status")"
  for h in "${handles[@]}"; do
    grep -Eq "^s2s: #[0-9]+, ESTABLISHED, IKEv2, ([0-9a-f]+_i\*? )?${h}_[ir]" "$f" || return 1
  done
  local in out
  read -ra pairs <<< "$(sed -n 's/.*SA pair(s):\(.*\)/\1/p' <<< "$settled_status" | sed 's/_i /_i:/g; s/0x//g')"
  for pair in "${pairs[@]}"; do
    in=${pair%%_i:*} out=${pair#*_i:}
    grep -Eq "^ +out $in," "$f" && grep -Eq "^ +in +${out%_o}," "$f" || return 1
  done
}
# expect_settled IKE CHILD WHAT: settled within 6 s, else a failure.
expect_settled() {
  local _
  for _ in $(seq 12); do settled "$1" "$2" && return 0; sleep 0.5; done
  fails+=("not settled ($3): want $1 IKE SA(s) and $2 child SA pair(s) on both sides with the same SPIs;" \
    "ike_peer: ${settled_status:-no status}; charon: $(grep -c '^s2s: #' "$dir/list-sas-settled.txt") IKE SA(s)," \
    "$(grep '^  net: #' "$dir/list-sas-settled.txt" | grep -vc ', DELETED,') child SA(s) (list-sas-settled.txt)")
  return 1
}
# current_pair: ike_peer's one child SA pair "IN OUT" (hex, no 0x) from settled_status.
current_pair() { sed -n 's/.*SA pair(s): 0x\([0-9a-f]*\)_i 0x\([0-9a-f]*\)_o.*/\1 \2/p' <<< "$settled_status"; }

# traffic_on IN OUT: 3 pings that must all come back through the child SA
# IN/OUT (ike_peer's SPIs): ike_peer opened them on IN, sealed the replies
# with OUT, and charon counted at least 3 packets each way on it.
traffic_on() {
  if [ -z "${1:-}" ] || [ -z "${2:-}" ]; then
    fails+=("no child SA to send traffic through")
    return 1
  fi
  local before after
  before=$(grep -Ec "ESP in: spi=0x$1, .*; reply sent \(spi=0x$2," "$dir/ike_peer.txt")
  ping_start 3
  ping_check 3 0
  after=$(grep -Ec "ESP in: spi=0x$1, .*; reply sent \(spi=0x$2," "$dir/ike_peer.txt")
  [ $((after - before)) -ge 3 ] || fails+=("ike_peer: not 3 echo requests on 0x$1 answered on 0x$2")
  sw_ctl --list-sas > "$dir/list-sas-traffic.txt" 2>&1
  grep -Eq "^ +in +$2, +[0-9]+ bytes, +([3-9]|[1-9][0-9]+) packets" "$dir/list-sas-traffic.txt" &&
    grep -Eq "^ +out $1, +[0-9]+ bytes, +([3-9]|[1-9][0-9]+) packets" "$dir/list-sas-traffic.txt" ||
    fails+=("charon: not 3 packets each way on the child SA $2/$1 (list-sas-traffic.txt)")
}
# traffic_now WHAT: traffic_on through the one child SA pair both sides
# hold (settled 1 1); tried again (up to 3 times) when a rekey moved the
# pings to a newer SA meanwhile (rekeys come 3 s or more apart, and a retry
# follows a rekey at once).
traffic_now() {
  local _ ups saved in out
  for _ in 1 2 3 4 5 6; do
    ups=$(grep -c 'event child_sa_up' "$dir/ike_peer.txt")
    expect_settled 1 1 "$1" || return 1
    saved=("${fails[@]}")
    read -r in out <<< "$(current_pair)"
    traffic_on "$in" "$out"
    [ "$(grep -c 'event child_sa_up' "$dir/ike_peer.txt")" -ne "$ups" ] || return 0
    fails=("${saved[@]}")  # the pings raced a rekey: their counts prove nothing
  done
  fails+=("a rekey during each of 6 tries of 3 pings on the current child SA")
}

# at_least N PATTERN FILE WHAT: grep -Ec PATTERN FILE must count N or more.
at_least() {
  local n
  n=$(grep -Ec -- "$2" "$3")
  [ "$n" -ge "$1" ] || fails+=("$4: $n, not at least $1 (/$2/ in ${3#"$dir"/})")
}

# life_child_rekey WHO(charon|ours|both): child SAs rekeyed every ~5 s
# (charon: rekey_time 5s, rand_time 1s; ike_peer: --child-rekey 5) while
# charon pings through the tunnel for 12 s: at least 2 rekeys (CREATE_CHILD_SA
# with N(REKEY_SA)) by WHO, each old SA deleted, at most 1 ping lost, the
# echo requests arriving on at least 3 inbound SPIs and answered on at least
# 3 outbound SPIs, no decrypt failure; then exactly one child SA pair on
# each side with the same, new SPIs, which carry 3 more pings.
life_child_rekey() {
  local first pfs=${2:-}
  first=$(sed -n 's/.*event child_sa_up .* SPIs 0x\([0-9a-f]*\)_i .*/\1/p' "$dir/ike_peer.txt" | head -1)
  ping_start 60
  ping_check 60 1
  local rekeys="CREATE_CHILD_SA request [0-9]+ \[ N\(REKEY_SA\)"
  if [ "$1" = charon ]; then
    at_least 2 "generating $rekeys" "$dir/charon/charon.log" "charon: child SA rekeys it initiated"
    at_least 2 "received $rekeys" "$dir/ike_peer.txt" "ike_peer: child SA rekeys it answered"
  elif [ "$1" = ours ]; then
    at_least 2 "sending $rekeys" "$dir/ike_peer.txt" "ike_peer: child SA rekeys it initiated"
    at_least 2 "parsed $rekeys" "$dir/charon/charon.log" "charon: child SA rekeys it answered"
  elif [ "$1" = collide ]; then  # both rekey the same child SA at once, each time
    at_least 2 "generating $rekeys" "$dir/charon/charon.log" "charon: child SA rekeys it initiated"
    at_least 2 "--collide: .* rekeying the child SA" "$dir/ike_peer.txt" "ike_peer: rekeys started to collide"
    at_least 2 "sending $rekeys" "$dir/ike_peer.txt" "ike_peer: child SA rekeys it initiated"
    at_least 2 "received $rekeys" "$dir/ike_peer.txt" "ike_peer: child SA rekeys it answered"
    # As in y (life_ike_rekey collide): charon may drop our request while a
    # thread of its own holds the IKE SA, so not every round is a collision.
    at_least 1 "parsed $rekeys" "$dir/charon/charon.log" "charon: child SA rekeys it answered"
    at_least 1 "rekey collision: our new SA (is redundant|survives)" "$dir/ike_peer.txt" \
      "ike_peer: rekey collisions resolved"
    at_least 1 "detected CHILD_REKEY collision with CHILD_REKEY" "$dir/charon/charon.log" "charon: rekey collisions"
    echo "child SA rekey collisions: ike_peer's new SA survived $(grep -c "our new SA survives" "$dir/ike_peer.txt")," \
      "was redundant $(grep -c "our new SA is redundant" "$dir/ike_peer.txt") times"
  elif [ "$1" = collide-late ]; then  # ours leaves after our answer to charon's: it may finish first
    at_least 2 "generating $rekeys" "$dir/charon/charon.log" "charon: child SA rekeys it initiated"
    at_least 2 "--collide: our held-back request sent now" "$dir/ike_peer.txt" "ike_peer: late rekey requests"
    at_least 2 "received $rekeys" "$dir/ike_peer.txt" "ike_peer: child SA rekeys it answered"
    echo "late child SA rekeys: charon saw $(grep -c "detected CHILD_REKEY collision" "$dir/charon/charon.log")" \
      "collisions, answered $(grep -Ec "generating CREATE_CHILD_SA response [0-9]+ \[ N\(TEMP_FAIL\)" \
        "$dir/charon/charon.log") with TEMPORARY_FAILURE"
  else  # both: whoever comes first; the CREATE_CHILD_SA requests of both sides count
    at_least 2 "(sending|received) $rekeys" "$dir/ike_peer.txt" "ike_peer: child SA rekeys (either side)"
    echo "child SA rekeys: charon $(grep -Ec "generating $rekeys" "$dir/charon/charon.log")," \
      "ike_peer $(grep -Ec "sending $rekeys" "$dir/ike_peer.txt"), collisions:" \
      "$(grep -c "rekey collision" "$dir/ike_peer.txt")"
  fi
  at_least 2 "event child_sa_up .* rekeys 0x" "$dir/ike_peer.txt" "ike_peer: rekeyed child SAs up"
  if [ "$pfs" = pfs ]; then  # every rekey with a fresh key exchange (RFC 7296 1.3.3)
    [ "$(grep -Ec "(sending|received) $rekeys SA No KE TSi TSr \]" "$dir/ike_peer.txt")" -eq \
      "$(grep -Ec "(sending|received) $rekeys" "$dir/ike_peer.txt")" ] ||
      fails+=("ike_peer: a child SA rekey without KE (PFS)")
  fi
  at_least 2 "event child_sa_delete .* (deleted|child SA deleted by the peer)$" "$dir/ike_peer.txt" \
    "ike_peer: old child SAs deleted"
  local in_spis out_spis
  in_spis=$(grep -E "ESP in: .*; reply sent" "$dir/ike_peer.txt" | sed 's/.*ESP in: spi=\(0x[0-9a-f]*\),.*/\1/' | sort -u | wc -l)
  out_spis=$(sed -n 's/.*; reply sent (spi=\(0x[0-9a-f]*\),.*/\1/p' "$dir/ike_peer.txt" | sort -u | wc -l)
  [ "$in_spis" -ge 3 ] && [ "$out_spis" -ge 3 ] ||
    fails+=("ike_peer: echo requests on $in_spis inbound SPIs answered on $out_spis outbound SPIs, not 3 or more each")
  ! grep -q "] ESP in: .*: decrypt failure" "$dir/ike_peer.txt" || fails+=("ike_peer: ESP decrypt failures")
  ! grep -Eq "event child_sa_(failed|delete .* hard lifetime expired)" "$dir/ike_peer.txt" ||
    fails+=("ike_peer: a child SA failed or expired")
  expect_settled 1 1 "after the child SA rekeys" || return
  local pair
  pair=$(current_pair)
  [ -n "$first" ] && [ "${pair%% *}" != "$first" ] || fails+=("ike_peer: the child SA pair is still the first ($first)")
  [ "$pfs" != pfs ] || grep -q "ESP:AES_GCM_16-256/CURVE_25519" "$dir/list-sas-settled.txt" ||
    fails+=("charon: no ESP:AES_GCM_16-256/CURVE_25519 (PFS) in swanctl --list-sas")
  traffic_now "after the child SA rekeys"
}

# life_ike_rekey WHO(charon|ours): the IKE SA rekeyed every ~5 s (charon:
# rekey_time 5s, rand_time 1s; ike_peer: --ike-rekey 5) while charon pings
# through the tunnel for 12 s: at least 2 IKE rekeys (CREATE_CHILD_SA with
# SA, Ni, KEi and no TS) by WHO, ike_peer reporting ike_sa_rekeyed for each
# and the old IKE SAs gone, at most 1 ping lost; then exactly one IKE SA on
# each side (ike_peer's newest, with the same SPIs at charon) and the one
# child SA, moved to it, carrying 3 more pings.
life_ike_rekey() {
  local first_ike
  first_ike=$(sed -n 's/.*event ike_sa_up <ours|\([0-9a-f]*\)>.*/\1/p' "$dir/ike_peer.txt" | head -1)
  ping_start 60
  ping_check 60 1
  local rekeys="CREATE_CHILD_SA request [0-9]+ \[ SA No KE \]"
  if [ "$1" = charon ]; then
    at_least 2 "generating $rekeys" "$dir/charon/charon.log" "charon: IKE SA rekeys it initiated"
    at_least 2 "received $rekeys" "$dir/ike_peer.txt" "ike_peer: IKE SA rekeys it answered"
  elif [ "$1" = collide ]; then  # both rekey the IKE SA at once, each time
    at_least 2 "generating $rekeys" "$dir/charon/charon.log" "charon: IKE SA rekeys it initiated"
    at_least 2 "--collide: .* rekeying the IKE SA" "$dir/ike_peer.txt" "ike_peer: rekeys started to collide"
    # A round need not become a collision at charon: while one of its threads
    # holds the IKE SA to send its own request, charon drops ours ("ignoring
    # request with ID 0, already processing"), completes its rekey with our
    # answer and deletes the old IKE SA before we retransmit; we then abandon
    # ours (2.25.2: the peer finished first). Each round must end one of the
    # two ways, and at least one as a collision both sides resolved.
    at_least 1 "parsed $rekeys" "$dir/charon/charon.log" "charon: IKE SA rekeys it answered"
    at_least 1 "IKE rekey collision: our new IKE SA (is redundant|survives)" "$dir/ike_peer.txt" \
      "ike_peer: IKE rekey collisions resolved"
    at_least 1 "detected IKE_REKEY collision with IKE_REKEY" "$dir/charon/charon.log" "charon: IKE rekey collisions"
    at_least 2 "IKE rekey collision: our new IKE SA (is redundant|survives)|the peer completed its IKE SA rekey first" \
      "$dir/ike_peer.txt" "ike_peer: IKE rekey rounds ended (collision resolved or ours abandoned)"
    # When our new IKE SA survives, we delete the old one (2.8.2). charon
    # may handle that Delete before our answer to its own CREATE_CHILD_SA
    # (its threads take the two datagrams in either order): it then logs
    # "peer did not notice IKE_SA rekey collision", drops its new IKE SA
    # without a Delete, and ike_peer keeps that redundant SA until its
    # 30 s wait for the Delete ends. Tolerated (not established) in settled.
    zombies_ok=1
    echo "IKE rekey collisions: ike_peer's new SA survived $(grep -c "our new IKE SA survives" "$dir/ike_peer.txt")," \
      "was redundant $(grep -c "our new IKE SA is redundant" "$dir/ike_peer.txt") times; charon abandoned" \
      "$(grep -c "peer did not notice IKE_SA rekey collision" "$dir/charon/charon.log") without a Delete;" \
      "ours abandoned $(grep -c "the peer completed its IKE SA rekey first" "$dir/ike_peer.txt") times"
  elif [ "$1" = collide-late ]; then  # ours leaves after our answer to charon's: it may finish first
    at_least 2 "generating $rekeys" "$dir/charon/charon.log" "charon: IKE SA rekeys it initiated"
    at_least 2 "--collide: our held-back request sent now" "$dir/ike_peer.txt" "ike_peer: late rekey requests"
    at_least 2 "received $rekeys" "$dir/ike_peer.txt" "ike_peer: IKE SA rekeys it answered"
    zombies_ok=1
    echo "late IKE SA rekeys: charon saw $(grep -c "detected IKE_REKEY collision" "$dir/charon/charon.log")" \
      "collisions, answered $(grep -Ec "generating CREATE_CHILD_SA response [0-9]+ \[ N\(TEMP_FAIL\)" \
        "$dir/charon/charon.log") with TEMPORARY_FAILURE"
  else
    at_least 2 "sending $rekeys" "$dir/ike_peer.txt" "ike_peer: IKE SA rekeys it initiated"
    at_least 2 "parsed $rekeys" "$dir/charon/charon.log" "charon: IKE SA rekeys it answered"
  fi
  at_least 2 "event ike_sa_rekeyed <ours\|[0-9a-f]+> replaces " "$dir/ike_peer.txt" "ike_peer: ike_sa_rekeyed events"
  ! grep -Eq "event child_sa_(delete|failed)" "$dir/ike_peer.txt" ||
    fails+=("ike_peer: a child SA was deleted or failed (the child SA must move to the new IKE SA)")
  expect_settled 1 1 "after the IKE SA rekeys" || return
  [[ "$settled_status" != *"IKE SAs up: $first_ike;"* ]] || fails+=("ike_peer: still the first IKE SA $first_ike")
  # Each replaced IKE SA was deleted (by a Delete either way; no ike_sa_down
  # event follows ike_sa_rekeyed, but the engine logs its end), within 8 s
  # (a Delete may need a retransmission: 4 s).
  local old
  local replaced
  mapfile -t replaced < <(sed -n 's/.*event ike_sa_rekeyed <ours|[0-9a-f]*> replaces \([0-9a-f]*\)$/\1/p' "$dir/ike_peer.txt")
  for old in "${replaced[@]}"; do
    wait_for "grep -Eq 'log: <ours\|$old> IKE SA down: (deleted|deleted by the peer|rekeyed)$' $dir/ike_peer.txt" 8 ||
      fails+=("ike_peer: the replaced IKE SA $old was not deleted")
  done
  traffic_now "after the IKE SA rekeys"
}

# life_charon_dpd: charon's dead peer detection (dpd_delay 1s) toward
# ike_peer on an idle tunnel for 5 s: charon sent at least 3 empty
# INFORMATIONAL requests, ike_peer answered them and the IKE SA stays up
# (the same SPIs on both sides), and 3 more pings come through.
life_charon_dpd() {
  traffic_now "once up"
  sleep 5
  at_least 3 "generating INFORMATIONAL request [0-9]+ \[ \]" "$dir/charon/charon.log" "charon: DPD requests"
  at_least 3 "parsed INFORMATIONAL response [0-9]+ \[ \]" "$dir/charon/charon.log" "charon: DPD responses"
  at_least 3 "received INFORMATIONAL request [0-9]+ \[ \]" "$dir/ike_peer.txt" "ike_peer: DPD requests answered"
  ! grep -Eq "event (ike_sa_down|child_sa_delete)" "$dir/ike_peer.txt" || fails+=("ike_peer: an SA went down")
  ! grep -Eq "giving up|deleting IKE_SA" "$dir/charon/charon.log" || fails+=("charon: gave up on the IKE SA")
  traffic_now "after charon's DPD"
}

# life_peer_dpd: ike_peer's dead peer detection (--dpd 1, retransmissions
# after 0.5 s x 1.5^n, 2 of them): on an idle tunnel for 3 s its empty
# INFORMATIONAL requests are answered (the IKE SA stays up); then charon is
# killed (SIGKILL: no Delete) and ike_peer must report the IKE SA down with
# peer_dead after its 2 retransmissions, between 2 and 8 s later (1 s + 0.5
# + 0.75 + 1.125 s expected), its child SA deleted, and exit 0.
life_peer_dpd() {
  traffic_now "once up"
  sleep 3
  at_least 2 "sending INFORMATIONAL request [0-9]+ \[ \]" "$dir/ike_peer.txt" "ike_peer: DPD requests"
  at_least 2 "received INFORMATIONAL response [0-9]+ \[ \]" "$dir/ike_peer.txt" "ike_peer: DPD responses"
  at_least 2 "parsed INFORMATIONAL request [0-9]+ \[ \]" "$dir/charon/charon.log" "charon: DPD requests answered"
  ! grep -Eq "event (ike_sa_down|child_sa_delete)" "$dir/ike_peer.txt" || fails+=("ike_peer: an SA went down early")
  expect_settled 1 1 "after ike_peer's DPD" || return
  local killed t0 t1
  killed=$(cat "$dir/charon/run/charon.pid" 2> /dev/null)
  [ -n "$killed" ] || { fails+=("no charon pid file"); return; }
  t0=$(date +%s%N)
  kill -9 "$killed"
  if ! wait_for "grep -qs 'event ike_sa_down' $dir/ike_peer.txt" 12; then
    fails+=("ike_peer: no ike_sa_down 12 s after charon was killed")
    return
  fi
  t1=$(date +%s%N)
  local ms=$(((t1 - t0) / 1000000))
  echo "ike_peer reported the IKE SA down $ms ms after charon was killed"
  [ "$ms" -ge 2000 ] && [ "$ms" -le 8000 ] || fails+=("ike_peer: IKE SA down after $ms ms, not within 2-8 s")
  grep -Eq "event ike_sa_down <ours\|[0-9a-f]+> limit_exceeded: peer not responding \(giving up after 2 retransmissions\) \(peer_dead\)" \
    "$dir/ike_peer.txt" || fails+=("ike_peer: no ike_sa_down 'peer not responding (giving up after 2 retransmissions) (peer_dead)'")
  at_least 2 "retransmit [0-9] of request" "$dir/ike_peer.txt" "ike_peer: DPD retransmissions"
  grep -Eq "event child_sa_delete .* IKE SA down" "$dir/ike_peer.txt" || fails+=("ike_peer: no child_sa_delete")
  wait_for "grep -qs '] exit ' $dir/ike_peer.txt" 3 || fails+=("ike_peer did not exit")
  grep -q "] exit 0:" "$dir/ike_peer.txt" || fails+=("ike_peer did not exit 0")
}

# life_dpd_restart: ike_peer --dpd 1 --dpd-action restart; charon is
# killed (SIGKILL) and started afresh (it knows nothing of the old SAs, so
# the DPD requests go unanswered): ike_peer reports the IKE SA down with
# peer_dead, initiates again at once, and a new IKE SA and child SA come
# up (both sides: one each, new SPIs) that carry 3 pings.
life_dpd_restart() {
  traffic_now "once up" || return
  local first_ike killed
  first_ike=${settled_status#*IKE SAs up: }
  first_ike=${first_ike%%;*}
  killed=$(cat "$dir/charon/run/charon.pid" 2> /dev/null)
  [ -n "$killed" ] || { fails+=("no charon pid file"); return; }
  kill -9 "$killed"
  wait_for "! kill -0 $killed 2> /dev/null" 3 || fails+=("charon did not die")
  rm -f "$dir/charon/charon.vici" "$dir/charon/run/charon.pid"
  mv "$dir/charon/charon.log" "$dir/charon/charon-killed.log"
  start_charon psk "${gcm[0]}" "$esp" "$extra"
  if ! wait_for "[ \$(grep -c 'event ike_sa_up' $dir/ike_peer.txt) -ge 2 ]" 12; then
    fails+=("ike_peer: no second ike_sa_up within 12 s of the restart")
    return
  fi
  grep -Eq "event ike_sa_down <ours\|$first_ike> limit_exceeded: .* \(peer_dead\)" "$dir/ike_peer.txt" ||
    fails+=("ike_peer: no ike_sa_down with peer_dead for $first_ike")
  grep -q "authentication of 'a.example.test' with pre-shared key successful" "$dir/charon/charon.log" ||
    fails+=("charon (restarted): did not authenticate ike_peer")
  traffic_now "after the restart" || return
  [[ "$settled_status" != *"IKE SAs up: $first_ike;"* ]] || fails+=("ike_peer: still the first IKE SA $first_ike")
}

# life_charon_deletes: charon deletes the child SA (swanctl --terminate
# --child): ike_peer reports child_sa_delete and keeps the IKE SA (both
# sides: one IKE SA, no child SA); then the IKE SA (swanctl --terminate
# --ike): ike_peer reports ike_sa_down and holds nothing.
life_charon_deletes() {
  traffic_now "once up"
  sw_ctl --terminate --child net --timeout 10 > "$dir/swanctl-terminate-child.txt" 2>&1 ||
    fails+=("swanctl --terminate --child failed")
  wait_for "grep -qs 'event child_sa_delete .* child SA deleted by the peer' $dir/ike_peer.txt" 3 ||
    fails+=("ike_peer: no child_sa_delete 'child SA deleted by the peer'")
  grep -Eq "generating INFORMATIONAL request [0-9]+ \[ D \]" "$dir/charon/charon.log" &&
    grep -Eq "parsed INFORMATIONAL response [0-9]+ \[ D \]" "$dir/charon/charon.log" ||
    fails+=("charon: no INFORMATIONAL { D } exchange for the child SA (our answer must name ours)")
  expect_settled 1 0 "after charon deleted the child SA"
  sw_ctl --terminate --ike s2s --timeout 10 > "$dir/swanctl-terminate.txt" 2>&1 || fails+=("swanctl --terminate --ike failed")
  wait_for "grep -qs 'event ike_sa_down .* deleted by the peer' $dir/ike_peer.txt" 3 ||
    fails+=("ike_peer: no ike_sa_down 'deleted by the peer'")
  expect_settled 0 0 "after charon deleted the IKE SA"
}

# life_peer_deletes: ike_peer deletes the child SA (--close-child-after 4,
# after 3 pings): charon answers with its own Delete and both sides keep
# the IKE SA without child SA; then the IKE SA (--close-after 8): charon
# holds no SA and ike_peer exits 0.
life_peer_deletes() {
  traffic_now "once up"
  wait_for "grep -qs 'event child_sa_delete' $dir/ike_peer.txt" 6 || fails+=("ike_peer: no child_sa_delete")
  grep -Eq "sending INFORMATIONAL request [0-9]+ \[ D \]" "$dir/ike_peer.txt" &&
    grep -Eq "received INFORMATIONAL response [0-9]+ \[ D \]" "$dir/ike_peer.txt" ||
    fails+=("ike_peer: no INFORMATIONAL { D } exchange for the child SA")
  grep -Eq "parsed INFORMATIONAL request [0-9]+ \[ D \]" "$dir/charon/charon.log" ||
    fails+=("charon: did not receive the child SA's Delete")
  expect_settled 1 0 "after ike_peer deleted the child SA"
  if ! wait_for "grep -qs '] exit ' $dir/ike_peer.txt" 8; then
    fails+=("ike_peer did not exit after --close-after")
    return
  fi
  grep -q "] exit 0:" "$dir/ike_peer.txt" || fails+=("ike_peer did not exit 0")
  grep -Eq "event ike_sa_down <ours\|[0-9a-f]+> ok: deleted$" "$dir/ike_peer.txt" || fails+=("ike_peer: no ike_sa_down 'deleted'")
  sw_ctl --list-sas > "$dir/list-sas-after.txt" 2>&1
  ! grep -q '^s2s: #' "$dir/list-sas-after.txt" || fails+=("charon: still holds an IKE SA (list-sas-after.txt)")
}

# life ID INITIATOR(ours|charon) DESCRIPTION CHARON_EXTRA BODY [ike_peer ARGS...]:
# start one scenario in the background (see above).
life() {
  local id=$1
  if [ -n "$only" ] && [[ ",$only," != *",$id,"* ]]; then return; fi
  order+=("$id")
  detail[$id]=$3
  life_ids+=("$id")
  mkdir -p "$work/$id"
  # At most $jobs at once: the others start as earlier ones end (life_wait).
  while [ "$(life_running)" -ge "$jobs" ]; do sleep 0.2; done
  life_run "$@" > "$work/$id.out" 2>&1 &
  life_jobs+=($!)
}
life_running() {
  local j n=0
  for j in "${life_jobs[@]}"; do kill -0 "$j" 2> /dev/null && n=$((n + 1)); done
  echo $n
}
life_run() {
  local id=$1 initiator=$2 desc=$3 extra=$4 body=$5
  shift 5
  trap cleanup EXIT
  trap 'exit 143' TERM
  pids=() namespaces=()
  local started dir=$work/$id sw=ikesw$$$id fp=ikefp$$$id fails=() pings=0 ping_pid="" settled_status="" zombies_ok=0
  local fp_addr=10.0.0.1 sw_addr=10.0.0.2 plen=24 v6off=1 nodad="" uri cpid ppid
  started=$(date +%s%N)
  echo "=== $id: $desc"
  setup_link
  local esp=${life_esp:-${gcm[1]}}
  start_charon psk "${gcm[0]}" "$esp" "$extra"
  local args=(--name ours --local "$fp_addr" --remote "$sw_addr" --id fqdn:a.example.test
    --remote-id fqdn:b.example.test --local-ts 10.1.1.0/24 --remote-ts 10.1.2.0/24 --ike "${gcm[0]}"
    --esp "$esp" --timeout 20 --psk "$psk" --esp-echo "$@")
  if [ ${#fails[@]} -eq 0 ]; then
    [ "$initiator" = ours ] && args+=(--initiate)
    ip netns exec "$fp" "$peer" "${args[@]}" > "$dir/ike_peer.txt" 2>&1 &
    ppid=$!
    pids+=("$ppid")
    wait_for "grep -qs listening $dir/ike_peer.txt" 5 || fails+=("ike_peer did not start")
    if [ "$initiator" = charon ] &&
      ! sw_ctl --initiate --child net --timeout 15 > "$dir/swanctl-initiate.txt" 2>&1; then
      fails+=("swanctl --initiate failed")
    fi
    wait_for "grep -qs 'event child_sa_up' $dir/ike_peer.txt" 10 || fails+=("ike_peer: no child SA")
  fi
  if [ ${#fails[@]} -eq 0 ]; then
    $body
    # Every SA ike_peer logged must be gone or still up at its end: no engine error lines, no crash.
    ! grep -q "] log error: " "$dir/ike_peer.txt" || fails+=("ike_peer: engine error lines")
    if kill -0 "$ppid" 2> /dev/null; then
      kill -TERM "$ppid"
      wait_for "grep -qs '] exit ' $dir/ike_peer.txt" 5 || fails+=("ike_peer did not exit on SIGTERM")
    fi
    local rc=0
    wait "$ppid" || rc=$?
    [ "$rc" -eq 0 ] || fails+=("ike_peer exited with $rc")
  fi
  cleanup
  local tenths=$((($(date +%s%N) - started) / 100000000))
  if [ ${#fails[@]} -eq 0 ]; then
    echo "PASS $tenths" > "$work/$id/result"
  else
    echo "FAIL $tenths" > "$work/$id/result"
    echo "--- $id FAILED:"
    printf '    %s\n' "${fails[@]}"
    local f
    for f in ike_peer.txt swanctl-load.txt swanctl-initiate.txt $(cd "$dir" && ls ping-*.txt list-sas-*.txt 2> /dev/null) \
      swanctl-terminate-child.txt swanctl-terminate.txt charon/charon.out charon/charon-killed.log charon/charon.log; do
      [ -e "$dir/$f" ] || continue
      echo "--- $id: $f"
      cat "$dir/$f"
    done
  fi
}
# life_wait: wait for the background scenarios and take their results.
life_wait() {
  local id j r t
  for j in "${life_jobs[@]}"; do wait "$j"; done
  for id in "${life_ids[@]}"; do
    cat "$work/$id.out"
    read -r r t < "$work/$id/result" 2> /dev/null || { r=FAIL t=0; echo "--- $id: no result (crashed?)"; }
    result[$id]=$r
    seconds[$id]=$t
  done
}

gcm_ike=AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519
cbc_ike=AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048
gcm=(aes256gcm16-prfsha256-x25519 aes256gcm16 "$gcm_ike" AES_GCM_16-256)
cbc=(aes128-sha256-modp2048 aes128-sha256 "$cbc_ike" AES_CBC-128/HMAC_SHA2_256_128)
all_started=$(date +%s%N)
child5=$'connections {\n  s2s {\n    children {\n      net {\n        rekey_time = 5s\n        rand_time = 1s\n      }\n    }\n  }\n}'
ike5=$'connections {\n  s2s {\n    rekey_time = 5s\n    over_time = 5s\n    rand_time = 1s\n  }\n}'
dpd1=$'connections {\n  s2s {\n    dpd_delay = 1s\n  }\n}'
life m charon "charon rekeys the child SA (rekey_time 5s), ike_peer responder, 12 s of pings" "$child5" \
  "life_child_rekey charon"
life_esp=aes256gcm16-x25519 life n ours \
  "charon rekeys the child SA (rekey_time 5s) with PFS (esp aes256gcm16-x25519), ike_peer initiator, pings" \
  "$child5" "life_child_rekey charon pfs"
life o ours "ike_peer rekeys the child SA (--child-rekey 5 --child-life 8), ike_peer initiator, pings" "" \
  "life_child_rekey ours" --child-rekey 5 --child-life 8
life_esp=aes256gcm16-x25519 life p charon \
  "ike_peer rekeys the child SA (--child-rekey 5) with PFS (x25519), ike_peer responder, pings" "" \
  "life_child_rekey ours pfs" --child-rekey 5
life q ours "both rekey the child SA every 3-4 s (collisions possible), ike_peer initiator, pings" "$child5" \
  "life_child_rekey both" --child-rekey 4 --rekey-jitter 0.25
life r ours "charon rekeys the IKE SA (rekey_time 5s), ike_peer initiator, pings" "$ike5" "life_ike_rekey charon"
life s charon "ike_peer rekeys the IKE SA (--ike-rekey 5), ike_peer responder, pings" "" \
  "life_ike_rekey ours" --ike-rekey 5
life x ours "rekey collisions: charon (rekey_time 5s) and ike_peer (--collide child) rekey the child SA at once" \
  "$child5" "life_child_rekey collide" --collide child
life y charon "IKE SA rekey collisions: charon (rekey_time 5s) and ike_peer (--collide ike) at once" \
  "$ike5" "life_ike_rekey collide" --collide ike
life x2 ours "as x, but ours leaves after our answer to charon's (--collide child-late)" "$child5" \
  "life_child_rekey collide-late" --collide child-late
life y2 charon "as y, but ours leaves after our answer to charon's (--collide ike-late)" "$ike5" \
  "life_ike_rekey collide-late" --collide ike-late
life t charon "charon's DPD (dpd_delay 1s) answered by ike_peer (responder)" "$dpd1" life_charon_dpd
life u ours "ike_peer's DPD (--dpd 1) answered; charon killed: ike_peer reports peer_dead" "" life_peer_dpd \
  --dpd 1 --retransmit-timeout 0.5 --retransmit-base 1.5 --retransmit-tries 2
life z ours "ike_peer --dpd-action restart: charon killed and restarted, ike_peer sets the SAs up again" "" \
  life_dpd_restart --dpd 1 --dpd-action restart --retransmit-timeout 0.5 --retransmit-base 1.5 --retransmit-tries 2
life v charon "charon deletes the child SA, then the IKE SA (ike_peer responder)" "" life_charon_deletes
life w charon "ike_peer deletes the child SA, then the IKE SA (--close-child-after, --close-after)" "" \
  life_peer_deletes --close-child-after 4 --close-after 8

echo=1 scenario a ours psk "${gcm[@]}" "ike_peer initiator, charon responder, PSK, ping"
echo=1 scenario b charon psk "${gcm[@]}" "charon initiator, ike_peer responder (any peer), PSK, ping"
echo=1 scenario c ours ec "${gcm[@]}" "ike_peer initiator, ECDSA P-256 certificates, ping"
echo=1 scenario d charon ec "${gcm[@]}" "charon initiator, ECDSA P-256 certificates, ping"
echo=1 scenario e ours psk "${cbc[@]}" "ike_peer initiator, PSK, aes128-sha256-modp2048 / esp aes128-sha256, ping"
echo=1 scenario f charon psk "${cbc[@]}" "charon initiator, PSK, aes128-sha256-modp2048 / esp aes128-sha256, ping"
echo=1 scenario g ours psk "${gcm[@]}" "ike_peer initiator, PSK, ping, SIGTERM: ike_peer deletes the IKE SA" sigterm
echo=1 scenario h ours psk "${gcm[@]}" "ike_peer initiator, PSK, ping, charon deletes the IKE SA" peer-delete
scenario i ours rsa "${gcm[@]}" "ike_peer initiator, RSA-2048 certificates"
scenario j charon rsa "${gcm[@]}" "charon initiator, RSA-2048 certificates"
v6=1 echo=1 scenario k ours psk "${gcm[@]}" "ike_peer initiator, PSK, IPv6 outer addresses, ping"
v6=1 echo=1 scenario l charon ec "${gcm[@]}" "charon initiator, ECDSA P-256 certificates, IPv6 outer addresses, ping"
life_wait

echo
echo "ike_strongswan: strongSwan $(dpkg-query -W -f='${Version}' strongswan-charon 2> /dev/null)"
failed=0
printf '%-3s %-6s %6s  %s\n' id result time scenario
[ ${#order[@]} -eq 0 ] || mapfile -t order < <(printf '%s\n' "${order[@]}" | sort)
for id in "${order[@]}"; do
  printf '%-3s %-6s %4d.%ds  %s\n' "$id" "${result[$id]}" $((seconds[$id] / 10)) $((seconds[$id] % 10)) "${detail[$id]}"
  [ "${result[$id]}" = PASS ] || failed=1
done
if [ $failed -eq 0 ] && [ $keep -eq 0 ]; then
  rm -rf "$work"
else
  echo "logs: $work"
fi
[ ${#order[@]} -gt 0 ] || { echo "ike_strongswan: no scenario selected"; exit 2; }
total=$((($(date +%s%N) - all_started) / 100000000))
echo "ike_strongswan: ${#order[@]} scenarios in $((total / 10)).$((total % 10)) s"
exit $failed
