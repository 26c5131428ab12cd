"""Tests of `partial_corr`: Ledoit–Wolf equals sklearn's, links found, calibrated p-values."""

import numpy as np
import pytest
import scipy.sparse as sp
from infer_fixtures import independent, lif_motif
from sklearn.covariance import ledoit_wolf

import spikewire as sw
from spikewire.infer.partial_corr import count_moments, ledoit_wolf_from_moments


@pytest.mark.parametrize("sparse", [True, False])
def test_ledoit_wolf_from_sparse_moments_equals_sklearn(sparse):
    rng = np.random.default_rng(0)
    X = rng.poisson(0.3, (500, 7)).astype(float)
    ref, shrink = ledoit_wolf(X)
    _, emp, beta_sum, T = count_moments(sp.csr_array(X) if sparse else X)
    cov, shrink2 = ledoit_wolf_from_moments(emp, beta_sum, T)
    # same formula, different summation order: agreement to rounding
    np.testing.assert_allclose(cov, ref, rtol=1e-10, atol=1e-14)
    assert abs(shrink - shrink2) < 1e-10


def test_symmetric_partial_correlation_finds_the_pair():
    est = sw.infer(lif_motif(), "partial_corr")
    np.testing.assert_array_equal(est.weights, est.weights.T)   # symmetric by construction
    # one p-value per unordered pair (the shift null's level and pooled sd are symmetric;
    # the mean of symmetric surrogates only to rounding)
    np.testing.assert_allclose(est.pvalues, est.pvalues.T, rtol=1e-9)
    adj = est.adjacency()
    assert adj[1, 0] == 1 and adj[0, 1] == 1
    assert adj[2, 0] == 0 and adj[1, 3] == 0
    assert est.diagnostics["symmetric"]


def test_lagged_variant_gets_direction_and_sign():
    est = sw.infer(lif_motif(), "partial_corr", lag=1, bin_width=2e-3)
    adj = est.adjacency()
    expected = np.zeros((4, 4), int)
    expected[1, 0] = 1
    expected[3, 2] = -1
    np.testing.assert_array_equal(adj, expected)
    assert est.cell_type[0] == "E" and est.cell_type[2] == "I"


def test_graphical_lasso_runs_and_agrees_on_the_strong_link():
    est = sw.infer(lif_motif(60.0), "partial_corr", estimator="graphical_lasso")
    assert est.adjacency()[1, 0] == 1
    assert "graphical_lasso_alpha" in est.diagnostics


@pytest.mark.parametrize("lag", [0, 1])
def test_false_positive_rate_is_nominal(lag):
    n = 40
    est = sw.infer(independent(n), "partial_corr", lag=lag)
    tri = np.triu_indices(n, 1) if lag == 0 else np.nonzero(~np.eye(n, dtype=bool))
    p = est.pvalues[tri]
    for alpha in (0.01, 0.05):
        # binomial sd over the independent tests (780 unordered pairs for lag 0, 1560
        # ordered for lag 1); 4 sd leaves room for the mild dependence between pairs
        sd = np.sqrt(alpha * (1 - alpha) / p.size)
        assert abs(np.mean(p < alpha) - alpha) < 4 * sd


@pytest.mark.parametrize("kwargs, match", [
    ({"estimator": "pca"}, "estimator"),
    ({"lag": 2}, "lag=2 is not valid; lag must be one of 0, 1"),
    ({"alpha": 1.0}, "alpha"),
    ({"bin_width": -1}, "bin_width"),
    ({"bin_width": 100.0}, "only"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sw.infer(independent(5, T=50.0), "partial_corr", **kwargs)


def test_silent_unit_listed():
    rng = np.random.default_rng(3)
    trains = [np.sort(rng.uniform(0, 50, 500)), [], np.sort(rng.uniform(0, 50, 500))]
    est = sw.infer(sw.SpikeTrains.from_lists(trains, t_stop=50.0), "partial_corr")
    assert est.unit_status[1] == "too_few_spikes" and est.pair_status[0, 1] == 3
    assert est.pair_status[0, 2] == 0 and np.isfinite(est.pvalues[0, 2])


def test_shift_columns_moves_each_unit_circularly():
    from spikewire.infer._surrogates import shift_columns

    rng = np.random.default_rng(1)
    X = rng.poisson(0.5, (50, 4)).astype(float)
    s = np.array([0, 3, -2, 49])
    got = shift_columns(sp.csr_array(X), s).toarray()
    want = np.stack([np.roll(X[:, j], s[j]) for j in range(4)], axis=1)
    np.testing.assert_array_equal(got, want)


def test_shift_null_is_reproducible_and_seeded():
    st = independent(12, T=60.0)
    a = sw.infer(st, "partial_corr", seed=3)
    b = sw.infer(st, "partial_corr", seed=3)
    c = sw.infer(st, "partial_corr", seed=4)
    np.testing.assert_array_equal(a.pvalues, b.pvalues)
    assert not np.allclose(a.pvalues, c.pvalues, equal_nan=True)
    # the weights do not depend on the surrogates
    np.testing.assert_array_equal(a.weights, c.weights)


def test_shifts_shorter_than_the_resolution_or_the_window_are_refused():
    st = independent(5, T=50.0)
    rec = sw.Recording.from_spikes(st).with_step({"step": "quantize"}, sampling_rate=1000.0)
    with pytest.raises(ValueError, match=r"max_shift \(0.5 ms\) is shorter than the data's "
                                         r"time resolution \(1 ms\)"):
        sw.infer(rec, "partial_corr", max_shift=5e-4)
    # 30 ms is 6 bins of 5 ms, less than two 20 ms steps (8 bins)
    with pytest.raises(ValueError, match=r"max_shift \(30 ms = 6 bin\(s\) of 5 ms\) must be "
                                         r"at least twice"):
        sw.infer(st, "partial_corr", max_shift=0.03)


def test_slow_decay_follows_the_shared_state_and_is_off_without_one():
    # up/down family: a two-state Markov chain with mean dwell 0.3 s / 0.5 s has the
    # autocorrelation exp(−(1/0.3 + 1/0.5) r) exactly, and the units' shared covariance
    # decays with it; measured 0.908 / 0.617 / 0.380 against 0.899 / 0.587 / 0.344 at
    # 20 / 100 / 200 ms (30 units, 200 s); 0.06 is about 2× the seed-to-seed spread
    from spikewire.infer._null_families import null_family
    from spikewire.infer._surrogates import slow_decay

    lags = np.arange(1, 11) * 4                       # 5 ms bins: 20 .. 200 ms
    st = null_family("updown", n_units=30, duration=200.0, seed=0)
    phi = slow_decay(st.binned(5e-3, sparse=True).T.tocsr().astype(float), lags)
    theory = np.exp(-(1 / 0.3 + 1 / 0.5) * lags * 5e-3)
    np.testing.assert_allclose(phi, theory, atol=0.06)
    # independent trains have no shared covariance: no correction at all
    st = null_family("poisson", n_units=30, duration=200.0, seed=0)
    phi = slow_decay(st.binned(5e-3, sparse=True).T.tocsr().astype(float), lags)
    np.testing.assert_array_equal(phi, 1.0)
