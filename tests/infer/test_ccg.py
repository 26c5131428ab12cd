"""Tests of the `ccg` method: counting, significance, signs, statuses and bad input."""

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

import spikewire as sw
from spikewire.core import LIFParams, WhiteNoiseDrive
from spikewire.infer.ccg import (
    CCG,
    cross_correlograms,
    deviance_residual,
    hollowed_gaussian_kernel,
    poisson_midp,
)


def _poisson(rng, rate, T):
    return np.sort(rng.uniform(0, T, rng.poisson(rate * T)))


def _thinning_pairs(seed=0, T=400.0):
    """Unit 0 → 1 excitatory (10 % of pre spikes trigger a post spike 1.5 ms later);
    unit 2 → 3 inhibitory (post spikes 1–3 ms after a pre spike are deleted with p = 0.8);
    unit 4 independent."""
    rng = np.random.default_rng(seed)
    pre = _poisson(rng, 10, T)
    trig = pre[rng.random(pre.size) < 0.1] + 1.5e-3
    post = np.sort(np.concatenate([_poisson(rng, 10, T), trig[trig < T]]))
    pre2 = _poisson(rng, 10, T)
    post2 = _poisson(rng, 20, T)
    k = np.searchsorted(pre2, post2 - 3e-3)
    prev = pre2[np.minimum(k, pre2.size - 1)]
    inside = (k < pre2.size) & (prev <= post2 - 1e-3) & (prev >= post2 - 3e-3)
    post2 = post2[~(inside & (rng.random(post2.size) < 0.8))]
    return sw.SpikeTrains.from_lists([pre, post, pre2, post2, _poisson(rng, 5, T)], t_stop=T)


def _brute_force(spikes, bw, kmax):
    n = spikes.n_units
    edges = (np.arange(-kmax, kmax + 2) - 0.5) * bw
    out = np.zeros((n, n, 2 * kmax + 1), dtype=np.int64)
    for i in range(n):
        for j in range(n):
            if i != j:
                d = (spikes.train(i)[:, None] - spikes.train(j)[None, :]).ravel()
                out[i, j] = np.histogram(d, edges)[0]
    return out


# ------------------------------------------------------------------ counting
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_ccg_equals_brute_force_bin_for_bin(n_jobs):
    rng = np.random.default_rng(1)
    # continuous random times: no lag falls on a bin edge, so the reference is unambiguous
    st = sw.SpikeTrains.from_lists([_poisson(rng, r, 20.0) for r in (30, 5, 50, 0.5)],
                                   t_stop=20.0)
    ccg, lags = cross_correlograms(st, bin_width=4e-4, max_lag=0.01, n_jobs=n_jobs)
    ref = _brute_force(st, 4e-4, 25)
    assert np.array_equal(ccg, ref)
    assert np.allclose(lags, np.arange(-25, 26) * 4e-4)
    # orientation: ccg[post, pre] at +lag is ccg[pre, post] at -lag
    assert np.array_equal(ccg[0, 1], ccg[1, 0, ::-1])


def test_ccg_subset_uses_pair_merge_and_agrees():
    rng = np.random.default_rng(2)
    st = sw.SpikeTrains.from_lists([_poisson(rng, 20, 30.0) for _ in range(6)], t_stop=30.0)
    full, _ = cross_correlograms(st, 5e-4, 0.02)
    sub, _ = cross_correlograms(st, 5e-4, 0.02, pairs=[(3, 1), (0, 5)])
    assert np.array_equal(sub[3, 1], full[3, 1]) and np.array_equal(sub[0, 5], full[0, 5])
    assert sub.sum() == full[3, 1].sum() + full[0, 5].sum()


@pytest.mark.parametrize("pairs", [None, [(2, 0), (0, 2), (3, 1)]])
def test_method_kernel_counts_each_pair_once_and_agrees_with_full_ccg(pairs):
    # the method's kernel counts each unordered pair once and reads the reverse pair
    # backwards; it must reproduce the plain per-pre-unit correlograms exactly
    rng = np.random.default_rng(3)
    st = sw.SpikeTrains.from_lists([_poisson(rng, r, 40.0) for r in (20, 8, 30, 15, 0.0)],
                                   t_stop=40.0)
    est = sw.infer(st, "ccg", keep_ccg=True, min_spikes=1, n_jobs=2, pairs=pairs)
    lags = est.diagnostics["ccg_lags"]
    full, lags2 = cross_correlograms(st, 5e-4, lags[-1], pairs=pairs)
    assert np.allclose(lags, lags2)
    assert np.array_equal(est.diagnostics["ccg"], full)


def test_one_spike_pair_lands_in_the_expected_bin():
    # pynapple-style hand check: post 1.6 ms after pre -> bin round(1.6 / 0.5) = 3
    st = sw.SpikeTrains.from_lists([[1.0], [1.0016]], t_stop=2.0)
    ccg, lags = cross_correlograms(st, 5e-4, 0.005)
    assert ccg[1, 0, np.flatnonzero(np.isclose(lags, 1.5e-3))[0]] == 1
    assert ccg[1, 0].sum() == 1 and ccg[0, 1, np.flatnonzero(np.isclose(lags, -1.5e-3))[0]] == 1


# ------------------------------------------------------------------ statistics helpers
def test_poisson_midp_matches_scipy():
    from scipy.stats import poisson

    n = np.array([0, 3, 10, 25])
    lam = np.array([2.0, 3.0, 4.0, 30.0])
    up, lo = poisson_midp(n, lam)
    ref_up = poisson.sf(n, lam) + 0.5 * poisson.pmf(n, lam)
    ref_lo = poisson.cdf(n, lam) - 0.5 * poisson.pmf(n, lam)
    assert np.allclose(np.exp(up), ref_up, rtol=1e-10)
    assert np.allclose(np.exp(lo), ref_lo, rtol=1e-10)
    # deep tail: the asymptotic form stays finite and within 1 % of the exact log tail
    # (leading-order expansion; the next term is O(λ/n²))
    from scipy.special import logsumexp

    up_far, _ = poisson_midp(np.array([2000.0]), np.array([10.0]))
    k = np.arange(2000, 3000)
    w = np.where(k == 2000, 0.5, 1.0)   # mid-p: half the mass at n itself
    exact = logsumexp(poisson.logpmf(k, 10.0), b=w)
    assert np.isfinite(up_far[0]) and abs(up_far[0] - exact) / abs(exact) < 0.01


def test_kernel_and_residual():
    k = hollowed_gaussian_kernel(20, 0.6)
    assert k.size == 121 and np.isclose(k.sum(), 1.0)
    assert k[60] < k[59]  # the centre is hollowed
    assert deviance_residual(np.array([5.0]), np.array([5.0]))[0] == 0


# ------------------------------------------------------------------ detection
def test_finds_excitatory_and_inhibitory_links_and_not_the_absent_ones():
    est = sw.infer(_thinning_pairs(), "ccg")
    adj = est.adjacency()
    assert adj[1, 0] == 1 and adj[3, 2] == -1
    absent = np.ones((5, 5), bool)
    np.fill_diagonal(absent, False)
    absent[1, 0] = absent[3, 2] = False
    assert not adj[absent].any(), np.argwhere(adj * absent)
    assert est.cell_type[0] == "E" and est.cell_type[2] == "I"
    assert np.isclose(est.delays[1, 0], 1.5e-3)
    # weight = excess post spikes per pre spike: 0.1 by construction; ± 0.02 covers the
    # Poisson noise of ~400 triggered spikes and the window's other bins
    assert abs(est.weights[1, 0] - 0.1) < 0.02
    assert est.weights[3, 2] < 0


def test_lif_pair_from_matrix_with_delays():
    W = np.zeros((4, 4))
    W[1, 0] = 2.0    # E 0 -> 1
    W[3, 2] = -2.0   # I 2 -> 3
    net = sw.networks.from_matrix(W, ["E", "E", "I", "E"], delays=1.5e-3,
                                  drive=WhiteNoiseDrive(mu=15.0, sigma=6.0),
                                  params=LIFParams(tau_ref=2e-3))
    # 300 s: the inhibitory trough must also beat the anticausal window (causal test) and
    # survive Bonferroni over 12 pairs; at 150 s its p-value is 0.007, at 300 s 3e-5
    st = sw.simulate(net, 300.0, seed=1)
    est = sw.infer(st, "ccg")
    adj = est.adjacency()
    expected = np.sign(W).astype(int)
    assert np.array_equal(adj, expected), adj
    assert est.cell_type[2] == "I" and est.cell_type[0] == "E"
    assert np.isclose(est.delays[1, 0], 1.5e-3)


def test_jitter_significance_and_dale_option():
    st = _thinning_pairs(seed=3, T=300.0)
    est = sw.infer(st, "ccg", significance="jitter", n_surrogates=30, causal_test=True)
    assert est.adjacency()[1, 0] == 1 and est.adjacency()[3, 2] == -1
    d = sw.infer(st, "ccg", dale=True)
    assert d.adjacency()[1, 0] == 1 and d.adjacency()[3, 2] == -1
    # under Dale's law no presynaptic unit has links of both signs
    adj = d.adjacency()
    assert not np.any((adj > 0).any(axis=0) & (adj < 0).any(axis=0))


@pytest.mark.parametrize("kwargs", [{}, {"bin_width": 1e-3}])
def test_false_positive_rate_on_independent_poisson_is_nominal(kwargs):
    # the Poisson test over the window on its own (the default adds the causal test, below)
    rng = np.random.default_rng(7)
    n, T = 40, 200.0
    st = sw.SpikeTrains.from_lists([_poisson(rng, 10, T) for _ in range(n)], t_stop=T)
    est = sw.infer(st, "ccg", causal_test=False, significance="poisson",
                   correction="bonferroni", **kwargs)
    p = est.pvalues[~np.eye(n, dtype=bool)]
    m = p.size
    for alpha in (0.01, 0.05):
        rate = np.mean(p < alpha)
        # binomial sd of the rate over 1560 pairs; 4 sd allows for the mild dependence of
        # pairs sharing a unit and for the mid-p test being approximate at ~10 counts/bin
        sd = np.sqrt(alpha * (1 - alpha) / m)
        assert abs(rate - alpha) < 4 * sd, (alpha, rate)
    assert est.significant().sum() == 0  # Bonferroni at 5 %: nothing survives the null


def test_default_with_causal_test_is_conservative():
    rng = np.random.default_rng(9)
    n, T = 40, 200.0
    st = sw.SpikeTrains.from_lists([_poisson(rng, 10, T) for _ in range(n)], t_stop=T)
    p = sw.infer(st, "ccg").pvalues[~np.eye(n, dtype=bool)]
    for alpha in (0.01, 0.05):
        sd = np.sqrt(alpha * (1 - alpha) / p.size)
        # intersection-union of two tests: never above α beyond sampling error
        assert np.mean(p < alpha) < alpha + 3 * sd


def test_jitter_is_not_anticonservative():
    rng = np.random.default_rng(8)
    n, T = 25, 150.0
    st = sw.SpikeTrains.from_lists([_poisson(rng, 12, T) for _ in range(n)], t_stop=T)
    est = sw.infer(st, "ccg", significance="jitter", n_surrogates=40, causal_test=False)
    p = est.pvalues[~np.eye(n, dtype=bool)]
    sd = np.sqrt(0.05 * 0.95 / p.size)
    # the jitter null conditions on spike counts per jitter window, so the Poisson test on
    # its mean is conservative; it must never exceed α by more than sampling error
    assert np.mean(p < 0.05) < 0.05 + 3 * sd


# ------------------------------------------------------------------ statuses / bad input
def test_silent_and_sparse_units_are_listed_not_crashed():
    rng = np.random.default_rng(4)
    trains = [_poisson(rng, 10, 50.0), [], [1.0, 2.0], _poisson(rng, 10, 50.0)]
    st = sw.SpikeTrains.from_lists(trains, t_stop=50.0)
    est = sw.infer(st, "ccg")
    assert est.unit_status.tolist() == ["ok", "too_few_spikes", "too_few_spikes", "ok"]
    assert est.diagnostics["skipped_units"] == [1, 2]
    assert np.all(est.pair_status[1, [0, 2, 3]] == 3) and np.all(est.pair_status[[0, 3], 2] == 3)
    assert est.pair_status[0, 3] == 0 and np.isfinite(est.pvalues[0, 3])
    assert np.all(np.isfinite(est.weights))
    assert np.all(np.isnan(est.pvalues[est.pair_status != 0]))


def test_pairs_subset_statuses():
    st = _thinning_pairs(T=100.0)
    est = sw.infer(st, "ccg", pairs=[(1, 0), (3, 2)])
    assert set(zip(*np.nonzero(est.pair_status == 0), strict=True)) == {(1, 0), (3, 2)}
    assert est.pair_status[0, 1] == 2
    assert est.adjacency()[1, 0] == 1


@pytest.mark.parametrize("kwargs, data, expectation", [
    ({"alpha": 1.5}, None, pytest.raises(ValueError, match=r"alpha=1.5 .* in \(0, 1\)")),
    ({"alpha": 0.0}, None, pytest.raises(ValueError, match=r"alpha=0.0 .* in \(0, 1\)")),
    ({"bin_width": 5e-3, "window": (5e-4, 4e-3)}, None,
     pytest.raises(ValueError, match="larger than the monosynaptic")),
    ({"significance": "spike_jitter", "jitter_width": 2e-4}, None,
     pytest.raises(ValueError, match="jitter_width")),
    ({"window": (4e-3, 1e-3)}, None, pytest.raises(ValueError, match="window=.*increasing")),
    ({"significance": "magic"}, None, pytest.raises(ValueError, match="significance")),
    ({}, "short", pytest.raises(ValueError, match="shorter than the CCG range")),
    ({"pairs": [(0, 99)]}, None, pytest.raises(ValueError, match="unknown unit id")),
    ({}, None, does_not_raise()),
])
def test_bad_input(kwargs, data, expectation):
    rng = np.random.default_rng(5)
    T = 0.05 if data == "short" else 20.0
    st = sw.SpikeTrains.from_lists([_poisson(rng, 400, T) for _ in range(3)], t_stop=T)
    kwargs = dict(kwargs)
    pairs = kwargs.pop("pairs", None)
    with expectation:
        sw.infer(st, "ccg", pairs=pairs, **kwargs)


def test_registered_and_params_roundtrip():
    assert "ccg" in sw.list_methods()
    m = CCG(bin_width=4e-4)
    assert m.get_params()["bin_width"] == 4e-4
    assert "Stark" in CCG.reference
