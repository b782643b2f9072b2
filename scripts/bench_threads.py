#!/usr/bin/env python3
"""1 thread against 2 threads, with and without a competing busy process.

Runs `lutcore bench gemv` at --threads 1 and --threads 2 alternately
(1, 2, 1, 2, ...) for --rounds rounds, once on the machine as it is and once
with a busy loop pinned to one core (`taskset -c CORE`), and reports per
(scheme, batch, mode) the median over the rounds of each run's median time,
and the ratio 2 threads / 1 thread (below 1: two threads are faster). The
issue's target is a ratio <= 1 with the busy loop (2 threads never slower
than 1) and no regression without it.

Writes a JSON report (--out) and prints a table. Standard library only.

    make bench-threads                      # defaults below
    python3 scripts/bench_threads.py --rounds 10 --shape 8640x3200 --batch 1 --batch 8
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from benchlib import busy_loop, check_args, write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_bench(lutcore, shape, batches, threads, repeats):
    """One `lutcore bench gemv` run; returns its rows (list of dicts)."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "rows.json")
        cmd = [lutcore, "bench", "gemv", "--shape", shape, "--weights", "ternary",
               "--threads", str(threads), "--repeats", str(repeats), "--json", out]
        for b in batches:
            cmd += ["--batch", str(b)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"bench_threads: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
        with open(out) as f:
            return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lutcore", default=os.path.join(ROOT, "target", "release", "lutcore"))
    ap.add_argument("--rounds", type=int, default=10, help="alternating 1/2-thread rounds per condition (>= 1, default 10)")
    ap.add_argument("--shape", default="8640x3200")
    ap.add_argument("--batch", type=int, action="append", help="batches (repeatable; default 1 and 8)")
    ap.add_argument("--repeats", type=int, default=9, help="timed calls per cold measurement in each run (default 9)")
    ap.add_argument("--core", type=int, default=None, help="core of the busy loop (default: the last one)")
    ap.add_argument("--no-busy", action="store_true", help="skip the run with a competing busy loop")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "threads.json"))
    a = ap.parse_args()
    check_args("bench_threads", a)
    batches = a.batch or [1, 8]
    core = a.core if a.core is not None else (os.cpu_count() or 1) - 1
    conditions = ["idle"] + ([] if a.no_busy else ["busy"])
    # times[cond][(scheme, batch, mode, threads)] = [median of each round]
    times = {c: {} for c in conditions}
    isa = {}
    report = {"shape": a.shape, "batches": batches, "rounds": a.rounds, "repeats": a.repeats,
              "busy_core": core, "cpus": os.cpu_count(), "loadavg_before": os.getloadavg(), "conditions": {}}
    for cond in conditions:
        with busy_loop("bench_threads", core, on=cond == "busy"):
            load = os.getloadavg()
            for r in range(a.rounds):
                for threads in (1, 2):
                    print(f"[{cond}] round {r + 1}/{a.rounds}, {threads} thread(s)", file=sys.stderr)
                    for row in run_bench(a.lutcore, a.shape, batches, threads, a.repeats):
                        key = (row["scheme"], row["batch"], row["mode"], threads)
                        times[cond].setdefault(key, []).append(row["us_median"])
                        isa[row["scheme"]] = row["isa"]
        report["conditions"][cond] = {"loadavg_at_start": load}
    rows = []
    for cond in conditions:
        keys = sorted({(s, b, m) for (s, b, m, _) in times[cond]})
        for (s, b, m) in keys:
            one, two = times[cond].get((s, b, m, 1), []), times[cond].get((s, b, m, 2), [])
            if not one or not two:
                continue
            m1, m2 = statistics.median(one), statistics.median(two)
            rows.append({"condition": cond, "scheme": s, "isa": isa.get(s), "batch": b, "mode": m,
                         "us_1t_median": round(m1, 1), "us_2t_median": round(m2, 1), "ratio_2t_1t": round(m2 / m1, 3),
                         "us_1t": one, "us_2t": two})
    report["rows"] = rows
    report["loadavg_after"] = os.getloadavg()
    write_json(a.out, report)
    print(f"{a.shape} ternary, {a.rounds} alternating rounds per condition; busy loop on core {core}; "
          f"load average before {report['loadavg_before'][0]:.2f}, after {report['loadavg_after'][0]:.2f}")
    print(f"{'condition':<9} {'scheme':<8} {'isa':<11} {'batch':>5} {'mode':<4} {'1t us':>9} {'2t us':>9} {'2t/1t':>6}")
    for r in rows:
        print(f"{r['condition']:<9} {r['scheme']:<8} {r['isa'] or '-':<11} {r['batch']:>5} {r['mode']:<4} "
              f"{r['us_1t_median']:>9.1f} {r['us_2t_median']:>9.1f} {r['ratio_2t_1t']:>6.2f}")
    print("medians over rounds of each run's median; 2t/1t below 1: two threads faster.")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
