"""Peak RSS of ``build_ei_network`` for the size-scaling network (issue 17, N = 100,000).

Each configuration runs in a fresh process (peak RSS of that process: imports + build).
The network is the size-scaling benchmark's (Ekelmans' supersaturating E/I network,
N₀ = 4,000, K = [[640, 160], [640, 160]]) rescaled to N by ``scale_populations``
(K ∝ N, fixed connection probability 0.2) or with K kept at N₀'s (``fixedK``).

Usage: ``nice python benchmarks/bench_theory_memory.py N:mode:dtype:delay ...`` with mode
``scaledK``/``fixedK``, dtype ``f64``/``f32``, delay ``jitter``/``one``; default
``16000:scaledK:f64:jitter 16000:scaledK:f32:one 32000:scaledK:f32:one``. One JSON line
per configuration; results in results/theory2.md.
"""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = r"""
import resource, sys, time, json
import numpy as np
from dataclasses import replace
from spikewire.theory import EIPopulations, build_ei_network, scale_populations
base = EIPopulations((3200, 800), K=[[640, 160], [640, 160]],
                     j=[[0.093, -0.172], [0.119, -0.131]], sigma_ext=[8.0, 5.0])
N, mode, dtype, delay = sys.argv[1:5]
N = int(N)
pops = scale_populations(base, N)
if mode == "fixedK":
    pops = replace(pops, K=base.K)
kw = dict(weight_dtype=np.float32 if dtype == "f32" else np.float64,
          delay=1.5e-3 if delay == "one" else (1e-3, 3e-3))
t0 = time.perf_counter()
net = build_ei_network(pops, [10.0, 15.0], seed=1, **kw)
t = time.perf_counter() - t0
held = net.weights.data.nbytes + net.weights.indices.nbytes + net.weights.indptr.nbytes
if isinstance(net.delays, np.ndarray):
    held += net.delays.nbytes
print(json.dumps({"N": N, "mode": mode, "dtype": dtype, "delay": delay,
                  "synapses": int(net.n_synapses), "build_s": round(t, 1),
                  "network_bytes_per_synapse": round(held / net.n_synapses, 2),
                  "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                        / 2**20, 3)}))
"""


def main():
    configs = sys.argv[1:] or ["16000:scaledK:f64:jitter", "16000:scaledK:f32:one",
                               "32000:scaledK:f32:one"]
    for c in configs:
        args = c.split(":")
        r = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True,
                           text=True)
        line = (r.stdout.strip().splitlines() or [""])[-1]
        print(line if r.returncode == 0 else json.dumps({"config": c,
                                                          "error": r.stderr[-500:]}),
              flush=True)


if __name__ == "__main__":
    main()
