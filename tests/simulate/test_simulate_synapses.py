"""Synapse objects: LIFParams compatibility, closed-form PSPs against the engine, PSP areas
and peaks against numerical integration, propagators against the matrix exponential."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.integrate import quad
from scipy.linalg import expm

import spikewire as sw
from spikewire import LIFParams, WhiteNoiseDrive
from spikewire.core.synapses import (
    AlphaSynapse,
    DeltaSynapse,
    ExponentialSynapse,
    Synapse,
    as_synapse,
)
from spikewire.networks import from_matrix

DT_30K = 1.0 / 30_000

SYNAPSES = {
    "delta": DeltaSynapse(),
    "exponential": ExponentialSynapse(0.005),
    "alpha": AlphaSynapse(0.002),
    "alpha_slow": AlphaSynapse(0.03),  # τ_s > τ_m: β < 0
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
        t_end = 60 * max(tau_m, syn.tau_syn or 0.0)  # the tail beyond is < 1e-20 relative
        area, err = quad(lambda t, tm=tau_m: float(syn.psp(t, tm)), 0, t_end, limit=400)
        assert syn.psp_area(tau_m) == pytest.approx(area, rel=1e-7)
        t = np.linspace(0, 10 * tau_m, 400_001)  # grid spacing 5e-7 s: peak to 1e-8
        assert syn.psp_peak(tau_m) == pytest.approx(syn.psp(t, tau_m).max(), rel=1e-8)
        assert float(syn.psp(-1e-3, tau_m)) == 0.0


@pytest.mark.parametrize("dt", [1e-4, DT_30K, 1e-3])
@pytest.mark.parametrize("name", ["exponential", "alpha", "alpha_slow"])
def test_propagators_are_the_exact_flow(name, dt):
    """The closed-form propagators equal expm(dt·M) of the linear system (V, s) with
    τ_m dV/dt = -V + u, u the synaptic input. Both are exact, so they agree to rounding
    (1e-12 relative to the largest entry)."""
    syn, tau_m = SYNAPSES[name], 0.02
    A, c, b = syn.propagators(dt, tau_m)
    m = A.shape[0]
    M = np.zeros((m + 1, m + 1))  # state (s_0 .. s_{m-1}, V); u is the last state variable
    ts = syn.tau_syn
    for a in range(m):
        M[a, a] = -1.0 / ts
        if a > 0:
            M[a, a - 1] = 1.0
    M[m, m - 1] = 1.0 / tau_m
    M[m, m] = -1.0 / tau_m
    E = expm(dt * M)
    np.testing.assert_allclose(A, E[:m, :m], rtol=0, atol=1e-12 * np.abs(E).max())
    np.testing.assert_allclose(c, E[m, :m], rtol=1e-10, atol=1e-15)
    assert E[m, m] == pytest.approx(np.exp(-dt / tau_m), rel=1e-12)
    # b turns a weight into the state jump: the input u it produces peaks (alpha) or
    # starts (exponential) at exactly the weight
    t = np.linspace(0, 10 * ts, 100_001)
    u = np.array([(expm(x * M[:m, :m]) @ b)[m - 1] for x in t[::1000]])
    assert u.max() == pytest.approx(1.0, rel=1e-3)


def test_alpha_psc_is_normalised_as_in_nest():
    """NEST's iaf_psc_alpha: a weight w gives the PSC w e/τ_s t exp(-t/τ_s), peak w at
    t = τ_s; area w e τ_s. The PSP peak matches NEST's closed form used in its own
    test_iaf_psc_alpha_fudge (Lambert W) with C_m → τ_m."""
    from scipy.special import lambertw

    syn, tau_m = AlphaSynapse(0.0005), 0.02
    ts = syn.tau
    a, bb = tau_m / ts, 1.0 / ts - 1.0 / tau_m
    t_max = (1.0 / bb) * (-lambertw(-np.exp(-1.0 / a) / a, k=-1) - 1.0 / a).real
    v_max = (np.e / (ts * tau_m * bb)
             * ((np.exp(-t_max / tau_m) - np.exp(-t_max / ts)) / bb - t_max * np.exp(-t_max / ts)))
    assert syn.psp_peak(tau_m) == pytest.approx(v_max, rel=1e-9)
    assert syn.psp_area(tau_m) == pytest.approx(np.e * ts, rel=1e-15)


@pytest.mark.parametrize("name", ["exponential", "alpha"])
def test_theory_uses_the_psp_area(name):
    """populations_from_network turns weights into delta-equivalent amplitudes of the same
    PSP area (the mean input per presynaptic spike): j = w · psp_area / τ_m, and
    build_ei_network inverts it with the same synapse model."""
    from spikewire.theory.mapping import build_ei_network, populations_from_network

    syn = SYNAPSES[name]
    W = sp.csc_array(np.array([[0.0, 2.0, -4.0], [2.0, 0.0, -4.0], [2.0, 2.0, 0.0]]))
    net = from_matrix(W, ["E", "E", "I"], params=LIFParams(synapse=syn),
                      drive=WhiteNoiseDrive(1.0, 1.0))
    pops = populations_from_network(net)
    area = syn.psp_area(0.02)
    np.testing.assert_allclose(pops.j, [[2.0 * area / 0.02, -4.0 * area / 0.02],
                                        [2.0 * area / 0.02, 0.0]], rtol=1e-12)
    back = build_ei_network(pops, seed=0, delay=1e-3)
    assert back.params_of("E").synapse == syn
    np.testing.assert_allclose(np.unique(back.weights.data), [-4.0, 2.0], rtol=1e-12)
