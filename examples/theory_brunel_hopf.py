"""Brunel (2000) linear stability: leading modes, Hopf lines and oscillation frequencies.

Prints the leading eigenvalue at the four points of Brunel's Fig. 8 and writes
``theory_brunel_hopf.png`` (a coarse (g, η) grid with the analytic Hopf lines).
Run: ``python examples/theory_brunel_hopf.py`` (about a minute on one core).
"""

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from spikewire.theory import (
    brunel_eigenvalues,
    brunel_hopf_lines,
    brunel_stationary_rates,
    plot_brunel_diagram,
)

# C_E = 1000, J = 0.1 mV, D = 1.5 ms (the defaults)
for label, g, eta in (("A SR", 3.0, 2.0), ("B SI fast", 6.0, 4.0), ("C AI", 5.0, 2.0),
                      ("D SI slow", 4.5, 0.9)):
    mode = brunel_eigenvalues(g, eta)[0]
    state = "unstable" if mode.growth_rate > 0 else "stable"
    print(f"{label:10s} g={g}, eta={eta}: Re lambda = {mode.growth_rate:7.1f} /s, "
          f"f = {mode.frequency:6.1f} Hz ({state})")

g = np.linspace(2.0, 8.0, 7)
eta = np.array([1.0, 2.0, 3.0, 4.0])
t0 = time.perf_counter()
hopf = brunel_hopf_lines(g, eta)
print(f"{g.size} x {eta.size} stability grid in {time.perf_counter() - t0:.1f} s")
G, E = np.meshgrid(g, eta)
fig, ax = plt.subplots(figsize=(5.5, 4))
plot_brunel_diagram(g, eta, brunel_stationary_rates(G, E), ax=ax, hopf=hopf)
fig.tight_layout()
fig.savefig("theory_brunel_hopf.png", dpi=100)
print("wrote theory_brunel_hopf.png")
