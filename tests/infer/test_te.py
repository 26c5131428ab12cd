"""Tests of `te` (conditional Granger causality): exact OLS identity, links, calibration."""

import numpy as np
import pytest
import scipy.sparse as sp
from infer_fixtures import independent, lif_motif
from scipy import stats

import spikewire as sw
from spikewire.infer.te import lagged_design


def test_f_test_equals_explicit_restricted_regression():
    st = independent(6, T=60.0, rate=15.0, seed=2)
    est = sw.infer(st, "te", min_spikes=1, null="analytic", n_lags=3)
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
    st = lif_motif()
    expected = np.zeros((4, 4), int)
    expected[1, 0] = 1
    expected[3, 2] = -1
    # the former 3-lag window (6 ms) calls exactly the two links
    np.testing.assert_array_equal(sw.infer(st, "te", n_lags=3).adjacency(), expected)
    est = sw.infer(st, "te")
    adj = est.adjacency()
    assert adj[1, 0] == 1 and adj[3, 2] == -1
    # the 25 ms scan finds the excitatory one at its 1.5 ms delay (lag 1 = 2 ms: a spike
    # 1.5 ms later falls 0 or 1 bins of 2 ms back, lag 0 is not a regressor); the
    # inhibitory one's largest |z| comes later (measured 8–10 ms): the hyperpolarisation
    # lowers the post unit's firing for about a membrane time constant (20 ms), most
    # where the rate would otherwise recover, so the estimate is the delay of the largest
    # effect, not the onset ...
    assert est.delays[1, 0] == 0.002 and 0.002 <= est.delays[3, 2] <= 0.014
    # ... and may add the reverse of the inhibitory link at a long lag (measured: 2 ← 3,
    # p = 0.002 at 18 ms): 3 fires when 2 has been silent for a while, a dependence of
    # these regular LIF trains beyond the 26 ms of history conditioned on, not a synapse
    extra = (adj != 0) & (expected == 0)
    assert extra.sum() <= 1 and not extra[[1, 3], [0, 2]].any()
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


def _planted(delay, n=20, T=200.0, rate=10.0, q=0.3, seed=11):
    """Independent Poisson trains plus one link 0 → 1: each spike of unit 0 is followed by
    one of unit 1 after ``delay + U(0, 1 ms)`` with probability ``q``."""
    rng = np.random.default_rng(seed)
    trains = [np.sort(rng.uniform(0, T, rng.poisson(rate * T))) for _ in range(n)]
    pre = trains[0]
    extra = pre[rng.random(pre.size) < q] + delay + rng.uniform(0, 1e-3)
    trains[1] = np.sort(np.r_[trains[1], extra[extra < T]])
    return sw.SpikeTrains.from_lists(trains, t_stop=T)


@pytest.mark.parametrize("delay", [0.015, 0.019])
def test_long_delay_link_is_found_and_its_delay_estimated(delay):
    st = _planted(delay)
    est = sw.infer(st, "te")
    assert est.diagnostics["null_reference"]["kind"] == "max_surrogate"
    assert est.adjacency()[1, 0] == 1 and est.adjacency()[0, 1] == 0
    # a spike 15–20 ms later falls 7–10 bins of 2 ms back: the best 3-lag window's centre
    # is within two bins (4 ms) of the true delay (+0.5 ms, the planted jitter's mean)
    assert abs(est.delays[1, 0] - (delay + 5e-4)) <= 4e-3, est.delays[1, 0]
    # Bonferroni over 380 pairs: the 379 unconnected ones make at most one false call
    # (family-wise error 0.05 if calibrated)
    assert est.adjacency().astype(bool).sum() <= 2
    # delays are reported for every tested pair and NaN on the diagonal
    off = ~np.eye(20, dtype=bool)
    assert np.all(np.isfinite(est.delays[off])) and np.all(np.isnan(np.diag(est.delays)))
    # the former window (3 lags = 6 ms) cannot see it: not significant even per pair
    old = sw.infer(st, "te", n_lags=3)
    assert old.pvalues[1, 0] > 0.01


def test_analytic_null_reports_the_delay_of_the_largest_wald_window():
    st = _planted(0.017)
    est = sw.infer(st, "te", null="analytic")
    assert est.pvalues[1, 0] < 1e-6
    assert abs(est.delays[1, 0] - 0.0175) <= 4e-3


def test_window_sums_slide_over_the_lags():
    from spikewire.infer.te import _window_sums

    b = np.arange(5.0)[:, None, None] * np.ones((5, 2, 2))       # lag l has value l
    s = _window_sums(b, 3)
    # windows: lags 0-2, 1-3, 2-4 (0-based) → 3, 6, 9
    np.testing.assert_array_equal(s[:, 0, 0], [3.0, 6.0, 9.0])


def test_lag_window_longer_than_n_lags_is_refused():
    with pytest.raises(ValueError, match=r"lag_window \(4\) must not exceed n_lags \(3\)"):
        sw.infer(independent(5, T=50.0), "te", n_lags=3, lag_window=4)


def test_dense_signals_give_the_sparse_path_s_fit_and_surrogates():
    """Continuous signals (smoothed rates, calcium) are analysed as a dense array (sparse
    products cost ~9× BLAS there: the demo's smoothed-rate fit 87 → 10 s): the exact fit,
    the circular surrogate fit and the column shifts equal the sparse path's to rounding,
    and a whole fit on smoothed rates equals one on the same signals kept sparse."""
    from spikewire.infer import te as te_mod
    from spikewire.infer._surrogates import shift_columns, slow_decay
    from spikewire.infer.te import _circular_beta, _full_fit

    rng = np.random.default_rng(0)
    dense = rng.gamma(2.0, 1.0, size=(3_000, 7)) * (rng.random((3_000, 7)) < 0.6)
    Xs = sp.csr_array(dense)
    Xd = np.asfortranarray(dense)
    for a, b in zip(_full_fit(Xd, 3), _full_fit(Xs, 3), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    shifts = rng.integers(-500, 501, size=7)
    np.testing.assert_array_equal(shift_columns(Xd, shifts), shift_columns(Xs, shifts).toarray())
    np.testing.assert_array_equal(shift_columns(Xd, np.full(7, 4)),
                                  shift_columns(Xs, np.full(7, 4)).toarray())
    np.testing.assert_allclose(_circular_beta(shift_columns(Xd, shifts), 3),
                               _circular_beta(shift_columns(Xs, shifts), 3), rtol=1e-9,
                               atol=1e-12)
    lags = np.array([10, 20, 40])
    np.testing.assert_allclose(slow_decay(Xd, lags), slow_decay(Xs, lags), rtol=1e-9)

    from spikewire.observe import smooth

    rates = smooth(independent(8, T=60.0, rate=10.0, seed=2), width=5e-3,
                   sampling_rate=1000.0)
    fast = sw.infer(rates, "te")
    assert fast.diagnostics["dense"] is True
    old = te_mod.DENSE_SHARE
    try:
        te_mod.DENSE_SHARE = 1.1                  # never dense: the sparse path
        slow = sw.infer(rates, "te")
    finally:
        te_mod.DENSE_SHARE = old
    assert slow.diagnostics["dense"] is False
    np.testing.assert_allclose(fast.weights, slow.weights, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(fast.pvalues, slow.pvalues, rtol=1e-6, atol=1e-12)
