"""One-call predictions from a Network, spike statistics, input design, size scaling."""

import numpy as np
import pytest
from theory_networks import ISN, SUPERSAT, run

from spikewire.theory import (
    EIPopulations,
    balance_factor,
    build_ei_network,
    classify_activity,
    isi_cv,
    predict_rates,
    track_target,
)


def test_one_call_prediction_from_network_and_spike_statistics():
    h = (11.0, 16.5)
    sim, net, st = run(SUPERSAT, h)
    ss = predict_rates(net)  # Network → populations → SSN, one call
    np.testing.assert_allclose(ss.stable_rates[0], predict_rates(SUPERSAT, h).stable_rates[0],
                               rtol=1e-9)
    # balance factor equals the population formula with the measured rates
    bf = balance_factor(net, st)
    W = SUPERSAT.W
    bf_e = -W[0, 1] * sim[1] / (W[0, 0] * sim[0] + h[0])
    bf_i = -W[1, 1] * sim[1] / (W[1, 0] * sim[0] + h[1])
    # per-neuron means of ratios vs ratio of means: equal up to in-degree-fixed noise (~3 %)
    assert bf["E"] == pytest.approx(bf_e, rel=0.05)
    assert bf["I"] == pytest.approx(bf_i, rel=0.05)
    # noise-driven firing: irregular (CV >= 0.5; mean drive near threshold lowers it below
    # the Poisson value 1) and asynchronous (χ ≈ 1/√N)
    act = classify_activity(st)
    assert act["regime"] == "AI" and 0.5 < act["cv"] < 1.2
    cv = isi_cv(st)
    assert cv.shape == (st.n_units,)


def test_tracking_a_designed_trajectory():
    T = np.linspace(0, 1, 11)
    target = np.stack([2.0 + 1.0 * np.sin(np.pi * T), 3.0 + 1.5 * np.sin(np.pi * T)], -1)
    res = track_target(ISN, target, sample_dt=0.1, bin_width=0.1, transient=0.2)
    assert res.stable == 1.0
    # per-bin population rates over 0.1 s: finite-size noise ~0.2 Hz plus the SSN bias above
    assert np.all(res.rmse < 0.6 + 0.2 * target.mean(0))


def test_population_round_trip_and_size_scaling():
    from spikewire.theory import populations_from_network, scale_populations, size_scaling

    small = EIPopulations((400, 100), K=[[80, 20], [80, 20]], j=[[0.2, -0.8], [0.3, -0.6]],
                          sigma_ext=[5.0, 4.0], mu_ext=[10.0, 12.0], tau_syn=0.004)
    net = build_ei_network(small, seed=0)
    back = populations_from_network(net)
    # fixed in-degree and one amplitude per block: exact up to float32/64 round-off
    np.testing.assert_allclose(back.K, small.K)
    np.testing.assert_allclose(back.j, small.j, rtol=1e-12)
    np.testing.assert_allclose(back.mu_ext, small.mu_ext)
    np.testing.assert_allclose(back.sigma_ext, small.sigma_ext)
    assert back.tau_syn == small.tau_syn
    # 1/√N scaling: W ∝ √N, balanced limit independent of N
    big = scale_populations(small, 8000)
    np.testing.assert_allclose(big.W, small.W * 4.0, rtol=1e-12)
    res = size_scaling(small, [500, 8000, 500000], [[10.0, 12.0]])
    assert res["rates_low"].shape == (3, 1, 2)
    nu_bal = -np.linalg.solve(small.W, [10.0, 12.0])
    assert res["balanced_exists"][0] == bool(np.all(nu_bal > 0))
    with pytest.raises(ValueError, match="Dale"):
        EIPopulations((10, 10), K=[[1, 1], [1, 1]], j=[[0.1, 0.1], [0.1, -0.1]],
                      sigma_ext=[1, 1])
    with pytest.raises(ValueError, match="exceed"):
        EIPopulations((10, 10), K=[[11, 1], [1, 1]], j=[[0.1, -0.1], [0.1, -0.1]],
                      sigma_ext=[1, 1])


def test_population_round_trip_with_per_population_parameters():
    """τ_E = 20 ms, τ_I = 10 ms, θ_I = 18 mV with exponential synapses: the network carries
    one LIFParams per cell type, and mapping it back recovers each population's parameters
    and the delta-equivalent amplitudes (w = j τ_X / τ_s per postsynaptic population X)."""
    import scipy.sparse as sp

    from spikewire import LIFParams, WhiteNoiseDrive
    from spikewire.networks import from_matrix
    from spikewire.theory import populations_from_network

    pops = EIPopulations((400, 100), K=[[80, 20], [80, 20]], j=[[0.2, -0.8], [0.3, -0.6]],
                         sigma_ext=[5.0, 4.0], mu_ext=[10.0, 12.0], tau_m=[0.020, 0.010],
                         theta=[20.0, 18.0], tau_syn=0.004)
    net = build_ei_network(pops, seed=0)
    assert net.params_of("I").tau_m == 0.010 and net.params_of("I").theta == 18.0
    back = populations_from_network(net)
    np.testing.assert_allclose(back.j, pops.j, rtol=1e-12)
    np.testing.assert_allclose(back.tau_m, pops.tau_m)
    np.testing.assert_allclose(back.theta, pops.theta)
    bad = from_matrix(sp.csc_array((3, 3)), ["E", "E", "I"],
                      params={"E": LIFParams(tau_syn=0.005),
                              "I": LIFParams(tau_m=0.01, tau_syn=0.003)},
                      drive=WhiteNoiseDrive(1.0, 1.0))
    with pytest.raises(ValueError, match="one synaptic time constant"):
        populations_from_network(bad)
    only_e = from_matrix(sp.csc_array((2, 2)), ["E", "E"], drive=WhiteNoiseDrive(1.0, 1.0))
    with pytest.raises(ValueError, match="both E and I"):
        populations_from_network(only_e)
