"""Procedural connectivity: memory and speed, and the stored engine before/after.

1. Stored engine, Brunel N = 12,500, 1 s at 0.1 ms, warm (second call in the process): the
   sources at a reference commit (``--base``, an extracted ``src`` folder) against this
   tree, alternating fresh subprocesses; CPU times (the machine is shared).
2. Procedural vs stored on the same synapses (N = 12,500, p = 0.1, ~15.6 M synapses): warm
   time and peak resident memory, each in its own process; spike trains compared.
3. 10^9 synapses: N = 100,000, p = 0.1, procedural, a short run; peak resident memory.

Usage::

    PYTHONPATH=src python benchmarks/bench_procedural.py --base /tmp/speed_base/src
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

STORED = r"""
import json, resource, time
import spikewire
from spikewire.networks import brunel
net = brunel(n_neurons=12_500, seed=1)
spikewire.simulate(net, 0.05, seed=2)
c, w = time.process_time(), time.perf_counter()
st = spikewire.simulate(net, 1.0, seed=2)
print(json.dumps(dict(cpu=time.process_time() - c, wall=time.perf_counter() - w,
                      n_spikes=st.n_spikes)))
"""

PAIR = r"""
import hashlib, json, resource, time
import numpy as np, scipy.sparse as sp
import spikewire
from spikewire.networks import brunel
from spikewire.simulate import ProceduralConnectivity, simulate_procedural
N, P, T, MODE = {n}, {p}, {t}, "{mode}"
base = brunel(n_neurons=12_500, seed=1)  # Brunel's parameters and drive (C_E = 1000, eta = 2)
J = 0.1 * 1000 / (P * 0.8 * N)  # the same mean recurrent input as Brunel's J = 0.1, C_E = 1000
w = np.where(np.arange(N) < int(0.8 * N), J, -5 * J).astype(np.float32)
conn = ProceduralConnectivity(p=P, weights=w, seed=7)
import dataclasses
tmpl = dataclasses.replace(base, weights=sp.csc_array((N, N), dtype=np.float32),
                           cell_type=np.where(np.arange(N) < int(0.8 * N), "E", "I"))
if MODE == "stored":
    c0 = time.process_time()
    net = tmpl.replace(weights=conn.to_weights())
    build = time.process_time() - c0
    run = lambda d: spikewire.simulate(net, d, seed=2)
else:
    build = 0.0
    run = lambda d: simulate_procedural(tmpl, conn, d, seed=2)
run(0.002)
c, w0 = time.process_time(), time.perf_counter()
st = run(T)
cpu, wall = time.process_time() - c, time.perf_counter() - w0
h = hashlib.sha1(st.grouped_times.tobytes() + st.indptr.tobytes()).hexdigest()
print(json.dumps(dict(cpu=cpu, wall=wall, build_cpu=build, n_spikes=st.n_spikes, sha1=h,
                      rate=st.n_spikes / N / T, synapses=conn.expected_synapses(),
                      peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)))
"""


def _run(code: str, src: str) -> dict:
    env = dict(os.environ, PYTHONPATH=src)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=False, help="src folder of the reference commit")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: 1,2,3")
    ap.add_argument("--t-large", type=float, default=0.01, help="s simulated at 10^9 synapses")
    args = ap.parse_args()
    here = str(Path(__file__).resolve().parents[1] / "src")
    skip = set(args.skip.split(","))
    if "1" not in skip and args.base:
        print("| stored engine, Brunel 12,500, 1 s warm | before CPU s | after CPU s "
              "| before wall s | after wall s | spikes |")
        print("|---|---|---|---|---|---|")
        for r in range(args.rounds):
            b = _run(STORED, args.base)
            a = _run(STORED, here)
            assert a["n_spikes"] == b["n_spikes"]
            print(f"| round {r + 1} | {b['cpu']:.2f} | {a['cpu']:.2f} | {b['wall']:.2f} "
                  f"| {a['wall']:.2f} | {a['n_spikes']} |", flush=True)
    if "2" not in skip:
        print("\n| N = 12,500, p = 0.1, 1 s | CPU s | wall s | build CPU s | peak RSS GiB "
              "| rate Hz | spikes sha1 |")
        print("|---|---|---|---|---|---|---|")
        for r in range(args.rounds):
            for mode in ("stored", "procedural"):
                x = _run(PAIR.format(n=12_500, p=0.1, t=1.0, mode=mode), here)
                print(f"| {mode} (round {r + 1}) | {x['cpu']:.2f} | {x['wall']:.2f} "
                      f"| {x['build_cpu']:.2f} | {x['peak_rss_gib']:.2f} | {x['rate']:.1f} "
                      f"| {x['sha1'][:12]} |", flush=True)
    if "3" not in skip:
        x = _run(PAIR.format(n=100_000, p=0.1, t=args.t_large, mode="procedural"), here)
        print(f"\n10^9 synapses (N = 100,000, p = 0.1, {x['synapses']:.3g} expected), "
              f"procedural, {args.t_large * 1e3:g} ms: CPU {x['cpu']:.1f} s, wall "
              f"{x['wall']:.1f} s, peak RSS {x['peak_rss_gib']:.2f} GiB, rate "
              f"{x['rate']:.1f} Hz; stored it would need >= {x['synapses'] * 8 / 2**30:.1f} GiB "
              "(int32 index + float32 weight per synapse)")


if __name__ == "__main__":
    main()
