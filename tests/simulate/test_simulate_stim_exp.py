"""Stimulation pulses are voltage jumps, with exponential synapses too."""

import numpy as np

import spikewire as sw
from spikewire.core import LIFParams


class _Pulse:
    def __init__(self, t, neuron, amp):
        self.times = np.array([t])
        self.neurons = np.array([neuron])
        self.amplitudes = np.array([amp])


def test_pulse_is_a_voltage_jump_with_exponential_synapses():
    # An undriven neuron starts at V_reset = 10 mV and decays towards 0 (≈ 6 mV at 10 ms);
    # a 35 mV pulse at 10 ms must cross θ = 20 mV at exactly that step. Were the pulse fed
    # into the synaptic current (τ_s = 5 ms) the membrane would only start to move one
    # step later, so the spike could not fall on 10 ms.
    params = LIFParams(tau_syn=5e-3)
    net = sw.networks.from_matrix(np.zeros((1, 1)), ["E"], params=params)
    st = sw.simulate(net, 0.05, dt=1e-4, v_init="reset", seed=0,
                     stimulation=_Pulse(0.010, 0, 35.0))
    np.testing.assert_allclose(st.train(0), [0.010], atol=1e-12)
    # a sub-threshold pulse decays with τ_m, no spike
    st2 = sw.simulate(net, 0.05, dt=1e-4, v_init="reset", seed=0,
                      stimulation=_Pulse(0.010, 0, 5.0))
    assert st2.n_spikes == 0


def test_pulses_outside_the_run_are_dropped_with_a_warning_at_the_users_call():
    """A pulse at or after the end of the run (or before the first step) is not delivered,
    and the warning says so and points at the caller's line, for the LIF and the
    Izhikevich engines (one shared rule)."""
    import pytest

    lif = sw.networks.from_matrix(np.zeros((1, 1)), ["E"], params=LIFParams())
    izh = sw.networks.izhikevich(20, out_degree=2, seed=0)
    for net, dt in ((lif, 1e-4), (izh, 1e-3)):
        with pytest.warns(RuntimeWarning, match=r"1 stimulation pulse\(s\) fall outside") as rec:
            sw.simulate(net, 0.05, dt=dt, seed=0, stimulation=_Pulse(0.2, 0, 35.0))
        assert rec[0].filename == __file__, rec[0].filename
