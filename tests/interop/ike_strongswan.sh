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
# Needs root, network namespaces and the packages scripts/setup.sh installs
# (strongswan-charon, strongswan-swanctl, libstrongswan-standard-plugins,
# libstrongswan-extra-plugins, libcharon-extra-plugins, iproute2, iputils-ping,
# openssl).
# Without them it exits 77 (ctest: skipped), unless CI=true: then it fails.
#
# usage: ike_strongswan.sh --peer PATH/ike_peer --pki tests/data/ike/pki [--only a,c] [--keep]
set -uo pipefail

peer="" pki="" only="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --peer) peer=$2; shift 2 ;;
    --pki) pki=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;  # keep the work directory (logs) after a pass
    *) echo "usage: $0 --peer PATH --pki DIR [--only a,b,...] [--keep]" >&2; exit 2 ;;
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
trap 'echo "ike_strongswan: interrupted; logs: $work"; exit 130' INT TERM

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
  cat > "$dir/strongswan.conf" << EOF
charon {
  load = random nonce openssl aes sha1 sha2 hmac gcm kdf curve25519 x509 pem pkcs1 pkcs8 pubkey constraints revocation kernel-libipsec kernel-netlink socket-default vici
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

  # Namespaces: fp (ike_peer) 10.0.0.1 <-> sw (charon) 10.0.0.2 (or IPv6);
  # the inside networks' hosts are /32 on lo (no dummy driver here). IPv6
  # is off unless used, to keep ND/MLD away.
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

  # charon with a private /run (its pid file path is compiled in), its own
  # strongswan.conf, swanctl directory and vici socket.
  write_charon "$dir/charon" "$auth" "$ike" "$esp" $sw_addr $fp_addr
  local uri=unix://$dir/charon/charon.vici cpid ppid rc=0
  ip netns exec "$sw" unshare -m --propagation private sh -c \
    "mount --bind $dir/charon/run /run && exec env STRONGSWAN_CONF=$dir/charon/strongswan.conf $charon" \
    > "$dir/charon/charon.out" 2>&1 < /dev/null &
  cpid=$!
  pids+=("$cpid")
  wait_for "[ -S $dir/charon/charon.vici ]" 10 || fails+=("charon did not start")
  SWANCTL_DIR=$dir/charon/swanctl swanctl --load-all --noprompt --uri "$uri" > "$dir/swanctl-load.txt" 2>&1 ||
    fails+=("swanctl --load-all failed")

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

gcm_ike=AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519
cbc_ike=AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048
gcm=(aes256gcm16-prfsha256-x25519 aes256gcm16 "$gcm_ike" AES_GCM_16-256)
cbc=(aes128-sha256-modp2048 aes128-sha256 "$cbc_ike" AES_CBC-128/HMAC_SHA2_256_128)
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

echo
echo "ike_strongswan: strongSwan $(dpkg-query -W -f='${Version}' strongswan-charon 2> /dev/null)"
failed=0
printf '%-3s %-6s %6s  %s\n' id result time scenario
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
exit $failed
