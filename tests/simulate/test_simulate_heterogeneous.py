"""E and I neurons with their own parameters (τ_m, θ, V_reset, τ_ref): analytic rates per
population, Siegert rates under white noise, bit-identical fast and general kernels."""

import importlib
import math

import numpy as np
import pytest
import scipy.sparse as sp

import spikewire as sw
from spikewire import LIFParams, PoissonDrive, WhiteNoiseDrive
from spikewire.networks import brunel, from_matrix
from spikewire.networks.motifs import siegert_rate

lif = importlib.import_module("spikewire.simulate.lif")  # sw.simulate is the function

DT_30K = 1.0 / 30_000
P_E = LIFParams(tau_m=0.020, theta=20.0, v_reset=10.0, tau_ref=0.002)
P_I = LIFParams(tau_m=0.010, theta=18.0, v_reset=12.0, tau_ref=0.001)


def _period(mu, p):
    return p.tau_ref + p.tau_m * math.log((mu - p.v_reset) / (mu - p.theta))


@pytest.mark.parametrize("dt", [1e-4, DT_30K])
def test_each_population_fires_at_its_own_analytic_rate(dt):
    """Constant suprathreshold input, no noise: exact integration puts every ISI of a
    neuron with parameters p in [T(p), T(p) + dt) (refractory periods are whole steps)."""
    net = from_matrix(sp.csc_array((2, 2)), ["E", "I"], params={"E": P_E, "I": P_I},
                      drive=WhiteNoiseDrive(30.0, 0.0))
    st = sw.simulate(net, 0.5, dt=dt, seed=0, v_init="reset")
    for k, p in enumerate((P_E, P_I)):
        isi = np.diff(st.train(k))
        T = _period(30.0, p)
        assert isi.size > 10
        assert np.all(isi >= T - 1e-9) and np.all(isi < T + dt + 1e-9), (k, isi.min(), T)
    # the two periods really differ (15.9 ms vs 7.6 ms)
    assert _period(30.0, P_E) > 2 * _period(30.0, P_I) - 1e-3


def test_white_noise_rates_per_population_match_siegert():
    """1000 uncoupled E (τ = 20 ms) and 1000 I (τ = 10 ms) neurons, μ = 15 mV, σ = 5 mV,
    dt = 1/30 ms. The time-stepping bias lowers the diffusion rate by a fraction
    ∝ √(dt/τ) (Brunel & Hakim 1999): -3.2 % measured for τ = 20 ms in
    test_simulate_lif (√2 more, about -4.5 %, expected for τ = 10 ms; -5.8 % measured). Rate
    SE with ~2·10⁴ spikes: < 1 %.
    Using the wrong τ for a population would move its rate by a factor ~2."""
    n = 1000
    ct = ["E"] * n + ["I"] * n
    p_i = LIFParams(tau_m=0.010)
    net = from_matrix(sp.csc_array((2 * n, 2 * n)), ct, params={"E": LIFParams(), "I": p_i},
                      drive=WhiteNoiseDrive(15.0, 5.0))
    r = sw.simulate(net, 2.0, dt=DT_30K, seed=2).rates()
    err_e = r[:n].mean() / siegert_rate(15.0, 5.0, LIFParams()) - 1
    err_i = r[n:].mean() / siegert_rate(15.0, 5.0, p_i) - 1
    assert -0.06 < err_e < 0.0, err_e
    assert -0.08 < err_i < 0.0, err_i


@pytest.mark.parametrize("uniform", [True, False])
def test_fast_kernel_is_bit_identical_to_general_kernel(uniform, monkeypatch):
    """The fast path (delta synapses, one delay, homogeneous Poisson drive) must produce the
    same spikes as the general kernel, with shared or per-population parameters."""
    base = brunel(800, J=0.4, g=5.0, eta=2.0, seed=1)
    params = base.params if uniform else {"E": P_E, "I": P_I}
    net = base.replace(params=params)
    fast = sw.simulate(net, 0.3, seed=4)
    monkeypatch.setattr(lif, "_FAST_PATH", False)
    general = sw.simulate(net, 0.3, seed=4)
    assert fast.n_spikes > 1000
    assert fast == general


def test_exponential_synapses_with_population_time_constants():
    """One E source drives an E target (τ_m = 20 ms) and an I target (τ_m = 10 ms) through
    exponential synapses (τ_s = 5 ms, w = 6 mV). Each PSP, w τ_s/(τ_s - τ_m)
    (e^{-t/τ_s} - e^{-t/τ_m}), peaks at 0.95 mV (E) and 1.50 mV (I). A target whose
    threshold is 0.02 mV below its own peak fires and 0.02 mV above does not (the grid
    misses the peak by < 1e-4 mV at dt = 0.1 ms); a τ_m mix-up would move a peak by 0.55 mV."""
    tau_s, w = 0.005, 6.0

    def peak(tau_m):
        t = tau_s * tau_m * math.log(tau_m / tau_s) / (tau_m - tau_s)
        return w * tau_s / (tau_s - tau_m) * (math.exp(-t / tau_s) - math.exp(-t / tau_m))

    W = sp.csc_array(([w, w], ([1, 2], [0, 0])), shape=(3, 3))
    stim = type("Pulse", (), dict(times=np.array([0.002]), neurons=np.array([0]),
                                  amplitudes=np.array([5.0])))()
    for margin, fires in ((-0.02, True), (+0.02, False)):
        pe = LIFParams(tau_m=0.020, tau_syn=tau_s, theta=peak(0.020) + margin, v_reset=-5.0)
        pi = LIFParams(tau_m=0.010, tau_syn=tau_s, theta=peak(0.010) + margin, v_reset=-5.0)
        net = from_matrix(W, ["E", "E", "I"], params={"E": pe, "I": pi}, delays=1e-3)
        v0 = np.array([pe.theta - 0.5, 0.0, 0.0])  # the source fires on the pulse
        st = sw.simulate(net, 0.05, dt=1e-4, v_init=v0, stimulation=stim)
        assert st.train(0).size == 1
        assert (st.train(1).size > 0) == fires and (st.train(2).size > 0) == fires, margin


def test_network_parameter_validation():
    W = sp.csc_array((3, 3))
    net = from_matrix(W, ["E", "E", "I"], params={"E": P_E, "I": P_I})
    assert not net.uniform_params and net.params_of("I") is P_I
    np.testing.assert_array_equal(net.neuron_params()["tau_m"], [0.02, 0.02, 0.01])
    assert np.isnan(net.neuron_params()["tau_syn"]).all()
    assert "tau_m_I=10 ms" in repr(net)
    # equal entries collapse to one shared set
    same = from_matrix(W, ["E", "E", "I"], params={"E": P_E, "I": LIFParams(**vars(P_E))})
    assert same.uniform_params and same.params == P_E
    assert same.params_of("I") == P_E
    with pytest.raises(ValueError, match=r"no entry for cell type\(s\) \['I'\]"):
        from_matrix(W, ["E", "E", "I"], params={"E": P_E})
    with pytest.raises(ValueError, match="keys must be cell types"):
        from_matrix(W, ["E", "E", "I"], params={"E": P_E, "I": P_I, "PV": P_I})
    with pytest.raises(ValueError, match="same synapse model"):
        from_matrix(W, ["E", "E", "I"], params={"E": P_E, "I": LIFParams(tau_syn=0.005)})
    with pytest.raises(TypeError, match=r"params\['I'\] must be a LIFParams"):
        from_matrix(W, ["E", "E", "I"], params={"E": P_E, "I": {"tau_m": 0.01}})
    with pytest.raises(ValueError, match="tau_m = 0.0001 s must be at least 2 dt"):
        sw.simulate(net.replace(params={"E": P_E, "I": LIFParams(tau_m=1e-4)}), 0.01)
    # replace() records the per-type parameters in the spec
    spec = net.replace(drive=PoissonDrive(5.0)).replace(params={"E": P_E, "I": P_I}).spec
    assert spec["params"]["I"]["tau_m"] == 0.01
