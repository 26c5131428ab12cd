"""Default decision of estimates without p-values: an empirical null of the weights."""

import numpy as np

from spikewire.infer.estimate import Estimate


def _est(w):
    return Estimate(weights=w, method="demo", settings={}, units=np.arange(w.shape[0]))


def test_noise_weights_without_pvalues_are_not_all_called():
    # 80 units of pure noise weights (a learned method on unconnected units): BH at 5 %
    # on calibrated p-values calls nothing in ~95 % of draws; allow a handful. The old
    # fallback |w| > 0 called all 6,320 pairs.
    rng = np.random.default_rng(0)
    w = rng.normal(size=(80, 80))
    np.fill_diagonal(w, 0.0)
    calls = _est(w).significant()
    assert calls.sum() <= 5


def test_planted_outlying_weights_are_called_and_signed():
    rng = np.random.default_rng(1)
    w = rng.normal(scale=0.1, size=(60, 60))
    planted = [(3, 7, 2.0), (10, 2, -2.0), (40, 41, 1.5), (20, 55, -1.5)]
    for i, j, v in planted:
        w[i, j] = v
    np.fill_diagonal(w, 0.0)
    est = _est(w)
    adj = est.adjacency()
    for i, j, v in planted:
        assert adj[i, j] == np.sign(v)
    # z of a planted weight is >= 15 (scale 0.1): BH leaves at most a few noise pairs
    assert (adj != 0).sum() <= len(planted) + 3


def test_sparse_weight_matrix_keeps_nonzero_fallback():
    # a thresholded matrix (MAD 0): the non-zero entries are the decision already made
    w = np.zeros((30, 30))
    w[1, 2], w[5, 9] = 0.3, -0.2
    est = _est(w)
    assert est.weight_null_pvalues() is None
    assert set(zip(*np.nonzero(est.adjacency()), strict=True)) == {(1, 2), (5, 9)}
