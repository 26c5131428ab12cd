"""SSN predictions against spiking networks of 4,000 LIF neurons (engine: spikewire.simulate).

Networks: 3200 E + 800 I, fixed in-degree, delta synapses with 1-3 ms jittered delays,
white-noise external drive. Rates are measured over the last 0.4 s of 0.6 s runs.

Tolerance for SSN vs spiking rates: 0.6 Hz + 20 %. The SSN keeps only the mean recurrent
input; the recurrent variance (Σ K j² τ ν, here 5-15 % of σ_ext²) raises spiking rates by a
few tenths of a Hz, the 0-10 Hz power-law fit itself is off by up to 0.2 Hz, and a 0.4 s
window of 800-3200 neurons has ~0.1-0.2 Hz of finite-size noise.
"""

import numpy as np
from theory_networks import BISTABLE, ISN, SUPERSAT, run

from spikewire.theory import (
    detect_regimes,
    lif_to_ssn,
    siegert_network_rates,
    ssn_steady_states,
)


def _close(sim, pred):
    return np.all(np.abs(sim - pred) <= 0.6 + 0.2 * pred)


def test_supersaturation_spiking_vs_ssn():
    model = lif_to_ssn(SUPERSAT)
    r = 1.5
    preds, sims = [], []
    for mu in (8.0, 11.0, 17.0):
        d = detect_regimes(model, (mu, r * mu), r=r)
        assert d["steady_states"].n_stable == 1
        pred = d["steady_states"].stable_rates[0]
        sim, _, _ = run(SUPERSAT, (mu, r * mu))
        assert _close(sim, pred), (mu, sim, pred)
        preds.append(pred)
        sims.append(sim)
        if mu >= 11.0:
            assert d["supersaturating"]
    preds, sims = np.array(preds), np.array(sims)
    # E rate falls while the input grows, in theory and in the spiking network
    assert np.all(np.diff(preds[:, 0]) < 0) and np.all(np.diff(sims[:, 0]) < 0)
    assert np.all(np.diff(sims[:, 1]) > 0)  # while I keeps rising


def test_paradoxical_effect_spiking_vs_ssn():
    model = lif_to_ssn(ISN)
    h0, h1 = (16.5, 20.0), (16.5, 21.0)
    d = detect_regimes(model, h0)
    assert d["isn"] and d["paradoxical"]
    p0 = d["steady_states"].stable_rates[0]
    p1 = ssn_steady_states(model, h1).stable_rates[0]
    s0, _, _ = run(ISN, h0)
    s1, _, _ = run(ISN, h1)
    assert _close(s0, p0) and _close(s1, p1), (s0, p0, s1, p1)
    # more input to I, less I activity (and less E activity): predicted and observed
    assert p1[1] < p0[1] and s1[1] < s0[1]
    assert p1[0] < p0[0] and s1[0] < s0[0]


def test_bistability_both_branches_spiking_vs_ssn():
    """Paper time constants (τ_E = 20 ms, τ_I = 10 ms), exponential synapses. At h = 4.2 mV
    the SSN (fitted to the dt = 0.1 ms neuron, as simulated) has a low node, a saddle and a
    high focus; the recurrent-noise-aware Siegert self-consistency agrees. The spiking network
    started at rest sits on the low branch; pushed for 0.3 s to 5.5 mV (where only the high
    state exists) and released, it stays on the high branch.

    The high state is metastable: finite-size fluctuations end it spontaneously (Ekelmans
    et al. 2023, Fig 4A inset). Measured over seeds 1-6 (benchmarks/bench_theory_bistable.py),
    5 of 6 runs at N = 4,000 and at N = 8,000 were still on it (E rate above twice the
    saddle's) over the 0.5 s measured after the release; at N = 4,000 two of them fell
    during that window (means 5.6 and 6.4 Hz). So three seeds are run, two must hold it after
    the release, and the median of those is compared with
    the predictions, within the module's tolerance (0.6 Hz + 20 %): the held runs lie 5-25 %
    below the SSN's high state (which ignores the recurrent noise) and within 15 % of the
    self-consistency (measured: -15 % to +4 %)."""
    model = lif_to_ssn(BISTABLE, dt=1e-4)
    h = (4.2, 4.2)
    ss = ssn_steady_states(model, h)
    assert ss.n_stable == 2 and len(ss.rates) == 3
    low, high = ss.stable_rates
    sc = [s["rates"] for s in siegert_network_rates(BISTABLE, h, dt=1e-4) if s["stable"]]
    assert len(sc) == 2
    assert _close(sc[0], low) and _close(sc[1], high)
    # only the high state exists at the push input; only the low one well below the window
    assert ssn_steady_states(model, (5.5, 5.5)).n_stable == 1
    assert ssn_steady_states(model, (5.5, 5.5)).stable_rates[0][0] > 5
    lows, highs = [], []
    for seed in (1, 2, 3):
        lows.append(run(BISTABLE, h, seed=seed, duration=0.8, window=0.4, v_init="low")[0])
        highs.append(run(BISTABLE, h, seed=seed, duration=0.9, window=0.5, push=(5.5, 0.3),
                         v_init="low")[0])
    lows, highs = np.array(lows), np.array(highs)
    for sim in lows:
        assert _close(sim, low), (sim, low)
    saddle_e = ss.rates[1][0]
    held = highs[:, 0] > 2 * saddle_e
    assert held.sum() >= 2, highs
    med = np.median(highs[held], axis=0)
    assert _close(med, high) and _close(med, sc[1]), (med, high, sc[1])
