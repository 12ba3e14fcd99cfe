#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the library's demo (examples/demo.cpp): installs what is missing,
# builds the release preset and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target demo -j "$(nproc)" >/dev/null
exec build/release/examples/demo
