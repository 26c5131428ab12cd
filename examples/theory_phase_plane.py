"""Threshold-linear E/I model: fixed points, classification and phase planes.

Writes ``theory_phase_plane.png`` with a stable focus (damped oscillations) and an
unstable focus surrounded by a limit cycle. Run: ``python examples/theory_phase_plane.py``.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from spikewire.theory import classify_linear_ei, linear_rhs, plot_phase_plane, simulate_linear_ei

cases = [("stable focus", [[1.5, -2.0], [2.0, -0.5]], [5.0, 2.0], (10.0, 1.0), (12, 12)),
         ("limit cycle", [[4.0, -5.0], [2.0, -0.2]], [10.0, 2.0], (1.0, 3.0), (3, 6))]
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, (name, M, h, r0, lim) in zip(axes, cases, strict=True):
    res = classify_linear_ei(M, h)
    print(name, "->", res.summary())
    _, r, _ = simulate_linear_ei(M, h, rates0=r0, duration=1.0)
    plot_phase_plane(linear_rhs(M, h), trajectories=[r], xlim=(0, lim[0]), ylim=(0, lim[1]),
                     fixed_points=[(fp.rates, fp.stable) for fp in res.fixed_points], ax=ax,
                     title=f"{name}: {res.kind}")
fig.tight_layout()
fig.savefig("theory_phase_plane.png", dpi=100)
print("wrote theory_phase_plane.png")
