#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fuzz/build.sh: builds every fuzz target the OSS-Fuzz way and lays out
# $OUT as OSS-Fuzz (and ClusterFuzzLite) expect it: per target the binary,
# <target>_seed_corpus.zip (fuzz/corpus/<name>, where the target is
# fuzz_<name>), <target>.dict (fuzz/<name>.dict, else fuzz/<prefix>.dict
# with the name up to its first '_', as scripts/fuzz.sh picks it) and
# <target>.options when fuzz/<name>.options exists (none is needed today:
# libFuzzer's defaults suit every target, and OSS-Fuzz picks up the .dict
# by its name).
#
# Environment (OSS-Fuzz's; all optional here):
#   CXX, CXXFLAGS      compiler and flags; CXXFLAGS decides optimisation and
#                      sanitizers (the Release configuration adds only -DNDEBUG:
#                      the targets check with __builtin_trap/abort, not assert).
#                      CC and CFLAGS are unused: the project is C++ only.
#   LIB_FUZZING_ENGINE link flags of the engine, passed to the targets as
#                      IPSEC_FUZZ_ENGINE_LINK (fuzz/CMakeLists.txt)
#   OUT                where the results go
#   WORK               scratch space: the cmake build directory is $WORK/build
#   SRC                unused: the source is the directory above this script
#   JOBS               parallel build jobs (default: nproc)
# Without them: clang++, libFuzzer, ASan + UBSan, into build/oss-fuzz/out
# (build tree build/oss-fuzz/work/build):
#   fuzz/build.sh && build/oss-fuzz/out/fuzz_ike_message build/oss-fuzz/out/fuzz_ike_message_seed_corpus.zip
# (libFuzzer takes directories, not zips: unzip the corpus first.)
#
# OSS-Fuzz: the project's build.sh is one line, "$SRC/ipsec/fuzz/build.sh";
# its Dockerfile installs cmake, ninja-build, zip, libsodium-dev and
# libmbedtls-dev. libsodium and mbedTLS are linked statically (their .a from
# the compiler's search path) because the runner image does not have them;
# IPSEC_FUZZ_SHARED_DEPS=1 keeps the shared libraries.
#
# AFL++ (Debian package afl++, not in scripts/setup.sh: CI does not need it):
#   CXX=afl-clang-fast++ CXXFLAGS="-O1 -g" LIB_FUZZING_ENGINE=/usr/lib/afl/libAFLDriver.a \
#     OUT=build/oss-fuzz/afl WORK=build/oss-fuzz/afl-work fuzz/build.sh
#   mkdir -p /tmp/in && unzip -o -q build/oss-fuzz/afl/fuzz_natt_seed_corpus.zip -d /tmp/in
#   AFL_SKIP_CPUFREQ=1 afl-fuzz -i /tmp/in -o /tmp/afl-out -x build/oss-fuzz/afl/fuzz_natt.dict \
#     -- build/oss-fuzz/afl/fuzz_natt
# (the driver reads each input from stdin, or from the file given as @@;
# AFL_USE_ASAN=1 at build time adds ASan).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CXX=${CXX:-clang++}
CXXFLAGS=${CXXFLAGS:--O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize=fuzzer-no-link}
LIB_FUZZING_ENGINE=${LIB_FUZZING_ENGINE:--fsanitize=fuzzer}
OUT=${OUT:-$src/build/oss-fuzz/out}
WORK=${WORK:-$src/build/oss-fuzz/work}
jobs=${JOBS:-$(nproc)}
build=$WORK/build
mkdir -p "$OUT" "$build"

generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
# A build directory configured with another generator cannot switch.
if [ -f "$build/CMakeCache.txt" ] && ! grep -q "^CMAKE_GENERATOR:INTERNAL=${generator[1]:-Unix Makefiles}$" \
  "$build/CMakeCache.txt"; then
  rm -rf "$build"
  mkdir -p "$build"
fi

# Static libsodium/mbedTLS: the FindSodium/FindMbedTLS cache variables,
# set beforehand, skip their find_library().
deps=()
if [ "${IPSEC_FUZZ_SHARED_DEPS:-0}" != 1 ]; then
  for v in Sodium_LIBRARY:libsodium.a MbedTLS_CRYPTO_LIBRARY:libmbedcrypto.a MbedTLS_X509_LIBRARY:libmbedx509.a; do
    # shellcheck disable=SC2086  # CXXFLAGS is a list of flags
    a=$($CXX $CXXFLAGS -print-file-name="${v#*:}" 2> /dev/null || true)
    if [ "${a#/}" != "$a" ] && [ -f "$a" ]; then
      deps+=("-D${v%%:*}=$a")
    else
      echo "fuzz/build.sh: no static ${v#*:} found; linking the shared library" >&2
    fi
  done
fi

cmake -S "$src" -B "$build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE=-DNDEBUG \
  -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DIPSEC_FUZZ_ENGINE_LINK="$LIB_FUZZING_ENGINE" \
  -DIPSEC_BUILD_FUZZERS=ON \
  -DIPSEC_BUILD_TESTS=OFF \
  -DIPSEC_BUILD_BENCHMARKS=OFF \
  -DIPSEC_BUILD_EXAMPLES=OFF \
  -DIPSEC_INSTALL=OFF \
  "${deps[@]}"
cmake --build "$build" -j "$jobs"

# Every fuzz target the build produced (fuzz/CMakeLists.txt's list; the
# seed generator make_ike_seeds is not built by default).
mapfile -t targets < <(find "$build/fuzz" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x -printf '%f\n' | sort)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz/build.sh: no fuzz targets in $build/fuzz" >&2; exit 1; }
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  cp "$build/fuzz/$t" "$OUT/$t"
  rm -f "$OUT/${t}_seed_corpus.zip" "$OUT/$t.dict" "$OUT/$t.options"
  corpus=$src/fuzz/corpus/$name
  if [ -d "$corpus" ] && [ -n "$(ls -A "$corpus")" ]; then
    # -j: flat, as OSS-Fuzz unpacks each zip into one corpus directory.
    if command -v zip > /dev/null; then
      (cd "$corpus" && find . -type f -print | sort | zip -q -j "$OUT/${t}_seed_corpus.zip" -@)
    else
      (cd "$corpus" && find . -type f -print0 | sort -z | xargs -0 python3 -m zipfile -c "$OUT/${t}_seed_corpus.zip")
    fi
  fi
  # A target's own dictionary joins its prefix's (ike_policy.dict + ike.dict).
  dicts=()
  for d in "$src/fuzz/$name.dict" "$src/fuzz/${name%%_*}.dict"; do
    [ -f "$d" ] && dicts+=("$d")
  done
  [ ${#dicts[@]} -eq 0 ] || cat "${dicts[@]}" >"$OUT/$t.dict"
  [ ! -f "$src/fuzz/$name.options" ] || cp "$src/fuzz/$name.options" "$OUT/$t.options"
done
echo "fuzz/build.sh: ${#targets[@]} targets in $OUT: ${targets[*]}"
