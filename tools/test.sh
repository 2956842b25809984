#!/usr/bin/env bash
# Installs what is missing, builds everything once, and runs every test (ctest in parallel).
# Slow suites carry the label "slow"; CI runs them with their short settings.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600
