#!/usr/bin/env bash
# Time one `append --file` of N RecipientRegistered events (one WriteBatch, all or nothing)
# and one `import` of the resulting ledger's export, for each N given. A cost that grows
# faster than N shows as a falling rate.
#
#   bench/append_batch.sh 5000 20000
#
# Results, with the command and the machine, go in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
fl=${FUNDLEDGER_BIN:-$PWD/build/tools/fundledger}
work=$(mktemp -d /tmp/fundledger-append-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export FUNDLEDGER_NOW=2025-03-01T09:00:00

# N lines of RecipientRegistered with valid Unified Social Credit Codes (GB 32100-2015).
events() {
  python3 - "$1" <<'PY'
import json, sys
alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
for i in range(int(sys.argv[1])):
    first = "914403007%08d" % i
    check = (31 - sum(alphabet.index(c) * w for c, w in zip(first, weights)) % 31) % 31
    body = {"recipientId": first + alphabet[check], "name": "Bench %d" % i,
            "kind": "enterprise", "district": "nanshan"}
    print(json.dumps({"kind": "RecipientRegistered", "body": body}))
PY
}

echo "machine: $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); binary $fl"
"$fl" key gen --out "$work/authority.pem" > /dev/null
"$fl" key gen --out "$work/clerk.pem" > /dev/null
for n in "$@"; do
  L="$work/L$n"
  "$fl" --ledger "$L" init --authority-key "$work/authority.pem" --name "bench" > /dev/null
  "$fl" --ledger "$L" --key "$work/authority.pem" key register --public-key "$work/clerk.pem.pub" \
    --role clerk --unit SZ-STIB --holder "Bench Clerk" > /dev/null
  events "$n" > "$work/events$n.jsonl"
  /usr/bin/time -f "%e %M" -o "$work/time" "$fl" --ledger "$L" --key "$work/clerk.pem" \
    append --file "$work/events$n.jsonl" > /dev/null
  read -r secs kb < "$work/time"
  printf "append --file %6d entries  %7.2f s  %7.1f MiB  %6.0f entries/s\n" "$n" "$secs" \
    "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')" "$(awk -v n="$n" -v s="$secs" 'BEGIN { print (s > 0 ? n / s : 0) }')"
  "$fl" --ledger "$L" export --out "$work/export$n.jsonl" 2> /dev/null
  /usr/bin/time -f "%e %M" -o "$work/time" "$fl" --ledger "$work/I$n" import "$work/export$n.jsonl" > /dev/null
  read -r secs kb < "$work/time"
  printf "import        %6d entries  %7.2f s  %7.1f MiB  %6.0f entries/s\n" "$((n + 2))" "$secs" \
    "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')" "$(awk -v n="$n" -v s="$secs" 'BEGIN { print (s > 0 ? n / s : 0) }')"
done
