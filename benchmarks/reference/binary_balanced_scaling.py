"""Binary balanced network: population activities vs K against balanced-state theory.

For K = 100 ... 1000 (N_E = N_I = 10 K, fixed in-degree, van Vreeswijk & Sompolinsky 1998
parameters: J_E = 2, J_I = 1.8, E = 1, I = 0.8, θ_E = 1, θ_I = 0.7, m0 = 0.1,
τ_E = 10 ms, τ_I = 9 ms), simulate 0.5 s (50 τ_E, first 0.05 s dropped) and compare the
time-averaged activities with

- the large-K linear prediction ``m_lin`` (here m_E = m_I = 0.1),
- the first-order prediction ``m_lin + δ/√K`` (Gaussian mean-field expansion),
- the finite-K mean field (:func:`spikewire.networks.binary_mean_field`).

Usage: ``.venv/bin/python benchmarks/reference/binary_balanced_scaling.py`` writes
binary_balanced_scaling.json and binary_balanced_scaling.png next to this file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import norm

from spikewire.networks import binary_balanced, binary_mean_field
from spikewire.simulate import simulate_binary

HERE = Path(__file__).resolve().parent
KS = (100, 200, 400, 700, 1000)


def first_order(spec):
    J = np.array([[spec["J_EE"], spec["J_EI"]], [spec["J_IE"], spec["J_II"]]])
    m = np.array(spec["m_linear"])
    theta = np.array([spec["theta_E"], spec["theta_I"]])
    return np.linalg.solve(J, theta + np.sqrt((J ** 2) @ m) * norm.ppf(m))


def main():
    rows = []
    for K in KS:
        t0 = time.perf_counter()
        net = binary_balanced(10 * K, 10 * K, K, connectivity="fixed_indegree", seed=1)
        t1 = time.perf_counter()
        st, act = simulate_binary(net, 0.5, seed=2, return_activity=True)
        t2 = time.perf_counter()
        m = act.time_average(0.05)
        lin = np.array(net.spec["m_linear"])
        rows.append(dict(K=K, n=net.n_neurons, m_sim=m.tolist(), m_linear=lin.tolist(),
                         m_first_order=(lin + first_order(net.spec) / np.sqrt(K)).tolist(),
                         m_mean_field=binary_mean_field(net).tolist(),
                         sd_m_t=act.mean_activity[act.sample_times >= 0.05].std(0).tolist(),
                         up_rate_hz=float(st.rates().mean()), build_s=t1 - t0, sim_s=t2 - t1,
                         n_updates=act.n_updates))
        print(rows[-1])
    (HERE / "binary_balanced_scaling.json").write_text(json.dumps(
        {"rows": rows, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
         "command": ".venv/bin/python benchmarks/reference/binary_balanced_scaling.py"},
        indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    k = np.array([r["K"] for r in rows])
    for p, ax in enumerate(axes):
        ax.plot(k, [r["m_sim"][p] for r in rows], "ko", label="simulation")
        ax.plot(k, [r["m_mean_field"][p] for r in rows], "b-", label="finite-K mean field")
        ax.plot(k, [r["m_first_order"][p] for r in rows], "g--", label="m_lin + δ/√K")
        ax.axhline(rows[0]["m_linear"][p], color="r", label="balanced limit m_lin")
        ax.set_xscale("log")
        ax.set_xlabel("K")
        ax.set_title(["excitatory", "inhibitory"][p])
    axes[0].set_ylabel("mean activity m")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "binary_balanced_scaling.png", dpi=110)


if __name__ == "__main__":
    main()
