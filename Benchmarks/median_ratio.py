#!/usr/bin/env python3
"""Median ratios over interleaved rounds (issue 20): reads BenchmarkDotNet's GitHub-markdown reports and prints, per
benchmark, the ratio to the class's baseline in each round and the median over rounds, by the means (BenchmarkDotNet's
Ratio column) and by the Min column where the table has one (the best iteration, the least disturbed by other load).

  python3 Benchmarks/median_ratio.py BenchmarkDotNet.Artifacts/results/Benchmarks.SmallXor-report-github.md
"""
import re
import statistics
import sys


def ns(text):
    text = text.strip().replace(',', '')
    m = re.match(r'([0-9.]+)\s*(ns|us|μs|µs|ms|s)$', text)
    if not m:
        return None
    scale = {'ns': 1, 'us': 1e3, 'μs': 1e3, 'µs': 1e3, 'ms': 1e6, 's': 1e9}[m.group(2)]
    return float(m.group(1)) * scale


for path in sys.argv[1:]:
    import html
    rows = [html.unescape(l).replace('**', '') for l in open(path, encoding='utf-8') if l.startswith('|')]
    head = [c.strip() for c in rows[0].strip('|\n').split('|')]
    col = {name: i for i, name in enumerate(head)}
    rounds = {}
    order = []
    for l in rows[2:]:
        cells = [c.strip() for c in l.strip('|\n').split('|')]
        if not cells[col['Method']]:
            continue
        method = cells[col['Method']].strip("'")
        r = cells[col['Round']] if 'Round' in col else '1'
        rounds.setdefault(r, []).append((method, cells))
        if method not in order:
            order.append(method)
    print(path)
    for method in order:
        by_mean, by_min = [], []
        for r, items in rounds.items():
            base = items[0][1]
            row = next((c for m, c in items if m == method), None)
            if row is None:
                continue
            by_mean.append(ns(row[col['Mean']]) / ns(base[col['Mean']]))
            if 'Min' in col:
                by_min.append(ns(row[col['Min']]) / ns(base[col['Min']]))
        text = f"  {method[:70]:70}  median ratio by means {statistics.median(by_mean):5.2f} ({', '.join(f'{x:.2f}' for x in by_mean)})"
        if by_min:
            text += f"; by mins {statistics.median(by_min):5.2f} ({', '.join(f'{x:.2f}' for x in by_min)})"
        print(text)
