#!/usr/bin/env bash
# Installs what is missing, builds everything once, and runs every test (ctest in parallel).
# Slow suites carry the label "slow"; CI runs them with their short settings.
# Then the sanitizer build (build-asan/: Clang, ASan + UBSan, FUNDLEDGER_FUZZ) runs the unit
# suite and the fuzz-corpus replays, and each libFuzzer target runs for 20 s (tools/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600)

cmake --preset asan >/dev/null  # CMakePresets.json
cmake --build build-asan -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The font stack's process-lifetime caches (PDF reports) are not leaks of ours: tests/lsan.supp.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
(cd build-asan && ctest --output-on-failure -j"$(nproc)" --timeout 600 -L 'unit|fuzz')
bash tools/fuzz.sh short
