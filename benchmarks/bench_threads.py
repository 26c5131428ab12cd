"""The LIF engine on 1, 2, ... threads: Brunel N = 12,500, 1 s at 0.1 ms, warm, one process.

``simulate(network, ..., n_threads=k)`` splits the postsynaptic neurons into k blocks run
by k threads, bit-identical to the serial engine. This script builds Brunel's model A (the
network of ``bench_engine.py``: g = 5, η = 2, J = 0.1 mV, D = 1.5 ms, C_E = 1000,
C_I = 250, fixed in-degree) once, warms every configuration (numba caches loaded, thread
pool code compiled), then times alternating rounds of each configuration in the same
process: wall (``perf_counter``), CPU of all threads (``process_time``) and the 1-minute
load average when the run ended. Every configuration's spike trains are hashed; all must
agree (the parallel path is exact).

Configurations: ``serial`` (``n_threads=1``, the serial kernel); ``blocks1`` (the parallel
code path with one block on one thread: its algorithmic overhead without any parallelism);
``threads2``, ``threads3``, ... (``--threads``). With ``--sync`` a second, small network
(N = ``--sync-n``, one-step delay, so one barrier per step) measures the cost of a
synchronisation: (wall of k threads − wall of the serial run) / number of steps.

Usage::

    PYTHONPATH=src python benchmarks/bench_threads.py --rounds 3 --threads 2 --sync
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _digest(st) -> str:
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(st.times, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(st.indptr, dtype=np.int64).tobytes())
    return h.hexdigest()[:12]


def _one_block(net, duration, dt, seed):
    """The parallel code path with one block (internal API; for this benchmark only)."""
    from spikewire.core.seeds import rng as seeded_rng
    from spikewire.core.spiketrains import SpikeTrains
    from spikewire.simulate import lif

    n_steps = int(round(duration / dt))
    cfg = lif.build_kernel_config(net, n_steps, dt, seeded_rng(seed, "simulation"))
    plan, conn = lif.thread_plan(cfg, 1)
    with ThreadPoolExecutor(1) as pool:
        steps, idx = lif._run_loop(cfg, n_steps, dt, None, 2000, None,
                                   lif._Blocks(cfg, plan, conn, pool))
    ids = idx.astype(np.int64)
    order = np.argsort(ids, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(ids, minlength=net.n_neurons))])
    return SpikeTrains(steps[order] * dt, indptr, np.arange(net.n_neurons), 0.0, duration)


def _time(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    st = fn()
    return st, time.perf_counter() - t0, time.process_time() - c0, os.getloadavg()[0]


def run_case(net, duration, dt, seed, threads, rounds, label) -> list[dict]:
    import spikewire as sw

    configs = {"serial": lambda: sw.simulate(net, duration, dt=dt, seed=seed)}
    configs["blocks1"] = lambda: _one_block(net, duration, dt, seed)
    for k in threads:
        configs[f"threads{k}"] = (lambda k=k: sw.simulate(net, duration, dt=dt, seed=seed,
                                                          n_threads=k))
    # warm every configuration on a short run of the same network
    short = {"serial": lambda: sw.simulate(net, 0.02, dt=dt, seed=seed),
             "blocks1": lambda: _one_block(net, 0.02, dt, seed)}
    for k in threads:
        short[f"threads{k}"] = lambda k=k: sw.simulate(net, 0.02, dt=dt, seed=seed,
                                                       n_threads=k)
    for fn in short.values():
        fn()
    rows = []
    names = list(configs)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            st, wall, cpu, load = _time(configs[name])
            row = dict(case=label, config=name, round=r + 1, wall=wall, cpu=cpu, load=load,
                       spikes=int(st.n_spikes), sha1=_digest(st))
            rows.append(row)
            print(f"[{label}] round {r + 1} {name:9s} wall {wall:7.3f} s  cpu {cpu:7.3f} s  "
                  f"load {load:5.1f}  spikes {st.n_spikes}  {row['sha1']}", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12_500)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--dt", type=float, default=1e-4)
    ap.add_argument("--threads", default="2", help="comma-separated thread counts (> 1)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sync", action="store_true",
                    help="also time a small network with a one-step delay")
    ap.add_argument("--sync-n", type=int, default=200)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "threads.json")
    a = ap.parse_args(argv)
    import numba

    import spikewire
    from spikewire.networks import brunel

    threads = [int(x) for x in a.threads.split(",")]
    c = time.process_time()
    t = time.perf_counter()
    net = brunel(a.n, epsilon=1000 / (0.8 * a.n), g=5.0, eta=2.0, J=0.1, delay=1.5e-3,
                 seed=1)
    build = dict(wall=time.perf_counter() - t, cpu=time.process_time() - c)
    print(f"build N = {a.n}: wall {build['wall']:.2f} s, cpu {build['cpu']:.2f} s", flush=True)
    rows = run_case(net, a.duration, a.dt, 2, threads, a.rounds, f"brunel{a.n}")
    if a.sync:
        small = brunel(a.sync_n, seed=1, J=0.5, delay=None)
        rows += run_case(small, a.duration, a.dt, 2, threads, a.rounds,
                         f"sync{a.sync_n}_D1")
    same = {}
    for r in rows:
        same.setdefault(r["case"], set()).add(r["sha1"])
    for case, s in same.items():
        verdict = "identical spikes in every run" if len(s) == 1 else f"DIFFERENT: {s}"
        print(f"{case}: {verdict}")
    info = dict(python=platform.python_version(), numpy=np.__version__,
                numba=numba.__version__, spikewire=spikewire.__version__,
                cores=os.cpu_count(),
                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), build=build)
    a.json.parent.mkdir(exist_ok=True)
    a.json.write_text(json.dumps(dict(info=info, rows=rows), indent=1))
    return 0 if all(len(s) == 1 for s in same.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
