"""AND gate from a bistable E/I network (Ekelmans et al. 2023, Fig 4).

The SSN of this network has a bistability window: below it only a low-activity state
exists, above it only a high-activity state. Baseline input sits below the window, each
input X1, X2 adds Δ: one input lands inside the window (the network stays on the low
branch it starts on), both push it past the window's upper edge into the high state.

Run: ``python examples/theory_and.py`` (about 20 s).
"""

import numpy as np

import spikewire as sw
from spikewire.theory import (
    EIPopulations,
    build_ei_network,
    lif_to_ssn,
    regime_map,
    ssn_steady_states,
)

pops = EIPopulations((3200, 800), K=[[640, 160], [640, 160]],
                     j=[[0.112, -0.63], [0.121, -0.345]], sigma_ext=[5.0, 2.0])
model = lif_to_ssn(pops)
mus = np.linspace(0, 15, 301)
rm = regime_map(model, mus, [1.0])
window = mus[rm.bistable[0]]
print(f"SSN bistability window (r = 1): {window.min():.2f} - {window.max():.2f} mV")
BASE, DELTA = 4.0, 4.0


def run(h, seed=1):
    net = build_ei_network(pops, h, seed=seed)
    st = sw.simulate(net, 1.0, seed=seed).restrict(0.4, 1.0)
    c = st.counts() / 0.6
    return c[:3200].mean(), c[3200:].mean()


sims = []
for x1 in (0, 1):
    for x2 in (0, 1):
        mu = BASE + DELTA * (x1 + x2)
        ss = ssn_steady_states(model, (mu, mu))
        low = ss.stable_rates[0]
        sim = run((mu, mu))
        sims.append(sim[0])
        print(f"X1={x1} X2={x2}: mu_ext={mu:4.1f} mV  "
              f"SSN stable nu_E={ss.stable_rates[:, 0].round(2)}"
              f" (start at rest -> {low[0]:.2f} Hz)  spiking nu_E={sim[0]:.2f} Hz")
sims = np.array(sims)
threshold = 0.5 * (sims[:3].max() + sims[3])
print("threshold", round(threshold, 2), "Hz -> outputs", (sims > threshold).astype(int).tolist(),
      "(AND: [0, 0, 0, 1])")
