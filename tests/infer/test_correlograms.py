"""The one correlogram module (issue 11): the public functions against brute force."""

from __future__ import annotations

import numpy as np
import pytest

import spikewire as sw
from spikewire.infer import ccg as ccg_module
from spikewire.infer import correlograms


def brute_force(pre, post, bw, kmax):
    """Every difference post − pre, put in the bin of the nearest centre k·bw (ties away
    from zero, the module's convention)."""
    d = (np.asarray(post)[:, None] - np.asarray(pre)[None, :]).ravel()
    k = np.sign(d) * np.floor(np.abs(d) / bw + 0.5)
    k = k[np.abs(k) <= kmax].astype(int)
    return np.bincount(k + kmax, minlength=2 * kmax + 1)


def test_pair_correlogram_equals_brute_force():
    rng = np.random.default_rng(4)
    pre = np.sort(rng.uniform(0, 20, 300))
    post = np.sort(np.concatenate([rng.uniform(0, 20, 250), pre[::3] + 2.2e-3]))
    lags, counts = correlograms.pair_correlogram(pre, post, bin_width=5e-4, max_lag=0.01)
    np.testing.assert_allclose(lags, np.arange(-20, 21) * 5e-4)
    np.testing.assert_array_equal(counts, brute_force(pre, post, 5e-4, 20))
    assert counts[20 + 4] >= 100        # the 2.2 ms peak lands in the 2.0 ms bin (k = 4)


def test_pair_correlogram_agrees_with_all_pairs_and_empty_trains():
    rng = np.random.default_rng(5)
    trains = [np.sort(rng.uniform(0, 10, 200)) for _ in range(3)]
    st = sw.SpikeTrains.from_lists(trains, t_stop=10.0)
    full, lags = correlograms.cross_correlograms(st, 1e-3, 0.015)
    lags2, c = correlograms.pair_correlogram(trains[2], trains[0], 1e-3, 0.015)
    np.testing.assert_array_equal(lags, lags2)
    np.testing.assert_array_equal(full[0, 2], c)        # post 0, pre 2
    _, empty = correlograms.pair_correlogram([], trains[0], 1e-3, 0.015)
    assert empty.shape == lags.shape and not empty.any()


def test_one_module_behind_the_old_names():
    assert ccg_module.cross_correlograms is correlograms.cross_correlograms
    assert ccg_module.numba_threads is correlograms.numba_threads
    with pytest.raises(ValueError, match="bin_width must be > 0"):
        correlograms.pair_correlogram([0.1], [0.2], bin_width=0.0)
