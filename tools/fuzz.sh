#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz/*_fuzz.cc) one after another on one core, each seeded
# with its in-tree corpus, in the sanitizer build (build-asan/: Clang, ASan + UBSan).
#   bash tools/fuzz.sh short            each target 20 s (what tools/test.sh runs)
#   bash tools/fuzz.sh long [SECONDS]   each target SECONDS (default 600): the long run
#   bash tools/fuzz.sh MODE [SECONDS] TARGET...   only those targets
# New inputs go to build-asan/fuzz/corpus/<target>/ (kept between runs, never committed);
# a crash, leak, timeout or sanitizer report is saved under build-asan/fuzz/findings/<target>/
# and makes the script exit 1 after every target has run. One summary line per target.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-short}
case "$mode" in
  short) seconds=${2:-20} ;;
  long) seconds=${2:-600} ;;
  *) echo "usage: tools/fuzz.sh short|long [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
shift $(( $# > 1 ? 2 : $# ))
targets=("$@")
((${#targets[@]})) || targets=(entry body_json policy_json text export proof)

cmake --preset asan >/dev/null  # CMakePresets.json
if ! cmake --build build-asan -j"$(nproc)" --target "${targets[@]/%/_libfuzzer}" \
    >build-asan/fuzz-build.log 2>&1; then
  cat build-asan/fuzz-build.log; exit 4
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  work=build-asan/fuzz/corpus/$t findings=build-asan/fuzz/findings/$t
  log=build-asan/fuzz/$t.log
  mkdir -p "$work" "$findings"
  dict=()
  [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="tests/fuzz/$t.dict")
  # -timeout: one input taking 10 s is a finding (a hang); -rss_limit_mb: so is 2 GiB.
  # libFuzzer stops at its first finding; run again for the time left so one finding does
  # not hide the next, and add up the executions of every run.
  rc=0 execs=0 start=$SECONDS
  : >"$log"
  while (( (left = seconds - (SECONDS - start)) > 0 )); do
    run_rc=0 run_start=$SECONDS
    nice build-asan/tests/${t}_libfuzzer "$work" "tests/fuzz/corpus/$t" "${dict[@]}" \
      -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$findings/" >"$log.run" 2>&1 || run_rc=$?
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log.run" | tail -1)
    execs=$((execs + ${n:-0}))
    cat "$log.run" >>"$log" && rm -f "$log.run"
    echo "--- run ended: exit $run_rc" >>"$log"
    ((run_rc == 0)) && break
    rc=$run_rc
    # A seed that fails at once would fail every run: stop rather than spin.
    ((SECONDS - run_start >= 5)) || break
  done
  files=$(find "$work" -type f | wc -l)
  found=$(find "$findings" -type f | wc -l)
  printf '%-12s %5ss  %10s executions  %6s corpus files  %s findings  exit %s\n' \
    "$t" "$seconds" "$execs" "$files" "$found" "$rc"
  if ((rc != 0 || found != 0)); then
    failed+=("$t")
    grep -m3 -E 'ERROR|runtime error|fuzz property|SUMMARY' "$log" || true
  fi
done
if ((${#failed[@]})); then
  echo "fuzz findings in: ${failed[*]} (inputs under build-asan/fuzz/findings/, logs beside)" >&2
  exit 1
fi
echo "fuzz $mode: ${#targets[@]} targets, no findings"
