"""Generative families other than LIF: simulation time and activity at benchmark size.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_families.py [--families izh_random ...]
        [--izh-duration 3600] [--adex-duration 300] [--out results.json]

Families (all N = 1,000, 800 E / 200 I):

- ``izh_random`` / ``izh_scale_free``: :func:`spikewire.networks.izhikevich` defaults
  (Izhikevich 2006 without plasticity: RS E, FS I, 100 synapses per neuron, E delays
  1–20 ms, I delays 1 ms, I -> E only, thalamic pulses of 20 at 1 pulse/ms network-wide),
  random or Barabási–Albert connectivity, dt = 1 ms (two 0.5 ms half-steps for v);
- ``adex_rs`` / ``adex_bursting``: :func:`spikewire.networks.adex` defaults (conductance
  AdEx, log-normal weights CV 1, delays 1–10 ms, ε = 0.1, Poisson drive), dt = 0.1 ms;
- ``lif_scale_free``: :func:`spikewire.networks.scale_free_lif` defaults, dt = 0.1 ms.

For each: build and simulation wall time (after a short warm-up run that compiles the
kernels), E and I mean rates, the fraction of silent E cells, the mean CV of the
interspike intervals (cells with >= 10 spikes), a synchrony index (Fano factor of the
population spike count in 5 ms bins; 1 for independent Poisson cells), and the number of
true links among 100 randomly recorded neurons (the issue-12 protocol).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import spikewire as sw


def build(name: str):
    if name == "izh_random":
        return sw.networks.izhikevich(1000, connectivity="random", seed=1), 1e-3
    if name == "izh_scale_free":
        return sw.networks.izhikevich(1000, connectivity="scale_free", seed=1), 1e-3
    if name == "adex_rs":
        return sw.networks.adex(1000, seed=1), 1e-4
    if name == "adex_bursting":
        return sw.networks.adex(1000, excitatory_model="bursting", seed=1), 1e-4
    if name == "lif_scale_free":
        return sw.networks.scale_free_lif(1000, seed=1), 1e-4
    raise ValueError(name)


def stats(net, st, t_skip: float) -> dict:
    st = st.restrict(t_skip, st.t_stop)
    r = st.rates()
    e = net.is_excitatory
    cvs = []
    for k in range(net.n_neurons):
        isi = np.diff(st.train(k))
        if isi.size >= 10:
            cvs.append(isi.std() / isi.mean())
    short = st.restrict(t_skip, min(st.t_stop, t_skip + 60.0))
    pop = np.asarray(short.binned(0.005, sparse=False)).sum(axis=0)
    burst = [np.diff(st.train(k)) for k in np.flatnonzero(e)[:200]]
    burst = np.concatenate(burst) if burst else np.zeros(0)
    rng = np.random.default_rng(0)
    rec = np.sort(rng.choice(net.n_neurons, 100, replace=False))
    sub = net.weights[rec][:, rec]
    return {"rate_E": float(r[e].mean()), "rate_I": float(r[~e].mean()),
            "rate_E_max": float(r[e].max()), "silent_E": float((r[e] == 0).mean()),
            "cv_isi": float(np.mean(cvs)) if cvs else float("nan"),
            "short_isi_frac_E": float((burst < 0.01).mean()) if burst.size else float("nan"),
            "sync_fano_5ms": float(pop.var() / max(pop.mean(), 1e-12)),
            "links_in_100": int(sub.nnz), "n_spikes": int(st.times.size)}


def brian2_comparison(duration: float, dt: float, python: str) -> dict:
    """spikewire vs Brian2 (cython) on the same Izhikevich network, both forward Euler at
    ``dt`` with a 1 pulse/ms thalamic drive; wall time of the run (compilation excluded)."""
    net = sw.networks.izhikevich(1000, seed=1)
    w = net.weights
    pre = np.repeat(np.arange(net.n_neurons), np.diff(w.indptr))
    q = net.neuron_params()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.npz"
        np.savez(path, pre=pre, post=w.indices, w=w.data, delay=net.synapse_delays(),
                 a=q["a"], b=q["b"], c=q["c"], d=q["d"], exc=net.is_excitatory,
                 drive_rate=net.drive.rate, drive_weight=net.drive.weight)
        script = Path(__file__).with_name("brian2_izhikevich.py")
        out = subprocess.run([python, str(script), str(path), str(duration), str(dt)],
                             capture_output=True, text=True, check=True)
    ref = json.loads(out.stdout.strip().splitlines()[-1])
    sw.simulate(net, 0.05, dt=dt, seed=3)
    t0, c0 = time.perf_counter(), time.process_time()
    st = sw.simulate(net, duration, dt=dt, seed=3)
    t_sw, cpu_sw = time.perf_counter() - t0, time.process_time() - c0
    r = st.rates()
    e = net.is_excitatory
    return {"duration": duration, "dt": dt, "t_spikewire": t_sw, "cpu_spikewire": cpu_sw,
            "t_brian2": ref["t_run"], "cpu_brian2": ref["cpu_run"],
            "speedup_wall": ref["t_run"] / t_sw, "speedup_cpu": ref["cpu_run"] / cpu_sw,
            "rate_E_spikewire": float(r[e].mean()),
            "rate_I_spikewire": float(r[~e].mean()), "rate_E_brian2": ref["rate_E"],
            "rate_I_brian2": ref["rate_I"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="*", default=["izh_random", "izh_scale_free",
                                                      "adex_rs", "adex_bursting",
                                                      "lif_scale_free"])
    ap.add_argument("--izh-duration", type=float, default=3600.0)
    ap.add_argument("--adex-duration", type=float, default=300.0)
    ap.add_argument("--lif-duration", type=float, default=60.0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--brian2", default=None, metavar="PYTHON",
                    help="also time Brian2 (this interpreter) on the Izhikevich network")
    ap.add_argument("--brian2-duration", type=float, default=60.0)
    args = ap.parse_args()
    if args.brian2:
        cmp_ = brian2_comparison(args.brian2_duration, 5e-4, args.brian2)
        print(json.dumps(cmp_), flush=True)
    rows = []
    for name in args.families:
        t0 = time.perf_counter()
        net, dt = build(name)
        t_build = time.perf_counter() - t0
        duration = (args.izh_duration if name.startswith("izh") else
                    args.adex_duration if name.startswith("adex") else args.lif_duration)
        sw.simulate(net, 0.05, dt=dt, seed=2)  # compile / load the cached kernels
        t0, c0 = time.perf_counter(), time.process_time()
        st = sw.simulate(net, duration, dt=dt, seed=2)
        t_sim, cpu_sim = time.perf_counter() - t0, time.process_time() - c0
        row = {"family": name, "network": repr(net), "dt": dt, "duration": duration,
               "t_build": t_build, "t_sim": t_sim, "cpu_sim": cpu_sim,
               "t_sim_per_sim_second": t_sim / duration,
               **stats(net, st, t_skip=min(1.0, duration / 10))}
        rows.append(row)
        print(json.dumps(row), flush=True)
    meta = {"python": platform.python_version(), "numpy": np.__version__,
            "spikewire": getattr(sw, "__version__", "?"), "machine": platform.machine(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    print("| family | sim time (s) | wall (s) | CPU (s) | wall / sim-s | E Hz | I Hz | silent E "
          "| CV ISI | ISI<10 ms (E) | sync (Fano 5 ms) | links in 100 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['family']} | {r['duration']:g} | {r['t_sim']:.1f} | {r['cpu_sim']:.1f} | "
              f"{r['t_sim_per_sim_second']:.3f} | {r['rate_E']:.2f} | {r['rate_I']:.2f} | "
              f"{r['silent_E']:.2f} | {r['cv_isi']:.2f} | {r['short_isi_frac_E']:.2f} | "
              f"{r['sync_fano_5ms']:.1f} | {r['links_in_100']} |")


if __name__ == "__main__":
    main()
