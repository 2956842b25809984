#!/usr/bin/env python3
# Writes bench/policies/national.json: the Shenzhen policy with every stated annual pool x200 and a
# wider term. SYNTHETIC, for benchmarks only (DESIGN.md §10 "Benchmarks").
import json, pathlib
root = pathlib.Path(__file__).resolve().parent.parent
p = json.load(open(root / 'schemas/policies/shenzhen-ai-pioneer-2024.json'))
p.update(id='national-synthetic-benchmark', version='0.1.0', termStart='2024-01-01', termEnd='2026-12-31',
         titleEn='SYNTHETIC national-scale programme for benchmarks (not a real policy)',
         titleZh='基准测试用合成政策（非真实政策）',
         note='SYNTHETIC: the Shenzhen measures with every annual pool multiplied by 200 and the term widened, '
              'so that simulate reaches 10^6 entries. Not a real policy; for benchmarks only.',
         source='derived from schemas/policies/shenzhen-ai-pioneer-2024.json by bench/make_national_policy.py')
for m in p['measures']:
    if m.get('annualBudgetCapStated'):
        m['annualBudgetCapFen'] *= 200
        m['note'] = 'synthetic: the Shenzhen pool x200'
json.dump(p, open(root / 'bench/policies/national.json', 'w'), ensure_ascii=False, indent=1)
