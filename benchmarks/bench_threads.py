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

The general kernel (exponential synapses, per-synapse delays, white noise) is timed with
``--tau-syn``, ``--per-synapse-delays`` and ``--white-noise`` (no NEST comparison then).
With ``--nest PYTHON`` NEST 3 runs the same model in a subprocess (``engine_worker.py``),
before and after the rounds, or at the start of every round with ``--nest-every-round``,
and the NEST / spikewire ratios are printed.

Usage::

    PYTHONPATH=src python benchmarks/bench_threads.py --rounds 3 --threads 2 --sync
    PYTHONPATH=src python benchmarks/bench_threads.py --rounds 3 --threads 2 --no-blocks1 \
        --nest benchmarks/.venv-nest/bin/python --nest-every-round
    PYTHONPATH=src python benchmarks/bench_threads.py --tau-syn 5e-3 --J 0.4 --eta 4 \
        --per-synapse-delays 0.5,3
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

import numba as nb
import numpy as np

from spikewire.simulate._lif_kernel import _block_region

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


@nb.njit
def _serial_blocks(step0, step1, st, conn, neu, drv, fd, plan, stim, ext, flag, blk_rng,
                   blk_spk, blk_cnt):
    """The worker's schedule (regions, blocks, two spike buffers) on one thread."""
    n_blocks = plan.bounds.shape[0] - 1
    buf, pend_k0, pend_n, k, tot = 0, step0, 0, step0, 0
    while k < step1 or pend_n > 0:
        n_steps = min(plan.super_steps, step1 - k) if k < step1 else 0
        for b in range(n_blocks):
            _block_region(b, k, n_steps, pend_k0, pend_n, blk_spk[1 - buf], blk_cnt[1 - buf],
                          st, conn, neu, drv, fd, stim, 0, plan, ext, flag, blk_rng,
                          blk_spk[buf], blk_cnt[buf])
        for p in range(n_steps):
            for c in range(n_blocks):
                tot += blk_cnt[buf, c, p]
        pend_k0, pend_n, k, buf = k, n_steps, k + n_steps, 1 - buf
    return tot


def _blocks_one_thread(net, duration, dt, seed, n_blocks) -> float:
    """CPU seconds of the parallel path's block code for ``n_blocks`` blocks run one after
    the other on one thread (no threads, no barrier): its algorithmic overhead."""
    from spikewire.core.seeds import rng as seeded_rng
    from spikewire.simulate import lif
    from spikewire.simulate._lif_kernel import block_start_states

    n_steps = int(round(duration / dt))
    cfg = lif.build_kernel_config(net, n_steps, dt, seeded_rng(seed, "simulation"))
    plan, conn = lif.thread_plan(cfg, n_blocks)
    n, s = net.n_neurons, plan.super_steps
    bmax = int(np.diff(plan.bounds).max())
    blk_rng = np.zeros((n_blocks, 4), dtype=np.uint64)
    block_start_states(plan.start, cfg.rng, blk_rng)
    args = (cfg.state, conn, cfg.neurons, cfg.drive, cfg.fd, plan, cfg.stim, np.zeros(n, np.uint16),
            np.zeros((n + 7) // 8 * 8, dtype=np.uint8), blk_rng,
            np.zeros((2, n_blocks, s * bmax), dtype=np.int32),
            np.zeros((2, n_blocks, s), dtype=np.int64))
    c0 = time.process_time()
    _serial_blocks(1, n_steps, *args)
    return time.process_time() - c0


def _time(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    st = fn()
    return st, time.perf_counter() - t0, time.process_time() - c0, os.getloadavg()[0]


def run_case(net, duration, dt, seed, threads, rounds, label, hook=None,
             blocks1=True) -> list[dict]:
    """Time every configuration in ``rounds`` alternating rounds; ``hook(r)`` (if given)
    runs at the start of round ``r`` and returns rows to add (the NEST runs)."""
    import spikewire as sw

    configs = {"serial": lambda: sw.simulate(net, duration, dt=dt, seed=seed)}
    if blocks1:
        configs["blocks1"] = lambda: _one_block(net, duration, dt, seed)
    for k in threads:
        configs[f"threads{k}"] = (lambda k=k: sw.simulate(net, duration, dt=dt, seed=seed,
                                                          n_threads=k))
    # warm every configuration on a short run of the same network
    short = {"serial": lambda: sw.simulate(net, 0.02, dt=dt, seed=seed)}
    if blocks1:
        short["blocks1"] = lambda: _one_block(net, 0.02, dt, seed)
    for k in threads:
        short[f"threads{k}"] = lambda k=k: sw.simulate(net, 0.02, dt=dt, seed=seed,
                                                       n_threads=k)
    for fn in short.values():
        fn()
    rows = []
    names = list(configs)
    for r in range(rounds):
        if hook is not None:
            rows += hook(r + 1)
        for name in (names if r % 2 == 0 else names[::-1]):
            st, wall, cpu, load = _time(configs[name])
            row = dict(case=label, config=name, round=r + 1, wall=wall, cpu=cpu, load=load,
                       spikes=int(st.n_spikes), sha1=_digest(st))
            rows.append(row)
            print(f"[{label}] round {r + 1} {name:9s} wall {wall:7.3f} s  cpu {cpu:7.3f} s  "
                  f"load {load:5.1f}  spikes {st.n_spikes}  {row['sha1']}", flush=True)
    return rows


def _nest(a, rnd) -> dict:
    """NEST 3 on the same model (``engine_worker.py``, one thread), in a subprocess."""
    import subprocess
    import sys

    cmd = [a.nest, str(HERE / "engine_worker.py"), "--sim", "nest", "--n", str(a.n),
           "--c-e", "1000", "--c-i", "250", "--dt", repr(a.dt), "--duration",
           repr(a.duration), "--seed", "1", "--J", repr(a.J), "--eta", repr(a.eta)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if out.returncode or not line:
        print(out.stderr[-2000:], file=sys.stderr)
        raise RuntimeError("NEST run failed")
    r = json.loads(line[-1][7:])
    row = dict(case=f"brunel{a.n}", config="nest", round=rnd, wall=r["t_sim"],
               cpu=r["c_sim"], build_wall=r["t_build"], build_cpu=r["c_build"],
               load=os.getloadavg()[0], spikes=r["n_spikes"], version=r["version"])
    print(f"[brunel{a.n}] NEST {r['version']} round {rnd}: build {r['t_build']:.2f} s "
          f"(cpu {r['c_build']:.2f}), sim {r['t_sim']:.2f} s (cpu {r['c_sim']:.2f}), "
          f"{r['n_spikes']} spikes, load {row['load']:.1f}", flush=True)
    return row


def _ratios(rows, threads) -> None:
    """NEST's simulation time over spikewire's, per round (same round) and over the run."""
    nest = [r for r in rows if r["config"] == "nest"]
    for name in ["serial"] + [f"threads{k}" for k in threads]:
        sw_rows = [r for r in rows if r["config"] == name]
        if not sw_rows or not nest:
            continue
        per = []
        for r in sw_rows:
            same = [x for x in nest if x["round"] == r["round"]]
            if same:
                per.append(same[0]["wall"] / r["wall"])
        walls = sorted(r["wall"] for r in sw_rows)
        cpus = sorted(r["cpu"] for r in sw_rows)
        nw = sorted(x["wall"] for x in nest)
        nc = sorted(x["cpu"] for x in nest)
        med = walls[len(walls) // 2]
        print(f"NEST / {name}: wall {nw[0] / walls[-1]:.1f}x (slowest spikewire vs fastest "
              f"NEST) .. {nw[-1] / walls[0]:.1f}x, medians {nw[len(nw) // 2] / med:.1f}x; "
              f"CPU medians {nc[len(nc) // 2] / cpus[len(cpus) // 2]:.1f}x"
              + (f"; same round: {', '.join(f'{x:.1f}x' for x in per)}" if per else ""))


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
    ap.add_argument("--serial-blocks", default="",
                    help="comma-separated block counts to run one after the other on one "
                         "thread (CPU time of the block code without threads)")
    ap.add_argument("--nest", default="",
                    help="python of a venv with NEST: time benchmarks/engine_worker.py "
                         "--sim nest on the same model before and after the spikewire runs")
    ap.add_argument("--nest-every-round", action="store_true",
                    help="with --nest: one NEST run at the start of every round instead of "
                         "one before and one after all rounds (NEST and spikewire alternate)")
    ap.add_argument("--no-blocks1", action="store_true",
                    help="skip the one-block configuration (parallel code on one thread)")
    ap.add_argument("--tau-syn", type=float, default=None,
                    help="exponential synapses with this time constant (s): the general "
                         "kernel instead of the fast path (not comparable with NEST's "
                         "delta-synapse model; --nest is then refused)")
    ap.add_argument("--per-synapse-delays", default="",
                    help="'lo,hi' in ms: per-synapse delays drawn uniformly on the dt grid "
                         "(general kernel; regions of the shortest delay)")
    ap.add_argument("--white-noise", default="",
                    help="'mu,sigma' in mV: a WhiteNoiseDrive instead of the Poisson drive "
                         "(general kernel, two Box–Muller draws per neuron and step)")
    ap.add_argument("--J", type=float, default=0.1, help="PSP jump J (mV)")
    ap.add_argument("--eta", type=float, default=2.0, help="external drive ν_ext / ν_thr")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "threads.json")
    a = ap.parse_args(argv)
    import numba

    import spikewire
    from spikewire.networks import brunel

    threads = [int(x) for x in a.threads.split(",")]
    c = time.process_time()
    t = time.perf_counter()
    general = a.tau_syn is not None or bool(a.per_synapse_delays) or bool(a.white_noise)
    if general and a.nest:
        raise SystemExit("--nest times the delta-synapse model of engine_worker.py; drop "
                         "--tau-syn / --per-synapse-delays / --white-noise")
    net = brunel(a.n, epsilon=1000 / (0.8 * a.n), g=5.0, eta=a.eta, J=a.J, delay=1.5e-3,
                 seed=1, tau_syn=a.tau_syn)
    if a.white_noise:
        from spikewire.core.network import WhiteNoiseDrive

        mu, sigma = (float(x) for x in a.white_noise.split(","))
        net = net.replace(drive=WhiteNoiseDrive(mu, sigma))
    if a.per_synapse_delays:
        lo, hi = (int(round(float(x) * 1e-3 / a.dt)) for x in a.per_synapse_delays.split(","))
        d = np.random.default_rng(1).integers(lo, hi + 1, size=net.weights.nnz) * a.dt
        net = net.replace(delays=d)
    build = dict(wall=time.perf_counter() - t, cpu=time.process_time() - c)
    print(f"build N = {a.n}: wall {build['wall']:.2f} s, cpu {build['cpu']:.2f} s", flush=True)
    rows = []
    label = f"brunel{a.n}" + ("_exp" if a.tau_syn is not None else "") \
        + ("_delays" if a.per_synapse_delays else "") + ("_wn" if a.white_noise else "")
    every = a.nest and a.nest_every_round
    if a.nest and not every:
        rows.append(_nest(a, 1))
    rows += run_case(net, a.duration, a.dt, 2, threads, a.rounds, label,
                     hook=(lambda r: [_nest(a, r)]) if every else None,
                     blocks1=not (a.no_blocks1 or general))
    if a.nest and not every:
        rows.append(_nest(a, 2))
    if a.nest:
        _ratios(rows, threads)
    if a.sync:
        small = brunel(a.sync_n, seed=1, J=0.5, delay=None)
        rows += run_case(small, a.duration, a.dt, 2, threads, a.rounds,
                         f"sync{a.sync_n}_D1")
    for nb_ in [int(x) for x in a.serial_blocks.split(",") if x]:
        _blocks_one_thread(net, 0.02, a.dt, 2, nb_)  # compile / warm
        for r in range(a.rounds):
            cpu = _blocks_one_thread(net, a.duration, a.dt, 2, nb_)
            rows.append(dict(case=f"brunel{a.n}", config=f"serial_blocks{nb_}", round=r + 1,
                             cpu=cpu, load=os.getloadavg()[0]))
            print(f"[brunel{a.n}] round {r + 1} {nb_} blocks one after the other on one "
                  f"thread: cpu {cpu:.3f} s  load {os.getloadavg()[0]:.1f}", flush=True)
    same = {}
    for r in rows:
        if "sha1" not in r:
            continue
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
