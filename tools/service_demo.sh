#!/usr/bin/env bash
# The service end to end on this machine, over loopback TLS (README "One ledger for many
# machines"): a ledger served by `fundledger serve`; the authority and the admin register the
# staff remotely; two clerks, a reviewer and a treasurer run a programme's writes from their own
# keys (the two clerks at the same time); an auditor queries and writes a report remotely; a
# mirror follows the service and audits clean with its root; the service is killed (SIGKILL),
# started again, and has lost nothing.
#
#   bash tools/service_demo.sh [DIR]     # DIR: an empty work directory (default: a new one in /tmp)
#
# Environment: FUNDLEDGER_BIN (default build/tools/fundledger). Exit 0 when every step held.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fl=${FUNDLEDGER_BIN:-$root/build/tools/fundledger}
[ -x "$fl" ] || { echo "no fundledger binary at $fl (bash tools/build.sh)" >&2; exit 4; }
work=${1:-$(mktemp -d /tmp/fundledger-service-demo.XXXXXX)}
mkdir -p "$work" && cd "$work"
[ -z "$(ls -A .)" ] || { echo "$work is not empty" >&2; exit 4; }
pid=
trap '[ -n "$pid" ] && kill "$pid" 2> /dev/null; true' EXIT
step() { echo "== $*"; }

step "keys, a new ledger and the service's certificate"
for k in authority admin treasurer reviewer clerk-a clerk-b auditor; do
  "$fl" key gen --out "$k.pem" > /dev/null
done
"$fl" --ledger ledger init --authority-key authority.pem --name "Shenzhen AI subsidies (service)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout tls.key \
  -out tls.crt -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2> /dev/null

serve() {  # starts the service in the background; sets pid and FUNDLEDGER_SERVER
  : > serve.out
  env -u FUNDLEDGER_SERVER "$fl" --ledger ledger serve --listen 127.0.0.1:0 --tls-cert tls.crt --tls-key tls.key \
    > serve.out 2>> serve.log &
  pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' serve.out)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "serve did not start:" >&2; cat serve.log >&2; exit 1; }
  export FUNDLEDGER_SERVER=localhost:$port
  echo "serving on $FUNDLEDGER_SERVER (pid $pid)"
}
r() { "$fl" --server-ca tls.crt "$@"; }  # a command against the service
l() { env -u FUNDLEDGER_SERVER "$fl" "$@"; }  # a command on a directory of this machine

step "serve"
serve
r status

step "staff registered remotely, each key staying with its holder"
r --key authority.pem key register --public-key admin.pem.pub --role admin --unit LEDGER-ADMIN --holder "Chen Wei"
r --key admin.pem key register --public-key treasurer.pem.pub --role treasurer --unit SZ-FIN --holder "Wang Bo"
r --key admin.pem key register --public-key reviewer.pem.pub --role reviewer --unit SZ-STIB --holder "Liu Yan"
r --key admin.pem key register --public-key clerk-a.pem.pub --role clerk --unit SZ-STIB --holder "Zhang Lei"
r --key admin.pem key register --public-key clerk-b.pem.pub --role clerk --unit SZ-STIB --holder "Zhou Hao"
r --key admin.pem key register --public-key auditor.pem.pub --role auditor --unit AUDIT --holder "Liu Tao"
r --key admin.pem policy publish --file "$root/schemas/policies/shenzhen-ai-pioneer-2024.json"
r --key treasurer.pem budget allocate --measure 2 --year 2026 --amount 5亿

step "two clerks at once, then the reviewer and the treasurer"
uscc() {  # a valid unified social credit code from a number
  python3 -c '
import sys
a = "0123456789ABCDEFGHJKLMNPQRTUWXY"; w = [1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28]
c = "914403000%08d" % int(sys.argv[1]); print(c + a[(31 - sum(a.index(x) * y for x, y in zip(c, w)) % 31) % 31])' "$1"
}
clerk_work() {  # clerk_work KEY N: registers recipient N and submits application A-2026-N
  local id
  id=$(uscc "$2")
  r --key "$1" recipient register --id "$id" --name "Recipient $2" --kind enterprise --district nanshan
  r --key "$1" apply --id "A-2026-$2" --recipient "$id" --measure 2 --track standard --year 2026 \
    --basis 12,000,000 --attr rented_compute=true \
    --evidence "$(printf 'contract %s' "$2" | sha256sum | cut -d' ' -f1)"
}
clerk_work clerk-a.pem 1 > clerk-a.out 2>&1 &
a=$!
clerk_work clerk-b.pem 2 > clerk-b.out 2>&1 &
b=$!
wait "$a" || { cat clerk-a.out >&2; exit 1; }
wait "$b" || { cat clerk-b.out >&2; exit 1; }
cat clerk-a.out clerk-b.out
for n in 1 2; do
  r --key reviewer.pem approve "A-2026-$n"
  r --key reviewer.pem award "A-2026-$n" --max
done
r --key treasurer.pem pay A-2026-1 --amount 100万 --reference SZFIN-2026-0001

step "an auditor reads remotely"
r --key auditor.pem query measure --year 2026
r --key auditor.pem report awards --year 2026 --format csv --out awards-2026
r --key auditor.pem report check awards-2026/awards.csv

step "a mirror follows the service and audits clean with its root"
r --key auditor.pem --ledger mirror mirror --once
served=$(r --key auditor.pem --json status | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["rootHash"], j["size"])')
mirrored=$(l --ledger mirror --json verify | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["rootHash"], j["entries"])')
[ "$served" = "$mirrored" ] || { echo "mirror $mirrored, service $served" >&2; exit 1; }
l --ledger mirror audit | tail -1
echo "mirror and service: $served"

step "SIGKILL the service, start it again: nothing lost"
kill -9 "$pid"
wait "$pid" 2> /dev/null || true
pid=
serve
again=$(r --key auditor.pem --json status | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["rootHash"], j["size"])')
[ "$again" = "$served" ] || { echo "after restart $again, before $served" >&2; exit 1; }
echo "after restart: $again"
kill -TERM "$pid" && wait "$pid"
pid=
l --ledger ledger audit | tail -1
echo "service walkthrough: every step held ($work)"
