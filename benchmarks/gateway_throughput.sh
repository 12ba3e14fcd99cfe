#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# gateway_throughput.sh: iperf3 TCP throughput through a site-to-site IPsec
# tunnel, AES-256-GCM (IKE aes256gcm16-prfsha256-x25519, ESP aes256gcm16), PSK:
#   plain       no IPsec: the inside addresses routed directly over the veth (the ceiling)
#   strongswan  a pair of strongSwan charons with kernel-libipsec (ESP in user
#               space over TUN ipsec0; libipsec only does UDP-encapsulated ESP,
#               so ESP runs in UDP 4500 both ways)
#   ours        a pair of examples/gateway (ESP in user space over TUN gw0, raw
#               ESP: IP protocol 50)
# Topology (the same for all three), two network namespaces joined by a veth pair:
#   A: outer 10.0.0.1/24, inside host 10.1.1.1/32 on lo   (iperf3 client)
#   B: outer 10.0.0.2/24, inside host 10.1.2.1/32 on lo   (iperf3 server)
#   iperf3 -c 10.1.2.1 -B 10.1.1.1 -t TIME -J, RUNS times; the median of the
#   receiver's bits_per_second is the figure, and ratios between the cases.
# All three tunnels stay up side by side, each in its own pair of namespaces,
# and the runs take turns (plain, strongswan, ours, plain, ...), so that a
# change in the machine's load hits every case alike. Per run it also reports
# TCP retransmissions and "socket drops": datagrams the kernel dropped at
# the raw/UDP sockets of A and B because their receive buffer was full
# (/proc/net/raw, /proc/net/udp), i.e. the gateway or charon read too slowly.
# A benchmark, not a test: it exits 0 when it measured what it was asked to,
# 1 when a case could not be measured (its logs are kept), 2 on bad usage.
#
# --profile: one more iperf3 run through our gateways (not counted) under
# `perf record -g -e cpu-clock` on both gateway processes; prints the top of
# `perf report` and a summary by category (crypto, kernel/syscalls, copies,
# allocation, engine/datapath, other user space). Falls back to
# `valgrind --tool=callgrind` (a short run; much slower) when perf cannot record.
#
# Needs root, iproute2, unshare, iperf3 (installed with apt-get if missing),
# strongswan-charon + strongswan-swanctl + libcharon-extra-plugins
# (kernel-libipsec) + libstrongswan-extra-plugins (curve25519) +
# libstrongswan-standard-plugins (gcm/openssl) for the strongswan case.
# The machine's load average goes into the output: on a shared machine the
# figures move with it.
#
# usage: gateway_throughput.sh [--gateway PATH] [--runs N] [--time S]
#                              [--only strongswan|ours|plain] [--profile] [--keep]
# shellcheck disable=SC2317  # up_/down_ CASE are called as up_$c
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
gateway=$here/../build/release/examples/gateway
runs=3 secs=10 only="" profile=0 keep=0
usage() {
  echo "usage: $0 [--gateway PATH] [--runs N] [--time S] [--only strongswan|ours|plain] [--profile] [--keep]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --gateway) [ $# -ge 2 ] || usage; gateway=$2; shift 2 ;;
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --time) [ $# -ge 2 ] || usage; secs=$2; shift 2 ;;
    --only) [ $# -ge 2 ] || usage; only=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    --keep) keep=1; shift ;;  # keep the work directory (configs, logs, iperf3 JSON)
    -h | --help) usage ;;
    *) usage ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || usage
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || usage
case "$only" in "" | strongswan | ours | plain) ;; *) usage ;; esac
cases=(plain strongswan ours)
[ -z "$only" ] || cases=("$only")
if [ $profile = 1 ] && [ -n "$only" ] && [ "$only" != ours ]; then
  echo "gateway_throughput: --profile profiles our gateway: use it without --only or with --only ours" >&2
  exit 2
fi

die() { echo "gateway_throughput: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TUN, charon)"
for cmd in ip unshare mount; do command -v $cmd > /dev/null || die "$cmd is missing"; done
if ! command -v iperf3 > /dev/null; then
  echo "gateway_throughput: installing iperf3"
  DEBIAN_FRONTEND=noninteractive apt-get install -y iperf3 > /dev/null 2>&1 ||
    { apt-get update > /dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y iperf3 > /dev/null 2>&1; } ||
    die "could not install iperf3"
fi
charon=/usr/lib/ipsec/charon
plugins=/usr/lib/ipsec/plugins
want() { [[ " ${cases[*]} " == *" $1 "* ]]; }
if want strongswan; then
  [ -x $charon ] || die "$charon is missing (strongswan-charon)"
  command -v swanctl > /dev/null || die "swanctl is missing (strongswan-swanctl)"
  for p in kernel-libipsec kernel-netlink curve25519 openssl gcm kdf vici; do
    [ -e $plugins/libstrongswan-$p.so ] || die "charon plugin $p is missing"
  done
fi
if want ours; then
  [ -x "$gateway" ] || die "--gateway '$gateway' is not an executable"
  gateway=$(cd "$(dirname "$gateway")" && pwd)/$(basename "$gateway")
fi
py=/usr/bin/python3
[ -x $py ] || py=python3

work=$(mktemp -d /tmp/gwbench.XXXXXX)  # short: vici socket paths must stay under 108 bytes
nsa="" nsb=""  # the namespaces of the case at hand (use_case)
use_case() { nsa=gwb-$1-a$$ nsb=gwb-$1-b$$; }
pids=() namespaces=()
cleanup() {
  local p _
  for p in "${pids[@]}"; do kill -TERM "$p" 2> /dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 30); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$p" 2> /dev/null
    wait "$p" 2> /dev/null
  done
  for p in "${namespaces[@]}"; do ip netns del "$p" 2> /dev/null; done
  pids=() namespaces=()
}
failed=0
on_exit() {
  cleanup
  if [ $keep = 1 ] || [ $failed = 1 ]; then echo "logs: $work"; else rm -rf "$work"; fi
}
trap on_exit EXIT
trap 'echo "gateway_throughput: interrupted"; failed=1; exit 130' INT TERM

# wait_for CONDITION-COMMAND SECONDS: poll every 0.1 s.
wait_for() {
  local _
  for _ in $(seq $(($2 * 10))); do eval "$1" && return 0; sleep 0.1; done
  return 1
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# setup_ns: fresh namespaces A and B, veth a0 <-> b0, inside hosts on lo.
setup_ns() {
  namespaces+=("$nsa" "$nsb")
  ip netns add $nsa && ip netns add $nsb &&
    ip link add a0 netns $nsa type veth peer name b0 netns $nsb || return 1
  local ns
  for ns in $nsa $nsb; do
    ip -n $ns link set lo up
    ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  ip -n $nsa addr add 10.0.0.1/24 dev a0 && ip -n $nsa addr add 10.1.1.1/32 dev lo && ip -n $nsa link set a0 up &&
    ip -n $nsb addr add 10.0.0.2/24 dev b0 && ip -n $nsb addr add 10.1.2.1/32 dev lo && ip -n $nsb link set b0 up || return 1
  ip netns exec $nsa ping -c 1 -W 3 -q 10.0.0.2 > /dev/null 2>&1
}

# ---- strongSwan ----------------------------------------------------------
# write_charon DIR LOCAL REMOTE LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS
write_charon() {
  local dir=$1
  mkdir -p "$dir/run" "$dir"/swanctl/{conf.d,x509,x509ca,x509ocsp,x509aa,x509ac,x509crl,pubkey,private,rsa,ecdsa,bliss,pkcs8,pkcs12}
  # kernel-libipsec before kernel-netlink (the first IPsec backend wins); kdf for the PRF.
  cat > "$dir/strongswan.conf" << EOF
charon {
  load = random nonce openssl aes sha1 sha2 hmac gcm kdf curve25519 kernel-libipsec kernel-netlink socket-default vici
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
      default = 1
    }
  }
}
EOF
  cat > "$dir/swanctl/swanctl.conf" << EOF
connections {
  s2s {
    version = 2
    local_addrs = $2
    remote_addrs = $3
    proposals = aes256gcm16-prfsha256-x25519
    mobike = no
    local {
      auth = psk
      id = $4
    }
    remote {
      auth = psk
      id = $5
    }
    children {
      net {
        mode = tunnel
        local_ts = $6
        remote_ts = $7
        esp_proposals = aes256gcm16
        start_action = none
      }
    }
  }
}
secrets {
  ike-1 {
    id-1 = a.example.test
    id-2 = b.example.test
    secret = "bench-psk-0123456789abcdef"
  }
}
EOF
}
# start_charon DIR NAMESPACE
start_charon() {
  local dir=$1
  rm -f "$dir/charon.vici" "$dir/run/charon.pid"
  ip netns exec "$2" unshare -m --propagation private sh -c \
    "mount --bind $dir/run /run && exec env STRONGSWAN_CONF=$dir/strongswan.conf $charon" \
    > "$dir/charon.out" 2>&1 < /dev/null &
  pids+=($!)
  wait_for "[ -S $dir/charon.vici ]" 10 || { echo "charon in $2 did not start ($dir/charon.out)"; return 1; }
  SWANCTL_DIR=$dir/swanctl swanctl --load-all --noprompt --uri "unix://$dir/charon.vici" > "$dir/load.txt" 2>&1 ||
    { echo "swanctl --load-all failed ($dir/load.txt)"; return 1; }
}
up_strongswan() {
  local d=$work/strongswan
  write_charon "$d/a" 10.0.0.1 10.0.0.2 a.example.test b.example.test 10.1.1.0/24 10.1.2.0/24
  write_charon "$d/b" 10.0.0.2 10.0.0.1 b.example.test a.example.test 10.1.2.0/24 10.1.1.0/24
  start_charon "$d/b" $nsb && start_charon "$d/a" $nsa || return 1
  SWANCTL_DIR=$d/a/swanctl swanctl --initiate --child net --timeout 20 --uri "unix://$d/a/charon.vici" \
    > "$d/initiate.txt" 2>&1 || { echo "swanctl --initiate failed:"; tail -5 "$d/initiate.txt"; return 1; }
  SWANCTL_DIR=$d/a/swanctl swanctl --list-sas --uri "unix://$d/a/charon.vici" > "$d/list-sas.txt" 2>&1
  grep -q 'AES_GCM_16-256' "$d/list-sas.txt" || { echo "charon: no AES_GCM_16-256 child SA ($d/list-sas.txt)"; return 1; }
  sa_info=$(grep -Eo 'TUNNEL(-in-UDP)?' "$d/list-sas.txt" | head -1)
}
down_strongswan() {
  local d=$work/strongswan
  SWANCTL_DIR=$d/a/swanctl swanctl --list-sas --uri "unix://$d/a/charon.vici" > "$d/list-sas-end.txt" 2>&1
}

# ---- our gateway ---------------------------------------------------------
# write_gateway FILE LOCAL REMOTE LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS START_ACTION
write_gateway() {
  cat > "$1" << EOF
[gateway]
tun = gw0
mtu = 1400

[connection s2s]
local_addrs = $2
remote_addrs = $3
local_id = fqdn:$4
remote_id = fqdn:$5
auth = psk
psk = "bench-psk-0123456789abcdef"
proposals = aes256gcm16-prfsha256-x25519
esp_proposals = aes256gcm16
local_ts = $6
remote_ts = $7
start_action = $8
EOF
}
gwa_pid="" gwb_pid="" gw_wrap=(env) up_timeout=5
up_ours() {
  local d=$work/ours
  mkdir -p "$d"
  write_gateway "$d/a.conf" 10.0.0.1 10.0.0.2 a.example.test b.example.test 10.1.1.0/24 10.1.2.0/24 start
  write_gateway "$d/b.conf" 10.0.0.2 10.0.0.1 b.example.test a.example.test 10.1.2.0/24 10.1.1.0/24 none
  local s
  for s in a b; do
    "$gateway" --config "$d/$s.conf" --name gw-$s --check > "$d/check-$s.txt" 2>&1 ||
      { echo "gateway --check $d/$s.conf failed:"; cat "$d/check-$s.txt"; return 1; }
  done
  ip netns exec $nsb "${gw_wrap[@]}" "$gateway" --config "$d/b.conf" --name gw-b > "$d/gw-b.txt" 2>&1 < /dev/null &
  gwb_pid=$!
  pids+=("$gwb_pid")
  wait_for "grep -qs listening $d/gw-b.txt" $up_timeout || { echo "gateway B did not start:"; tail -20 "$d/gw-b.txt"; return 1; }
  ip netns exec $nsa "${gw_wrap[@]}" "$gateway" --config "$d/a.conf" --name gw-a > "$d/gw-a.txt" 2>&1 < /dev/null &
  gwa_pid=$!
  pids+=("$gwa_pid")
  if ! wait_for "grep -qs 'event child_sa_up' $d/gw-a.txt && grep -qs 'event child_sa_up' $d/gw-b.txt" $((up_timeout * 4)); then
    echo "our gateways: no child SA within $((up_timeout * 4)) s"
    echo "--- gw-a.txt"; tail -30 "$d/gw-a.txt"; echo "--- gw-b.txt"; tail -30 "$d/gw-b.txt"
    return 1
  fi
  sa_info="raw ESP"
}
# status_ours: one status line from each gateway (SIGUSR1).
status_ours() {
  local d=$work/ours s pid
  for s in a b; do
    [ $s = a ] && pid=$gwa_pid || pid=$gwb_pid
    local n
    n=$(grep -c '] status:' "$d/gw-$s.txt")
    kill -USR1 "$pid" 2> /dev/null &&
      wait_for "[ \$(grep -c '] status:' $d/gw-$s.txt) -gt $n ]" 3 &&
      grep '] status:' "$d/gw-$s.txt" | tail -1
  done
}
down_ours() {
  local d=$work/ours s pid rc
  status_ours > "$d/status-end.txt"
  for s in a b; do
    [ $s = a ] && pid=$gwa_pid || pid=$gwb_pid
    kill -TERM "$pid" 2> /dev/null
    if ! wait_for "! kill -0 $pid 2> /dev/null" $up_timeout; then
      echo "gateway $s did not exit within $up_timeout s of SIGTERM" | tee -a "$d/problems.txt"
    fi
    wait "$pid"
    rc=$?
    [ $rc -eq 0 ] || echo "gateway $s exited with status $rc" | tee -a "$d/problems.txt"
    grep -Eq '\] exit 0' "$d/gw-$s.txt" || echo "gateway $s: no 'exit 0' line" | tee -a "$d/problems.txt"
    if grep -Eq '\] log error|\] (error|fatal)' "$d/gw-$s.txt"; then
      echo "gateway $s logged errors:" | tee -a "$d/problems.txt"
      grep -E '\] log error|\] (error|fatal)' "$d/gw-$s.txt" | head -5 | tee -a "$d/problems.txt"
    fi
  done
}

# ---- plain ---------------------------------------------------------------
up_plain() {
  ip -n $nsa route add 10.1.2.0/24 via 10.0.0.2 src 10.1.1.1 &&
    ip -n $nsb route add 10.1.1.0/24 via 10.0.0.1 src 10.1.2.1 || return 1
  sa_info="no IPsec"
}
down_plain() { :; }

# ---- iperf3 --------------------------------------------------------------
# iperf_run OUT.json [SECONDS]: one client run; prints "MBIT RETRANSMITS SENDER_CPU% RECEIVER_CPU%".
iperf_run() {
  ip netns exec $nsa timeout $((${2:-$secs} + 30)) iperf3 -c 10.1.2.1 -B 10.1.1.1 -t "${2:-$secs}" -J > "$1" 2> "$1.err"
  $py - "$1" << 'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    e = j["end"]
    print("%.1f %d %.0f %.0f" % (e["sum_received"]["bits_per_second"] / 1e6, e["sum_sent"].get("retransmits", 0),
                                 e["cpu_utilization_percent"]["host_total"], e["cpu_utilization_percent"]["remote_total"]))
except Exception as x:
    print("iperf3 failed: %s %s" % (x, (j.get("error", "") if isinstance(globals().get("j"), dict) else "")))
    sys.exit(1)
EOF
}
iperf_server() {
  ip netns exec $nsb iperf3 -s -B 10.1.2.1 > "$work/$1/iperf3-server.txt" 2>&1 < /dev/null &
  pids+=($!)
  wait_for "ip netns exec $nsb ss -Hltn 'sport = :5201' | grep -q 5201" 5
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

declare -A med detail info mbits rtx drops dead
# bring_up CASE: namespaces, tunnel, iperf3 server, a ping through.
bring_up() {
  local c=$1
  mkdir -p "$work/$c"
  use_case "$c"
  setup_ns || { echo "$c: cannot set up the namespaces"; return 1; }
  up_$c || { echo "$c: could not bring the tunnel up"; return 1; }
  info[$c]=$sa_info
  iperf_server "$c" || { echo "$c: iperf3 server did not start"; return 1; }
  # Reachability through the tunnel (and warm-up: ARP, first packets).
  ip netns exec $nsa ping -c 2 -i 0.2 -W 2 -q -I 10.1.1.1 10.1.2.1 > "$work/$c/ping.txt" 2>&1 ||
    { echo "$c: no ping through 10.1.1.1 -> 10.1.2.1:"; cat "$work/$c/ping.txt"; return 1; }
}
# sock_drops: datagrams the kernel dropped at the raw and UDP sockets of
# namespaces A and B (full receive buffers: the gateway or charon did not
# read fast enough), the sum of the "drops" column of /proc/net/{raw,udp}.
sock_drops() {
  local ns
  for ns in $nsa $nsb; do ip netns exec "$ns" cat /proc/net/raw /proc/net/udp; done 2> /dev/null |
    awk '$1 ~ /^[0-9]+:$/ { n += $NF } END { print n + 0 }'
}
# measure CASE RUN: one iperf3 run.
measure() {
  local c=$1 i=$2 out d0 d1
  use_case "$c"
  d0=$(sock_drops)
  if ! out=$(iperf_run "$work/$c/run$i.json"); then
    echo "$c run $i: $out (stderr: $(head -c 300 "$work/$c/run$i.json.err"))"
    return 1
  fi
  d1=$(sock_drops)
  set -- $out
  mbits[$c]+=" $1" rtx[$c]+=" $2" drops[$c]+=" $((d1 - d0))"
  printf '%-10s run %d: %8.1f Mbit/s  retransmits %-6s socket drops %-6s cpu client %3s%% server %3s%%  load %s\n' \
    "$c" "$i" "$1" "$2" "$((d1 - d0))" "$3" "$4" "$(loadavg)"
}
show_logs() {
  local f
  case "$1" in
    ours) for f in "$work"/ours/gw-a.txt "$work"/ours/gw-b.txt; do
        [ -e "$f" ] && { echo "--- $f (last 40 lines)"; tail -40 "$f"; }
      done ;;
    strongswan) for f in "$work"/strongswan/a/charon.log "$work"/strongswan/b/charon.log; do
        [ -e "$f" ] && { echo "--- $f (last 20 lines)"; tail -20 "$f"; }
      done ;;
  esac
}

# ---- profile -------------------------------------------------------------
# classify: perf report lines (--sort dso,sym, no children) -> percentage per category.
classify() {
  $py - "$1" << 'EOF'
import re, sys
cats = {}
order = ["crypto", "copies", "allocation", "kernel (syscalls, TUN, sockets, IP stack)", "engine/datapath (ipsec::, gateway)", "libc/libstdc++ other", "other"]
for line in open(sys.argv[1]):
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*\S)", line)
    if not m:
        continue
    pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
    s = sym.lower()
    if re.search(r"aes|gcm|ghash|gf128|clmul|sodium|mbedtls|crypto_aead|chacha|poly1305|gmult|aesni", s) or "sodium" in dso or "mbedcrypto" in dso:
        c = "crypto"
    elif re.search(r"memcpy|memmove|memset|copy_user|copy_to_iter|copy_from_iter|copyin|copyout|csum_partial_copy|rep_movs", s):
        c = "copies"
    elif re.search(r"malloc|free|operator new|operator delete|_int_|tcache|cfree|kmem_cache|kmalloc|kfree|slab|page_frag", s) and kind == "." :
        c = "allocation"
    elif kind == "k" or "kernel" in dso:
        c = "kernel (syscalls, TUN, sockets, IP stack)"
    elif "ipsec::" in sym or dso.startswith("gateway") or "gateway" in dso:
        c = "engine/datapath (ipsec::, gateway)"
    elif dso.startswith("libc") or dso.startswith("libstdc") or dso.startswith("ld-linux"):
        c = "libc/libstdc++ other"
    else:
        c = "other"
    cats[c] = cats.get(c, 0) + pct
for c in order:
    if c in cats:
        print("  %6.2f%%  %s" % (cats[c], c))
EOF
}
profiler=perf
[ "${GWB_PROFILER:-}" = callgrind ] && profiler=callgrind  # to try the fallback
if [ $profile = 1 ] && [ $profiler = perf ] &&
  ! /usr/bin/perf record -e cpu-clock -o "$work/perf.probe" -- true > /dev/null 2>&1; then
  profiler=callgrind
fi
rm -f "$work/perf.probe"
if [ $profile = 1 ] && [ $profiler = callgrind ] && ! command -v valgrind > /dev/null; then
  die "--profile: perf cannot record here and valgrind is missing"
fi
profile_ours() {
  [ $profiler = perf ] || return 0  # callgrind: a separate run (profile_callgrind)
  local d=$work/ours
  echo "--- profile: one more ${secs} s iperf3 run under perf record -g -e cpu-clock on both gateways (not counted)"
  /usr/bin/perf record -e cpu-clock -g -p "$gwa_pid,$gwb_pid" -o "$d/perf.data" > "$d/perf-record.txt" 2>&1 &
  local ppid=$!
  sleep 0.5
  iperf_run "$d/profile.json" | sed 's/^/profiled run (Mbit\/s retransmits cpu%): /'
  kill -INT $ppid
  wait $ppid
  # Self time per symbol, both gateways (A encrypts the data, B decrypts it; the ACKs go the other way).
  /usr/bin/perf report -i "$d/perf.data" --stdio --no-children --sort dso,sym -g none --percent-limit 0.01 \
    > "$d/perf-report.txt" 2> "$d/perf-report.err"
  /usr/bin/perf report -i "$d/perf.data" --stdio --no-children --sort pid,dso,sym -g none --percent-limit 0.5 \
    > "$d/perf-report-pid.txt" 2> /dev/null
  /usr/bin/perf report -i "$d/perf.data" --stdio --no-children --sort dso,sym -g caller,0.5,callee --percent-limit 2 \
    > "$d/perf-report-graph.txt" 2> /dev/null
  echo "--- perf report (both gateways, self time, top 25; $(grep -m1 '^# Samples' "$d/perf-report.txt" | sed 's/^# //'))"
  grep -v '^#' "$d/perf-report.txt" | grep -v '^$' | head -25
  echo "--- by category (self time)"
  classify "$d/perf-report.txt" | tee "$d/categories.txt"
  # Inclusive time of the system calls: a send or TUN write also carries the
  # packet through the receiving side's stack (veth, softirq) in our context.
  /usr/bin/perf report -i "$d/perf.data" --stdio --children --sort sym -g none --percent-limit 0.5 \
    > "$d/perf-report-children.txt" 2> /dev/null
  echo "--- system calls (inclusive; call chains without frame pointers are approximate)"
  grep -E '\] (__x64_sys_[a-z_0-9]+|ksys_read|ksys_write|net_rx_action)$' "$d/perf-report-children.txt" |
    awk 'BEGIN { w["__x64_sys_sendto"] = "ESP out (raw socket; the veth and the peer side'"'"'s receive path included)"
      w["__x64_sys_recvfrom"] = "ESP in (raw socket)"; w["ksys_write"] = "TUN write (decrypted packets into the stack, TCP receive included)"
      w["ksys_read"] = "TUN read (packets to encrypt)"; w["__x64_sys_epoll_wait"] = "epoll_wait"
      w["net_rx_action"] = "softirq receive processing (part of the above)" }
      { printf "  %8s  %s%s\n", $1, $4, ($4 in w) ? ": " w[$4] : "" }'
  echo "(full reports kept: $d/perf-report*.txt)"
  keep=1
}
# profile_callgrind: when perf cannot record: both gateways under callgrind
# (fresh namespaces and SAs), one 5 s iperf3 run, callgrind_annotate.
profile_callgrind() {
  local d=$work/ours s
  echo "--- profile: perf cannot record; both gateways under valgrind --tool=callgrind, one 5 s iperf3 run"
  mkdir -p "$d"
  gw_wrap=(valgrind --tool=callgrind "--callgrind-out-file=$d/callgrind.%p") up_timeout=30
  setup_ns && up_ours && iperf_server ours || { echo "profile: the tunnel did not come up under callgrind"; cleanup; return 1; }
  iperf_run "$d/profile.json" 5 | sed 's/^/profiled run (Mbit\/s retransmits cpu%): /'
  for s in $gwa_pid $gwb_pid; do kill -TERM "$s"; done
  for s in $gwa_pid $gwb_pid; do wait_for "! kill -0 $s 2> /dev/null" 30; done
  cleanup
  for s in "$d"/callgrind.*; do
    [ -e "$s" ] || continue
    callgrind_annotate "$s" > "$s.txt" 2> /dev/null
    echo "--- $(basename "$s") (inclusive of nothing: self cost, top 25)"
    grep -E '^ *[0-9,]+ \(' "$s.txt" | head -26 | tail -25
  done
  keep=1
}

echo "gateway_throughput: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); kernel $(uname -r)"
echo "strongSwan $(dpkg-query -W -f='${Version}' strongswan-charon 2> /dev/null), $(iperf3 --version | head -1)"
want ours && echo "gateway: $gateway"
echo "runs $runs x ${secs} s, the cases interleaved (run 1 of each, run 2 of each, ...); load average at start: $(loadavg)"
start_load=$(loadavg)
# All tunnels stay up side by side (each in its own pair of namespaces), so
# that the cases take turns and a change in the machine's load hits them alike.
live=()
for c in "${cases[@]}"; do
  if bring_up "$c"; then live+=("$c"); else failed=1; show_logs "$c"; fi
done
for i in $(seq "$runs"); do
  for c in "${live[@]}"; do
    [ -n "${dead[$c]:-}" ] && continue
    measure "$c" "$i" || { dead[$c]=1; failed=1; show_logs "$c"; }
  done
done
for c in "${live[@]}"; do
  [ -n "${dead[$c]:-}" ] && continue
  # shellcheck disable=SC2086
  med[$c]=$(median ${mbits[$c]})
  detail[$c]=${mbits[$c]# }
  # shellcheck disable=SC2086
  info[$c]+="; retransmits median $(median ${rtx[$c]}), socket drops median $(median ${drops[$c]})"
done
if [ -n "${med[ours]:-}" ]; then
  use_case ours
  status_ours | tee "$work/ours/status.txt"
  [ $profile = 0 ] || profile_ours
fi
for c in "${live[@]}"; do use_case "$c"; down_$c; done
cleanup
if [ -n "${med[ours]:-}" ] && [ $profile = 1 ] && [ $profiler = callgrind ]; then
  use_case cg
  profile_callgrind
fi
end_load=$(loadavg)

ratio() { [ -n "${med[$1]:-}" ] && [ -n "${med[$2]:-}" ] && awk -v a="${med[$1]}" -v b="${med[$2]}" 'BEGIN {printf "%.2f", a / b}' || echo "-"; }
echo
echo "gateway_throughput: iperf3 TCP, AES-256-GCM-16 (IKE aes256gcm16-prfsha256-x25519), $runs x ${secs} s, median"
printf '%-11s %10s  %-30s %s\n' case "Mbit/s" "runs (Mbit/s)" notes
for c in "${cases[@]}"; do
  printf '%-11s %10s  %-30s %s\n' "$c" "${med[$c]:-FAILED}" "${detail[$c]:-}" "${info[$c]:-}"
done
if want ours && want strongswan; then echo "ours / strongswan: $(ratio ours strongswan)"; fi
if want ours && want plain; then echo "ours / plain:      $(ratio ours plain)"; fi
if want strongswan && want plain; then echo "strongswan / plain: $(ratio strongswan plain)"; fi
echo "load average (1, 5, 15 min): at start $start_load, at end $end_load ($(nproc) CPUs)"
[ -s "$work/ours/problems.txt" ] && { echo "gateway problems:"; cat "$work/ours/problems.txt"; failed=1; }
exit $failed
