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
weights) calls the pairs of high-rate units. At 20 units (190 pairs) the noisy fitted scale
makes the robust z heavier-tailed than normal: the default reference (a Student t calibrated
by simulating the rule on normal noise) is checked against the normal one there, and a
skewed noise (two-piece normal) checks ``split_scale`` (benchmarks/results/gnn20.md).
"""

import numpy as np
import pytest
from scipy import stats

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
        assert info["rule"] == "rates" and info["pairs"] == iu[0].size
        np.testing.assert_array_equal(p, p.T)
        assert np.all(np.isnan(np.diag(p)))
        rates05.append(np.mean(p[iu] < 0.05))
        calls += bh_calls(p)
        # the plain weight null calls the high-rate pairs (the failure this rule fixes;
        # measured 21–51 calls per seed)
        assert bh_calls(plain(w)) > 10
    # 5 × 780 pairs: binomial sd of the pooled rate √(0.05·0.95/3900) = 0.0035; the fitted
    # location and scale and the shared units widen it, so ±4 sd (0.036–0.064).
    # Measured 0.044 (per seed 0.036–0.051; gnnnull's normal reference: 0.048).
    assert abs(np.mean(rates05) - 0.05) < 4 * np.sqrt(0.05 * 0.95 / 3900)
    # BH at 5 % on unconnected pairs: at most a few calls in 5 fits (BH at 5 % makes a
    # false call in about 5 % of null fits; measured 0 calls in 5 fits, gnnnull's normal
    # reference 1)
    assert calls <= 2


def test_a_strong_planted_link_is_called():
    off = ~np.eye(N, dtype=bool)
    w, rates = synthetic(0, strong=8.0)               # 8 noise sd above its rate class
    p, _ = rate_null_pvalues(w, rates, off)
    # far below BH's threshold for a single call among 780 pairs (0.05 / 780 = 6e-5):
    # measured 7e-7 (seeds 1–3: 6e-15, 7e-7, 4e-7); the normal reference, gnnnull's
    # rule, gives 2e-8 (its tail is too light on 780 pairs, gnn20.md)
    assert p[3, 7] < 1e-5
    assert bh_calls(p) >= 1
    assert p[3, 7] == np.nanmin(p)                    # the smallest p of all pairs


def test_a_few_planted_links_are_called_at_20_units():
    # three links 8 noise sd above / below their rate class among 190 pairs, 6 draws:
    # BH at 5 % (what adjacency() does) calls most of them and few others. Measured 17 of
    # 18 called (one link at the rates' edge, where the fits absorb part of it, p = 0.06),
    # 0 false calls.
    from spikewire.infer.estimate import adjust_pvalues

    n = 20
    off = ~np.eye(n, dtype=bool)
    links = [(0, 5), (3, 11), (8, 17)]
    called = false = 0
    for seed in range(6):
        w, rates = synthetic_n(n, seed)
        s = np.log(rates)[:, None] + np.log(rates)[None, :]
        sd = 0.3 * np.exp(0.15 * s)
        truth = np.zeros((n, n), dtype=bool)
        for k, (i, j) in enumerate(links):
            w[i, j] += (8.0 if k % 2 == 0 else -8.0) * sd[i, j]
            w[j, i] = w[i, j]
            truth[i, j] = truth[j, i] = True
        p, _ = rate_null_pvalues(w, rates, off)
        call = (adjust_pvalues(np.where(off, p, np.nan), "bh") < 0.05) & off
        called += int(np.sum(call & truth)) // 2
        false += int(np.sum(call & ~truth)) // 2
    assert called >= 15
    # BH at 5 % on ~187 null pairs per draw: a false call in about 5 % of draws
    assert false <= 2


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
    with pytest.raises(ValueError, match="reference"):
        rate_null_pvalues(w, rates, off, reference="rank")
    with pytest.raises(ValueError, match="n_sim"):
        rate_null_pvalues(w, rates, off, n_sim=0)
    with pytest.raises(ValueError, match="N, N"):
        rate_null_pvalues(w[0], rates, off)
    bad = w.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        rate_null_pvalues(bad, rates, off)
    from spikewire.infer import get_method

    with pytest.raises(ValueError, match="weight_null"):
        get_method("gnn", weight_null="median")


def synthetic_n(n: int, seed: int, skew: float = 1.0):
    """The module's law at ``n`` units (``synthetic`` is the 40-unit case); ``skew`` > 1
    stretches the noise's negative side (a two-piece normal: a skewed null)."""
    rng = np.random.default_rng(seed)
    rates = np.exp(rng.uniform(np.log(0.1), np.log(20.0), n))
    s = np.log(rates)[:, None] + np.log(rates)[None, :]
    eps = rng.standard_normal((n, n))
    eps = np.where(eps < 0, skew * eps, eps)
    eps = np.triu(eps, 1) + np.triu(eps, 1).T
    w = 0.02 * (s + 4.6) ** 3 + 0.3 * np.exp(0.15 * s) * eps
    np.fill_diagonal(w, 0.0)
    return w, rates


def test_t_reference_is_calibrated_at_20_units_where_the_normal_is_not():
    # 20 units: 190 pairs for a 10-column location and a 10-column log-scale fit. The
    # noisy fitted scale makes the robust z a scale mixture: with the normal reference
    # 2.0 % of pure-noise pairs fall below 0.01 (benchmarks/results/gnn20.md, 200 draws:
    # 0.064 at 0.05, 0.020 at 0.01); the simulation-calibrated t gives 0.051 / 0.011.
    n, draws = 20, 40
    iu = np.triu_indices(n, 1)
    off = ~np.eye(n, dtype=bool)
    got = {"t": [], "normal": []}
    dfs = []
    for seed in range(draws):
        w, rates = synthetic_n(n, seed)
        pt, info = rate_null_pvalues(w, rates, off)
        pn, info_n = rate_null_pvalues(w, rates, off, reference="normal")
        assert info["reference"] == "t" and info_n["reference"] == "normal"
        assert not info["split_scale"] and not info_n["split_scale"]      # the default
        assert "df" not in info_n
        dfs.append(info["df"])
        got["t"].append(pt[iu])
        got["normal"].append(pn[iu])
        # the same robust z read from two references: the same order of the pairs, and
        # the heavier t tail gives larger p wherever the normal p is below 0.5 (both are
        # scaled to the same median |z|, where p = 0.5)
        order = np.argsort(pn[iu], kind="stable")
        assert np.all(np.diff(pt[iu][order]) >= -1e-12)
        tail = pn[iu] < 0.5
        assert np.all(pt[iu][tail] >= pn[iu][tail])
    t = np.concatenate(got["t"])
    nr = np.concatenate(got["normal"])
    # uniform within sampling error: KS below the one-sample 1 % critical value
    # 1.63/√7600 = 0.019 (measured 0.008; the normal reference 0.018)
    assert stats.kstest(t, "uniform").statistic < 1.63 / np.sqrt(t.size)
    # 40 × 190 = 7600 pairs; the per-draw sd of the rate is 1.45× binomial (the fitted
    # location and scale; measured over 200 draws), so sd of the pooled rate at 0.05 is
    # 1.45·√(0.05·0.95/7600) = 0.0036 and at 0.01 1.3·√(0.01·0.99/7600) = 0.0015; ±4 sd.
    assert abs(np.mean(t < 0.05) - 0.05) < 4 * 0.0036        # measured 0.049
    assert abs(np.mean(t < 0.01) - 0.01) < 4 * 0.0015        # measured 0.0096
    # the normal reference's excess at 0.01: more than 4 sd above α (measured 0.018)
    assert np.mean(nr < 0.01) > 0.01 + 4 * 0.0015
    # the calibrated df of 190 pairs: a clearly heavy tail (measured median 14; 200
    # draws: 11–20)
    assert 5 < np.median(dfs) < 40


def test_split_scale_calibrates_a_skewed_null():
    # noise whose negative side is 1.4× wider (what the co-modulated family's weights look
    # like: gnn20.md): one MAD for both sides puts too many of the wide side's pairs
    # below α; a half-MAD per side does not. 40 units, 10 draws: 7800 pairs, sd of the
    # pooled rate at 0.05 ≈ 1.5·√(0.05·0.95/7800) = 0.0037 (the per-draw sd is 1.5×
    # binomial, gnn20.md); ±4 sd. Measured on these 10 draws: split 0.041, one MAD 0.054
    # (over 100 draws, before the df's 0.1 % match: 0.049 and 0.060).
    n, draws = 40, 10
    iu = np.triu_indices(n, 1)
    off = ~np.eye(n, dtype=bool)
    split, one = [], []
    for seed in range(draws):
        w, rates = synthetic_n(n, seed, skew=1.4)
        split.append(rate_null_pvalues(w, rates, off, split_scale=True)[0][iu])
        one.append(rate_null_pvalues(w, rates, off)[0][iu])
    split, one = np.concatenate(split), np.concatenate(one)
    assert abs(np.mean(split < 0.05) - 0.05) < 4 * 0.0037
    assert np.mean(one < 0.05) > np.mean(split < 0.05) + 0.005


def test_t_reference_approaches_the_normal_with_more_pairs():
    off20, off40 = ~np.eye(20, dtype=bool), ~np.eye(40, dtype=bool)
    df20 = [rate_null_pvalues(*synthetic_n(20, s), off20)[1]["df"] for s in range(4)]
    df40 = [rate_null_pvalues(*synthetic_n(40, s), off40)[1]["df"] for s in range(4)]
    # measured 13–20 and 38–54 (200 draws: 11–20 and 29–118)
    assert max(df20) < min(df40)
    # the calibration's noise draws are seeded: the same p-values twice, another seed
    # changes them only through the df
    w, rates = synthetic_n(20, 0)
    p1, i1 = rate_null_pvalues(w, rates, off20)
    p2, _ = rate_null_pvalues(w, rates, off20)
    np.testing.assert_array_equal(p1, p2)
    p3, i3 = rate_null_pvalues(w, rates, off20, seed=5, n_sim=50)
    assert i3["n_sim"] == 50 and i1["n_sim"] == 106           # ⌈20 000 / 190⌉
    assert abs(np.log(i3["df"] / i1["df"])) < 0.5
