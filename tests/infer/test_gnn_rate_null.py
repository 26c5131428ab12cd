"""gnn's rate-stratified weight null (:func:`spikewire.infer.gnn.rate_null_pvalues`) on
synthetic weights of a known law (numpy only: no torch needed).

The weights of unconnected units are a smooth function of the two units' log rates plus
pair noise (what gnn's weights are on the null families, benchmarks/results/
learnednull.md §2), here exactly: ``w_ij = 0.02 (x_i + x_j + 4.6)³ + σ_ij ε_ij`` with
``x = log r`` (r over 0.1–20 Hz: the pairs of fast units stand out, as gnn's do on the
heterogeneous family) and a noise sd ``σ_ij = 0.3 exp(0.15 (x_i + x_j))`` that grows with
both rates. Both are inside
the rule's cubic location and log-scale models, so its z-scores are the noise's: about α
of the unconnected pairs fall below α, while the plain weight null (median / MAD of the
weights) calls the pairs of high-rate units.
"""

import numpy as np
import pytest

from spikewire.infer.gnn import rate_null_pvalues

N = 40


def synthetic(seed: int, strong: float = 0.0):
    rng = np.random.default_rng(seed)
    rates = np.exp(rng.uniform(np.log(0.1), np.log(20.0), N))      # 0.1–20 Hz
    s = np.log(rates)[:, None] + np.log(rates)[None, :]
    sd = 0.3 * np.exp(0.15 * s)
    eps = rng.standard_normal((N, N))
    eps = np.triu(eps, 1) + np.triu(eps, 1).T                      # symmetric weights
    w = 0.02 * (s + 4.6) ** 3 + sd * eps
    if strong:
        w[3, 7] = w[7, 3] = w[3, 7] + strong * sd[3, 7]            # one planted link
    np.fill_diagonal(w, 0.0)
    return w, rates


def plain(w):
    from scipy.special import ndtr

    off = ~np.eye(w.shape[0], dtype=bool)
    med = np.median(w[off])
    return 2 * ndtr(-np.abs(w - med) / (1.4826 * np.median(np.abs(w[off] - med))))


def bh_calls(p, alpha=0.05):
    q = np.sort(p[np.triu_indices(p.shape[0], 1)])
    k = np.nonzero(q <= alpha * np.arange(1, q.size + 1) / q.size)[0]
    return 0 if k.size == 0 else int(k[-1] + 1)


def test_about_alpha_of_unconnected_pairs_below_alpha():
    iu = np.triu_indices(N, 1)
    off = ~np.eye(N, dtype=bool)
    rates05, calls = [], 0
    for seed in range(5):
        w, rates = synthetic(seed)
        p, info = rate_null_pvalues(w, rates, off)
        assert info == {"rule": "rates", "pairs": iu[0].size}
        np.testing.assert_array_equal(p, p.T)
        assert np.all(np.isnan(np.diag(p)))
        rates05.append(np.mean(p[iu] < 0.05))
        calls += bh_calls(p)
        # the plain weight null calls the high-rate pairs (the failure this rule fixes;
        # measured 21–51 calls per seed)
        assert bh_calls(plain(w)) > 10
    # 5 × 780 pairs: binomial sd of the pooled rate √(0.05·0.95/3900) = 0.0035; the fitted
    # location and scale and the shared units widen it, so ±4 sd (0.036–0.064).
    # Measured 0.048 (per seed 0.038–0.054).
    assert abs(np.mean(rates05) - 0.05) < 4 * np.sqrt(0.05 * 0.95 / 3900)
    # BH at 5 % on unconnected pairs: at most a few calls in 5 fits (BH at 5 % makes a
    # false call in about 5 % of null fits; measured 1 call in 5 fits)
    assert calls <= 2


def test_a_strong_planted_link_is_called():
    off = ~np.eye(N, dtype=bool)
    w, rates = synthetic(0, strong=8.0)               # 8 noise sd above its rate class
    p, _ = rate_null_pvalues(w, rates, off)
    assert p[3, 7] < 1e-6                  # measured 2e-8 (seeds 1, 2: 1e-26, 4e-9)
    assert bh_calls(p) >= 1
    assert p[3, 7] == np.nanmin(p)                    # the smallest p of all pairs


def test_directed_weights_and_fallbacks():
    rng = np.random.default_rng(1)
    w, rates = synthetic(2)
    w = w + 0.05 * rng.standard_normal((N, N))        # no longer symmetric
    np.fill_diagonal(w, 0.0)
    off = ~np.eye(N, dtype=bool)
    p, info = rate_null_pvalues(w, rates, off, symmetric=False)
    assert info["pairs"] == N * (N - 1)
    assert np.isfinite(p[off]).all() and not np.allclose(p, p.T)
    # untested pairs stay NaN
    tested = off.copy()
    tested[0] = False
    p2, _ = rate_null_pvalues(w, rates, tested, symmetric=False)
    assert np.isnan(p2[0]).all()
    # too few pairs, or constant weights: None (the estimate's plain null applies)
    small = np.ones((6, 6)) - np.eye(6)
    assert rate_null_pvalues(small, np.ones(6), small > 0)[0] is None
    const = np.ones((N, N))
    p3, info3 = rate_null_pvalues(const, rates, off)
    assert p3 is None and "MAD" in info3["fallback"]


def test_bad_input_errors():
    w, rates = synthetic(0)
    off = ~np.eye(N, dtype=bool)
    with pytest.raises(ValueError, match="rates"):
        rate_null_pvalues(w, rates[:-1], off)
    with pytest.raises(ValueError, match=">= 0 Hz"):
        rate_null_pvalues(w, -rates, off)
    with pytest.raises(ValueError, match="min_rate"):
        rate_null_pvalues(w, rates, off, min_rate=0.0)
    with pytest.raises(ValueError, match="clip"):
        rate_null_pvalues(w, rates, off, clip=0.0)
    with pytest.raises(ValueError, match="iterations"):
        rate_null_pvalues(w, rates, off, iterations=1.5)
    with pytest.raises(ValueError, match="N, N"):
        rate_null_pvalues(w[0], rates, off)
    bad = w.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        rate_null_pvalues(bad, rates, off)
    from spikewire.infer import get_method

    with pytest.raises(ValueError, match="weight_null"):
        get_method("gnn", weight_null="median")
