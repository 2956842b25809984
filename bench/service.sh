#!/usr/bin/env bash
# The service targets of issue 10 (item 7), measured on loopback with the limit beside each
# figure: 8 concurrent clients appending (every entry durable before its ack), 8 clients doing
# point reads over the wire, and a new mirror catching up over the service against `import` of
# the same entries.
#
#   bench/service.sh             # simulate 5,000 recipients (two years), 10 s per load phase
#   bench/service.sh smoke       # 200 recipients, 2 s per phase
#   bench/service.sh --profile   # also `perf record -g` of the server during appends and reads
#
# Environment: FUNDLEDGER_BIN (default build/tools/fundledger), SERVICE_BENCH_BIN (default
# build/bench/service_bench), SECONDS_PER_PHASE, CLIENTS (default 8).
# The server runs with --rate 1000000: the default of 200 requests per second per connection
# would cap a client at 200 reads/s (an append takes 5 calls). Everything is made in a
# temporary directory and removed. Results, with the command and the machine, go in
# bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

mode=default
profile=0
for arg in "$@"; do
  case "$arg" in
    default | smoke) mode=$arg ;;
    --profile) profile=1 ;;
    *) echo "usage: bench/service.sh [default|smoke] [--profile]" >&2; exit 2 ;;
  esac
done
case "$mode" in
  default) recipients=5000 years=2025,2026 secs=${SECONDS_PER_PHASE:-10} ;;
  smoke) recipients=200 years=2025 secs=${SECONDS_PER_PHASE:-2} ;;
esac
clients=${CLIENTS:-8}

fl=${FUNDLEDGER_BIN:-$root/build/tools/fundledger}
sb=${SERVICE_BENCH_BIN:-$root/build/bench/service_bench}
for bin in "$fl" "$sb"; do
  [ -x "$bin" ] || { echo "no binary at $bin (cmake --build build --target fundledger service_bench)" >&2; exit 4; }
done
for tool in /usr/bin/time openssl python3; do
  command -v "$tool" > /dev/null || { echo "missing $tool" >&2; exit 4; }
done
if [ "$profile" = 1 ] && ! command -v perf > /dev/null; then echo "missing perf" >&2; exit 4; fi

work=$(mktemp -d /tmp/fundledger-service-bench.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2> /dev/null || true; wait "$server_pid" 2> /dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "service $mode: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB;" \
  "load $(cut -d' ' -f1-3 /proc/loadavg); commit $(git log -1 --format=%h 2> /dev/null || echo none);" \
  "$clients clients, $secs s per phase"

# --- The ledger: simulate's programme, then clerks up to one per client. ---------------------
L=$work/L
FUNDLEDGER_NOW=2026-11-29T12:00:00 "$fl" --ledger "$L" simulate --recipients "$recipients" \
  --years "$years" --seed 2024 --keys-out "$work/keys" > /dev/null
authority=$(ls "$work"/keys/authority-*.pem | head -1)
mapfile -t clerks < <(ls "$work"/keys/clerk-*.pem)
for ((i = ${#clerks[@]}; i < clients; i++)); do
  key=$work/keys/clerk-bench-$i.pem
  "$fl" key gen --out "$key" > /dev/null
  "$fl" --ledger "$L" --key "$authority" key register --public-key "$key.pub" --role clerk \
    --unit SZ-STIB --holder "Bench Clerk $i" > /dev/null
  clerks+=("$key")
done
clerks=("${clerks[@]:0:$clients}")
key_args=()
for key in "${clerks[@]}"; do key_args+=(--key "$key"); done

# The rows the readers ask for: every recipient and application row.
"$fl" --ledger "$L" --json log --kind RecipientRegistered --limit 1000000 |
  python3 -c 'import json,sys; [print("recipient/" + json.loads(l)["body"]["recipientId"]) for l in sys.stdin]' > "$work/rows"
"$fl" --ledger "$L" --json log --kind ApplicationSubmitted --limit 1000000 |
  python3 -c 'import json,sys; [print("app/" + json.loads(l)["body"]["applicationId"]) for l in sys.stdin]' >> "$work/rows"
echo "ledger: $("$fl" --ledger "$L" --json verify | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"])') entries," \
  "$(wc -l < "$work/rows") recipient and application rows to read"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/tls.key" \
  -out "$work/tls.crt" -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 > /dev/null 2>&1

# --- The server. ------------------------------------------------------------------------------
"$fl" --ledger "$L" serve --listen 127.0.0.1:0 --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
  --rate 1000000 > "$work/serve.out" 2> "$work/serve.log" &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on' "$work/serve.out" 2> /dev/null && break
  sleep 0.1
done
# The client checks the certificate's DNS name (kj's TLS does not match an IP address).
server=$(sed -n 's/^listening on 127.0.0.1:/localhost:/p' "$work/serve.out")
[ -n "$server" ] || { echo "serve did not start:" >&2; tail -5 "$work/serve.log" >&2; exit 4; }
echo "serve listening on $server (pid $server_pid)"
common=(--server "$server" --ca "$work/tls.crt" "${key_args[@]}")

declare -A fig
# The server's CPU time so far (user + system, ms), from /proc.
server_cpu_ms() {
  awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$server_pid/stat"
}
# phase NAME service_bench-args...: runs the load (with the server profiled if asked), reads
# its "name value" lines into fig[].
phase() {
  local name=$1; shift
  local perf_pid=
  if [ "$profile" = 1 ]; then
    perf record -g -o "$work/perf-$name.data" -p "$server_pid" > /dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5
  fi
  local code=0 cpu0 cpu1
  cpu0=$(server_cpu_ms)
  "$sb" "$@" > "$work/$name.out" 2> "$work/$name.err" || code=$?
  cpu1=$(server_cpu_ms)
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  echo "${name}_server_cpu_ms $((cpu1 - cpu0))" >> "$work/$name.out"
  # A client that failed (exit 1) is counted in the figures and named; anything else stops.
  if [ "$code" != 0 ]; then
    echo "  $name: a client failed (exit $code):" >&2
    sort "$work/$name.err" | uniq -c | head -5 >&2
    [ "$code" = 1 ] && grep -q "_count" "$work/$name.out" || exit 1
  fi
  while read -r k v; do fig[$k]=$v; done < "$work/$name.out"
  sed 's/^/  /' "$work/$name.out"
}

echo "appends: $clients clients, each its own connection and clerk key, recipient register of fresh ids"
phase append append "${common[@]}" --seconds "$secs" --first 10000000
echo "  append_head_moved_retries $(grep -c 'retried: the head moved' "$work/serve.log" || true)"
echo "reads: $clients clients, point reads of recipient and application rows"
phase read read "${common[@]}" --seconds "$secs" --rows "$work/rows"
echo "mirror: a new ledger following the service (ledger::Follow over the client library)"
phase mirror mirror "${common[@]:0:6}" --ledger "$work/mirror"

kill -TERM "$server_pid"
wait "$server_pid" || { echo "serve exited $?" >&2; exit 1; }
server_pid=
echo "import of the same entries (export of the served ledger, then import into a new one)"
"$fl" --ledger "$L" export --out "$work/all.jsonl" > /dev/null
/usr/bin/time -f "%e" -o "$work/import.time" "$fl" --ledger "$work/imported" import "$work/all.jsonl" > /dev/null
import_secs=$(cat "$work/import.time")
import_n=$(wc -l < "$work/all.jsonl")
import_rate=$(awk -v n="$import_n" -v s="$import_secs" 'BEGIN { printf "%.1f", n / s }')
echo "  import_entries $import_n"
echo "  import_seconds $import_secs (the process: open, parse, verify, commit)"
echo "  import_per_second $import_rate"
[ "${fig[mirror_entries]}" = "$import_n" ] || echo "  note: the mirror took ${fig[mirror_entries]} entries, the import $import_n"
if "$fl" --ledger "$work/mirror" audit > /dev/null 2>&1; then echo "  the mirror audits clean"; else echo "  the mirror does NOT audit clean" >&2; exit 3; fi

# --- The table. -------------------------------------------------------------------------------
row() { printf "| %-44s | %-18s | %-34s | %-7s | %-4s |\n" "$@"; }
yes_no() { awk "BEGIN { print (($1) ? \"yes\" : \"no\") }"; }
echo
row "target" "limit" "measured" "ratio" "met?"
row "--------------------------------------------" "------------------" "----------------------------------" "-------" "----"
row "appends/s, $clients clients, synced before ack" ">= 500/s" "${fig[append_per_second]}/s (${fig[append_count]} in ${fig[append_seconds]} s)" \
  "$(awk -v a="${fig[append_per_second]}" 'BEGIN { printf "%.2fx", a / 500 }')" "$(yes_no "${fig[append_per_second]} >= 500")"
row "server CPU per append" "-" "$(awk -v c="${fig[append_server_cpu_ms]}" -v n="${fig[append_count]}" 'BEGIN { printf "%.2f ms", c / (n ? n : 1) }')" "-" "-"
row "append latency p50 (p90)" "<= 10 ms p50" "${fig[append_p50_ms]} ms (${fig[append_p90_ms]} ms)" \
  "$(awk -v a="${fig[append_p50_ms]}" 'BEGIN { printf "%.2fx", a / 10 }')" "$(yes_no "${fig[append_p50_ms]} <= 10")"
row "point reads/s, $clients clients" ">= 5,000/s" "${fig[read_per_second]}/s (${fig[read_count]} in ${fig[read_seconds]} s)" \
  "$(awk -v a="${fig[read_per_second]}" 'BEGIN { printf "%.2fx", a / 5000 }')" "$(yes_no "${fig[read_per_second]} >= 5000")"
row "point read latency p50 (p90)" "<= 2 ms p50" "${fig[read_p50_ms]} ms (${fig[read_p90_ms]} ms)" \
  "$(awk -v a="${fig[read_p50_ms]}" 'BEGIN { printf "%.2fx", a / 2 }')" "$(yes_no "${fig[read_p50_ms]} <= 2")"
row "mirror catch-up over the service vs import" ">= 0.8x import" "${fig[mirror_per_second]}/s vs $import_rate/s" \
  "$(awk -v a="${fig[mirror_per_second]}" -v b="$import_rate" 'BEGIN { printf "%.2fx", a / b }')" \
  "$(yes_no "${fig[mirror_per_second]} >= 0.8 * $import_rate")"

if [ "$profile" = 1 ]; then
  for name in append read; do
    echo
    echo "server profile during $name (perf report --no-children, self time, top 15 symbols):"
    perf report -i "$work/perf-$name.data" --no-children --sort dso,symbol --stdio 2> /dev/null |
      grep -E '^ +[0-9.]+%' | head -15 | cut -c1-150 || true
  done
fi
