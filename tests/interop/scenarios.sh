# SPDX-License-Identifier: Apache-2.0
# scenarios.sh: what the namespace-based interop scripts (gateway_pair.sh,
# gateway_strongswan.sh) share, sourced by them: the skip rule, cleanup of
# what a scenario started, polling, failure bookkeeping, and the runner
# that starts scenarios in the background (at most $jobs at once), then
# prints their output and the PASS/FAIL table.
#
# The sourcing script sets: name (for messages), work (its work directory),
# jobs, only (a comma-separated selection or empty), keep (0/1); and defines
# run_scenario ID DESCRIPTION [KEY=VALUE...], which writes "PASS|FAIL
# TENTHS" into $work/ID/result. Scenario shells keep their own pids=() and
# namespaces=() for cleanup.
# shellcheck shell=bash
# shellcheck disable=SC2154  # name, work, jobs, only, keep: set by the sourcing script

# skip REASON: exit 77 (ctest: skipped), or fail when CI=true: there the
# test must run (scripts/setup.sh installs what it needs).
skip() {
  echo "$name: cannot run: $*"
  if [ "${CI:-}" = true ]; then
    echo "$name: FAIL (CI=true: this test must run; see scripts/setup.sh)"
    exit 1
  fi
  echo "$name: skipped"
  exit 77
}

pids=() namespaces=() bg=() order=()
# cleanup: end what this shell (a scenario) started: processes by PID
# (SIGTERM, then SIGKILL after 2 s), then its namespaces.
cleanup() {
  local p _
  trap '' INT TERM  # not cut short by a second signal
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 20); do alive "$p" || break; sleep 0.1; done
    kill -9 "$p" 2> /dev/null
  done
  for p in "${pids[@]}"; do wait "$p" 2> /dev/null; done
  for p in "${namespaces[@]}"; do ip netns del "$p" 2> /dev/null; done
  pids=() namespaces=()
}
# alive PID: running (a zombie, exited but not yet waited for, is not).
alive() {
  [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*[ZX]' "/proc/$1/status" 2> /dev/null
}

# wait_for CONDITION-COMMAND SECONDS: poll every 0.1 s.
wait_for() {
  local _
  for _ in $(seq "$(awk "BEGIN { print int(($2) * 10) }")"); do eval "$1" && return 0; sleep 0.1; done
  return 1
}
# now_ms: a wall clock in milliseconds.
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# fail TEXT: one failure of the running scenario (its local fails=()).
fail() { fails+=("$*"); }
# at_least N PATTERN FILE WHAT: grep -Ec PATTERN FILE must count N or more.
at_least() {
  local n
  n=$(grep -Ec -- "$2" "$3" 2> /dev/null)
  [ "${n:-0}" -ge "$1" ] || fail "$4: ${n:-0}, not at least $1 (/$2/ in ${3#"$dir"/})"
}

# conf_seconds FILE KEY DEFAULT: KEY's value in a gateway configuration
# FILE (a number, or a duration in s/m/h), else DEFAULT.
conf_seconds() {
  local v
  v=$(sed -n "s/^ *$2 *= *\([0-9.]*[smh]\?\) *\(#.*\)\?$/\1/p" "$1" | tail -1)
  v=${v:-$3}
  case $v in
    *s) echo "${v%s}" ;;
    *m) awk -v x="${v%m}" 'BEGIN { print x * 60 }' ;;
    *h) awk -v x="${v%h}" 'BEGIN { print x * 3600 }' ;;
    *) echo "$v" ;;
  esac
}

# check_decryption KEYDIR IN_A IN_B NAME_A NAME_B: tshark, with only the
# esp_sa and ikev2_decryption_table files in KEYDIR as its configuration,
# must decrypt every ESP packet of $dir/outer.pcapng to an echo request or
# reply between the inside hosts IN_A and IN_B (at least 3 of each way,
# each with a good ICV), and every encrypted IKE message without an
# expert warning.
check_decryption() {
  local k=$1 a=$2 b=$3 ws=$dir/ws-$4
  mkdir -p "$ws"
  cp "$k/esp_sa" "$k/ikev2_decryption_table" "$ws/"
  printf 'esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n' > "$ws/preferences"
  : > "$dir/tshark-keys.err"
  tshark_keys() { WIRESHARK_CONFIG_DIR=$ws tshark -n -r "$dir/outer.pcapng" "$@" 2>> "$dir/tshark-keys.err"; }
  # ESP: ip.src/ip.dst are the outer, then the inner (decrypted) addresses.
  tshark_keys -Y esp -T fields -e esp.spi -e ip.src -e ip.dst -e icmp.type -e esp.icv_good > "$dir/decrypted.txt"
  tshark_keys -Y "isakmp.exchangetype >= 35" -T fields -e frame.number -e isakmp.exchangetype -e isakmp.enc.decrypted \
    -e _ws.expert.message > "$dir/ike-decrypted.txt"
  if grep -v "Running as user" "$dir/tshark-keys.err" | grep -q .; then
    fail "tshark with the exported keys: $(grep -v "Running as user" "$dir/tshark-keys.err" | head -3 | tr '\n' ' ')"
  fi
  local counts
  counts=$(awk -F'\t' -v g="$a" -v s="$b" '
    { n++; split($2, src, ","); split($3, dst, ",")
      if (src[2] == g && dst[2] == s && $4 == 8) req_out++
      else if (src[2] == s && dst[2] == g && $4 == 0) rep_in++
      else if (src[2] == s && dst[2] == g && $4 == 8) req_in++
      else if (src[2] == g && dst[2] == s && $4 == 0) rep_out++
      else { bad++; if (bad <= 3) spis = spis " " $1 }
      if ($5 != "1") icv++ }
    END { printf "%d %d %d %d %d %d %d%s\n", n, req_out, rep_in, req_in, rep_out, bad, icv, spis }' "$dir/decrypted.txt")
  local n req_out rep_in req_in rep_out bad icv spis
  read -r n req_out rep_in req_in rep_out bad icv spis <<< "$counts"
  echo "decrypted ESP: $n packets: echo requests $4->$5 $req_out, replies $rep_in; $5->$4 $req_in, replies $rep_out;" \
    "not decrypted $bad, ICV not good $icv"
  [ "$req_out" -ge 3 ] && [ "$rep_in" -ge 3 ] && [ "$req_in" -ge 3 ] && [ "$rep_out" -ge 3 ] ||
    fail "tshark: not 3 decrypted echo requests and replies each way (decrypted.txt)"
  [ "$bad" -eq 0 ] || fail "tshark: $bad ESP packets not decrypted to an echo between the inside hosts (SPIs$spis)"
  [ "$icv" -eq 0 ] || fail "tshark: $icv ESP packets without a good ICV"
  local ike ike_ok
  ike=$(wc -l < "$dir/ike-decrypted.txt")
  ike_ok=$(awk -F'\t' '$3 == "1" && $4 == ""' "$dir/ike-decrypted.txt" | wc -l)
  echo "decrypted IKE: $ike_ok of $ike encrypted messages"
  [ "$ike" -ge 2 ] && [ "$ike_ok" -eq "$ike" ] ||
    fail "tshark: $ike_ok of $ike encrypted IKE messages decrypted without a warning (ike-decrypted.txt)"
}

# scenario_traps: in a scenario shell: clean up on exit, and on SIGTERM or
# SIGINT (Ctrl-C reaches every process of the group) too.
scenario_traps() {
  trap cleanup EXIT
  trap 'trap "" INT TERM; exit 143' TERM
  trap 'trap "" INT TERM; exit 130' INT
  pids=() namespaces=()
}

declare -A result seconds detail
selected() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
running() {
  local j n=0
  for j in "${bg[@]}"; do kill -0 "$j" 2> /dev/null && n=$((n + 1)); done
  echo $n
}
# scenario ID DESCRIPTION [KEY=VALUE...]: run_scenario in the background
# (at most $jobs at once), its output into $work/ID.out.
scenario() {
  local id=$1
  selected "$id" || return 0
  order+=("$id")
  detail[$id]=$2
  mkdir -p "$work/$id"
  while [ "$(running)" -ge "$jobs" ]; do sleep 0.2; done
  run_scenario "$@" > "$work/$id.out" 2>&1 &
  bg+=($!)
}

# finish_scenarios HEADER: wait for them all, print each one's output, then
# HEADER and the table; remove $work unless something failed or keep=1;
# exit 0 when all passed (2: none selected).
finish_scenarios() {
  local id r t failed=0
  wait "${bg[@]}" 2> /dev/null
  for id in "${order[@]}"; do
    cat "$work/$id.out"
    read -r r t < "$work/$id/result" 2> /dev/null || { r=FAIL t=0; echo "--- $id: no result (crashed?)"; }
    result[$id]=$r
    seconds[$id]=$t
  done
  echo
  echo "$1"
  printf '%-3s %-6s %6s  %s\n' id result time scenario
  [ ${#order[@]} -eq 0 ] || mapfile -t order < <(printf '%s\n' "${order[@]}" | sort)
  for id in "${order[@]}"; do
    printf '%-3s %-6s %4d.%ds  %s\n' "$id" "${result[$id]}" $((seconds[$id] / 10)) $((seconds[$id] % 10)) "${detail[$id]}"
    [ "${result[$id]}" = PASS ] || failed=1
  done
  [ ${#order[@]} -gt 0 ] || { echo "$name: no scenario selected"; rm -rf "$work"; exit 2; }
  if [ $failed -eq 0 ] && [ "$keep" -eq 0 ]; then
    rm -rf "$work"
  else
    echo "logs: $work"
  fi
  local total=$((($(date +%s%N) - all_started) / 100000000))
  echo "$name: ${#order[@]} scenarios in $((total / 10)).$((total % 10)) s"
  exit $failed
}
all_started=$(date +%s%N)
