#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# gateway_pair.sh: two of our site-to-site gateways (examples/gateway)
# against each other in network namespaces: no strongSwan, so without its
# kernel-libipsec's UDP encapsulation the ESP crosses raw (IP protocol 50,
# the gateway's raw socket), the path gateway_strongswan.sh cannot test.
# Per scenario, in fresh namespaces of its own (so that up to --jobs of
# them run at once):
#   A   a gateway: outer 10.0.0.1 (veth ext0), the inside host 10.1.1.1/32
#       on lo (A's subnet 10.1.1.0/24); TUN gwtun, routes to B's subnet
#   B   the other: outer 10.0.0.2, inside host 10.1.2.1/32 (10.1.2.0/24)
# Scenarios (PSK, aes256gcm16-prfsha256-x25519 / esp aes256gcm16, A
# initiates (start_action = start), B responds (none) unless said otherwise):
#   a   IPv4 outer and inner
#   b   IPv6 outer (fd00::1/fd00::2) and inner (fd01:1::1, fd01:2::1),
#       addresses nodad
#   c   start_action = trap on both: A's first ping sets up the SAs
#   c2  as c, B's first ping sets them up (B initiates)
#   d   A rekeys: rekey_time = 3s and ike_rekey_time = 5s (B: defaults,
#       1h/4h), 12 s of pings both ways (5 a second): at most 1 lost each
#       way, at least 2 child SA and 1 IKE SA rekeys, then one IKE SA and
#       one child SA pair on both with the same SPIs; key export
#   e   A's DPD (dpd_delay = 2s, retransmit_timeout = 1s, retransmit_tries
#       = 2); B killed (SIGKILL): A reports ike_sa_down with (peer_dead)
#       dpd_delay + retransmit_timeout * (1 + 1.8 + 1.8^2) after it last
#       heard from B
#   f   key_export on both: the same rows on both sides; tshark decrypts
#       the captured ESP and IKE with A's esp_sa/ikev2_decryption_table
#   g   aes128-sha256-ecp256 / esp aes128-sha256 (AES-CBC + HMAC-SHA2-256);
#       key export (tshark decrypts the CBC+HMAC rows too)
#   g2  chacha20poly1305-prfsha256-modp2048 / esp chacha20poly1305
# Every scenario: the child SA comes up on both (the same IKE and ESP SPIs,
# proposal and mirrored traffic selectors, IKE on port 500 without NAT,
# tunnel mode not in UDP), 3 pings each way between the inside hosts all
# answered, both gateways' status lines (SIGUSR1) count them, and a
# capture of the outer veth (dumpcap, read by tshark without keys) shows
# the echoes as raw ESP (ip.proto / ipv6.nxt 50) on the SPIs the gateways
# announced, no packet on UDP 4500 and no inside address in the clear.
# Then SIGTERM on A: its Delete reaches B (B: ike_sa_down "deleted by the
# peer", status 0 IKE SAs), A exits 0 within 3 s; SIGTERM on B: exit 0;
# both TUN devices and routes gone. (e: B is dead; A alone.)
#
# Needs root, network namespaces, /dev/net/tun, iproute2, iputils-ping and
# tshark (with dumpcap). Without them it exits 77 (ctest: skipped), unless
# CI=true: then it fails.
#
# usage: gateway_pair.sh --gateway PATH/gateway [--only a,c] [--keep] [--jobs N]
# shellcheck disable=SC2317  # the body_* functions are called as "$body"
# shellcheck disable=SC2015  # "A && B || fail ...": fail only records a failure
set -uo pipefail

gateway="" only="" keep=0 jobs=10
while [ $# -gt 0 ]; do
  case "$1" in
    --gateway) gateway=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;     # keep the work directory (logs, captures) after a pass
    --jobs) jobs=$2; shift 2 ;;  # scenarios at once (default 10: all)
    *) echo "usage: $0 --gateway PATH [--only a,b,...] [--keep] [--jobs N]" >&2; exit 2 ;;
  esac
done

name=gateway_pair
# shellcheck source=tests/interop/scenarios.sh
source "$(dirname "$0")/scenarios.sh"

[ -x "$gateway" ] || { echo "gateway_pair: --gateway '$gateway' is not an executable" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "gateway_pair: --jobs wants a positive number" >&2; exit 2; }
gateway=$(realpath "$gateway")
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, TUN devices, raw ESP sockets)"
for cmd in ip ping dumpcap tshark; do
  command -v $cmd > /dev/null || skip "$cmd is missing"
done
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
probe=gpprobe$$
ip netns add $probe 2> /dev/null || skip "cannot create network namespaces"
ip netns del $probe

work=$(mktemp -d /tmp/gw-pair.XXXXXX)
mkdir -p "$work/ws-empty"  # tshark without personal settings (no ESP keys)
trap cleanup EXIT
# The scenarios run in the background and clean up after themselves on
# SIGTERM (and SIGINT: Ctrl-C reaches them too); then whatever namespace of
# ours is left (a scenario ended before its cleanup) goes.
interrupted() {
  trap '' INT TERM
  echo "gateway_pair: interrupted; logs: $work"
  kill "${bg[@]}" 2> /dev/null
  wait
  local id
  for id in "${order[@]}"; do ip netns del "gpa$$$id" 2> /dev/null; ip netns del "gpb$$$id" 2> /dev/null; done
  exit 130
}
trap interrupted INT TERM

psk="pair-psk-0123456789abcdef"

# other SIDE: the other gateway (A <-> B).
other() { if [ "$1" = A ]; then echo B; else echo A; fi; }

# ---- one scenario's pieces (they use the scenario's local variables) ----
# Per side S (A or B): ns[S], oaddr[S] (outer address), iaddr[S] (inside
# host), subnet[S], gpid[S], log: $dir/S.txt, configuration: $dir/S.conf.

# setup_net: namespaces, the veth pair and addresses (IPv6 only for b).
setup_net() {
  namespaces+=("${ns[A]}" "${ns[B]}")
  ip netns add "${ns[A]}" && ip netns add "${ns[B]}" || { fail "cannot create namespaces"; return 1; }
  ip link add ext0 netns "${ns[A]}" type veth peer name ext0 netns "${ns[B]}" || { fail "cannot create the veth pair"; return 1; }
  local s v6off=1 nodad=""
  [ "$net" = v6 ] && v6off=0 nodad=nodad
  for s in A B; do
    ip -n "${ns[$s]}" link set lo up
    # IPv6 off unless used: no ND/MLD/RS in the captures.
    ip netns exec "${ns[$s]}" sysctl -qw net.ipv6.conf.all.disable_ipv6=$v6off net.ipv6.conf.default.disable_ipv6=$v6off
    ip -n "${ns[$s]}" addr add "${oaddr[$s]}/$plen" dev ext0 $nodad && ip -n "${ns[$s]}" addr add "${iaddr[$s]}/$hlen" dev lo $nodad &&
      ip -n "${ns[$s]}" link set ext0 up || { fail "cannot configure addresses in $s"; return 1; }
  done
  # One ping checks the path and resolves the neighbours.
  ip netns exec "${ns[A]}" ping -c 1 -W 3 -q "${oaddr[B]}" > /dev/null 2>&1 || { fail "no connectivity ${oaddr[A]} -> ${oaddr[B]}"; return 1; }
}

# write_gateway SIDE: the gateway's configuration file. Scenario keys:
# start_S (start|trap|none), conn_S / global_S (lines added to the
# [connection] and [gateway] sections; KEYDIR: the side's key directory).
write_gateway() {
  local s=$1 o
  o=$(other "$1")
  local lo=${s,,} ro=${o,,} start_var=start_$1 conn_var=conn_$1 global_var=global_$1
  mkdir -p "$dir/keys-$s"
  {
    echo "# gateway_pair.sh scenario $id, side $s: $desc"
    echo "[gateway]"
    echo "tun = $tun"
    [ -z "${!global_var}" ] || printf '%s\n' "${!global_var//KEYDIR/$dir/keys-$s}"
    echo
    echo "[connection to-$ro]"
    echo "local_addrs = ${oaddr[$s]}"
    echo "remote_addrs = ${oaddr[$o]}"
    echo "local_id = fqdn:$lo.example.test"
    echo "remote_id = fqdn:$ro.example.test"
    echo "auth = psk"
    echo "psk = \"$psk\""
    echo "proposals = $ike"
    echo "esp_proposals = $esp"
    echo "local_ts = ${subnet[$s]}"
    echo "remote_ts = ${subnet[$o]}"
    echo "start_action = ${!start_var}"
    [ -z "${!conn_var}" ] || printf '%s\n' "${!conn_var}"
  } > "$dir/$s.conf"
}

# start_gateway SIDE: --check the configuration, then run it in its namespace.
start_gateway() {
  local s=$1
  write_gateway "$s"
  if ! "$gateway" --config "$dir/$s.conf" --check > "$dir/$s-check.txt" 2>&1; then
    fail "$s: gateway --check rejects the configuration: $(tr '\n' ' ' < "$dir/$s-check.txt")"
    return 1
  fi
  # ip netns exec execs the gateway: $! is its PID.
  ip netns exec "${ns[$s]}" "$gateway" --config "$dir/$s.conf" --name "$s" --verbose > "$dir/$s.txt" 2>&1 < /dev/null &
  gpid[$s]=$!
  pids+=("${gpid[$s]}")
  wait_for "grep -qs '] listening on ' $dir/$s.txt || ! alive ${gpid[$s]}" 5
  grep -qs '] listening on ' "$dir/$s.txt" || { fail "$s: gateway did not start (no 'listening on')"; return 1; }
}

# start_capture: dumpcap on B's end of the outer veth.
start_capture() {
  ip netns exec "${ns[B]}" dumpcap -q -i ext0 -w "$dir/outer.pcapng" > /dev/null 2> "$dir/dumpcap.err" < /dev/null &
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

# child_spis SIDE: its child SAs "IN OUT" (hex, no 0x), one per
# child_sa_up event, oldest first.
child_spis() {
  sed -n 's/.*] event child_sa_up .* SPIs 0x\([0-9a-f]*\)_i 0x\([0-9a-f]*\)_o .*/\1 \2/p' "$dir/$1.txt"
}
# live_child SIDE: the child SAs up and not deleted since ("IN OUT" lines).
live_child() {
  local in out
  while read -r in out; do
    grep -q "] event child_sa_delete .* SPIs 0x${in}_i " "$dir/$1.txt" || echo "$in $out"
  done < <(child_spis "$1")
}
# newest_ike SIDE: its newest IKE SA (after rekeys): the handle in the
# events, which is the side's own SPI of it.
newest_ike() {
  sed -n 's/.*] event ike_sa_rekeyed <[^|]*|\([0-9a-f]*\)> replaces .*/\1/p; s/.*] event ike_sa_up <[^|]*|\([0-9a-f]*\)>.*/\1/p' \
    "$dir/$1.txt" | tail -1
}

# same_ike: A's and B's newest IKE SAs are the same SA: one row of A's
# exported ikev2_decryption_table (key_export) holds both SPIs.
same_ike() {
  local a b
  a=$(newest_ike A) b=$(newest_ike B)
  [ -n "$a" ] && [ -n "$b" ] && grep -Eq "^($a,$b|$b,$a)," "$dir/keys-A/ikev2_decryption_table" 2> /dev/null
}

# gw_status SIDE: its status line (SIGUSR1), into $status.
gw_status() {
  local before f=$dir/$1.txt
  status=""
  before=$(grep -c '] status: ' "$f")
  kill -USR1 "${gpid[$1]}" 2> /dev/null || return 1
  wait_for "[ \$(grep -c '] status: ' $f) -gt $before ]" 2 || return 1
  status=$(grep '] status: ' "$f" | tail -1)
}

# ping_both COUNT MAX_LOST: COUNT pings each way between the inside hosts,
# 5 a second, at the same time; at most MAX_LOST lost each way. Adds the
# replies to $replies (each one an ESP packet each way on the wire).
ping_both() {
  pings=$((pings + 1))
  local s f got p=()
  for s in A B; do
    f=$dir/ping-$pings-$s.txt
    ip netns exec "${ns[$s]}" ping -c "$1" -i 0.2 -W 1 -I "${iaddr[$s]}" "${iaddr[$(other $s)]}" > "$f" 2>&1 &
    p+=($!)
  done
  pids+=("${p[@]}")
  wait "${p[@]}"
  for s in A B; do
    f=$dir/ping-$pings-$s.txt
    got=$(sed -n "s/^$1 packets transmitted, \([0-9]*\) received.*/\1/p" "$f")
    replies=$((replies + ${got:-0}))
    [ -n "$got" ] && [ "$got" -ge $(($1 - $2)) ] ||
      fail "ping ${f#"$dir"/}: $(grep transmitted "$f" || tail -1 "$f") (at most $2 of $1 lost)"
  done
}

# check_up: right after the child SA came up: both sides agree on the IKE
# SA (SPIs, roles, port 500 without NAT) and the child SA (SPIs, proposal,
# mirrored selectors, tunnel mode without UDP); the routes are in place.
check_up() {
  local s o ike_line child_line spis role
  for s in A B; do
    o=$(other "$s")
    wait_for "grep -q '] event child_sa_up' $dir/$s.txt" 5 || { fail "$s: no child_sa_up event"; return 1; }
    ike_line=$(grep -m1 '] event ike_sa_up ' "$dir/$s.txt")
    child_line=$(grep -m1 '] event child_sa_up ' "$dir/$s.txt")
    spis=$(sed -n 's/.* SPIs \([0-9a-f]*_i [0-9a-f]*_r\) .*/\1/p' <<< "$ike_line")
    [ -n "$spis" ] || { fail "$s: no ike_sa_up event with SPIs"; return 1; }
    declare -g "ike_spis_$s=$spis"
    role=responder
    [ "$s" = "$initiator" ] && role=initiator
    [[ "$ike_line" == *" $role SPIs "* ]] || fail "$s: ike_sa_up not as $role: $ike_line"
    [[ "$ike_line" == *" ${oaddr[$s]}[500]["*"] ... ${oaddr[$o]}[500]["* ]] ||
      fail "$s: ike_sa_up not between ${oaddr[$s]}[500] and ${oaddr[$o]}[500]: $ike_line"
    [[ "$ike_line" != *"NAT detected"* ]] || fail "$s: NAT detected without a NAT: $ike_line"
    [[ "$child_line" == *" tunnel proposal $esp_algs/"*" ${subnet[$s]} === ${subnet[$o]}"* ]] ||
      fail "$s: child_sa_up not 'tunnel proposal $esp_algs/... ${subnet[$s]} === ${subnet[$o]}': $child_line"
    declare -g "child_proposal_$s=$(sed -n 's/.* proposal \([^ ]*\) .*/\1/p' <<< "$child_line")"
    ip -n "${ns[$s]}" "-$ipv" route show "${subnet[$o]}" | grep -q "dev $tun" || fail "$s: no route for ${subnet[$o]} via $tun"
  done
  [ "$ike_spis_A" = "$ike_spis_B" ] || fail "IKE SPIs differ: A $ike_spis_A, B $ike_spis_B"
  [ "$child_proposal_A" = "$child_proposal_B" ] || fail "child SA proposals differ: A $child_proposal_A, B $child_proposal_B"
  local a_in a_out b_in b_out
  read -r a_in a_out <<< "$(child_spis A | head -1)"
  read -r b_in b_out <<< "$(child_spis B | head -1)"
  [ "$a_in" = "$b_out" ] && [ "$a_out" = "$b_in" ] ||
    fail "ESP SPIs do not pair: A in 0x$a_in out 0x$a_out, B in 0x$b_in out 0x$b_out"
}

# check_traffic: after the pings: both status lines count them.
check_traffic() {
  local s tun_in tun_out esp_in esp_out drops
  for s in A B; do
    if ! gw_status "$s"; then
      fail "$s: no status line on SIGUSR1"
      continue
    fi
    read -r tun_in tun_out esp_in esp_out drops <<< "$(sed -n \
      's/.*; tun [^:]*: in \([0-9]*\) packets [0-9]* bytes, out \([0-9]*\) packets [0-9]* bytes; esp: in \([0-9]*\), out \([0-9]*\), drops \([0-9]*\).*/\1 \2 \3 \4 \5/p' \
      <<< "$status")"
    if [ -z "$drops" ]; then
      fail "$s: status line not as specified: $status"
      continue
    fi
    echo "$s: $status"
    [ "$tun_in" -ge "$replies" ] && [ "$tun_out" -ge "$replies" ] && [ "$esp_in" -ge "$replies" ] &&
      [ "$esp_out" -ge "$replies" ] || fail "$s: counters below the $replies echo round trips: $status"
    local want=drops_$s
    [[ "$status" =~ ${!want} ]] || fail "$s: drops in its status line not /${!want}/: $status"
  done
}

# check_capture: the outer veth as captured (tshark without keys): every
# echo round trip crossed as one raw ESP packet (IP protocol 50) each way,
# on A's child SAs' SPIs; nothing on UDP 4500; no packet from or to an
# inside address in the clear.
check_capture() {
  [ -s "$dir/outer.pcapng" ] || { fail "no capture"; return; }
  local filter="esp || udp.port == 4500 || ip.addr == ${iaddr[A]} || ip.addr == ${iaddr[B]}"
  [ "$net" = v6 ] && filter="esp || udp.port == 4500 || ipv6.addr == ${iaddr[A]} || ipv6.addr == ${iaddr[B]}"
  WIRESHARK_CONFIG_DIR=$work/ws-empty tshark -n -r "$dir/outer.pcapng" -Y "$filter" -T fields \
    -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e ip.proto -e ipv6.nxt -e udp.srcport -e udp.dstport \
    -e esp.spi -e icmp.type -e icmpv6.type > "$dir/outer.txt" 2> "$dir/tshark.err" ||
    { fail "tshark cannot read the capture: $(grep -v 'Running as user' "$dir/tshark.err")"; return; }
  local spis_out spis_in summary
  spis_out=$(child_spis A | awk '{ print "0x" $2 }' | tr '\n' ' ')
  spis_in=$(child_spis A | awk '{ print "0x" $1 }' | tr '\n' ' ')
  summary=$(awk -F'\t' -v a="${oaddr[A]}" -v b="${oaddr[B]}" -v outs="$spis_out" -v ins="$spis_in" '
    BEGIN { n = split(outs, x, " "); for (i = 1; i <= n; i++) ours_out[x[i]] = 1
            n = split(ins, x, " "); for (i = 1; i <= n; i++) ours_in[x[i]] = 1 }
    {
      src = $1 $2; dst = $3 $4; sub(/,.*/, "", src); sub(/,.*/, "", dst)
      proto = $5 $6; sub(/,.*/, "", proto)
      if ($7 == 4500 || $8 == 4500) { udp4500++; next }
      if ($9 == "") { clear++; if (clear <= 3) leak = leak " " src "->" dst; next }
      if ($10 != "" || $11 != "") { icmp_errors++; next }  # ESP quoted in an ICMP error
      spi = $9; sub(/,.*/, "", spi)
      if (src == a && dst == b) { dir = "out"; ok = (spi in ours_out) } else if (src == b && dst == a) { dir = "in"; ok = (spi in ours_in) }
      else { other++; next }
      count[dir]++; spis[dir, spi] = 1
      if (!ok) { foreign[dir]++; if (!(dir spi in seen)) { seen[dir spi] = 1; foreign_spis = foreign_spis " " spi } }
      if (proto == 50 && $7 == "") raw[dir]++; else not_raw++
    }
    END {
      for (k in spis) { split(k, p, SUBSEP); distinct[p[1]]++ }
      printf "out=%d in=%d raw_out=%d raw_in=%d not_raw=%d udp4500=%d spis_out=%d spis_in=%d foreign_out=%d foreign_in=%d clear=%d other=%d icmp_errors=%d\n",
        count["out"], count["in"], raw["out"], raw["in"], not_raw, udp4500, distinct["out"], distinct["in"],
        foreign["out"], foreign["in"], clear, other, icmp_errors
      printf "leak=%s\nforeign_spis=%s\n", leak, foreign_spis
    }' "$dir/outer.txt")
  echo "capture (ext0): $(head -1 <<< "$summary")"
  local out=0 in=0 raw_out=0 raw_in=0 not_raw=0 udp4500=0 spis_out=0 spis_in=0 foreign_out=0 foreign_in=0 clear=0 kv
  for kv in $(head -1 <<< "$summary"); do
    case ${kv%%=*} in other | icmp_errors) continue ;; esac  # shown above, not judged
    local "${kv%%=*}=${kv#*=}"
  done
  [ "$raw_out" -ge "$replies" ] && [ "$raw_in" -ge "$replies" ] ||
    fail "capture: raw ESP (protocol 50) A->B $raw_out, B->A $raw_in, not at least the $replies echo round trips each way"
  [ "$not_raw" -eq 0 ] || fail "capture: $not_raw ESP packets not as IP protocol 50"
  [ "$udp4500" -eq 0 ] || fail "capture: $udp4500 packets on UDP 4500 (no NAT here)"
  [ "$clear" -eq 0 ] || fail "capture: $clear packets of the inside addresses in the clear:$(sed -n 's/^leak=//p' <<< "$summary")"
  [ $((foreign_out + foreign_in)) -eq 0 ] ||
    fail "capture: ESP on SPIs A never announced:$(sed -n 's/^foreign_spis=//p' <<< "$summary")"
  [ "$spis_out" -ge "$min_spis" ] && [ "$spis_in" -ge "$min_spis" ] ||
    fail "capture: ESP on $spis_out SPIs A->B and $spis_in B->A, not at least $min_spis each"
}

# stop_gateway SIDE: SIGTERM; it must exit 0 within 5 s (it waits up to 2 s
# for the answers to its Deletes) and remove its TUN device and routes.
stop_gateway() {
  local s=$1 rc=0 t0 f=$dir/$1.txt
  [ -n "${gpid[$s]}" ] || return 0
  t0=$(now_ms)
  kill -TERM "${gpid[$s]}" 2> /dev/null
  if ! wait_for "! alive ${gpid[$s]}" 5; then
    fail "$s: still running 5 s after SIGTERM"
    kill -9 "${gpid[$s]}"
  fi
  wait "${gpid[$s]}" || rc=$?
  stopped_ms=$(($(now_ms) - t0))
  gpid[$s]=""
  [ "$rc" -eq 0 ] || fail "$s: exited with $rc after SIGTERM"
  grep -q "] exit 0: .*; status: 0 IKE SA(s), 0 established, 0 child SA(s);" "$f" ||
    fail "$s: no 'exit 0' line with 0 IKE SAs: $(grep '] exit ' "$f")"
  ! ip -n "${ns[$s]}" link show "$tun" > /dev/null 2>&1 || fail "$s: TUN $tun still exists after exit"
  ! ip -n "${ns[$s]}" route show | grep -q "dev $tun" || fail "$s: routes via $tun left after exit"
}

# stop_both: SIGTERM on A: its Delete reaches B (answered: A exits within
# 3 s), B holds no SA; then SIGTERM on B (nothing left to close).
stop_both() {
  [ -n "${gpid[A]}" ] || return 0
  local b_alive=0
  [ -n "${gpid[B]}" ] && alive "${gpid[B]}" && b_alive=1
  stop_gateway A
  echo "A exited $stopped_ms ms after SIGTERM"
  [ "$b_alive" = 1 ] || return 0
  [ "$stopped_ms" -le 3000 ] || fail "A: exit took $stopped_ms ms after SIGTERM (B answers the Delete at once)"
  grep -Eq "sending INFORMATIONAL request [0-9]+ \[ D \]" "$dir/A.txt" || fail "A: no Delete sent"
  grep -q "] event ike_sa_down .* deleted" "$dir/A.txt" || fail "A: no ike_sa_down 'deleted'"
  grep -Eq "received INFORMATIONAL request [0-9]+ \[ D \]" "$dir/B.txt" || fail "B: no Delete received"
  wait_for "grep -q '] event ike_sa_down .*deleted by the peer' $dir/B.txt" 2 || fail "B: no ike_sa_down 'deleted by the peer'"
  if gw_status B; then
    [[ "$status" == *"status: 0 IKE SA(s), 0 established, 0 child SA(s);"* ]] || fail "B: SAs left after A's Delete: $status"
  else
    fail "B: no status line on SIGUSR1"
  fi
  stop_gateway B
  grep -q "] signal: closing 0 IKE SA(s)" "$dir/B.txt" || fail "B: closed IKE SAs on SIGTERM (A had deleted them)"
}

# ---- scenario bodies: after the SAs are up and 3 pings each way ----

# body_rekey (d): 60 pings each way (12 s) while A rekeys its child SA
# every ~3 s and its IKE SA every ~5 s: at most 1 lost each way, at least
# 2 child SA and 1 IKE SA rekeys (seen on both sides); then both settle on
# one IKE SA (A's newest) and one child SA pair with the same, new SPIs.
body_rekey() {
  local first
  first=$(child_spis A | head -1)
  ping_both 60 1
  local s
  for s in A B; do echo "pings from $s: $(grep transmitted "$dir/ping-$pings-$s.txt")"; done
  for s in A B; do
    at_least 2 "] event child_sa_up .* rekeys 0x" "$dir/$s.txt" "$s: child SA rekeys"
    at_least 1 "] event ike_sa_rekeyed <[^|]*\|[0-9a-f]+> replaces " "$dir/$s.txt" "$s: IKE SA rekeys"
    ! grep -Eq "] event (child_sa_failed|ike_sa_down|child_sa_delete .*expired)" "$dir/$s.txt" ||
      fail "$s: a child SA failed or expired, or the IKE SA went down: $(grep -Em2 "] event (child_sa_failed|ike_sa_down|child_sa_delete .*expired)" "$dir/$s.txt" | tr '\n' ' ')"
  done
  at_least 2 "sending CREATE_CHILD_SA request [0-9]+ \[ N\(REKEY_SA\)" "$dir/A.txt" "A: child SA rekeys it initiated"
  at_least 1 "sending CREATE_CHILD_SA request [0-9]+ \[ SA No KE \]" "$dir/A.txt" "A: IKE SA rekeys it initiated"
  settle || return
  [ "$(live_child A)" != "$first" ] || fail "A: the child SA pair is still the first ($first)"
}

# settle: within 5 s both sides hold one IKE SA (the same newest one:
# same_ike, so key_export on) and one child SA pair with the same SPIs
# (status lines and events).
settle() {
  local _ a_in a_out b_in b_out ok sa sb
  for _ in $(seq 10); do
    ok=1
    read -r a_in a_out <<< "$(live_child A)"
    read -r b_in b_out <<< "$(live_child B)"
    [ "$(live_child A | wc -l)" -eq 1 ] && [ "$(live_child B | wc -l)" -eq 1 ] && [ "$a_in" = "$b_out" ] &&
      [ "$a_out" = "$b_in" ] && same_ike || ok=0
    gw_status A && sa=$status && gw_status B && sb=$status || ok=0
    [[ "$sa" == *"status: 1 IKE SA(s), 1 established, 1 child SA(s);"* ]] &&
      [[ "$sb" == *"status: 1 IKE SA(s), 1 established, 1 child SA(s);"* ]] || ok=0
    [ "$ok" = 0 ] || return 0
    sleep 0.5
  done
  fail "not settled: want 1 IKE SA and 1 child SA pair, the same SPIs on both sides; A: live child SAs" \
    "$(live_child A | tr '\n' ';') newest IKE SA $(newest_ike A), ${sa:-no status line}; B: live child SAs" \
    "$(live_child B | tr '\n' ';') newest IKE SA $(newest_ike B), ${sb:-no status line}"
  return 1
}

# body_dpd (e): A's DPD (dpd_delay, retransmit_* from its config) on the
# idle tunnel: once a DPD request was answered, B is killed (SIGKILL: no
# Delete). A must report ike_sa_down with peer_dead dpd_delay +
# retransmit_timeout * (1 + base + ... + base^tries) after it last heard
# from B (its own clock), its child SA deleted.
body_dpd() {
  local dpd rt base tries c=$dir/A.conf
  dpd=$(conf_seconds "$c" dpd_delay 30) rt=$(conf_seconds "$c" retransmit_timeout 4)
  base=$(conf_seconds "$c" retransmit_base 1.8) tries=$(conf_seconds "$c" retransmit_tries 5)
  if ! wait_for "grep -Eq 'received INFORMATIONAL response [0-9]+ \[ \]' $dir/A.txt" "$dpd + 3"; then
    fail "A: no DPD exchange (empty INFORMATIONAL) within $dpd + 3 s"
    return
  fi
  echo "DPD: dpd_delay $dpd s, retransmit_timeout $rt s, retransmit_base $base, retransmit_tries $tries"
  local t0 ms
  t0=$(now_ms)
  kill -9 "${gpid[B]}"
  wait "${gpid[B]}" 2> /dev/null
  gpid[B]=""
  local expect
  expect=$(awk -v d="$dpd" -v r="$rt" -v b="$base" -v n="$tries" 'BEGIN { s = 0; for (k = 0; k <= n; k++) s += r * b ^ k; print d + s }')
  if ! wait_for "grep -q '] event ike_sa_down' $dir/A.txt" "$(awk -v e="$expect" 'BEGIN { print e + 3 }')"; then
    fail "A: no ike_sa_down within $expect + 3 s of B's death"
    return
  fi
  ms=$(($(now_ms) - t0))
  # On A's clock: from the last message it received to ike_sa_down.
  local heard down took
  heard=$(sed -n '/] event ike_sa_down/q; s/^\[A *\([0-9.]*\)\] log: .* received .*/\1/p' "$dir/A.txt" | tail -1)
  down=$(sed -n 's/^\[A *\([0-9.]*\)\] event ike_sa_down.*/\1/p' "$dir/A.txt" | head -1)
  took=$(awk -v h="${heard:-0}" -v d="$down" 'BEGIN { printf "%.3f", d - h }')
  echo "ike_sa_down $ms ms after B was killed, $took s after A last heard from it (expected $expect s)"
  awk -v t="$took" -v e="$expect" 'BEGIN { exit !(t >= e - 0.2 && t <= e + 1.0) }' ||
    fail "A: ike_sa_down $took s after it last heard from B, not $expect s (-0.2/+1.0)"
  [ "$ms" -le "$(awk -v e="$expect" 'BEGIN { print int((e + 1.5) * 1000) }')" ] ||
    fail "A: ike_sa_down $ms ms after B was killed, more than $expect + 1.5 s"
  grep -Eq "] event ike_sa_down .*peer not responding.*\(peer_dead\)" "$dir/A.txt" ||
    fail "A: ike_sa_down without peer_dead: $(grep '] event ike_sa_down' "$dir/A.txt")"
  at_least "$tries" "retransmit [0-9]+ of request" "$dir/A.txt" "A: DPD retransmissions"
  grep -q "] event child_sa_delete" "$dir/A.txt" || fail "A: no child_sa_delete"
  ! ip -n "${ns[B]}" link show "$tun" > /dev/null 2>&1 || fail "B: TUN $tun still exists after B was killed"
}

# check_keys (after the capture; with key_export = KEYDIR on both): both
# sides exported the same rows (each SA from both ends); tshark with A's
# esp_sa and ikev2_decryption_table decrypts every captured ESP packet
# (all of them ICMP echoes between the inside hosts, ICV good; at least 3
# requests and replies each way) and every encrypted IKE message without
# an expert warning.
check_keys() {
  local f s
  for s in A B; do
    for f in esp_sa ikev2_decryption_table; do
      [ -s "$dir/keys-$s/$f" ] || { fail "key_export: no keys-$s/$f"; return; }
    done
  done
  for f in esp_sa ikev2_decryption_table; do
    cmp -s <(sort "$dir/keys-A/$f") <(sort "$dir/keys-B/$f") ||
      fail "key_export: A's and B's $f differ (keys-A/$f, keys-B/$f)"
  done
  check_decryption "$dir/keys-A" "${iaddr[A]}" "${iaddr[B]}" A B
}

# ---- running the scenarios ----

# scenario ID DESCRIPTION [KEY=VALUE...]: run one in the background (at
# most --jobs at once). Keys: net (v4|v6), start_A, start_B (start|trap|
# none), first (trap: the side whose ping comes first), ike, esp,
# esp_algs (the child_sa_up proposal's start), conn_A, conn_B, global_A,
# global_B (lines added to the [connection] and [gateway] sections), body,
# post (after the capture), min_spis, drops_A, drops_B (what the status
# lines may say about drops after the first pings: an ERE).

run_scenario() {
  local id=$1 desc=$2
  shift 2
  scenario_traps
  # shellcheck disable=SC2034  # start_*, conn_*, global_*, drops_*: read as ${!name}
  local net=v4 start_A=start start_B=none first=A ike=aes256gcm16-prfsha256-x25519 esp=aes256gcm16 conn_A="" conn_B="" \
    global_A="" global_B="" drops_A="drops 0," drops_B="drops 0,"
  local esp_algs=AES_GCM_16_256 body="" post="" min_spis=1 kv
  for kv in "$@"; do local "${kv%%=*}=${kv#*=}"; done
  local started dir=$work/$id fails=() pings=0 replies=0 status="" stopped_ms=0 cap="" tun=gwtun
  local ike_spis_A="" ike_spis_B="" child_proposal_A="" child_proposal_B=""
  local -A ns=([A]=gpa$$$id [B]=gpb$$$id) gpid=([A]="" [B]="")
  local -A oaddr=([A]=10.0.0.1 [B]=10.0.0.2) iaddr=([A]=10.1.1.1 [B]=10.1.2.1) subnet=([A]=10.1.1.0/24 [B]=10.1.2.0/24)
  local plen=24 hlen=32 ipv=4
  if [ "$net" = v6 ]; then
    oaddr=([A]=fd00::1 [B]=fd00::2) iaddr=([A]=fd01:1::1 [B]=fd01:2::1) subnet=([A]=fd01:1::/64 [B]=fd01:2::/64)
    plen=64 hlen=128 ipv=6
  fi
  local initiator=A
  [ "$start_A" = trap ] && initiator=$first
  started=$(date +%s%N)
  echo "=== $id: $desc"

  # B (the responder) first, so that A's IKE_SA_INIT finds it listening.
  if setup_net && start_capture && start_gateway B && start_gateway A; then
    local up=1 s
    if [ "$start_A" = trap ]; then
      # Nothing until the first packet: then the ACQUIRE starts the IKE SA.
      sleep 1
      for s in A B; do
        ! grep -q "IKE_SA_INIT" "$dir/$s.txt" || fail "$s: IKE_SA_INIT before any packet (start_action = trap)"
      done
      ip netns exec "${ns[$first]}" ping -c 5 -i 0.2 -W 3 -I "${iaddr[$first]}" "${iaddr[$(other "$first")]}" > "$dir/ping-trap.txt" 2>&1
      local got
      got=$(sed -n 's/^5 packets transmitted, \([0-9]*\) received.*/\1/p' "$dir/ping-trap.txt")
      echo "trap: $got of 5 pings from $first answered while the SAs came up"
      [ "${got:-0}" -ge 4 ] || fail "trap: ${got:-0} of 5 pings from $first answered (want at least 4: the first is held)"
      grep -q "sending IKE_SA_INIT request" "$dir/$first.txt" || fail "$first: no IKE_SA_INIT after the first packet"
      ! grep -q "sending IKE_SA_INIT request" "$dir/$(other "$first").txt" ||
        fail "$(other "$first"): sent an IKE_SA_INIT too (its SA was set up by $first)"
    fi
    if ! wait_for "grep -qs '] event child_sa_up' $dir/A.txt || ! alive ${gpid[A]}" 10 ||
      ! grep -qs '] event child_sa_up' "$dir/A.txt"; then
      fail "A: no child SA (no child_sa_up event)"
      up=0
    fi
    if [ "$up" = 1 ] && check_up; then
      ping_both 3 0
      check_traffic
      [ -z "$body" ] || $body
    fi
  fi
  stop_both
  stop_capture
  check_capture
  [ -z "$post" ] || $post
  for s in A B; do
    ! grep -q "] log error: " "$dir/$s.txt" 2> /dev/null || fail "$s: engine error lines ('log error:')"
  done
  cleanup
  local tenths=$((($(date +%s%N) - started) / 100000000))
  if [ ${#fails[@]} -eq 0 ]; then
    echo "PASS $tenths" > "$dir/result"
  else
    echo "FAIL $tenths" > "$dir/result"
    echo "--- $id FAILED:"
    printf '    %s\n' "${fails[@]}"
    local f
    for f in A-check.txt B-check.txt ping-trap.txt dumpcap.err; do
      [ -s "$dir/$f" ] || continue
      echo "--- $id: $f"
      cat "$dir/$f"
    done
    for f in A.txt B.txt; do
      [ -s "$dir/$f" ] || continue
      echo "--- $id: $f (last 60 lines; all of it in $dir)"
      tail -60 "$dir/$f"
    done
  fi
}

keys=("global_A=key_export = KEYDIR" "global_B=key_export = KEYDIR" post=check_keys)
# IPv6 on: the kernel sends a Router Solicitation (and MLD) from the TUN
# device's link-local address: no policy for it (RFC 4301 discard).
v6_drops='drops 0,|drops [0-9]+ \(policy [0-9]+\),'
# trap: the datapath counts the packets it held during the ACQUIRE as
# no_sa (they go out once the SA is up): at most the 5 pings of the
# initiating side.
held_drops='drops 0,|drops [1-5] \(no_sa [1-5]\),'

# The long ones first (they mostly wait for timers).
scenario d "A rekeys: child SA every 3 s, IKE SA every 5 s, during 12 s of pings both ways; key export" \
  conn_A=$'rekey_time = 3s\nike_rekey_time = 5s' body=body_rekey min_spis=3 "${keys[@]}"
scenario e "A's DPD (dpd_delay 2s, retransmit 1s x1.8^n, 2 tries); B killed (SIGKILL): peer_dead in time" \
  global_A=$'retransmit_timeout = 1s\nretransmit_tries = 2' conn_A="dpd_delay = 2s" body=body_dpd
scenario a "IPv4 outer and inner, PSK, A initiates (start_action = start), B responds"
scenario b "IPv6 outer (fd00::1 - fd00::2) and inner (fd01:1::1 - fd01:2::1), nodad" net=v6 \
  drops_A="$v6_drops" drops_B="$v6_drops"
scenario c "start_action = trap on both: A's first ping sets up the SAs" start_A=trap start_B=trap first=A \
  drops_A="$held_drops"
scenario c2 "start_action = trap on both: B's first ping sets up the SAs" start_A=trap start_B=trap first=B \
  drops_B="$held_drops"
scenario f "key_export on both: the same rows; tshark decrypts the raw ESP and IKE with A's" "${keys[@]}"
scenario g "aes128-sha256-ecp256 / esp aes128-sha256 (AES-CBC + HMAC-SHA2-256); key export" \
  ike=aes128-sha256-ecp256 esp=aes128-sha256 esp_algs=AES_CBC_128 "${keys[@]}"
scenario g2 "chacha20poly1305-prfsha256-modp2048 / esp chacha20poly1305" \
  ike=chacha20poly1305-prfsha256-modp2048 esp=chacha20poly1305 esp_algs=CHACHA20_POLY1305

finish_scenarios "gateway_pair: tshark $(dpkg-query -W -f='${Version}' tshark 2> /dev/null)"
