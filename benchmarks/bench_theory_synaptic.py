"""Brunel's fast oscillation with exponential synapses: linear theory vs simulations.

Brunel (2000) model A at Fig. 8's point B (g = 6, η = 4; C_E = 1000, J = 0.1 mV,
D = 1.5 ms), N = 12,500, with current synapses of time constant τ_s and the same PSP area
as the delta synapses (weights J τ_m/τ_s, external Poisson inputs alike). For each τ_s:
the stationary rate of :func:`spikewire.theory.brunel_stationary_rates` (colored-noise
Siegert) and the leading mode of :func:`spikewire.theory.brunel_eigenvalues`
(``tau_syn=``) against the simulated population rate and the peak of its spectrum
(1.3 s, dt = 0.1 ms, first 0.3 s dropped).

Point D (g = 4.5, η = 0.9, the slow oscillation) with ``D`` as the first argument.

Usage: ``nice python benchmarks/bench_theory_synaptic.py [B|D] [tau_s_ms ...]`` (default B,
0 0.5 1 2; one JSON line per τ_s); results in results/theory2.md.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


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


def run(tau_s, g=6.0, eta=4.0, n=12_500, duration=1.3, skip=0.3):
    import spikewire as sw
    from spikewire.core.network import PoissonDrive
    from spikewire.networks import brunel
    from spikewire.theory import brunel_eigenvalues, brunel_stationary_rates

    ts = None if tau_s == 0 else tau_s
    t0 = time.perf_counter()
    modes = brunel_eigenvalues(g, eta, tau_syn=ts)
    rate_th = float(brunel_stationary_rates(g, eta, tau_syn=ts).low)
    t_theory = time.perf_counter() - t0
    net = brunel(n, epsilon=0.1, g=g, eta=eta, J=0.1, delay=1.5e-3, tau_syn=ts, seed=1)
    if ts is not None:  # same PSP area as the delta synapse of amplitude J
        scale = 0.020 / ts
        w = net.weights.copy()
        w.data = w.data * np.float32(scale)
        d = net.drive
        net = net.replace(weights=w, drive=PoissonDrive(rate=d.rate, n_inputs=d.n_inputs,
                                                        weight=d.weight * scale))
    t0 = time.perf_counter()
    st = sw.simulate(net, duration, dt=1e-4, seed=1)
    t_sim = time.perf_counter() - t0
    f_peak, prominence = _peak_frequency(st, net.n_neurons, skip, duration)
    rate_sim = st.restrict(skip, duration).times.size / (net.n_neurons * (duration - skip))
    lead = modes[0]
    return {"g": g, "eta": eta, "tau_s_ms": tau_s * 1e3, "theory_rate": round(rate_th, 2),
            "sim_rate": round(float(rate_sim), 2),
            "theory_growth_rate": round(lead.growth_rate, 1),
            "theory_frequency": round(lead.frequency, 1), "sim_peak_hz": round(f_peak, 1),
            "peak_over_median_power": round(prominence, 1), "theory_s": round(t_theory, 1),
            "sim_s": round(t_sim, 1)}


if __name__ == "__main__":
    args = sys.argv[1:]
    point = args.pop(0) if args and args[0] in ("B", "D") else "B"
    g, eta = {"B": (6.0, 4.0), "D": (4.5, 0.9)}[point]
    values = [float(x) * 1e-3 for x in args] or [0.0, 0.5e-3, 1e-3, 2e-3]
    for v in values:
        print(json.dumps({"point": point, **run(v, g=g, eta=eta)}), flush=True)
