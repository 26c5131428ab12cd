"""Scale (issue 15): time and peak memory of dale_glm against glm, 100 units.

Data: :func:`spikewire.networks.izhikevich` (1,000 neurons, defaults, seed 1), simulated
at dt = 1 ms for the longest ``--durations`` (seed 2), 100 neurons recorded at random
(seed 0); each fit uses the first ``d`` s. Every fit runs in a fresh process (peak
resident memory from ``resource.getrusage``, which includes the ~0.2 GB of the imports),
wall time of ``spikewire.infer`` only. Both methods at their defaults (2 ms bins for
dale_glm, glm's own automatic settings).

Usage: python benchmarks/bench_dale_scale.py [--durations 60,120,300] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

import spikewire as sw
from spikewire.observe.subsample import subsample

CACHE = "/tmp/dale_cache/scale_{}.npz"


def recording(duration: float):
    path = CACHE.format(int(duration))
    net = sw.networks.izhikevich(1000, seed=1)
    if not os.path.exists(path):
        st = sw.simulate(net, duration, dt=1e-3, seed=2)
        rec = subsample(st, count=100, network=net, seed=0)
        np.savez(path, times=rec.spikes.times, ids=rec.spikes.unit_ids)
    z = np.load(path)
    st = sw.SpikeTrains.from_times(z["times"], z["ids"], t_stop=duration, sort=True,
                                   annotations={"engine": "izhikevich", "dt": 1e-3})
    return st


def worker(method: str, duration: float, longest: float) -> None:
    st = recording(longest).restrict(0.0, duration)
    t0 = time.perf_counter()
    est = sw.infer(st, method)
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20   # KiB -> GiB
    bits = est.diagnostics.get("heldout_bits_per_spike", float("nan"))
    print(json.dumps({"method": method, "duration_s": duration, "time_s": dt,
                      "peak_rss_gib": rss, "n_spikes": int(st.times.size),
                      "heldout_bits_per_spike": bits}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--durations", default="60,120,300")
    ap.add_argument("--methods", default="glm,dale_glm")
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", nargs=3, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], float(args.worker[1]), float(args.worker[2]))
        return
    durations = [float(d) for d in args.durations.split(",")]
    recording(max(durations))
    rows = []
    for d in durations:
        for m in args.methods.split(","):
            out = subprocess.run([sys.executable, __file__, "--worker", m, str(d),
                                  str(max(durations))], capture_output=True, text=True,
                                 check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(row, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
