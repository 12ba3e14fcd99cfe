#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# consumer_test.sh MODE CMAKE BUILD_DIR SOURCE_DIR WORK_DIR CXX BUILD_TYPE [CXXFLAGS]
#   installed:    cmake --install BUILD_DIR into a fresh prefix, then build the
#                 consumer with find_package(ipsec CONFIG) and with pkg-config.
#   subdirectory: build the consumer with add_subdirectory(SOURCE_DIR).
set -euo pipefail
mode=$1 cmake=$2 build=$3 src=$4 work=$5/$1 cxx=$6 build_type=$7 cxxflags=${8:-}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
configure() {  # configure SOURCE BINARY [extra -D...]
  local s=$1 b=$2
  shift 2
  "$cmake" -S "$s" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_CXX_FLAGS="$cxxflags" "$@" >"$b.configure.log" 2>&1 || { cat "$b.configure.log"; exit 1; }
}
case "$mode" in
  installed)
    "$cmake" --install "$build" --prefix "$work/prefix" >/dev/null
    test -f "$work/prefix/include/ipsec/ipsec.hpp"
    pc=$(find "$work/prefix" -name ipsec.pc | head -1)
    test -n "$pc"
    # 1. find_package(ipsec CONFIG REQUIRED) + target_link_libraries(app ipsec::ipsec)
    configure "$here/consumer" "$work/cmake-app" -DCMAKE_PREFIX_PATH="$work/prefix"
    "$cmake" --build "$work/cmake-app" >/dev/null
    "$work/cmake-app/consumer"
    # 2. pkg-config (static library: --static brings the private dependencies)
    export PKG_CONFIG_PATH="$(dirname "$pc")"
    # shellcheck disable=SC2046,SC2086
    "$cxx" -std=c++20 $cxxflags "$here/consumer/main.cpp" -o "$work/pkgconfig-app" \
      $(pkg-config --cflags --static --libs ipsec)
    "$work/pkgconfig-app"
    ;;
  subdirectory)
    configure "$here/subdirectory" "$work/app" -DIPSEC_SOURCE_DIR="$src"
    "$cmake" --build "$work/app" >/dev/null
    "$work/app/consumer"
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
