#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fuzz-coverage.sh: how much of the parsers the fuzz corpora reach. Builds
# the coverage preset (clang source-based coverage, the fuzz targets as
# replay binaries), replays every target over its corpora - fuzz/corpus/<t>
# and, when they exist, build/fuzz/corpus/<t> (scripts/fuzz.sh) and
# build/campaign/corpus/<t> (longer campaigns) - one profile per target,
# merges them and prints line coverage:
#   - per file for the codecs (include/ipsec/wire/) and ESP/AH
#     (include/ipsec/esp/, src/esp/);
#   - "IKE codec": include/ipsec/wire/ike_*.hpp (no src/ file implements it),
#     and the same without the builder (ike_builder.hpp: the sending side);
#   - "ESP/AH decap": the receive side of include/ipsec/esp/*.hpp and
#     src/esp/*.cpp, i.e. the functions whose (mangled) names match
#     $decap_regex, and the same files whole;
#   - the total over the library (include/, src/);
#   - the largest runs of unexecuted lines in the IKE codec and ESP/AH decap,
#     where new seeds would pay most.
# The goal is >= 90 % of the lines of the IKE codec and of ESP/AH decap.
#   scripts/fuzz-coverage.sh [--html] [--no-build|--report-only] [--top N] [TARGET...]
# --html also writes build/coverage/html/index.html; --report-only reports
# the last run's build/coverage/fuzz.profdata again. TARGET is a name as in
# fuzz/corpus/ (ike_message); default: every target built. Needs clang,
# llvm-profdata and llvm-cov (Debian: clang, llvm; scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

html=0 build=1 replay=1 top=15 targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --html) html=1; shift ;;
    --no-build) build=0; shift ;;
    --report-only) build=0 replay=0; shift ;;
    --top) top=$2; shift 2 ;;
    -h | --help) sed -n "3,27p" "$0"; exit 0 ;;
    -*) echo "usage: $0 [--html] [--no-build|--report-only] [--top N] [TARGET...]" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
for tool in llvm-profdata llvm-cov; do
  command -v $tool > /dev/null || { echo "fuzz-coverage: $tool is missing (Debian package llvm)" >&2; exit 1; }
done

dir=build/coverage
if [ $build -eq 1 ]; then
  cmake --preset coverage > /dev/null
  cmake --build --preset coverage -j "${JOBS:-$(nproc)}"
fi
[ ${#targets[@]} -gt 0 ] ||
  mapfile -t targets < <(find "$dir/fuzz" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x -printf '%P\n' |
    sed 's/^fuzz_//' | sort)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz-coverage: no fuzz targets in $dir/fuzz" >&2; exit 1; }

prof=$dir/profiles
objects=() failed=()
for t in "${targets[@]}"; do
  bin=$dir/fuzz/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz-coverage: $bin was not built" >&2; exit 1; }
  objects+=(-object "$bin")
done
[ $replay -eq 1 ] || [ -f "$dir/fuzz.profdata" ] || { echo "fuzz-coverage: no $dir/fuzz.profdata yet" >&2; exit 1; }
[ $replay -eq 0 ] || { rm -rf "$prof"; mkdir -p "$prof"; echo "== replaying the corpora"; }
for t in "${targets[@]}"; do
  [ $replay -eq 1 ] || break
  bin=$dir/fuzz/fuzz_$t
  corpora=()
  for c in fuzz/corpus/$t build/fuzz/corpus/$t build/campaign/corpus/$t; do
    [ -d "$c" ] && corpora+=("$c")
  done
  [ ${#corpora[@]} -gt 0 ] || { echo "  $t: no corpus"; continue; }
  inputs=$(find "${corpora[@]}" -type f | wc -l)
  # One process for all inputs; the profile is written at exit, so if an
  # input crashes the replay (a finding not fixed yet), replay file by file
  # (%p: a profile per process) and name the inputs that crash.
  if LLVM_PROFILE_FILE="$prof/$t.profraw" timeout 900 "$bin" "${corpora[@]}" > "$prof/$t.log" 2>&1; then
    echo "  $t: $inputs inputs from ${corpora[*]}"
  else
    rm -f "$prof/$t.profraw"
    crashed=0
    while IFS= read -r -d '' f; do
      LLVM_PROFILE_FILE="$prof/$t-%p.profraw" timeout 60 "$bin" "$f" > /dev/null 2>&1 || {
        crashed=$((crashed + 1))
        failed+=("$t: $f")
      }
    done < <(find "${corpora[@]}" -type f -print0)
    echo "  $t: $inputs inputs from ${corpora[*]}; $crashed crashed or timed out (replayed one by one)"
  fi
done
if [ $replay -eq 1 ]; then
  shopt -s nullglob
  raw=("$prof"/*.profraw)
  shopt -u nullglob
  [ ${#raw[@]} -gt 0 ] || { echo "fuzz-coverage: no profiles written" >&2; exit 1; }
  llvm-profdata merge -sparse "${raw[@]}" -o "$dir/fuzz.profdata"
  rm -f "${raw[@]}"
fi

# The first -object is the binary argument, the others follow it.
cov=("${objects[1]}" "${objects[@]:2}" -instr-profile="$dir/fuzz.profdata")
ignore='(^|/)(fuzz|tests|usr)/'
# The receive side: ESP open/decap (esp.hpp), AH verify (ah.cpp), the
# replay window, inner-packet checks (tunnel.hpp), the NAT checksum fix-up
# (RFC 3948 3.1.2) applied on decap; matched against mangled names.
decap_regex='open|decap|parse_outer|finish_tunnel|inspect_inner|esn_room|ReplayWindow|_mutable|zero_or_check|verify_icv|ip_packet_length|transport_split|fix_nat_checksum|checksum_adjust|auth_(failed|succeeded)'

# report FILES...: llvm-cov report restricted to FILES: "file lines missed
# cover" per file and a TOTAL row. (llvm-cov 14 warns about "mismatched
# data" for inline functions a binary does not use: harmless, dropped.)
report() {
  llvm-cov report "${cov[@]}" -show-region-summary=false -show-branch-summary=false \
    -show-instantiation-summary=false "$@" 2> /dev/null |
    awk -v root="$PWD/" '
      /^TOTAL / || /\.(hpp|cpp|h) / {
        f = $1; sub(root, "", f)
        printf "  %-46s %6s lines %6s missed %8s\n", f, $(NF-2), $(NF-1), $NF }'
}
total() { report "$@" | awk '$1 == "TOTAL" { print $2 " lines, " $4 " missed, " $6 }'; }

# analyse MODE [--decap] FILES...: from llvm-cov show's line counts, MODE
# "lines": per file lines/missed/cover and a TOTAL row, MODE "runs": the
# longest runs of unexecuted lines (lines that are not code do not break a
# run). With --decap only lines inside the receive-side functions count
# (their extents from llvm-cov export; llvm-cov 14's report ignores
# -name-regex).
analyse() {
  local mode=$1 ranges=/dev/null
  shift
  if [ "$1" = --decap ]; then
    shift
    ranges=$dir/decap-functions.json
    llvm-cov export "${cov[@]}" -skip-expansions "$@" > "$ranges" 2> /dev/null
  fi
  llvm-cov show "${cov[@]}" -format=text -show-instantiations=false "$@" 2> /dev/null > "$dir/show.txt"
  python3 - "$mode" "$dir/show.txt" "$ranges" "$decap_regex" "$PWD/" "$top" << 'EOF'
import json, re, sys
mode, show, ranges_file, root, top = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5], int(sys.argv[6])
regex = re.compile(sys.argv[4])
ranges = None  # file -> lines inside a receive-side function
if ranges_file != "/dev/null":
    ranges = {}
    for d in json.load(open(ranges_file))["data"]:
        for fn in d["functions"]:
            if regex.search(fn["name"]):
                for r in fn["regions"]:
                    if r[5] == 0 and r[7] == 0:  # a code region in the function's own file
                        ranges.setdefault(fn["filenames"][0], set()).update(range(r[0], r[2] + 1))
runs, per_file, file, cur = [], {}, None, None
def flush():
    global cur
    if cur:
        runs.append(cur)
    cur = None
for line in open(show, errors="replace"):
    if line.startswith("/") and line.rstrip().endswith(":"):
        flush()
        file = line.rstrip()[:-1]
        per_file.setdefault(file, [0, 0])
        continue
    m = re.match(r" *(\d+)\|\s*([0-9.kMGE]*)\|(.*)", line)
    if not m or file is None:
        continue
    n, count, text = int(m.group(1)), m.group(2), m.group(3)
    if ranges is not None and n not in ranges.get(file, ()):
        if count != "":
            flush()
        continue
    if count == "":
        continue
    per_file[file][0] += 1
    if count == "0":
        per_file[file][1] += 1
        if cur is None:
            cur = [0, file.replace(root, ""), n, n, text.strip()[:70]]
        cur[0] += 1
        cur[3] = n
    else:
        flush()
flush()
if mode == "runs":
    for r in sorted(runs, key=lambda r: -r[0])[:top]:
        print(f"{r[0]:5d}  {r[1]}:{r[2]}-{r[3]}  {r[4]}")
else:
    pct = lambda lines, missed: f"{100.0 * (lines - missed) / lines:.2f}%" if lines else "-"
    for f, (lines, missed) in sorted(per_file.items()):
        if lines:
            print(f"  {f.replace(root, ''):<46} {lines:6d} lines {missed:6d} missed {pct(lines, missed):>8}")
    lines, missed = sum(v[0] for v in per_file.values()), sum(v[1] for v in per_file.values())
    print(f"  {'TOTAL':<46} {lines:6d} lines {missed:6d} missed {pct(lines, missed):>8}")
EOF
}

ike_files=(include/ipsec/wire/ike_*.hpp)
ike_parse=() ike_core=()
for f in "${ike_files[@]}"; do
  [ "$f" = include/ipsec/wire/ike_builder.hpp ] || ike_parse+=("$f")
  case $f in */ike_builder.hpp | */ike_enums.hpp) ;; *) ike_core+=("$f") ;; esac
done
esp_files=(include/ipsec/esp/*.hpp src/esp/*.cpp)
wire_files=(include/ipsec/wire/*.hpp)

echo
echo "== line coverage per file: codecs (include/ipsec/wire/)"
report "${wire_files[@]}"
echo
echo "== line coverage per file: ESP/AH, receive-side functions only"
analyse lines --decap "${esp_files[@]}" | tee "$dir/decap-lines.txt"
echo
echo "== line coverage per file: ESP/AH, whole files"
report "${esp_files[@]}"
echo
echo "== totals (goal: >= 90 % of the lines of the IKE codec and of ESP/AH decap)"
echo "IKE codec (include/ipsec/wire/ike_*.hpp):   $(total "${ike_files[@]}")"
echo "IKE codec without ike_builder.hpp:          $(total "${ike_parse[@]}")"
echo "  ... nor ike_enums.hpp (names for logs):   $(total "${ike_core[@]}")"
echo "ESP/AH decap (receive-side functions):      $(awk '$1 == "TOTAL" { print $2 " lines, " $4 " missed, " $6 }' \
  "$dir/decap-lines.txt")"
echo "ESP/AH files whole (esp/*.hpp, src/esp/):   $(total "${esp_files[@]}")"
echo "library total (include/, src/):             $(total -ignore-filename-regex="$ignore")"
echo
echo "== largest unexecuted runs in the IKE codec (lines, where, first line)"
analyse runs "${ike_files[@]}"
echo
echo "== largest unexecuted runs in ESP/AH decap"
analyse runs --decap "${esp_files[@]}"

if [ $html -eq 1 ]; then
  llvm-cov show "${cov[@]}" -format=html -output-dir="$dir/html" -show-instantiations=false \
    -ignore-filename-regex="$ignore" > /dev/null 2>&1
  echo
  echo "html: $dir/html/index.html"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo
  echo "inputs that crashed or timed out in the replay (not counted):"
  printf '  %s\n' "${failed[@]}"
fi
