"""Procedural connectivity: memory and speed, and the stored engine before/after.

1. Stored engine, Brunel N = 12,500, 1 s at 0.1 ms, warm (second call in the process): the
   sources at a reference commit (``--base``, an extracted ``src`` folder) against this
   tree, alternating fresh subprocesses; CPU times (the machine is shared).
2. Procedural vs stored on the same synapses (N = 12,500, p = 0.1, ~15.6 M synapses): warm
   time and peak resident memory, each in its own process; spike trains compared.
3. 10^9 synapses: N = 100,000, p = 0.1, procedural, a short run; peak resident memory.
4. The size-scaling network (``benchmarks/bench_theory.py``: Ekelmans' supersaturating E/I
   network, N0 = 4,000, K ∝ N, j ∝ 1/√N, white-noise drive ∝ √N) at a fixed connection
   probability 0.2 with ``theory.build_ei_procedural`` + ``ProceduralPopulations``
   (E- and I-target weight rows): procedural vs stored (same synapses) at ``--n-pair``,
   then procedural alone at N = 100,000 (2·10⁹ synapses); peak resident memory, times.
   ``--jitter``: per-synapse delays uniform in 1–3 ms, as ``build_ei_network``'s default.

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


SCALING = r"""
import hashlib, json, resource, time
import numpy as np
import spikewire
from spikewire.simulate import simulate_procedural
from spikewire.theory import EIPopulations, build_ei_procedural, scale_populations
N, T, MODE, M, JIT = {n}, {t}, "{mode}", {m}, {jitter}
pops = EIPopulations((3200, 800), K=[[640, 160], [640, 160]],
                     j=[[0.093, -0.172], [0.119, -0.131]], sigma_ext=[8.0, 5.0])
f = np.sqrt(N / 4000)
net, conn = build_ei_procedural(scale_populations(pops, N), f * np.array([M, 1.5 * M]), seed=1,
                                delay=(1e-3, 3e-3) if JIT else 1.5e-3)
v0 = np.random.default_rng(1).uniform(0.0, 10.0, N)  # as bench_theory's size_scaling
if MODE == "stored":
    c0 = time.process_time()
    net = net.replace(weights=conn.to_weights(), delays=conn.to_delays() if JIT else net.delays)
    build = time.process_time() - c0
    run = lambda d: spikewire.simulate(net, d, seed=2, v_init=v0)
else:
    build = 0.0
    run = lambda d: simulate_procedural(net, conn, d, seed=2, v_init=v0)
run(0.002)  # compile / warm
c, w0 = time.process_time(), time.perf_counter()
st = run(T)
cpu, wall = time.process_time() - c, time.perf_counter() - w0
h = hashlib.sha1(st.grouped_times.tobytes() + st.indptr.tobytes()).hexdigest()
cnt = st.restrict(T / 2, T).counts() / (T / 2)
ne = int(0.8 * N)
print(json.dumps(dict(cpu=cpu, wall=wall, build_cpu=build, n_spikes=st.n_spikes, sha1=h,
                      rate_E=float(cnt[:ne].mean()), rate_I=float(cnt[ne:].mean()),
                      synapses=conn.expected_synapses(),
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
    ap.add_argument("--n-pair", type=int, default=16_000, help="part 4: N of the pair check")
    ap.add_argument("--t-pair", type=float, default=0.2, help="part 4: s simulated, pair")
    ap.add_argument("--t-scaling", type=float, default=0.1, help="part 4: s at N = 100,000")
    ap.add_argument("--mu", type=float, default=11.0, help="part 4: bare E input (mV)")
    ap.add_argument("--jitter", action="store_true",
                    help="part 4: per-synapse delays uniform in 1-3 ms (build_ei_network's)")
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

    if "4" not in skip:
        d = "delays 1-3 ms" if args.jitter else "delay 1.5 ms"
        print(f"\n| size-scaling network, p = 0.2, mu_bare = {args.mu:g} mV, {d} | N | synapses "
              "| simulated s | CPU s | wall s | build CPU s | peak RSS GiB | rate E, I Hz "
              "| spikes sha1 |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        runs = [(args.n_pair, args.t_pair, "stored"), (args.n_pair, args.t_pair, "procedural"),
                (100_000, args.t_scaling, "procedural")]
        for n, t, mode in runs:
            x = _run(SCALING.format(n=n, t=t, mode=mode, m=args.mu, jitter=args.jitter), here)
            print(f"| {mode} | {n:,} | {x['synapses']:.3g} | {t:g} | {x['cpu']:.1f} "
                  f"| {x['wall']:.1f} | {x['build_cpu']:.1f} | {x['peak_rss_gib']:.2f} "
                  f"| {x['rate_E']:.2f}, {x['rate_I']:.2f} | {x['sha1'][:12]} |", flush=True)


if __name__ == "__main__":
    main()
