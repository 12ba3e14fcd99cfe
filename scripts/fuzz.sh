#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (clang, ASan + UBSan; the fuzz preset) and
# runs each on its seed corpus for SECONDS (default 60) seconds. New inputs
# go to build/fuzz/corpus/<target>, crashes to build/fuzz/artifacts/. A
# dictionary fuzz/<prefix>.dict (the target name up to its first '_', e.g.
# fuzz/ike.dict for ike_message and ike_inner) is passed when it exists.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
seconds=${1:-60}
shift || true
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=($(ls fuzz/corpus))
mkdir -p build/fuzz/artifacts
for t in "${targets[@]}"; do
  echo "== fuzz_$t for ${seconds}s"
  mkdir -p "build/fuzz/corpus/$t"
  dict=()
  [ -f "fuzz/${t%%_*}.dict" ] && dict=(-dict="fuzz/${t%%_*}.dict")
  "build/fuzz/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 "${dict[@]}" \
    -artifact_prefix="build/fuzz/artifacts/$t-" "build/fuzz/corpus/$t" "fuzz/corpus/$t" 2>&1 |
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|.*ERROR)' || true
  # libFuzzer exits non-zero on a finding; pipefail would hide which target.
  if ls "build/fuzz/artifacts/$t-"* >/dev/null 2>&1; then
    echo "fuzz_$t found a failing input: $(ls build/fuzz/artifacts/$t-*)" >&2
    exit 1
  fi
done
