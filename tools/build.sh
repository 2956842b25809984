#!/usr/bin/env bash
# Configures and builds into build/ (RelWithDebInfo: CHECKs on). Usage: tools/build.sh [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache (installed by tools/setup.sh) makes a rebuild of unchanged sources free.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFUNDLEDGER_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build build -j"$(nproc)" ${1:+--target "$@"}
