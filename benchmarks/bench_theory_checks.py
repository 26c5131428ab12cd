"""Checks of the analytic theory against simulations (issue 17); results in results/theory.md.

Sections (run any subset; each prints one JSON line):

- ``spectra``: Brunel (2000) model A at Fig. 8's points B (SI fast), C (AI), D (SI slow),
  N = 12,500, C_E = 1000, J = 0.1 mV, D = 1.5 ms: peak of the simulated population-rate
  spectrum vs the leading eigenvalue of :func:`spikewire.theory.brunel_eigenvalues`.
- ``hopf``: growth rate of the leading mode on a (g, η) grid and the phase-diagram figure
  with the analytic Hopf lines over the simulated labels (``spectra`` must run first in the
  same call to supply the labels; otherwise the figure has the lines only).
- ``binary``: finite-K vV&S mean field vs the binary engine at several K.
- ``colored``: Fourcaud-Brunel colored-noise Siegert vs exponential-synapse simulations.
- ``memory``: peak RSS of ``build_ei_network`` (subprocess per size).

Usage: ``nice python benchmarks/bench_theory_checks.py spectra hopf binary colored memory``
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "results"


def _peak_frequency(st, n, t0, t1, bin_w=5e-4):
    from scipy.signal import welch

    edges = np.arange(t0, t1 + bin_w / 2, bin_w)
    counts, _ = np.histogram(st.times, edges)
    rate = counts / (n * bin_w)
    f, p = welch(rate - rate.mean(), fs=1 / bin_w, nperseg=min(1024, rate.size))
    keep = f >= 5.0
    f, p = f[keep], p[keep]
    k = int(np.argmax(p))
    return float(f[k]), float(p[k] / np.median(p))


def bench_spectra(state):
    import spikewire as sw
    from spikewire.networks import brunel
    from spikewire.theory import brunel_eigenvalues, classify_activity

    rows = []
    for label, g, eta in (("B", 6.0, 4.0), ("C", 5.0, 2.0), ("D", 4.5, 0.9)):
        t0 = time.perf_counter()
        modes = brunel_eigenvalues(g, eta)
        t_theory = time.perf_counter() - t0
        net = brunel(12_500, epsilon=0.1, g=g, eta=eta, J=0.1, delay=1.5e-3, seed=1)
        t0 = time.perf_counter()
        st = sw.simulate(net, 1.3, dt=1e-4, seed=1)
        t_sim = time.perf_counter() - t0
        st = st.restrict(0.3, 1.3)
        f_peak, prominence = _peak_frequency(st, net.n_neurons, 0.3, 1.3)
        act = classify_activity(st)
        lead = modes[0]
        rows.append({"point": label, "g": g, "eta": eta, "theory_growth_rate": lead.growth_rate,
                     "theory_frequency": lead.frequency, "sim_peak_hz": f_peak,
                     "peak_over_median_power": prominence, "rate": act["rate"],
                     "cv": act["cv"], "synchrony": act["synchrony"], "regime": act["regime"],
                     "theory_s": t_theory, "sim_s": t_sim})
        print(json.dumps({"progress": rows[-1]}), file=sys.stderr, flush=True)
    state["labels"] = [{"g": r["g"], "eta": r["eta"], "regime": r["regime"]} for r in rows]
    return rows


def bench_hopf(state):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikewire.theory import brunel_hopf_lines, brunel_stationary_rates, plot_brunel_diagram

    g = np.linspace(2.0, 8.0, 13)
    eta = np.array([0.6, 0.9, 1.2, 1.6, 2.0, 2.5, 3.0, 3.5, 4.0])
    t0 = time.perf_counter()
    hopf = brunel_hopf_lines(g, eta)
    t_hopf = time.perf_counter() - t0
    G, E = np.meshgrid(g, eta)
    rates = brunel_stationary_rates(G, E)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    plot_brunel_diagram(g, eta, rates, sweep=state.get("labels"), ax=ax, hopf=hopf)
    ax.set_title("Brunel model A, D = 1.5 ms: Hopf lines (red, unstable side light)\n"
                 "and labels of the simulated points B, C, D", fontsize=9)
    OUT.mkdir(exist_ok=True)
    fig.tight_layout()
    fig.savefig(OUT / "theory_brunel_hopf.png", dpi=110)
    plt.close(fig)
    unstable = np.nan_to_num(hopf["growth_rate"], nan=-1.0) > 0
    return {"grid": [int(g.size), int(eta.size)], "hopf_s": t_hopf,
            "unstable_fraction": float(unstable.mean()),
            "growth_rate": np.round(hopf["growth_rate"], 1).tolist(),
            "frequency": np.round(hopf["frequency"], 1).tolist(),
            "g": g.tolist(), "eta": eta.tolist(), "figure": "theory_brunel_hopf.png"}


def bench_binary(state):
    from spikewire.networks import binary_balanced
    from spikewire.networks.balanced_binary import binary_mean_field
    from spikewire.simulate.binary import simulate_binary
    from spikewire.theory import vvs_balanced_limit, vvs_mean_field

    rows = []
    for K, N in ((150, 6000), (300, 10000), (600, 15000), (1200, 30000)):
        net = binary_balanced(N, N, K, connectivity="fixed_indegree", seed=1)
        t0 = time.perf_counter()
        _, act = simulate_binary(net, 1.0, seed=1, return_activity=True)
        t_sim = time.perf_counter() - t0
        sim = act.time_average(0.3)
        th = vvs_mean_field(K, connectivity="fixed_indegree")
        exact = binary_mean_field(net)
        rows.append({"K": K, "N_per_pop": N, "sim": sim.tolist(), "vvs_gaussian": th.tolist(),
                     "exact_counts_mean_field": exact.tolist(),
                     "rel_err_gaussian": ((th - sim) / sim).tolist(), "sim_s": t_sim})
        del net
    t0 = time.perf_counter()
    big = vvs_mean_field([1e4, 1e5, 1e6])
    rows.append({"K": [1e4, 1e5, 1e6], "vvs_gaussian": big.tolist(),
                 "balanced_limit": vvs_balanced_limit().tolist(),
                 "solve_s": time.perf_counter() - t0})
    return rows


def bench_colored(state):
    import scipy.sparse as sp

    import spikewire as sw
    from spikewire.core.network import LIFParams, PoissonDrive
    from spikewire.networks import from_matrix
    from spikewire.theory import lif_rate

    J, v_rest, tau = 0.1, -145.0, 0.020
    sig = np.array([3.95, 3.98, 4.0, 4.02, 4.05])
    npg, T, skip = 200, 4.0, 0.5
    rows = []
    for ts in (0.001, 0.002, 0.004):
        n = sig.size * npg
        net = from_matrix(sp.csc_array((n, n)), np.full(n, "E"),
                          params=LIFParams(tau_m=tau, theta=20.0, v_reset=10.0, v_rest=v_rest,
                                           tau_ref=0.002, tau_syn=ts),
                          drive=PoissonDrive(rate=np.repeat(sig**2 / J**2 / tau, npg),
                                             n_inputs=1, weight=J * tau / ts))
        st = sw.simulate(net, T, dt=1e-4, seed=1).restrict(skip, T)
        rate = st.counts().reshape(sig.size, npg).sum(1) / (npg * (T - skip))
        mu = sig**2 / J
        args = (mu, sig, tau, 20.0 - v_rest, 10.0 - v_rest, 0.002)
        rows.append({"tau_syn": ts, "mu": mu.tolist(), "sigma": sig.tolist(),
                     "sim": rate.tolist(), "colored": lif_rate(*args, tau_syn=ts).tolist(),
                     "white": lif_rate(*args).tolist()})
    return rows


_MEM_CHILD = r"""
import resource, sys, time, json
import numpy as np
from spikewire.theory import EIPopulations, build_ei_network, scale_populations
base = EIPopulations((3200, 800), K=[[640, 160], [640, 160]],
                     j=[[0.093, -0.172], [0.119, -0.131]], sigma_ext=[8.0, 5.0])
N, mode = int(sys.argv[1]), sys.argv[2]
pops = scale_populations(base, N)
if mode == "fixedK":
    from dataclasses import replace
    pops = replace(pops, K=base.K)
t0 = time.perf_counter()
net = build_ei_network(pops, [10.0, 15.0], seed=1)
print(json.dumps({"N": N, "mode": mode, "synapses": int(net.n_synapses),
                  "build_s": time.perf_counter() - t0,
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))
"""


def bench_memory(state):
    rows = []
    env = dict(os.environ)
    for N, mode in ((4000, "scaledK"), (16000, "scaledK"), (32000, "scaledK"),
                    (100000, "fixedK")):
        r = subprocess.run([sys.executable, "-c", _MEM_CHILD, str(N), mode], env=env,
                           capture_output=True, text=True)
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0
                    else {"N": N, "mode": mode, "error": r.stderr[-500:]})
        print(json.dumps({"progress": rows[-1]}), file=sys.stderr, flush=True)
    return rows


SECTIONS = {"spectra": bench_spectra, "hopf": bench_hopf, "binary": bench_binary,
            "colored": bench_colored, "memory": bench_memory}


def main():
    names = sys.argv[1:] or list(SECTIONS)
    info = {"machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores",
            "python": sys.version.split()[0],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_average": os.getloadavg()}
    print(json.dumps({"info": info}), flush=True)
    state: dict = {}
    for name in names:
        t0 = time.perf_counter()
        res = SECTIONS[name](state)
        print(json.dumps({name: res, "section_s": time.perf_counter() - t0,
                          "load_average": os.getloadavg(),
                          "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                          / 1e6}, default=float), flush=True)


if __name__ == "__main__":
    main()
