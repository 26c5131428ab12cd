"""Tests of `te` (conditional Granger causality): exact OLS identity, links, calibration."""

import numpy as np
import pytest
from infer_fixtures import independent, lif_motif
from scipy import stats

import spikewire as sw
from spikewire.infer.te import lagged_design


def test_f_test_equals_explicit_restricted_regression():
    st = independent(6, T=60.0, rate=15.0, seed=2)
    est = sw.infer(st, "te", min_spikes=1, null="analytic")
    X = st.binned(2e-3, sparse=True).T.tocsr().astype(float)
    Y, Z = lagged_design(X, 3)
    Zd = np.c_[np.ones(Z.shape[0]), Z.toarray()]
    for post, pre in [(2, 4), (0, 5)]:
        y = Y.toarray()[:, post]
        b = np.linalg.lstsq(Zd, y, rcond=None)[0]
        rss_f = np.sum((y - Zd @ b) ** 2)
        keep = [c for c in range(Zd.shape[1]) if c == 0 or (c - 1) % 6 != pre]
        b2 = np.linalg.lstsq(Zd[:, keep], y, rcond=None)[0]
        rss_r = np.sum((y - Zd[:, keep] @ b2) ** 2)
        dof = Zd.shape[0] - Zd.shape[1]
        p = stats.f.sf(((rss_r - rss_f) / 3) / (rss_f / dof), 3, dof)
        # the partitioned-inverse identity is exact; differences are rounding only
        assert np.isclose(est.pvalues[post, pre], p, rtol=1e-6)
        assert np.isclose(est.weights[post, pre], b[1 + pre::6].sum(), rtol=1e-6, atol=1e-12)


def test_finds_directed_signed_links():
    est = sw.infer(lif_motif(), "te")
    expected = np.zeros((4, 4), int)
    expected[1, 0] = 1
    expected[3, 2] = -1
    np.testing.assert_array_equal(est.adjacency(), expected)
    assert est.cell_type[0] == "E" and est.cell_type[2] == "I"
    te = est.diagnostics["transfer_entropy"]
    assert te[1, 0] > 10 * te[0, 1] and te[1, 0] > 0


def test_false_positive_rate_is_nominal():
    n = 40
    est = sw.infer(independent(n), "te")
    p = est.pvalues[~np.eye(n, dtype=bool)]
    for alpha in (0.01, 0.05):
        sd = np.sqrt(alpha * (1 - alpha) / p.size)  # binomial sd over 1560 pair tests
        assert abs(np.mean(p < alpha) - alpha) < 4 * sd


@pytest.mark.parametrize("kwargs, match", [
    ({"n_lags": 0}, "n_lags"),
    ({"alpha": -0.1}, "alpha"),
    ({"bin_width": 10.0}, "too short"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sw.infer(independent(5, T=50.0), "te", **kwargs)


def test_unknown_pair_and_silent_unit():
    rng = np.random.default_rng(3)
    trains = [np.sort(rng.uniform(0, 50, 500)), [], np.sort(rng.uniform(0, 50, 500))]
    st = sw.SpikeTrains.from_lists(trains, t_stop=50.0)
    with pytest.raises(ValueError, match="unknown unit"):
        sw.infer(st, "te", pairs=[(0, 7)])
    est = sw.infer(st, "te", pairs=[(0, 2), (1, 0)])
    assert est.pair_status[0, 2] == 0 and est.pair_status[1, 0] == 3
    assert est.pair_status[2, 0] == 2 and est.unit_status[1] == "too_few_spikes"


def test_shift_null_refuses_a_max_shift_below_two_steps():
    with pytest.raises(ValueError, match=r"te: max_shift \(20 ms = 10 bin\(s\) of 2 ms\)"):
        sw.infer(independent(5, T=50.0), "te", max_shift=0.02)


def test_circular_fit_matches_the_exact_fit_to_order_lags_over_T():
    # the surrogates' regression reads the lagged Gram matrix off the lag cross-products
    # of a circular series; on the unshifted data it must agree with the exact OLS weights
    # up to the L edge rows of T (measured: 0.5 % of the weights' spread; bound 5 %)
    from spikewire.infer.te import _circular_lag_sum, _full_fit, _lag_sum

    st = independent(6, T=200.0, rate=15.0, seed=4)
    X = st.binned(2e-3, sparse=True).T.tocsr().astype(float)
    exact = _lag_sum(_full_fit(X, 3)[2], 6, 3)
    circ = _circular_lag_sum(X, 3)
    sd = np.std(exact[~np.eye(6, dtype=bool)])
    assert np.max(np.abs(circ - exact)) < 0.05 * sd
