"""gnn's per-pair test on unconnected units: ``pair_test="centred"`` and
:func:`~spikewire.infer.gnn.centred_weight_pvalues` (benchmarks/results/learnednull.md)."""

import numpy as np
import pytest
from scipy import stats

from spikewire.infer.estimate import Estimate
from spikewire.infer.gnn import centred_weight_pvalues


def _unit_effects_plus_noise(n, seed, effect_sd=3.0, symmetric=True):
    """w_ij = a_i + a_j + e_ij: unit effects (uniform, as rates are) 3× the pair noise."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-effect_sd * np.sqrt(3), effect_sd * np.sqrt(3), n)
    e = rng.normal(size=(n, n))
    if symmetric:
        e = (e + e.T) / np.sqrt(2)
    w = a[:, None] + a[None, :] + e
    np.fill_diagonal(w, 0.0)
    return w


def test_centred_pvalues_are_uniform_under_unit_effects():
    # 40 units, 780 unordered pairs of Gaussian pair noise under unit effects of 3× its sd.
    # Double centring leaves e_ij − ē_i· − ē_·j + ē (correlations O(1/n)); the MAD scale
    # is estimated, which makes the KS distance smaller than with a known scale, so the
    # 1 % critical value of the one-sample KS test, 1.63/√780 = 0.058, is a safe bound.
    n = 40
    iu = np.triu_indices(n, 1)
    for seed in range(3):
        w = _unit_effects_plus_noise(n, seed)
        p = centred_weight_pvalues(w, ~np.eye(n, dtype=bool))
        assert np.all(np.diag(p) == 1.0)
        assert stats.kstest(p[iu], "uniform").statistic < 1.63 / np.sqrt(iu[0].size)
        # the rate at α = 0.05: 39 expected of 780 (sd 6); [0.025, 0.075] is ±3 sd
        assert 0.025 <= np.mean(p[iu] < 0.05) <= 0.075


def test_a_unit_with_large_weights_is_not_a_connection_but_a_planted_pair_is():
    n = 40
    w = _unit_effects_plus_noise(n, 5, effect_sd=0.3)
    w[0, 1:] += 10.0                     # unit 0: all its weights large (e.g. a high rate)
    w[1:, 0] += 10.0
    w[3, 7] += 8.0                       # one connection, 8 sd of the pair noise
    w[7, 3] += 8.0
    tested = ~np.eye(n, dtype=bool)
    p = centred_weight_pvalues(w, tested)
    est = Estimate(weights=w, method="demo", settings={}, units=np.arange(n), pvalues=p)
    calls = est.significant()            # BH at 5 % (the estimate's default)
    assert calls[3, 7] and calls[7, 3]
    assert not calls[0].any() and not calls[:, 0].any()
    assert calls.sum() <= 2 + 4          # the planted pair, and at most a few noise pairs
    # the uncentred null calls unit 0's 78 pairs
    raw = Estimate(weights=w, method="demo", settings={}, units=np.arange(n))
    assert raw.significant()[0].sum() + raw.significant()[:, 0].sum() >= 70


def test_centred_pvalues_untested_pairs_and_bad_input():
    n = 30
    w = _unit_effects_plus_noise(n, 2, symmetric=False)
    tested = ~np.eye(n, dtype=bool)
    tested[4, :] = False                  # unit 4's incoming pairs not tested
    w_moved = w.copy()
    w_moved[4, :] = 1e6                   # untested weights must not move the others
    p = centred_weight_pvalues(w, tested)
    assert np.all(p[4] == 1.0) and np.all(np.isfinite(p))
    np.testing.assert_allclose(centred_weight_pvalues(w_moved, tested), p)
    # the p-values do not depend on the weights' scale or sign (gnn's are arbitrary)
    np.testing.assert_allclose(centred_weight_pvalues(-2.5 * w, tested), p)
    # too few tested pairs, or no spread: nothing to test against
    few = np.zeros((n, n), dtype=bool)
    few[0, 1:6] = True
    assert np.all(centred_weight_pvalues(w, few) == 1.0)
    assert np.all(centred_weight_pvalues(np.ones((n, n)), tested) == 1.0)
    with pytest.raises(ValueError, match="square weights"):
        centred_weight_pvalues(np.zeros((3, 4)), np.ones((3, 4), dtype=bool))
