#!/usr/bin/env bash
# The targets of issue 8, measured in one run with the limit beside each figure: replay rates
# (audit, verify, import, export) as ratios to the raw two-core Ed25519 verify rate measured in
# the same run, peak memory at two ledger sizes, `append --file` linearity, the end-to-end
# latency of queries and single writes as processes (p50 and p90, open included), and the
# first reader after a large batch of writes (the RocksDB secondary catch-up).
#
#   bench/read_path.sh            # about 10^5 entries (the default)
#   bench/read_path.sh long       # about 10^6 entries
#   bench/read_path.sh smoke      # about 10^3 entries, 3 runs per latency (ctest -C bench -L bench)
#   bench/read_path.sh --profile  # also `perf record -g` audit, import, a query and a write: top
#                                 # symbols, and audit's and import's self time by category
#
# Environment: FUNDLEDGER_BIN (default build/tools/fundledger), RUNS (process runs per latency,
# default 30; smoke 3), BENCH_CACHE (default /tmp/fundledger-read-path).
# The ledger comes from `fundledger simulate` with a synthetic policy (bench/make_national_policy.py)
# and is kept under BENCH_CACHE, keyed by the commit the binary was built from and the size, so a
# rerun skips building it; nothing in the cached ledger is written by this script (writes go to a
# copy). Results, with the command and the machine, go in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

mode=default
profile=0
for arg in "$@"; do
  case "$arg" in
    default | long | smoke) mode=$arg ;;
    --profile) profile=1 ;;
    *) echo "usage: bench/read_path.sh [default|long|smoke] [--profile]" >&2; exit 2 ;;
  esac
done
case "$mode" in
  # Pool factor and recipients: simulate's applications follow the pools (about 10^4 entries
  # per x2 of the Shenzhen pools over two years), the recipients are registered first.
  default) factor=20 recipients=10000 years=2025,2026 runs=${RUNS:-30} speed_secs=5 ;;
  long) factor=200 recipients=100000 years=2025,2026 runs=${RUNS:-30} speed_secs=5 ;;
  smoke) factor=1 recipients=200 years=2025 runs=${RUNS:-3} speed_secs=1 ;;
esac

fl=${FUNDLEDGER_BIN:-$root/build/tools/fundledger}
[ -x "$fl" ] || { echo "no fundledger binary at $fl (bash tools/build.sh fundledger)" >&2; exit 4; }
for tool in /usr/bin/time openssl python3; do
  command -v "$tool" > /dev/null || { echo "missing $tool" >&2; exit 4; }
done
if [ "$profile" = 1 ] && ! command -v perf > /dev/null; then echo "missing perf" >&2; exit 4; fi

# The commit the binary was built from: the last one that changed its sources (or the policy
# generator), plus the binary's hash when they differ from it (a ledger written by uncommitted
# code is not reused by another build).
sources=(events projections ledger tools schemas CMakeLists.txt bench/make_national_policy.py)
key=$(git log -1 --format=%h --abbrev=12 -- "${sources[@]}" 2> /dev/null || true)
if [ -z "$key" ] || [ -n "$(git status --porcelain -- "${sources[@]}" 2> /dev/null)" ]; then
  key="${key:-nogit}-dirty-$(sha256sum "$fl" | cut -c1-12)"
fi
cache=${BENCH_CACHE:-/tmp/fundledger-read-path}/$key-$mode
work=$(mktemp -d /tmp/fundledger-read-path-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
# simulate's "now" and every write's recordedAt: fixed, so builds compare; no later than the
# machine's clock (time.future), never before the simulated head.
export FUNDLEDGER_NOW=2026-11-29T12:00:00

echo "read_path $mode: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB;" \
  "load $(cut -d' ' -f1-3 /proc/loadavg); binary $fl ($key); $runs runs per latency"

secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }

# timed NAME command...: wall seconds, peak RSS (KiB) and CPU seconds (user + system, all
# threads) into $last_secs / $last_kb / $last_cpu; fails the script (with the command's stderr)
# if the command fails. The seconds are the shell's clock around /usr/bin/time (to the
# millisecond, its own start included): time's %e is in hundredths, too coarse for the first
# readers' tens of milliseconds.
timed() {
  local name=$1; shift
  local t0=$EPOCHREALTIME
  if ! /usr/bin/time -f "%M %U %S" -o "$work/time" "$@" > "$work/out" 2> "$work/err"; then
    echo "$name failed: $*" >&2; tail -5 "$work/err" >&2; exit 1
  fi
  last_secs=$(secs_since "$t0")
  local user system
  read -r last_kb user system < "$work/time"
  last_cpu=$(awk -v u="$user" -v s="$system" 'BEGIN { printf "%.2f", u + s }')
  printf "  %-34s %8.3f s %8.1f MiB %8.2f s CPU\n" "$name" "$last_secs" \
    "$(awk -v k="$last_kb" 'BEGIN { print k / 1024 }')" "$last_cpu"
}

# The raw two-core Ed25519 verify rate (verify/s column of `openssl speed`), the denominator of
# every ratio. Measured at the start and at the end; the larger is used (the stricter ratio).
raw_verify() {
  openssl speed -seconds "$speed_secs" -multi 2 ed25519 2> /dev/null | awk '/^ *253 bits EdDSA/ { print $NF }'
}

# JSON lines of `count` RecipientRegistered events with valid USCCs 914403000<8 digits><check>,
# numbered from `first` (simulate's codes have nine digits from 100000000, so none collide).
recipient_events() {
  python3 - "$1" "$2" << 'PY'
import json, sys
alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
first, count = int(sys.argv[1]), int(sys.argv[2])
for i in range(first, first + count):
    code = "914403000%08d" % i
    check = (31 - sum(alphabet.index(c) * w for c, w in zip(code, weights)) % 31) % 31
    body = {"recipientId": code + alphabet[check], "name": "Bench %d" % i,
            "kind": "enterprise", "district": "nanshan"}
    print(json.dumps({"kind": "RecipientRegistered", "body": body}))
PY
}

# A refused write opens the ledger as the writer, which recovers the last writer's WAL into a
# table file, and changes nothing else: readers opened after it have no WAL to catch up on.
settle() {  # settle LEDGER CLERK_KEY EXISTING_RECIPIENT
  local code=0
  "$fl" --ledger "$1" --key "$2" recipient register --id "$3" --name settle --kind enterprise \
    --district nanshan > /dev/null 2>&1 || code=$?
  [ "$code" = 1 ] || { echo "settle: expected refusal (exit 1), got $code" >&2; exit 1; }
}

raw_start=$(raw_verify)
echo "raw Ed25519 verify, 2 cores (openssl speed -seconds $speed_secs -multi 2 ed25519): $raw_start/s"

# --- The ledger: built once per commit and size, then reused. -------------------------------
if [ ! -f "$cache/ready" ]; then
  echo "building the ledger into $cache (simulate, each append synced)"
  rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
  python3 bench/make_national_policy.py "$factor" "$cache.tmp/policy.json"
  t0=$EPOCHREALTIME
  timed "simulate" "$fl" simulate --ledger "$cache.tmp/L" --keys-out "$cache.tmp/keys" \
    --recipients "$recipients" --years "$years" --seed 2024 --policy "$cache.tmp/policy.json"
  # The largest batch of writes there is: simulate's, all in one writer's WAL until a writer
  # opens the ledger again. The first reader after it is timed here, once per build.
  timed "first reader after simulate" "$fl" --ledger "$cache.tmp/L" query measure --year 2025
  first_after_simulate=$last_secs
  clerk=$(ls "$cache.tmp"/keys/clerk-*.pem | head -1)
  first_recipient=$("$fl" --ledger "$cache.tmp/L" --json log --kind RecipientRegistered --limit 1 |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["body"]["recipientId"])')
  settle "$cache.tmp/L" "$clerk" "$first_recipient"
  n=$("$fl" --ledger "$cache.tmp/L" --json verify | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"])')
  # The same ledger's first tenth, for memory at a second size: an export prefix imported.
  "$fl" --ledger "$cache.tmp/L" export --to $((n / 10)) --out "$cache.tmp/tenth.jsonl" > /dev/null
  "$fl" --ledger "$cache.tmp/L10" import "$cache.tmp/tenth.jsonl" > /dev/null
  settle "$cache.tmp/L10" "$clerk" "$first_recipient"
  rm "$cache.tmp/tenth.jsonl"
  printf "entries=%s\nbuild_secs=%s\nclerk=%s\nfirst_recipient=%s\nfirst_after_simulate=%s\n" "$n" \
    "$(secs_since "$t0")" "$(basename "$clerk")" "$first_recipient" "$first_after_simulate" > "$cache.tmp/ready"
  rm -rf "$cache" && mv "$cache.tmp" "$cache"
fi
n=$(sed -n 's/^entries=//p' "$cache/ready")
build_secs=$(sed -n 's/^build_secs=//p' "$cache/ready")
clerk=$cache/keys/$(sed -n 's/^clerk=//p' "$cache/ready")
first_recipient=$(sed -n 's/^first_recipient=//p' "$cache/ready")
first_after_simulate=$(sed -n 's/^first_after_simulate=//p' "$cache/ready")
chmod 0600 "$cache"/keys/*.pem
L=$cache/L
echo "ledger: $n entries ($(du -sh "$L" | cut -f1) on disk), built in ${build_secs} s" \
  "(simulate, the settling write, the verify that counts it, the tenth's import); $L"

# --- Replay rates and memory at n/10 and n. -----------------------------------------------
declare -A secs kb cpu
for size in tenth full; do
  ledger=$L
  [ "$size" = tenth ] && ledger=$cache/L10
  echo "replay, $size ($ledger)"
  timed "verify" "$fl" --ledger "$ledger" verify
  secs[verify.$size]=$last_secs kb[verify.$size]=$last_kb cpu[verify.$size]=$last_cpu
  timed "audit" "$fl" --ledger "$ledger" audit
  secs[audit.$size]=$last_secs kb[audit.$size]=$last_kb cpu[audit.$size]=$last_cpu
  timed "export" "$fl" --ledger "$ledger" export --out "$work/export-$size.jsonl"
  secs[export.$size]=$last_secs kb[export.$size]=$last_kb
  timed "import (new ledger)" "$fl" --ledger "$work/import-$size" import "$work/export-$size.jsonl"
  secs[import.$size]=$last_secs kb[import.$size]=$last_kb cpu[import.$size]=$last_cpu
  # The profile below imports the whole ledger's export again.
  [ "$profile" = 1 ] && [ "$size" = full ] && mv "$work/export-$size.jsonl" "$work/export-profile.jsonl"
  rm -rf "$work/import-$size" "$work/export-$size.jsonl"
done
n10=$((n / 10))

# --- append --file of N and 4N entries, each into a new ledger (so only the batch is timed). ---
# N is n/20, at most a quarter of the events one file may hold (kBatchEntriesMax, 100,000).
batch=$((n / 20 < 25000 ? n / 20 : 25000))
echo "append --file, new ledgers (init, a clerk registered)"
"$fl" key gen --out "$work/authority.pem" > /dev/null
"$fl" key gen --out "$work/clerk.pem" > /dev/null
for count in "$batch" $((batch * 4)); do
  A=$work/append-$count
  "$fl" --ledger "$A" init --authority-key "$work/authority.pem" --name bench > /dev/null
  "$fl" --ledger "$A" --key "$work/authority.pem" key register --public-key "$work/clerk.pem.pub" \
    --role clerk --unit SZ-STIB --holder "Bench Clerk" > /dev/null
  recipient_events 0 "$count" > "$work/events-$count.jsonl"
  timed "append --file $count" "$fl" --ledger "$A" --key "$work/clerk.pem" append --file "$work/events-$count.jsonl"
  secs[append.$count]=$last_secs kb[append.$count]=$last_kb
  rm -rf "$A"
done

# --- Latency of one process, open included: p50 and p90 over $runs runs (one warm-up first). ---
declare -A p50 p90
# Nearest rank of the sorted milliseconds in $work/ms.
percentile() {
  sort -n "$work/ms" | awk -v p="$1" '{ v[NR] = $1 } END { r = NR * p / 100; k = int(r); if (k < r) k++; print v[k < 1 ? 1 : k] }'
}
# Fresh recipient ids for writes: ids[next_id++] (every latency run takes one, used or not).
mapfile -t ids < <(recipient_events 5000000 $((8 * (runs + 1) + 2)) | python3 -c '
import json, sys
for line in sys.stdin: print(json.loads(line)["body"]["recipientId"])')
latency() {  # latency NAME command... ("{id}" in the command becomes a fresh recipient id)
  local name=$1; shift
  : > "$work/ms"
  local i
  for ((i = 0; i <= runs; i++)); do
    local argv=("${@//\{id\}/${ids[$((next_id++))]}}")
    local t0=$EPOCHREALTIME
    "${argv[@]}" > /dev/null 2> "$work/err" || { echo "$name failed: ${argv[*]}" >&2; tail -3 "$work/err" >&2; exit 1; }
    local t1=$EPOCHREALTIME
    [ "$i" = 0 ] && continue  # the warm-up run
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }' >> "$work/ms"
  done
  p50[$name]=$(percentile 50) p90[$name]=$(percentile 90)
  printf "  %-34s p50 %8.1f ms  p90 %8.1f ms  (%s runs)\n" "$name" "${p50[$name]}" "${p90[$name]}" "$(wc -l < "$work/ms")"
}
next_id=0
sample=$("$fl" --ledger "$L" --json log --kind ApplicationSubmitted --from $((n / 2)) --limit 1)
application=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["body"]["applicationId"])' "$sample")
recipient=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["body"]["recipientId"])' "$sample")
echo "queries, each a process on the $n-entry ledger (application $application, recipient $recipient)"
queries=("query recipient" "query application" "query measure --year 2025" "key list" "log --limit 20")
latency "query recipient" "$fl" --ledger "$L" query recipient "$recipient"
latency "query application" "$fl" --ledger "$L" query application "$application"
latency "query measure --year 2025" "$fl" --ledger "$L" query measure --year 2025
latency "key list" "$fl" --ledger "$L" key list
latency "log --limit 20" "$fl" --ledger "$L" log --limit 20

# --- Writes, on a copy of the ledger. -------------------------------------------------------
W=$work/W
cp -a "$L" "$W"
echo "single writes, each a process on a copy: recipient register of a fresh id (clerk key)"
latency "recipient register" "$fl" --ledger "$W" --key "$clerk" recipient register --id "{id}" \
  --name "bench write" --kind enterprise --district nanshan

# A large batch, then the first readers: each replays the writer's WAL as a RocksDB secondary
# until a writer opens the ledger again (here a refused write) and recovers it into a table.
echo "first readers after a batch of $batch writes on the copy"
recipient_events 6000000 "$batch" > "$work/batch.jsonl"
timed "append --file $batch (on $n)" "$fl" --ledger "$W" --key "$clerk" append --file "$work/batch.jsonl"
secs[append.big]=$last_secs kb[append.big]=$last_kb
timed "first reader: query measure" "$fl" --ledger "$W" query measure --year 2025
secs[catchup.1]=$last_secs kb[catchup.1]=$last_kb
timed "second reader: query measure" "$fl" --ledger "$W" query measure --year 2025
secs[catchup.2]=$last_secs kb[catchup.2]=$last_kb
settle "$W" "$clerk" "$first_recipient"
timed "after a writer's open: query measure" "$fl" --ledger "$W" query measure --year 2025
secs[catchup.settled]=$last_secs kb[catchup.settled]=$last_kb

# --- Incremental audit: attest the copy, write 1% more entries, audit since the attestation. ---
auditor=$(ls "$cache"/keys/auditor-*.pem | head -1)
new=$((n / 100))
echo "incremental audit on the copy: attested, then $new more entries"
timed "audit --attest (on the copy)" "$fl" --ledger "$W" --key "$auditor" audit --attest
recipient_events 7000000 "$new" > "$work/new.jsonl"
"$fl" --ledger "$W" --key "$clerk" append --file "$work/new.jsonl" > /dev/null
timed "audit --since-attestation" "$fl" --ledger "$W" audit --since-attestation
secs[incremental]=$last_secs kb[incremental]=$last_kb

# --- A mirror catching up with the whole ledger (a new copy, every entry verified). ---------
timed "mirror --once (new copy)" "$fl" --ledger "$work/mirror" mirror --from-ledger "$L" --once
secs[mirror]=$last_secs kb[mirror]=$last_kb
rm -rf "$work/mirror"

raw_end=$(raw_verify)
raw=$(awk -v a="$raw_start" -v b="$raw_end" 'BEGIN { print ((a > b) ? a : b) }')
echo "raw Ed25519 verify at the end: $raw_end/s; ratios use $raw/s (the larger)"

# --- The table. -----------------------------------------------------------------------------
row() { printf "| %-50s | %-22s | %-30s | %-8s | %-4s |\n" "$@"; }
yes_no() { awk "BEGIN { print (($1) ? \"yes\" : \"no\") }"; }  # yes_no "AWK CONDITION"
echo
row "target" "limit" "measured" "ratio" "met?"
row "--------------------------------------------------" "----------------------" "------------------------------" "--------" "----"
row "raw Ed25519 verify, 2 cores (openssl)" "denominator" "$raw/s" "1.00" "-"
for step in audit verify import export; do
  rate=$(awk -v n="$n" -v s="${secs[$step.full]}" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  ratio=$(awk -v r="$rate" -v raw="$raw" 'BEGIN { printf "%.3f", r / raw }')
  case $step in audit | verify) want=0.9 ;; import) want=0.85 ;; export) want= ;; esac
  if [ -n "$want" ]; then
    row "$step, $n entries" ">= ${want}x raw" "$rate entries/s (${secs[$step.full]} s)" "${ratio}x" "$(yes_no "$ratio >= $want")"
  else
    row "$step, $n entries" "(no ratio target)" "$rate entries/s (${secs[$step.full]} s)" "${ratio}x" "-"
  fi
done
# Memory: at most 256 MB (MiB here, the stricter) at n, and flat: at most 1.25x what the same
# ledger's first tenth needs (recipients are all registered in the first tenth).
for step in audit verify import export; do
  small=$(awk -v k="${kb[$step.tenth]}" 'BEGIN { printf "%.0f", k / 1024 }')
  big=$(awk -v k="${kb[$step.full]}" 'BEGIN { printf "%.0f", k / 1024 }')
  ratio=$(awk -v b="$big" 'BEGIN { printf "%.2f", b / 256 }')
  growth=$(awk -v a="$small" -v b="$big" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
  row "peak RSS $step, $n10 -> $n entries" "<= 256 MiB, flat" "$small -> $big MiB (x$growth)" "${ratio}x" \
    "$(yes_no "$big <= 256 && $growth <= 1.25")"
done
t1=${secs[append.$batch]} t4=${secs[append.$((batch * 4))]}
growth=$(awk -v a="$t1" -v b="$t4" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
row "append --file $batch vs $((batch * 4)) (time ratio)" "~4 (linear; <= 4.4)" "$t1 s -> $t4 s" "${growth}" \
  "$(yes_no "$growth <= 4.4")"
for q in "${queries[@]}"; do
  ratio=$(awk -v p="${p50[$q]}" 'BEGIN { printf "%.1f", p / 20 }')
  row "$q (process, p50; p90)" "<= 20 ms p50" "${p50[$q]} ms; ${p90[$q]} ms" "${ratio}x" "$(yes_no "${p50[$q]} <= 20")"
done
q="recipient register"
ratio=$(awk -v p="${p50[$q]}" 'BEGIN { printf "%.1f", p / 30 }')
row "single write: $q (p50; p90)" "<= 30 ms p50" "${p50[$q]} ms; ${p90[$q]} ms" "${ratio}x" "$(yes_no "${p50[$q]} <= 30")"
ratio=$(awk -v a="${secs[incremental]}" -v b="${secs[audit.full]}" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
row "audit --since-attestation, $new new entries" "< 0.02x the full audit" "${secs[incremental]} s vs ${secs[audit.full]} s" \
  "${ratio}x" "$(yes_no "$ratio < 0.02")"
ratio=$(awk -v a="${secs[import.full]}" -v b="${secs[mirror]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
row "mirror --once, $n entries (rate vs import)" ">= 0.8x import" "${secs[mirror]} s vs ${secs[import.full]} s" \
  "${ratio}x" "$(yes_no "$ratio >= 0.8")"
# The catch-up must not dominate: the first reader after the batch within 2x a settled reader.
first_ms=$(awk -v s="${secs[catchup.1]}" 'BEGIN { printf "%.0f", s * 1000 }')
settled_ms=$(awk -v s="${secs[catchup.settled]}" 'BEGIN { printf "%.0f", s * 1000 }')
ratio=$(awk -v a="$first_ms" -v b="$settled_ms" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
row "first reader after $batch writes (query measure)" "<= 2x a settled reader" "$first_ms ms vs $settled_ms ms" "${ratio}x" \
  "$(yes_no "$ratio <= 2")"
if [ -n "$first_after_simulate" ]; then
  sim_ms=$(awk -v s="$first_after_simulate" 'BEGIN { printf "%.0f", s * 1000 }')
  ratio=$(awk -v a="$sim_ms" -v b="$settled_ms" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
  row "first reader after simulate's $n writes" "<= 2x a settled reader" "$sim_ms ms vs $settled_ms ms" "${ratio}x" \
    "$(yes_no "$ratio <= 2")"
fi

# Two cores do the signatures and everything else of a replay: its rate is at most the raw rate
# times (the signatures' core-seconds at the raw rate) / (the command's core-seconds). That
# ceiling, beside the measured ratio, says how much of a gap is work other than the signatures
# (the profile below says which) and how much is cores left idle: the ratio is the ceiling times
# the share of the two cores the command kept busy, CPU / (2 x wall).
echo
echo "the replays against two cores: CPU (user + system) of each run above; the signatures'"
echo "share is what $n verifications cost at the raw rate, 2 x $n / $raw core-seconds"
crow() { printf "| %-8s | %-14s | %-22s | %-24s | %-14s | %-16s |\n" "$@"; }
crow "replay" "CPU (core-s)" "signatures (core-s)" "ceiling (signatures/CPU)" "measured ratio" "cores busy"
crow "--------" "--------------" "----------------------" "------------------------" "--------------" "----------------"
for step in audit verify import; do
  awk -v n="$n" -v raw="$raw" -v c="${cpu[$step.full]}" -v s="${secs[$step.full]}" -v step="$step" 'BEGIN {
    sig = 2 * n / raw; ceiling = sig / c; ratio = n / s / raw
    printf "| %-8s | %-14.2f | %-22.2f | %-24s | %-14s | %-16s |\n", step, c, sig,
      sprintf("%.3fx", ceiling), sprintf("%.3fx", ratio), sprintf("%.0f%%", 100 * ratio / ceiling) }'
done
echo
echo "also: append --file $batch on the $n-entry ledger ${secs[append.big]} s; second reader after it ${secs[catchup.2]} s;" \
  "memory of the first reader $(awk -v k="${kb[catchup.1]}" 'BEGIN { printf "%.0f", k / 1024 }') MiB;" \
  "first reader straight after simulate's $n writes (query measure, timed when the ledger was built):" \
  "${first_after_simulate:-?} s"

# --- Where the time goes: perf record -g, self time by symbol, top 5. -------------------------
if [ "$profile" = 1 ]; then
  top5() {  # top5 NAME command...: self time by library, then by symbol
    local name=$1; shift
    perf record -g -o "$work/perf.data" -- "$@" > /dev/null 2> "$work/perf.err" || { tail -3 "$work/perf.err" >&2; exit 1; }
    for sort in dso symbol; do
      echo "perf record -g -- $name; perf report --no-children --sort $sort (top 5 by self time):"
      perf report -i "$work/perf.data" --no-children --stdio --sort "$sort" -g none 2> /dev/null |
        awk '/^ +[0-9.]+%/ && shown < 5 {  # template arguments dropped: lexer<...>::get -> lexer::get
          sub(/ +-? +-? *$/, ""); while (gsub(/<[^<>]*>/, "")) {} print substr($0, 1, 120); shown++ }'
    done
  }
  # Self time of a replay by what it is, from the same samples: the signatures (OpenSSL's
  # Ed25519: field and group arithmetic, SHA-512), SHA-256, RocksDB (with snappy and its
  # checksums), JSON, Cap'n Proto, the allocator, libc's memcpy, memcmp and string functions,
  # the kernel, and the rest: the project's own code (rules, fold, chain, row codec) and the
  # C++ library (maps, strings' own methods apart).
  categories() {
    echo "perf report --no-children --sort dso,symbol, self time by category:"
    perf report -i "$work/perf.data" --no-children --stdio --sort dso,symbol -g none 2> /dev/null |
      awk '/^ +[0-9.]+%/ {
        share = $1; sub(/%/, "", share); line = $0
        if (line ~ /\[k\]/) c = "kernel"
        else if (line ~ /\] (fe_|fe51_|ge_|x25519|ed25519|ossl_ed25519|sc_reduce|sc_muladd|slide|sha512|SHA512)/) c = "signatures (Ed25519, SHA-512)"
        else if (line ~ /\] (sha256|SHA256)/) c = "SHA-256"
        else if (line ~ /rocksdb::|snappy|crc32c|XXH/) c = "RocksDB"
        else if (line ~ /nlohmann::/) c = "JSON (nlohmann)"
        else if (line ~ /\] (capnp::|kj::)/) c = "Cap\x27n Proto"
        else if (line ~ /\] (malloc|free|cfree|_int_malloc|_int_free|malloc_consolidate|unlink_chunk|operator new|operator delete|tcache)/) c = "allocator"
        else if (line ~ /\] (__mem|__str|std::__cxx11::basic_string)/) c = "memcpy, memcmp, strings"
        else c = "the rest: the project (rules, fold, chain, rows) and the C++ library"
        total[c] += share }
      END { for (c in total) printf "  %6.2f%%  %s\n", total[c], c }' | sort -rn
  }
  echo
  top5 "audit ($n entries)" "$fl" --ledger "$L" audit
  categories
  top5 "import ($n entries, a new ledger)" "$fl" --ledger "$work/import-profile" import "$work/export-profile.jsonl"
  categories
  rm -rf "$work/import-profile" "$work/export-profile.jsonl"
  top5 "query recipient" "$fl" --ledger "$L" query recipient "$recipient"
  top5 "recipient register (on the copy)" "$fl" --ledger "$W" --key "$clerk" recipient register \
    --id "${ids[$((next_id++))]}" --name "bench profile" --kind enterprise --district nanshan
fi
