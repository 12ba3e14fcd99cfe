#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the whole test suite: installs what is missing, then for
# each CMake preset given (default: dev) configures, builds and runs ctest.
#   scripts/test.sh                 # the dev preset (Debug, -Werror)
#   scripts/test.sh asan noexcept   # sanitizers; -fno-exceptions -fno-rtti
# IPSEC_CTEST_ARGS adds ctest arguments (e.g. "-E strongswan" to leave out
# the strongSwan interop tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(dev)
jobs=$(nproc)
for preset in "${presets[@]}"; do
  echo "== preset $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  # shellcheck disable=SC2086 # IPSEC_CTEST_ARGS is split into arguments
  ctest --preset "$preset" -j "$jobs" ${IPSEC_CTEST_ARGS:-}
done
