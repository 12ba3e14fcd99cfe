#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs a subset of the unit tests under Valgrind memcheck: the byte readers
# and writers, the IKE codec (every parser of untrusted bytes), core types
# and the IKE engine (the code that allocates the most). The SA database
# tests are not in it: their multi-threaded reclamation tests spin while
# another thread works, and Valgrind runs one thread at a time (test_sa
# took over 14 minutes); they run natively and under ASan.
# Uses the dev preset's build (made when missing). Memcheck sees what
# ASan does not: reads of uninitialised memory, and it runs the -O0 build
# without any instrumentation, so it checks the code as shipped. Any error
# or definite leak fails. The few test cases left out only repeat the same
# code thousands of times (too slow under Valgrind); they run natively and
# under ASan.
#   scripts/valgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -x build/dev/tests/test_ike ]; then
  cmake --preset dev >/dev/null
  cmake --build --preset dev -j "$(nproc)"
fi
mkdir -p build/valgrind

# name, then doctest arguments
suites=(
  "bytes"
  "core"
  "wire -tce=IKE enums: unlisted values print unknown"
  "ike -tce=engine: authentication and proposal matrix,engine: RFC 7383 fragmentation of IKE_AUTH with RSA*"
)

run_suite() {
  local name=${1%% *} args=() log
  [ "$1" != "$name" ] && args=("${1#* }")
  log="build/valgrind/$name.log"
  if valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect --track-origins=yes "build/dev/tests/test_$name" "${args[@]}" \
    >"$log" 2>&1; then
    echo "valgrind: test_$name clean ($(grep -oE 'test cases: *[0-9]+' "$log" | tail -1))"
  else
    echo "valgrind: test_$name failed; its log ($log) ends:" >&2
    tail -60 "$log" >&2
    return 1
  fi
}

failed=0
pids=()
for s in "${suites[@]}"; do
  # Two at a time: this machine has two cores.
  if [ ${#pids[@]} -ge "$(nproc)" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
  run_suite "$s" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[ "$failed" -eq 0 ] || { echo "valgrind: errors found" >&2; exit 1; }
echo "valgrind: ${#suites[@]} test executables clean"
