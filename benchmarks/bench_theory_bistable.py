"""Bistable E/I network with the paper's time constants: spiking hysteresis vs the SSN.

Run: ``.venv/bin/python benchmarks/bench_theory_bistable.py`` (about 2 min on 2 cores).

Network: ``BISTABLE`` of tests/theory/theory_networks.py (3200 E + 800 I, τ_E = 20 ms,
τ_I = 10 ms, exponential synapses τ_s = 5 ms, 1-3 ms delays, white-noise drive).

1. Hysteresis: the external mean h (both populations) steps up from 2.5 to 6 mV and back
   in 12 steps of 0.4 s each; rates over the last 0.2 s of each step, next to the SSN's
   stable states (power law fitted to the dt = 0.1 ms neuron).
2. Metastability of the upper state at h = 4.2 mV: seeds 1-6, pushed to 5.5 mV for 0.3 s,
   rates over 0.4-0.9 s; N = 4,000 and N = 8,000 (same in-degrees, so the same SSN).
Prints one JSON line per section.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "theory"))

from theory_networks import BISTABLE, run  # noqa: E402

import spikewire as sw  # noqa: E402
from spikewire.observe import Schedule  # noqa: E402
from spikewire.theory import (  # noqa: E402
    build_ei_network,
    lif_to_ssn,
    siegert_network_rates,
    ssn_steady_states,
)


def hysteresis(pops=BISTABLE, lo=2.5, hi=6.0, n=12, step=0.4, seed=1):
    model = lif_to_ssn(pops, dt=1e-4)
    hs = np.linspace(lo, hi, n)
    seq = np.r_[hs, hs[::-1][1:]]
    net = build_ei_network(pops, (1.0, 1.0), seed=seed)
    mod = Schedule(np.arange(seq.size) * step, np.c_[seq, seq], cell_type=net.cell_type)
    v0 = np.random.default_rng(seed).uniform(0.0, 10.0, net.n_neurons)
    t0 = time.perf_counter()
    st = sw.simulate(net, seq.size * step, seed=seed, modulation=mod, v_init=v0)
    wall = time.perf_counter() - t0
    ne = pops.n_neurons[0]
    rows = []
    for k, h in enumerate(seq):
        c = st.restrict(k * step + step / 2, (k + 1) * step).counts() / (step / 2)
        rows.append({"h": round(float(h), 3), "sweep": "up" if k < n else "down",
                     "spiking": [round(float(c[:ne].mean()), 2), round(float(c[ne:].mean()), 2)],
                     "ssn_stable": ssn_steady_states(model, (h, h)).stable_rates.round(2).tolist()})
    return {"section": "hysteresis", "sim_wall_s": round(wall, 1), "rows": rows}


def metastability(sizes=(1, 2), seeds=range(1, 7), h=4.2):
    model = lif_to_ssn(BISTABLE, dt=1e-4)
    ss = ssn_steady_states(model, (h, h))
    sc = [s["rates"].round(2).tolist()
          for s in siegert_network_rates(BISTABLE, (h, h), dt=1e-4) if s["stable"]]
    out = {"section": "metastability", "h": h, "ssn": ss.rates.round(2).tolist(),
           "siegert_sc_stable": sc, "runs": {}}
    for f in sizes:
        pops = replace(BISTABLE, n_neurons=(3200 * f, 800 * f))
        runs = []
        for seed in seeds:
            high = run(pops, (h, h), seed=seed, duration=0.9, window=0.5, push=(5.5, 0.3),
                       v_init="low")[0]
            low = run(pops, (h, h), seed=seed, duration=0.8, window=0.4, v_init="low")[0]
            runs.append({"seed": seed, "after_push": high.round(2).tolist(),
                         "from_rest": low.round(2).tolist()})
        out["runs"][4000 * f] = runs
    return out


if __name__ == "__main__":
    print(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                      "date": time.strftime("%Y-%m-%d")}))
    print(json.dumps(hysteresis()))
    print(json.dumps(metastability()))
