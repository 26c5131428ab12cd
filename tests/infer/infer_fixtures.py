"""Small simulated data shared by the inference tests (imported, not collected)."""

import numpy as np

import spikewire as sw
from spikewire.core import LIFParams, WhiteNoiseDrive


def lif_motif(duration=150.0, seed=1):
    """E 0 -> 1 (+2 mV), I 2 -> 3 (−2 mV), 1.5 ms delays, white-noise drive, ~12 Hz."""
    W = np.zeros((4, 4))
    W[1, 0] = 2.0
    W[3, 2] = -2.0
    net = sw.networks.from_matrix(W, ["E", "E", "I", "E"], delays=1.5e-3,
                                  drive=WhiteNoiseDrive(mu=15.0, sigma=6.0),
                                  params=LIFParams(tau_ref=2e-3))
    return sw.simulate(net, duration, seed=seed)


def independent(n=40, T=200.0, rate=10.0, seed=7):
    """Independent homogeneous Poisson trains (no links at all)."""
    rng = np.random.default_rng(seed)
    return sw.SpikeTrains.from_lists(
        [np.sort(rng.uniform(0, T, rng.poisson(rate * T))) for _ in range(n)], t_stop=T)
