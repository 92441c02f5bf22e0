#!/usr/bin/env python3

# SPDX-FileCopyrightText: 2026 QRedlock contributors
#
# SPDX-License-Identifier: BSD-3-Clause

"""Summarizes safety runner logs as the Markdown table of tests/safety/README.md.

usage: tests/safety/summarize.py PLAN LOG...

PLAN is the output of `tests/safety/run --plan` with the same --runs/--seed/--scenario
options as the profile (it gives each run's TTL and retry delay, which the per-run lines do
not); LOG are the runner's outputs (several when the profile was resumed with --from).
Runs that appear in several logs count once (the last one read wins).
"""
import collections
import re
import sys

RUN = re.compile(r'^\[(\d+)/\d+\] (\S+)\s+seed (\d+)\s+holdings (\d+) overlaps (\d+) lost (-?\d+) late (\d+) '
                 r'\(\+(\d+) paused \+(\d+) stalled\) worst-late ([\d.]+) ms recovery (-?[\d.]+) ms gap ([\d.]+) ms'
                 r'((?: [a-z-]+ [\d/]+)*)\s+(\S+)')
# The optional fields after the gap (only where a scenario's own rule applies):
# held-across H lost-across L (rolling-restart), alias-refused R/A alias-held N (alias),
# refusals N (a worker with a valid list was refused).
EXTRA = re.compile(r' ([a-z-]+) ([\d/]+)')
PLAN = re.compile(r'^\[(\d+)/\d+\] (\S+)\s+seed (\d+)\s+servers=\d+ workers=\d+ ttl=(\d+) autoExtend=\d '
                  r'hold=\S+ retry=(\d+)±(\d+) timeout=(\d+)')


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    plan = {}
    with open(argv[1], encoding='utf-8') as f:
        for line in f:
            m = PLAN.match(line)
            if m:
                plan[int(m.group(1))] = m.groups()
    runs = {}
    for path in argv[2:]:
        with open(path, encoding='utf-8') as f:
            for line in f:
                m = RUN.match(line)
                if m:
                    runs[int(m.group(1))] = m.groups()
    if not runs:
        sys.exit('no run lines found')

    per = collections.OrderedDict()
    slowest = (0.0, None)
    for i in sorted(runs):
        g = runs[i]
        scenario = g[1]
        p = plan.get(i)
        if p is None or p[1] != scenario or p[2] != g[2]:
            sys.exit(f'run {i}: the plan does not match the log (other --runs/--seed/--scenario?)')
        ttl, retry = int(p[3]), int(p[4])
        a = per.setdefault(scenario, collections.Counter())
        a['runs'] += 1
        a['holdings'] += int(g[3])
        a['overlaps'] += int(g[4])
        a['lost'] += abs(int(g[5]))
        a['late'] += int(g[6])
        a['paused'] += int(g[7])
        a['stalled'] += int(g[8])
        a[g[13]] += 1
        for key, value in EXTRA.findall(g[12]):
            if key == 'alias-refused':
                refused, workers = value.split('/')
                a['alias-refused'] += int(refused)
                a['alias-workers'] += int(workers)
            else:
                a[key] += int(value)
            a['has-' + key] = 1
        a['late_ms'] = max(a['late_ms'], float(g[9]))
        recovery = float(g[10])
        a['recovery'] = max(a['recovery'], recovery)
        share = recovery / (ttl + retry)
        a['share'] = max(a['share'], share)
        if not scenario.startswith('neg-') and share > slowest[0]:
            slowest = (share, f'run {i} ({scenario}): {recovery:.0f} ms, TTL {ttl} + retry delay {retry} ms')

    missing = [i for i in range(min(runs), max(runs) + 1) if i not in runs]
    print(f'runs {min(runs)}-{max(runs)}: {len(runs)} read' + (f', missing {missing[:20]}' if missing else ''))
    print()
    print('| scenario | runs | holdings | overlaps | lost updates | late signals (+ excused) | worst late |'
          ' worst recovery after heal | ÷ (TTL + retry delay) | own rule | verdict |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    total = collections.Counter()
    for scenario, a in per.items():
        negative = scenario.startswith('neg-')
        excused = []
        if a['paused']:
            excused.append(f"+{a['paused']} SIGSTOPped")
        if a['stalled']:
            excused.append(f"+{a['stalled']} stalled")
        late = str(a['late']) + (f" ({', '.join(excused)})" if excused else '')
        rule = []
        if a['has-held-across']:
            rule.append(f"{a['lost-across']} of {a['held-across']} held across a restart lost")
        if a['has-alias-refused']:
            rule.append(f"refused {a['alias-refused']}/{a['alias-workers']}, held {a['alias-held']}")
        if a['refusals']:
            rule.append(f"{a['refusals']} unexpected refusals")
        if negative:
            verdict = f"detected {a['detected']}/{a['runs']}"
            cells = ['—', '—', '—']
        else:
            verdict = f"ok {a['ok']}/{a['runs']}"
            cells = [f"{a['late_ms']:.1f} ms", f"{a['recovery']:.0f} ms", f"{a['share']:.2f}"]
            for key in ('runs', 'holdings', 'overlaps', 'lost', 'late', 'paused', 'stalled', 'ok'):
                total[key] += a[key]
            total['late_ms'] = max(total['late_ms'], a['late_ms'])
        cells.append('; '.join(rule) if rule else '—')
        print(f"| {scenario} | {a['runs']} | {a['holdings']} | {a['overlaps']} | {a['lost']} | {late} | "
              + ' | '.join(cells) + f' | {verdict} |')
    print()
    print(f"safe scenarios: {total['runs']} runs ({total['ok']} ok), {total['holdings']} holdings, "
          f"{total['overlaps']} overlaps, {total['lost']} lost updates, {total['late']} late signals "
          f"(+{total['paused']} SIGSTOPped, +{total['stalled']} stalled); latest signal {total['late_ms']:.1f} ms "
          f"after its deadline")
    if slowest[1]:
        print(f'slowest recovery relative to TTL + retry delay: {slowest[0]:.2f}, {slowest[1]}')


if __name__ == '__main__':
    main(sys.argv)
