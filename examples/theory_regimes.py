"""Regime maps: SSN (μ_ext, r) map of a mapped LIF network and Brunel's (g, η) diagram.

Writes ``theory_regimes.png``. Run: ``python examples/theory_regimes.py`` (a few seconds).
"""

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from spikewire.theory import (
    EIPopulations,
    brunel_stationary_rates,
    lif_to_ssn,
    plot_brunel_diagram,
    plot_regime_map,
    regime_map,
)

# the bistable network of examples/theory_and.py
pops = EIPopulations((3200, 800), K=[[640, 160], [640, 160]],
                     j=[[0.112, -0.63], [0.121, -0.345]], sigma_ext=[5.0, 2.0])
model = lif_to_ssn(pops)
t0 = time.perf_counter()
rm = regime_map(model, np.linspace(0, 25, 200), np.linspace(0, 2, 200))
print(f"200 x 200 SSN map in {time.perf_counter() - t0:.2f} s; det W = {rm.det_W:.3g}")
print({k: round(v, 3) for k, v in rm.fractions().items()})

g, eta = np.linspace(0, 8, 120), np.linspace(0.05, 4, 100)
G, E = np.meshgrid(g, eta)
t0 = time.perf_counter()
br = brunel_stationary_rates(G, E)
print(f"120 x 100 Brunel diagram in {time.perf_counter() - t0:.2f} s")

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
plot_regime_map(rm, ax=axes[0])
plot_brunel_diagram(g, eta, br, ax=axes[1],
                    sweep=[{"g": 3, "eta": 2, "regime": "A"}, {"g": 6, "eta": 4, "regime": "B"},
                           {"g": 5, "eta": 2, "regime": "C"}, {"g": 4.5, "eta": 0.9,
                                                               "regime": "D"}])
fig.tight_layout()
fig.savefig("theory_regimes.png", dpi=100)
print("wrote theory_regimes.png")
