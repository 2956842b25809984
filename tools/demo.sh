#!/usr/bin/env bash
# The main job: build, simulate two years of the Shenzhen programme into a fresh demo ledger,
# audit it, print the balance per measure, and write the finance bureau's reports of 2025 (xlsx,
# pdf, csv, json) into demo/reports. Leaves demo/ledger and demo/keys to explore.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh fundledger
fl=build/tools/fundledger
rm -rf demo && mkdir -p demo
echo "== simulate: 2,000 recipients, fiscal years 2025 and 2026 (seed 2024)"
$fl simulate --ledger demo/ledger --keys-out demo/keys --recipients 2000 --years 2025,2026 --seed 2024
echo "== audit: every signature, link, rule and balance re-checked from entry 1"
$fl --ledger demo/ledger audit
echo "== balances per measure and fiscal year (yuan)"
$fl --ledger demo/ledger query measure
echo "== the finance bureau's reports of 2025 (demo/reports), and a check that one is what the ledger gives"
$fl --ledger demo/ledger report --all --year 2025 --out demo/reports
$fl --ledger demo/ledger report check demo/reports/2025.pdf
echo "== try: $fl --ledger demo/ledger query recipient <USCC>; log --kind AwardGranted --limit 5; --help"
