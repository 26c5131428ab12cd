"""Benchmarks for spikewire.theory (issue 7).

Run: ``.venv/bin/python benchmarks/bench_theory.py [siegert maps size_scaling brunel_sweep]``
(one JSON line per section).

1. Siegert rate on 10^6 (μ, σ) points: time, and agreement / speed vs nnmt (Neuronal Network
   Meanfield Toolbox, run in benchmarks/.venv-theory because it pins its own numpy/scipy).
2. 200 × 200 SSN regime map over (μ_ext, r); 100 × 100 Brunel stationary-rate diagram.
3. Size scaling N = 4e3 … 5e5 (SSN with 1/√N weights) and spiking simulations up to
   N = 1.6e4 (5·10⁷ synapses), started with membranes below reset.
4. Brunel SR / SI / AI classification from simulations at the four example points of
   Brunel (2000, Fig 8).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
NNMT_PY = HERE / ".venv-theory" / "bin" / "python"


def bench_siegert(n=1_000_000, n_nnmt=1_000_000):
    from spikewire.theory import lif_rate, lif_rate_derivatives

    rng = np.random.default_rng(0)
    mu = rng.uniform(-30, 60, n)
    sig = rng.uniform(0.05, 20, n)
    lif_rate(mu[:10], sig[:10])
    lif_rate_derivatives(mu[:10], sig[:10])
    t = []
    for _ in range(3):
        t0 = time.perf_counter()
        nu = lif_rate(mu, sig)
        t.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    lif_rate_derivatives(mu, sig)
    t_der = time.perf_counter() - t0
    out = {"n": n, "ours_s": min(t), "ours_with_derivatives_s": t_der,
           "nan": int(np.isnan(nu).sum())}
    if NNMT_PY.exists():
        with tempfile.TemporaryDirectory() as d:
            fin, fout = os.path.join(d, "in.npz"), os.path.join(d, "out.npz")
            np.savez(fin, mu=mu[:n_nnmt], sigma=sig[:n_nnmt], theta=20.0, v_reset=10.0,
                     tau_m=0.02, tau_ref=0.002)
            subprocess.run([str(NNMT_PY), str(HERE / "_nnmt_siegert.py"), fin, fout],
                           check=True)
            res = np.load(fout)
            ref = res["nu"]
            ours = nu[:n_nnmt]
            ok = ref > 1e-250  # compare where nnmt does not underflow
            rel = np.abs(ours[ok] - ref[ok]) / ref[ok]
            ver = subprocess.run([str(NNMT_PY), "-c", "import nnmt; print(nnmt.__version__)"],
                                 capture_output=True, text=True).stdout.strip()
            out.update({"nnmt_version": ver, "nnmt_n": n_nnmt,
                        "nnmt_s": float(res["elapsed"]),
                        "speedup_vs_nnmt": float(res["elapsed"]) / min(t) * n / n_nnmt,
                        "max_rel_diff_vs_nnmt": float(rel.max()),
                        "median_rel_diff_vs_nnmt": float(np.median(rel)),
                        "nnmt_nan": int(np.isnan(ref).sum()),
                        "nnmt_underflow_points": int((~ok).sum()),
                        "ours_zero_where_nnmt_underflows": int((ours[~ok] < 1e-250).sum())})
    else:
        out["nnmt"] = "not installed (python -m venv benchmarks/.venv-theory && "
        "benchmarks/.venv-theory/bin/pip install nnmt)"
    return out


def bench_maps():
    from spikewire.theory import SSN, brunel_stationary_rates, fit_power_law, regime_map

    aE, bE, nE = fit_power_law(0.02, 5.0)
    aI, bI, nI = fit_power_law(0.01, 5.0)
    m = SSN([[0.4, -0.5], [0.6, -0.3]], [aE, aI], [bE, bI], [nE, nI])
    mu = np.linspace(0, 30, 200)
    r = np.linspace(0, 2, 200)
    regime_map(m, mu[:3], r[:3])
    t0 = time.perf_counter()
    rm = regime_map(m, mu, r)
    t_map = time.perf_counter() - t0
    G, E = np.meshgrid(np.linspace(0, 8, 100), np.linspace(0.1, 4, 100))
    t0 = time.perf_counter()
    br = brunel_stationary_rates(G, E)
    t_br = time.perf_counter() - t0
    return {"ssn_map_200x200_s": t_map, "map_fractions": rm.fractions(),
            "brunel_100x100_s": t_br,
            "brunel_points_with_3_solutions": int((br.n_solutions == 3).sum())}


def bench_size_scaling(simulate_sizes=(4000, 8000, 16000)):
    import spikewire as sw
    from spikewire.theory import EIPopulations, build_ei_network, scale_populations, size_scaling

    pops = EIPopulations((3200, 800), K=[[640, 160], [640, 160]],
                         j=[[0.093, -0.172], [0.119, -0.131]], sigma_ext=[8.0, 5.0])
    mus = np.array([[m, 1.5 * m] for m in (8.0, 11.0, 17.0)])
    ns = [4000, 8000, 16000, 32000, 64000, 500000]
    pred = size_scaling(pops, ns, mus)
    rows = []
    for i, N in enumerate(ns):
        for k, h in enumerate(mus):
            row = {"N": N, "mu_bare": float(h[0]), "ssn_E": float(pred["rates_low"][i, k, 0]),
                   "ssn_I": float(pred["rates_low"][i, k, 1]),
                   "balanced_E": float(pred["balanced"][k, 0]),
                   "balanced_I": float(pred["balanced"][k, 1])}
            if N in simulate_sizes:
                p = scale_populations(pops, N)
                f = np.sqrt(N / 4000)
                t0 = time.perf_counter()
                net = build_ei_network(p, f * h, seed=1)
                t1 = time.perf_counter()
                # start below reset: membranes drawn in [V_reset, θ) give a start-up burst
                # that ignites the refractory-limited state at N >= 16,000
                v0 = np.random.default_rng(1).uniform(0.0, 10.0, net.n_neurons)
                st = sw.simulate(net, 1.0, seed=1, v_init=v0).restrict(0.4, 1.0)
                c = st.counts() / 0.6
                ne = p.n_neurons[0]
                row.update({"sim_E": float(c[:ne].mean()), "sim_I": float(c[ne:].mean()),
                            "synapses": net.n_synapses, "build_s": t1 - t0,
                            "sim_s": time.perf_counter() - t1})
                del net, st
                print(json.dumps({"progress": row}, default=float), file=sys.stderr,
                      flush=True)
            rows.append(row)
    return rows


def bench_brunel_sweep(n_neurons=12500):
    from spikewire.theory import brunel_regime_sweep

    points = [(3.0, 2.0), (6.0, 4.0), (5.0, 2.0), (4.5, 0.9)]  # Brunel Fig 8 A, B, C, D
    rows = []
    for g, eta in points:
        t0 = time.perf_counter()
        r = brunel_regime_sweep([g], [eta], n_neurons=n_neurons, duration=1.5, transient=0.3)[0]
        r["sim_s"] = time.perf_counter() - t0
        rows.append(r)
    return rows


SECTIONS = {"siegert": bench_siegert, "maps": bench_maps, "size_scaling": bench_size_scaling,
            "brunel_sweep": bench_brunel_sweep}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sections", nargs="*", default=list(SECTIONS),
                    help=f"any of {list(SECTIONS)} (default: all)")
    args = ap.parse_args()
    info = {"machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
                       f"{os.cpu_count()} cores", "python": sys.version.split()[0],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_average": os.getloadavg()}
    print(json.dumps({"info": info}), flush=True)
    for name in args.sections:
        res = SECTIONS[name]()
        print(json.dumps({name: res, "load_average": os.getloadavg()}, default=float),
              flush=True)


if __name__ == "__main__":
    main()
