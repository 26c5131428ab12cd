"""Design external inputs for a target rate trajectory and track it with a spiking network.

The SSN steady-state equations are inverted sample by sample; the inputs then drive a
4,000-neuron LIF network through ``simulate(..., modulation=...)``.
Run: ``python examples/theory_design.py`` (about 10 s).
"""

import numpy as np

from spikewire.theory import EIPopulations, track_target

pops = EIPopulations((3200, 800), K=[[320, 80], [320, 80]], j=[[0.15, -0.4], [0.15, -0.4]],
                     sigma_ext=[5.0, 5.0])
t = np.linspace(0, 2, 21)
target = np.stack([2.0 + 1.0 * np.sin(np.pi * t), 3.0 + 1.5 * np.sin(np.pi * t)], -1)
res = track_target(pops, target, sample_dt=0.1, bin_width=0.1)
print("designed inputs (mV):\n", res.inputs.round(2))
print("RMSE (Hz):", res.rmse.round(3), " relative:", res.relative_error.round(3))
for tt, a, b in zip(res.times, res.target, res.measured, strict=True):
    print(f"t={tt:4.2f}s target=({a[0]:.2f}, {a[1]:.2f}) measured=({b[0]:.2f}, {b[1]:.2f}) Hz")
