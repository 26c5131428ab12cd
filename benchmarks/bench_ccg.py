"""All-pairs CCG with significance: spikewire `ccg` vs looping elephant's per-pair CCH.

Run with the benchmark environment (elephant + spikewire editable):

    python3 -m venv benchmarks/.venv-bench
    benchmarks/.venv-bench/bin/pip install -e . elephant
    benchmarks/.venv-bench/bin/python benchmarks/bench_ccg.py [--units 1000 --duration 3600]

Thread scaling (no elephant; each setting in a fresh process, rounds alternating)::

    python benchmarks/bench_ccg.py --scaling 1,2 --rounds 2 [--ref-src /tmp/old/src]

Data: independent Poisson trains (``--rate`` Hz, default 5) for ``--units`` units over
``--duration`` s. spikewire runs the full method (all ordered pairs, 0.5 ms bins, ±34 ms of
lags for the hollowed-Gaussian baseline, Poisson test, Estimate with BH control) on
``--jobs`` threads. elephant's ``cross_correlation_histogram`` (method "memory", the same
0.5 ms bins and ±34 ms window, no significance test) is timed on ``--pairs`` random pairs
with each unit binned once (binning timed separately) and extrapolated linearly to all
``units·(units−1)`` ordered pairs: ``units · t_bin + pairs · t_cch``. The elephant figure
therefore leaves out the significance test that spikewire includes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

import spikewire as sw


def poisson_trains(n, duration, rate, seed):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate * duration, n)
    times = rng.uniform(0, duration, counts.sum())
    ids = np.repeat(np.arange(n), counts)
    return sw.SpikeTrains.from_times(times, ids, t_stop=duration, sort=True)


def bench_spikewire(st, jobs):
    small = poisson_trains(5, 30.0, 5.0, 0)
    sw.infer(small, "ccg", n_jobs=jobs)  # compile (numba cache) outside the timing
    t0 = time.perf_counter()
    c0 = time.process_time()
    est = sw.infer(st, "ccg", n_jobs=jobs)
    total = time.perf_counter() - t0
    return total, time.process_time() - c0, est


def bench_elephant(st, n_pairs, bw, kmax, seed, method="memory"):
    import neo
    import quantities as pq
    from elephant.conversion import BinnedSpikeTrain
    from elephant.spike_train_correlation import cross_correlation_histogram

    rng = np.random.default_rng(seed)
    n = st.n_units
    pairs = set()
    while len(pairs) < n_pairs:
        i, j = (int(x) for x in rng.integers(0, n, 2))
        if i != j:
            pairs.add((i, j))
    pairs = sorted(pairs)
    units = sorted({u for p in pairs for u in p})
    binned = {}
    t0 = time.perf_counter()
    for u in units:
        s = neo.SpikeTrain(st.train(u) * pq.s, t_start=st.t_start * pq.s, t_stop=st.t_stop * pq.s)
        binned[u] = BinnedSpikeTrain(s, bin_size=bw * pq.s)
    t_bin = (time.perf_counter() - t0) / len(units)
    t0 = time.perf_counter()
    c0 = time.process_time()
    for post, pre in pairs:
        cross_correlation_histogram(binned[post], binned[pre], window=[-kmax, kmax],
                                    border_correction=False, binary=False, kernel=None,
                                    method=method)
    t_pair = (time.perf_counter() - t0) / len(pairs)
    cpu_pair = (time.process_time() - c0) / len(pairs)
    return t_bin, t_pair, cpu_pair


_SCALING_CHILD = """
import json, os, resource, sys, time, warnings
sys.path.insert(0, {src!r})
import numpy as np
import spikewire as sw
sys.path.insert(0, {here!r})
from bench_ccg import poisson_trains
warnings.simplefilter("ignore")
st = poisson_trains({units}, {duration}, {rate}, {seed})
sw.infer(poisson_trains(5, 30.0, 5.0, 0), "ccg", n_jobs={jobs})   # numba cache, warm-up
load0 = os.getloadavg()[0]
t0, c0 = time.perf_counter(), time.process_time()
est = sw.infer(st, "ccg", n_jobs={jobs}, **{settings!r})
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
d = est.diagnostics
keys = ("n_threads", "block_size", "n_blocks", "time_counting_s", "time_summaries_s",
        "cpu_counting_s", "cpu_summaries_s")
print(json.dumps({{"wall_s": wall, "cpu_s": cpu, "load": [load0, os.getloadavg()[0]],
                  "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "n_spikes": st.n_spikes, "significant": int(est.significant().sum()),
                  **{{k: d[k] for k in keys if k in d}}}}))
"""


def scaling(args):
    """``--scaling 1,2``: the full ``ccg`` at each thread count in a fresh process, rounds
    alternating (and the ``--ref-src`` tree's code first in each round), same data."""
    import subprocess
    import sys
    from pathlib import Path

    here = str(Path(__file__).resolve().parent)
    trees = ([("ref", str(args.ref_src))] if args.ref_src else []) + [
        ("current", str(Path(here).parent / "src"))]
    rows = []
    for rnd in range(args.rounds):
        for label, src in trees:
            for jobs in (int(x) for x in args.scaling.split(",")):
                code = _SCALING_CHILD.format(src=src, here=here, units=args.units,
                                             duration=args.duration, rate=args.rate,
                                             seed=args.seed, jobs=jobs,
                                             settings=json.loads(args.settings)
                                             if label == "current" else {})
                out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                     text=True)
                if out.returncode:
                    raise RuntimeError(out.stderr[-3000:])
                row = {"round": rnd, "code": label, "n_jobs": jobs,
                       **json.loads(out.stdout.strip().splitlines()[-1])}
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("| round | code | n_jobs | wall s | CPU s | load avg | count CPU s | summaries "
          "CPU s | peak RSS GiB |")
    for r in rows:
        print(f"| {r['round']} | {r['code']} | {r['n_jobs']} | {r['wall_s']:.1f} | "
              f"{r['cpu_s']:.1f} | {r['load'][0]:.1f}–{r['load'][1]:.1f} | "
              f"{r.get('cpu_counting_s', float('nan')):.1f} | "
              f"{r.get('cpu_summaries_s', float('nan')):.1f} | {r['peak_rss_gib']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=3600.0)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--elephant-method", default="memory", choices=["memory", "speed"],
                    help="elephant's CCH implementation ('memory', sparse, is the faster one "
                         "for spike trains: 0.3 vs 4.4 CPU-s per 1 h pair here)")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    ap.add_argument("--scaling", default=None,
                    help="comma list of n_jobs: time the full ccg at each in a fresh process "
                         "(no elephant), e.g. 1,2")
    ap.add_argument("--rounds", type=int, default=1, help="--scaling: rounds, alternating")
    ap.add_argument("--ref-src", default=None,
                    help="--scaling: also time this source tree (e.g. the code before a "
                         "change: `git archive REV src | tar -x -C DIR`, then DIR/src)")
    ap.add_argument("--settings", default="{}",
                    help="--scaling: further ccg settings of the current code, as JSON")
    args = ap.parse_args()
    if args.scaling:
        scaling(args)
        return

    st = poisson_trains(args.units, args.duration, args.rate, args.seed)
    print(st)
    load0 = os.getloadavg()
    t_sw, cpu_sw, est = bench_spikewire(st, args.jobs)
    load1 = os.getloadavg()
    kmax = int(round(est.diagnostics["ccg_range"][1] / est.settings["bin_width"]))
    n_pairs_all = args.units * (args.units - 1)
    p = est.pvalues[est.pair_status == 0]
    print(f"spikewire ccg: {t_sw:.1f} s wall, {cpu_sw:.1f} CPU-s, for {n_pairs_all} ordered "
          f"pairs on {args.jobs} threads "
          f"(counting+baseline {est.diagnostics['time_counting_s']:.1f} s); lags ±{kmax} bins; "
          f"raw p<0.05 fraction {np.mean(p < 0.05):.4f}; significant at the default "
          f"{est.correction} control: "
          f"{int(est.significant().sum())}")
    try:
        t_bin, t_pair, cpu_pair = bench_elephant(st, args.pairs, est.settings["bin_width"],
                                                 kmax, args.seed, args.elephant_method)
    except ImportError as err:
        print(f"elephant not available ({err}); run this with benchmarks/.venv-bench")
        t_bin = t_pair = cpu_pair = float("nan")
    t_el = args.units * t_bin + n_pairs_all * t_pair
    print(f"elephant cross_correlation_histogram (method={args.elephant_method!r}): "
          f"binning {t_bin * 1e3:.1f} ms/unit, "
          f"{t_pair * 1e3:.1f} ms/pair over {args.pairs} pairs -> extrapolated {t_el:.0f} s "
          f"({t_el / 3600:.1f} h) for all pairs, no significance test")
    print(f"ratio elephant/spikewire (wall): {t_el / t_sw:.0f}x; elephant CPU-s per pair "
          f"{cpu_pair * 1e3:.1f} ms")
    out = {
        "units": args.units, "duration_s": args.duration, "rate_hz": args.rate,
        "n_spikes": st.n_spikes, "jobs": args.jobs, "spikewire_s": t_sw,
        "spikewire_cpu_s": cpu_sw,
        "spikewire_counting_s": est.diagnostics["time_counting_s"],
        "elephant_bin_s_per_unit": t_bin, "elephant_s_per_pair": t_pair,
        "elephant_cpu_s_per_pair": cpu_pair,
        "elephant_pairs_timed": args.pairs, "elephant_method": args.elephant_method,
        "elephant_extrapolated_s": t_el,
        "ratio": t_el / t_sw, "loadavg_before": load0, "loadavg_after": load1,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
