#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (clang, ASan + UBSan; the fuzz preset), then
# for each target: replays its whole checked-in corpus (fuzz/corpus/<target>)
# once, and fuzzes for SECONDS (default 60) seconds from that corpus. New
# inputs go to build/fuzz/corpus/<target>, failing inputs to
# build/fuzz/artifacts/<target>-*, each target's output to
# build/fuzz/logs/<target>.log. Targets run FUZZ_JOBS at a time (default:
# the number of cores). The dictionary is fuzz/<target>.dict and
# fuzz/<prefix>.dict (the target name up to its first '_': fuzz/ike.dict for
# ike_message, ike_inner, ...) together, as far as they exist. Exits non-zero
# when any target found something, naming it and the input. fuzz/README.md
# has the details.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
seconds=${1:-60}
shift || true
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && mapfile -t targets < <(ls fuzz/corpus)
jobs=${FUZZ_JOBS:-$(nproc)}
mkdir -p build/fuzz/artifacts build/fuzz/logs

# dictionary_of: the option naming the target's dictionary: its own and
# its prefix's joined in build/fuzz/dict/ (libFuzzer takes one), if any.
dictionary_of() {
  local dicts=() d
  for d in "fuzz/$1.dict" "fuzz/${1%%_*}.dict"; do
    [ -f "$d" ] && dicts+=("$d")
  done
  [ ${#dicts[@]} -eq 0 ] && return 0
  mkdir -p build/fuzz/dict
  cat "${dicts[@]}" >"build/fuzz/dict/$1.dict"
  echo "-dict=build/fuzz/dict/$1.dict"
}

# One target: replay, then fuzz. The exit status says whether it found
# something; libFuzzer's own status is kept in the log.
run_target() {
  local t=$1 bin="build/fuzz/fuzz/fuzz_$1" log="build/fuzz/logs/$1.log" dict
  dict=$(dictionary_of "$t")
  mkdir -p "build/fuzz/corpus/$t"
  rm -f "build/fuzz/artifacts/$t-"*
  {
    echo "== replay of fuzz/corpus/$t"
    "$bin" -runs=0 -artifact_prefix="build/fuzz/artifacts/$t-" "fuzz/corpus/$t" || echo "replay exit $?"
    echo "== fuzzing for ${seconds}s"
    # shellcheck disable=SC2086 # $dict is empty or one word
    "$bin" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 $dict \
      -artifact_prefix="build/fuzz/artifacts/$t-" "build/fuzz/corpus/$t" "fuzz/corpus/$t" ||
      echo "fuzz exit $?"
  } >"$log" 2>&1
  ! ls "build/fuzz/artifacts/$t-"* >/dev/null 2>&1
}

failed=()
running=0
declare -A pid_of=()
for t in "${targets[@]}"; do
  [ -x "build/fuzz/fuzz/fuzz_$t" ] || { echo "no target fuzz_$t" >&2; exit 1; }
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$t" &
  pid_of[$t]=$!
  running=$((running + 1))
done
for t in "${targets[@]}"; do
  status=0
  wait "${pid_of[$t]}" || status=$?
  log="build/fuzz/logs/$t.log"
  execs=$(grep -h '^stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
  cov=$(grep -hoE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  replayed=$(grep -hoE 'Done [0-9]+ runs' "$log" | head -1)
  printf '%-18s %10s executions  %-22s replay: %s\n' "fuzz_$t" "${execs:-?}" "${cov:-}" "${replayed:-?}"
  if [ "$status" -ne 0 ] || [ -z "$execs" ]; then
    failed+=("$t")
    echo "fuzz_$t failed; its log ($log) ends:" >&2
    tail -40 "$log" >&2
    ls "build/fuzz/artifacts/$t-"* >&2 2>/dev/null || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings or failures in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no findings"
