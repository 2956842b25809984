#!/usr/bin/env python3
# Writes bench/policies/national.json: the Shenzhen policy with every stated annual pool x200 and a
# wider term. SYNTHETIC, for benchmarks only (DESIGN.md §10 "Benchmarks").
#
#   bench/make_national_policy.py [FACTOR [OUT]]
#
# FACTOR (default 200) scales the pools, and so the entries simulate writes: x200 with 100,000
# recipients gives about 10^6 entries, x20 with 10,000 about 10^5 (bench/read_path.sh).
import json, pathlib, sys
root = pathlib.Path(__file__).resolve().parent.parent
factor = int(sys.argv[1]) if len(sys.argv) > 1 else 200
out = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else root / 'bench/policies/national.json'
p = json.load(open(root / 'schemas/policies/shenzhen-ai-pioneer-2024.json'))
p.update(id='national-synthetic-benchmark', version='0.1.0', termStart='2024-01-01', termEnd='2026-12-31',
         titleEn='SYNTHETIC national-scale programme for benchmarks (not a real policy)',
         titleZh='基准测试用合成政策（非真实政策）',
         note='SYNTHETIC: the Shenzhen measures with every annual pool multiplied by %d and the term widened, '
              'so that simulate reaches 10^%d entries. Not a real policy; for benchmarks only.'
              % (factor, 6 if factor >= 200 else 5),
         source='derived from schemas/policies/shenzhen-ai-pioneer-2024.json by bench/make_national_policy.py')
for m in p['measures']:
    if m.get('annualBudgetCapStated'):
        m['annualBudgetCapFen'] *= factor
        m['note'] = 'synthetic: the Shenzhen pool x%d' % factor
json.dump(p, open(out, 'w'), ensure_ascii=False, indent=1)
