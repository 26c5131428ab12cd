"""Synapse objects: LIFParams compatibility, closed-form PSPs against the engine, PSP areas
and peaks against numerical integration."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.integrate import quad

import spikewire as sw
from spikewire import LIFParams, WhiteNoiseDrive
from spikewire.core.synapses import DeltaSynapse, ExponentialSynapse, Synapse, as_synapse
from spikewire.networks import from_matrix

DT_30K = 1.0 / 30_000

SYNAPSES = {
    "delta": DeltaSynapse(),
    "exponential": ExponentialSynapse(0.005),
}


class _Stim:
    def __init__(self, times, neurons, amplitudes):
        self.times = np.asarray(times, float)
        self.neurons = np.asarray(neurons)
        self.amplitudes = np.asarray(amplitudes, float)


def test_tau_syn_keeps_its_meaning():
    assert LIFParams().synapse == DeltaSynapse() and LIFParams().tau_syn is None
    p = LIFParams(tau_syn=0.005)
    assert p.synapse == ExponentialSynapse(0.005)
    q = LIFParams(synapse=ExponentialSynapse(0.005))
    assert q.tau_syn == 0.005 and q == p and hash(q) == hash(p)
    assert LIFParams(synapse=DeltaSynapse()) == LIFParams()
    # with_synapse changes the model of a copy, keeping the rest
    r = LIFParams(tau_m=0.01).with_synapse(0.003)
    assert r.tau_m == 0.01 and r.synapse == ExponentialSynapse(0.003) and r.tau_syn == 0.003
    assert r.with_synapse(None).synapse == DeltaSynapse() and r.with_synapse(None).tau_syn is None


def test_bad_synapse_arguments():
    with pytest.raises(ValueError, match="disagrees with synapse"):
        LIFParams(tau_syn=0.004, synapse=ExponentialSynapse(0.005))
    with pytest.raises(TypeError, match="synapse must be a Synapse"):
        LIFParams(synapse=0.005)
    with pytest.raises(ValueError, match="tau_syn must differ from tau_m"):
        LIFParams(tau_m=0.01, synapse=ExponentialSynapse(0.01))
    with pytest.raises(ValueError, match="tau_syn"):
        ExponentialSynapse(-1.0)
    with pytest.raises(TypeError, match="a synapse must be"):
        as_synapse("exp")


def test_network_spec_and_repr_name_the_synapse():
    net = sw.networks.brunel(50, epsilon=0.2, tau_syn=0.004, seed=0)
    assert "synapse=exponential" in repr(net)
    spec = net.replace(params=LIFParams(tau_syn=0.003)).spec
    assert spec["params"]["synapse"] == {"kind": "exponential", "tau_syn": 0.003}


def _psp_probe(syn, w, dt, offsets, tau_m=0.02, delay=1e-3):
    """Neuron 0 spikes once (a 30 mV pulse at 5 ms); targets 1.. sit at constant
    V = θ - a (white-noise drive with σ = 0) and receive weight w. A target spikes at the
    first step where its PSP reaches a: this reads the PSP out on the grid."""
    n = len(offsets) + 1
    rows = np.arange(1, n)
    wm = sp.csc_array((np.full(n - 1, w), (rows, np.zeros(n - 1, int))), shape=(n, n))
    mu = np.r_[0.0, 20.0 - np.asarray(offsets)]
    net = from_matrix(wm, ["E"] * n, delays=delay, drive=WhiteNoiseDrive(mu, 0.0),
                      params=LIFParams(tau_m=tau_m, synapse=syn))
    st = sw.simulate(net, 0.08, dt=dt, v_init=mu.copy(), stimulation=_Stim([0.005], [0], [30.0]))
    assert st.train(0).size == 1
    t_arr = st.train(0)[0] + delay
    return np.array([(st.train(k)[0] - t_arr) if st.train(k).size else np.inf
                     for k in range(1, n)])


@pytest.mark.parametrize("dt", [1e-4, DT_30K])
@pytest.mark.parametrize("name", sorted(SYNAPSES))
def test_engine_psp_is_the_closed_form_on_the_grid(name, dt):
    """The engine integrates the synaptic state exactly, so V on the grid equals the
    closed-form PSP: a target held a mV below θ fires at the first grid time where
    w·psp(t) >= a (to within rounding: |Δt| < dt/2), and never above the peak."""
    syn, tau_m, w = SYNAPSES[name], 0.02, 4.0
    peak = w * syn.psp_peak(tau_m)
    offsets = np.r_[np.linspace(0.05, 0.98, 12) * peak, 1.02 * peak]
    first = _psp_probe(syn, w, dt, offsets, tau_m=tau_m)
    grid = np.arange(0, round(0.06 / dt)) * dt
    v = w * syn.psp(grid, tau_m)
    for a, t_first in zip(offsets, first, strict=True):
        if a > peak:
            assert t_first == np.inf
        else:
            assert abs(t_first - grid[np.argmax(v >= a)]) < dt / 2, (a, t_first)


@pytest.mark.parametrize("name", sorted(SYNAPSES))
def test_psp_area_and_peak_match_numerics(name):
    syn: Synapse = SYNAPSES[name]
    for tau_m in (0.01, 0.02):
        area, err = quad(lambda t, tm=tau_m: float(syn.psp(t, tm)), 0, 50 * tau_m, limit=200)
        assert syn.psp_area(tau_m) == pytest.approx(area, rel=1e-7)
        t = np.linspace(0, 10 * tau_m, 400_001)  # grid spacing 5e-7 s: peak to 1e-8
        assert syn.psp_peak(tau_m) == pytest.approx(syn.psp(t, tau_m).max(), rel=1e-8)
        assert float(syn.psp(-1e-3, tau_m)) == 0.0
