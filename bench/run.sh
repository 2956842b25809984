#!/usr/bin/env bash
# Benchmarks of the whole tool on a generated programme: append (every write synced), audit,
# verify, export, import (signatures on all cores, group commits), queries live and as-of,
# the six reports of a year.
# Prints one line per step: wall seconds, peak resident memory, and a rate.
#
#   bench/run.sh quick      # the Shenzhen policy, 2,000 recipients, 2025-2026 (a realistic programme)
#   bench/run.sh national   # bench/policies/national.json (SYNTHETIC pools x200), ~10^6 entries
#
# read-path: bench/read_path.sh measures issue 8's targets instead (replay rates as ratios to the
# raw Ed25519 verify rate, peak memory at two sizes, append linearity, query and single-write
# latency as processes, the first reader after a batch), with the limit beside each figure.
#
# Results, with the command and the machine, go in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-quick}
fl=$PWD/build/tools/fundledger
[ -x "$fl" ] || bash tools/build.sh fundledger
work=$(mktemp -d /tmp/fundledger-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
case "$mode" in
  quick) sim=(--recipients 2000 --years 2025,2026 --seed 2024) ;;
  national) sim=(--recipients 100000 --years 2025,2026 --seed 2024 --policy bench/policies/national.json) ;;
  *) echo "usage: bench/run.sh quick|national" >&2; exit 2 ;;
esac
export FUNDLEDGER_NOW=2026-11-29T12:00:00   # fixed "now", so runs compare

step() {  # step NAME COUNT command...
  local name=$1 count=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out" 2> "$work/err" || { cat "$work/err" >&2; exit 1; }
  read -r secs kb < "$work/time"
  local rate=""
  if [ "$count" -gt 0 ]; then rate=$(awk -v n="$count" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f entries/s", n / s }'); fi
  printf "%-28s %8.2f s  %8.1f MiB  %s\n" "$name" "$secs" "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')" "$rate"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; load $(cut -d' ' -f1-3 /proc/loadavg); mode $mode"
step "simulate (synced appends)" 0 "$fl" simulate --ledger "$work/L" --keys-out "$work/keys" "${sim[@]}"
sim_secs=$(cut -d' ' -f1 "$work/time")
n=$("$fl" --ledger "$work/L" --json verify | sed 's/.*"entries":\([0-9]*\).*/\1/')
echo "entries: $n ($(awk -v n="$n" -v s="$sim_secs" 'BEGIN { printf "%.0f", n / s }') appends/s, each synced); ledger on disk: $(du -sh "$work/L" | cut -f1)"
step "verify (chain, signatures)" "$n" "$fl" --ledger "$work/L" verify
step "audit (full replay)" "$n" "$fl" --ledger "$work/L" audit
step "export jsonl" "$n" "$fl" --ledger "$work/L" export --out "$work/export.jsonl"
echo "export: $(du -sh "$work/export.jsonl" | cut -f1)"
step "audit --from-export" "$n" "$fl" audit --from-export "$work/export.jsonl"
step "import (new ledger)" "$n" "$fl" --ledger "$work/L2" import "$work/export.jsonl"
step "query measure (live)" 0 "$fl" --ledger "$work/L" query measure
step "query measure --as-of n/2" 0 "$fl" --ledger "$work/L" query measure --as-of $((n / 2))
step "query recipient --as-of n/2" 0 "$fl" --ledger "$work/L" query recipient "$("$fl" --ledger "$work/L" --json log --kind RecipientRegistered --limit 1 | sed 's/.*"recipientId":"\([^"]*\)".*/\1/')" --as-of $((n / 2))
step "report --all 2025 (csv)" 0 "$fl" --ledger "$work/L" report --all --year 2025 --format csv --out "$work/reports-csv"
step "report --all 2026 (json)" 0 "$fl" --ledger "$work/L" report --all --year 2026 --format json --out "$work/reports-json"
step "prove inclusion" 0 "$fl" --ledger "$work/L" prove inclusion --seq $((n / 3))
