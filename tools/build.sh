#!/usr/bin/env bash
# Configures and builds into build/ (RelWithDebInfo: CHECKs on). Usage: tools/build.sh [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFUNDLEDGER_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)" ${1:+--target "$@"}
