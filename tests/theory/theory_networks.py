"""4,000-neuron E/I networks shared by the spiking validation tests (imported, not collected)."""

import numpy as np

import spikewire as sw
from spikewire.observe import Schedule
from spikewire.theory import EIPopulations, build_ei_network

K2 = [[640, 160], [640, 160]]
SUPERSAT = EIPopulations((3200, 800), K=K2, j=[[0.093, -0.172], [0.119, -0.131]],
                         sigma_ext=[8.0, 5.0])
ISN = EIPopulations((3200, 800), K=[[320, 80], [320, 80]], j=[[0.15, -0.4], [0.15, -0.4]],
                    sigma_ext=[5.0, 5.0])
# Bistable with the paper's membrane time constants (tau_E = 20 ms, tau_I = 10 ms) and, as
# in Ekelmans et al. (2023, Fig 4), exponential synapses (tau_s = 5 ms) with jittered
# delays against population synchrony. Found by scanning j and sigma_ext for a bistability
# window whose upper state is a strongly damped focus and agrees with the recurrent-noise-
# aware Siegert self-consistency; with delta synapses or sigma_I ~ 3 mV the spiking network
# instead shows E-I population bursts and never holds the upper state.
BISTABLE = EIPopulations((3200, 800), K=K2, j=[[0.145, -0.261], [0.232, -0.327]],
                         sigma_ext=[7.4, 6.1], tau_m=[0.020, 0.010], tau_syn=0.005)


def run(pops, h, seed=1, duration=0.6, window=0.4, push=None, v_init="uniform"):
    """Simulate ``pops`` with external means ``h`` (mV); rates (Hz) over the last ``window`` s.

    ``push=(mu, t)`` holds both external means at ``mu`` mV for the first ``t`` s (to start
    the network on an upper branch). ``v_init="low"`` starts every membrane uniformly in
    [0, 10) mV, below reset: no initial population burst that could ignite an upper state.
    """
    net = build_ei_network(pops, h, seed=seed)
    mod = None
    if push is not None:
        mu, t = push
        gain = [mu / h[0], mu / h[1]]
        mod = Schedule([0.0, t], [gain, [1.0, 1.0]], cell_type=net.cell_type)
    if isinstance(v_init, str) and v_init == "low":
        v_init = np.random.default_rng(seed).uniform(0.0, 10.0, net.n_neurons)
    st = sw.simulate(net, duration, seed=seed, modulation=mod, v_init=v_init)
    st = st.restrict(duration - window, duration)
    c = st.counts() / window
    ne = pops.n_neurons[0]
    return np.array([c[:ne].mean(), c[ne:].mean()]), net, st
