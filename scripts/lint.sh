#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Static analysis: clang-tidy (configuration in .clang-tidy) and cppcheck
# (suppressions in .cppcheck-suppressions) over the library's sources, the
# examples and the fuzz targets, and through them every public header
# (examples/demo.cpp includes the umbrella ipsec/ipsec.hpp). The unit tests
# are left out: doctest's macros make clang-tidy noise. Exits non-zero on
# any finding. Builds nothing: it only needs the compile database, which it
# configures in build/lint with the dev preset's flags.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

command -v clang-tidy >/dev/null && command -v cppcheck >/dev/null || bash scripts/setup.sh
tidy=clang-tidy-14  # Debian 12's; the checks in .clang-tidy are the ones it knows
command -v "$tidy" >/dev/null || tidy=clang-tidy
jobs=$(nproc)

# The dev preset's flags (Debug, every warning an error), with clang so the
# database's flags are clang-tidy's own; the fuzz targets as replay binaries.
mkdir -p build/lint
cmake -S . -B build/lint -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DCMAKE_BUILD_TYPE=Debug \
  -DIPSEC_WARNINGS_AS_ERRORS=ON -DCMAKE_CXX_COMPILER=clang++ -DIPSEC_BUILD_FUZZERS=ON \
  -DIPSEC_BUILD_TESTS=OFF -DIPSEC_BUILD_BENCHMARKS=OFF -DIPSEC_BUILD_EXAMPLES=ON >build/lint/cmake.log 2>&1 ||
  { cat build/lint/cmake.log; exit 1; }

# Every translation unit once (replay_main.cpp is listed once per fuzz target).
mapfile -t sources < <(python3 -c '
import json, sys
seen = sorted({e["file"] for e in json.load(open("build/lint/compile_commands.json"))})
print("\n".join(seen))')
echo "lint: clang-tidy on ${#sources[@]} files, $jobs at a time"

tidy_log=build/lint/clang-tidy.log
tidy_rc=0
printf '%s\n' "${sources[@]}" |
  xargs -P "$jobs" -n 1 "$tidy" -p build/lint --quiet >"$tidy_log" 2>build/lint/clang-tidy.stderr || tidy_rc=$?
tidy_findings=$(grep -cE '^/.*:[0-9]+:[0-9]+: (warning|error):' "$tidy_log" || true)
# A file clang-tidy could not process (a compile error) fails the run too.
tidy_errors=$(grep -c '^Error while processing' build/lint/clang-tidy.stderr || true)
tidy_findings=$((tidy_findings + tidy_errors))
if [ "$tidy_rc" -ne 0 ] || [ "$tidy_findings" -ne 0 ]; then
  cat "$tidy_log"
  grep -E 'error|Error' build/lint/clang-tidy.stderr || true
fi

echo "lint: cppcheck"
mkdir -p build/lint/cppcheck
cppcheck_log=build/lint/cppcheck.log
cppcheck_rc=0
# The database only lists src/, examples/ and fuzz/; the suppressions file
# keeps findings in headers outside the project (tests/ike/ike_sim.hpp used
# by a fuzz target, system headers) out.
cppcheck --project=build/lint/compile_commands.json --enable=warning,performance,portability \
  --inline-suppr --suppressions-list=.cppcheck-suppressions --error-exitcode=1 -j "$jobs" --quiet \
  --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
  --cppcheck-build-dir=build/lint/cppcheck >"$cppcheck_log" 2>&1 || cppcheck_rc=$?
cppcheck_findings=$(grep -cE '^[^ ]+:[0-9]+:[0-9]+: ' "$cppcheck_log" || true)
if [ "$cppcheck_rc" -ne 0 ] || [ "$cppcheck_findings" -ne 0 ]; then cat "$cppcheck_log"; fi

status=ok
if [ "$tidy_rc" -ne 0 ] || [ "$tidy_findings" -ne 0 ] || [ "$cppcheck_rc" -ne 0 ] ||
  [ "$cppcheck_findings" -ne 0 ]; then
  status=FAILED
fi
echo "lint: $status: clang-tidy $tidy_findings finding(s) in ${#sources[@]} files, cppcheck $cppcheck_findings" \
  "finding(s), $(($(date +%s) - start)) s"
[ "$status" = ok ]
