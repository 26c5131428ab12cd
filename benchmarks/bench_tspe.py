"""TSPE speed and memory: spikewire `tspe` vs elephant's total_spiking_probability_edges.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_tspe.py [--units 1000 --duration 3600]
        [--elephant-units 100 --elephant-duration 600] [--ccg]

Data: independent Poisson trains (``--rate`` Hz, default 5), as in bench_ccg.py.
spikewire's full method (all ordered pairs, 1 ms bins, 25 delays, p-values, Estimate) runs
on ``--units`` × ``--duration`` on ``--jobs`` threads, in a child process so that its
peak resident memory (``ru_maxrss``) is its own. elephant needs a dense binned matrix
(~51 GB at 1,000 × 1 h), so it is timed on the smaller ``--elephant-units`` ×
``--elephant-duration`` problem, with spikewire timed on the same problem in the same run
(the speed ratio), and the two connectivity matrices compared there. ``--ccg`` also times
today's default ``ccg`` on the large problem (the reference of the robust-ccg target).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time
import warnings

import numpy as np

import spikewire as sw


def poisson_trains(n, duration, rate, seed):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate * duration, n)
    times = np.floor(rng.uniform(0, duration, counts.sum()) * 1e4) / 1e4
    ids = np.repeat(np.arange(n), counts)
    return sw.SpikeTrains.from_times(times, ids, t_stop=duration, sort=True)


def _child(method, n, duration, rate, jobs, q, settings=None):
    settings = settings or {}
    st = poisson_trains(n, duration, rate, 0)
    small = poisson_trains(5, 30.0, 5.0, 1)
    warnings.simplefilter("ignore")
    sw.infer(small, method, n_jobs=jobs, **settings)  # numba compile outside the timing
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    c0 = time.process_time()
    est = sw.infer(st, method, n_jobs=jobs, **settings)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    q.put({"method": method, "settings": str(settings), "units": n, "duration": duration,
           "wall_s": wall, "cpu_s": cpu,
           "peak_rss_gb": peak / 2**20, "rss_before_gb": base / 2**20,
           "n_spikes": int(st.counts().sum()),
           "counting_s": est.diagnostics.get("time_counting_s")})


def run_child(*args, settings=None):
    q = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=_child, args=(*args, q, settings))
    p.start()
    out = q.get()
    p.join()
    return out


def elephant_compare(n, duration, rate, jobs):
    import logging

    import neo
    import quantities as pq
    from elephant.conversion import BinnedSpikeTrain
    from elephant.functional_connectivity import total_spiking_probability_edges

    logging.disable(logging.WARNING)  # elephant logs one line per rounding correction
    warnings.simplefilter("ignore")
    st = poisson_trains(n, duration, rate, 2)
    sw.infer(poisson_trains(5, 30.0, 5.0, 1), "tspe", n_jobs=jobs)
    t0 = time.perf_counter()
    est = sw.infer(st, "tspe", n_jobs=jobs, min_spikes=1, max_delay=0.025)  # elephant's 25
    t_sw = time.perf_counter() - t0
    t0 = time.perf_counter()
    trains = [neo.SpikeTrain(st.train(k) * pq.s, t_start=0 * pq.s, t_stop=st.t_stop * pq.s)
              for k in range(n)]
    C, _ = total_spiking_probability_edges(BinnedSpikeTrain(trains, bin_size=1 * pq.ms))
    t_el = time.perf_counter() - t0
    off = ~np.eye(n, dtype=bool)
    return {"units": n, "duration": duration, "spikewire_s": t_sw, "elephant_s": t_el,
            "ratio": t_el / t_sw,
            "max_abs_diff": float(np.abs(C - est.weights)[off].max()),
            "max_abs_tspe": float(np.abs(C[off]).max())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=3600.0)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--elephant-units", type=int, default=100)
    ap.add_argument("--elephant-duration", type=float, default=600.0)
    ap.add_argument("--ccg", action="store_true",
                    help="also time ccg at today's defaults and at the previous ones (4 ms "
                         "window, hollowed-Gaussian baseline)")
    ap.add_argument("--no-tspe", action="store_true")
    ap.add_argument("--no-elephant", action="store_true")
    a = ap.parse_args()
    # children first: fork() is unsafe once the parent has used numba's OpenMP threads
    if not a.no_tspe:
        print(json.dumps(run_child("tspe", a.units, a.duration, a.rate, a.jobs)), flush=True)
    if a.ccg:
        for kw in ({"window": (5e-4, 4e-3), "significance": "poisson",
                    "correction": "bonferroni"}, {}):
            print(json.dumps(run_child("ccg", a.units, a.duration, a.rate, a.jobs, settings=kw)),
                  flush=True)
    if a.no_elephant:
        return
    print(json.dumps(elephant_compare(a.elephant_units, a.elephant_duration, a.rate, a.jobs)),
          flush=True)


if __name__ == "__main__":
    main()
