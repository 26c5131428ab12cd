"""4,000-neuron E/I networks shared by the spiking validation tests (imported, not collected)."""

import numpy as np

import spikewire as sw
from spikewire.theory import EIPopulations, build_ei_network

K2 = [[640, 160], [640, 160]]
SUPERSAT = EIPopulations((3200, 800), K=K2, j=[[0.093, -0.172], [0.119, -0.131]],
                         sigma_ext=[8.0, 5.0])
ISN = EIPopulations((3200, 800), K=[[320, 80], [320, 80]], j=[[0.15, -0.4], [0.15, -0.4]],
                    sigma_ext=[5.0, 5.0])
BISTABLE = EIPopulations((3200, 800), K=K2, j=[[0.112, -0.63], [0.121, -0.345]],
                         sigma_ext=[5.0, 2.0])


def run(pops, h, seed=1, duration=0.6, window=0.4):
    """Simulate ``pops`` with external means ``h`` (mV); rates (Hz) over the last ``window`` s."""
    net = build_ei_network(pops, h, seed=seed)
    st = sw.simulate(net, duration, seed=seed).restrict(duration - window, duration)
    c = st.counts() / window
    ne = pops.n_neurons[0]
    return np.array([c[:ne].mean(), c[ne:].mean()]), net, st
