"""Linear methods on smoothed rates (realism variant (e)): signals are binned like counts."""

import numpy as np
import pytest
from infer_fixtures import lif_motif

import spikewire as sw
from spikewire.infer._signals import BinnedSignals
from spikewire.observe import smooth


def _motif_rates(duration=150.0, seed=1):
    spikes = lif_motif(duration, seed)
    return spikes, smooth(spikes, width=1e-3, sampling_rate=1000.0)


def test_binned_signals_average_samples_into_bins():
    sig = np.arange(12, dtype=float).reshape(2, 6)
    b = BinnedSignals(sig, rate=1000.0, units=np.array([4, 9]))
    np.testing.assert_allclose(b.binned(2e-3, sparse=False), [[0.5, 2.5, 4.5], [6.5, 8.5, 10.5]])
    assert b.n_bins(3e-3) == 2
    np.testing.assert_allclose(b.counts(), sig.sum(1) / 1000.0)
    with pytest.raises(ValueError, match="shorter than one signal sample"):
        b.binned(1e-4)


def test_te_on_smoothed_rates_finds_the_excitatory_link():
    spikes, rates = _motif_rates()
    assert rates.spikes is None and rates.signal_kind == "rate"
    est = sw.infer(rates, "te", bin_width=2e-3)
    assert np.all(np.isfinite(est.weights))
    sig = est.significant()
    # the 0 -> 1 excitatory synapse survives smoothing with a 1 ms kernel and stays positive
    assert sig[1, 0] and est.weights[1, 0] > 0
    # and it is the strongest evidence among the pairs that have no synapse
    no_syn = np.ones((4, 4), bool)
    np.fill_diagonal(no_syn, False)
    no_syn[1, 0] = no_syn[3, 2] = False
    assert est.scores[1, 0] > est.scores[no_syn].max()
    # continuous signals get one lag window (no 25 ms delay scan: the smoothing blurs the
    # timing, and 13 dense lags cost ~19x); the spike trains of the same circuit the scan
    assert est.diagnostics["n_lags"] == 3 and est.diagnostics["n_windows"] == 1
    assert sw.infer(spikes, "te", bin_width=2e-3).diagnostics["n_lags"] == 13


def test_partial_corr_runs_on_rates_without_nan():
    _, rates = _motif_rates(duration=60.0)
    est = sw.infer(rates, "partial_corr", bin_width=2e-3)
    assert np.all(np.isfinite(est.weights))
    assert est.weights[1, 0] > 0


@pytest.mark.parametrize("kwargs", [{}, {"lag": 1}])
def test_partial_corr_on_dense_signals_equals_the_sparse_path(kwargs):
    """Smoothed rates are analysed as a dense array (the demo's smoothed-rate fit 10.4 →
    2.9 s): weights and shift-null p-values equal those of the same signals kept sparse."""
    from spikewire.infer import partial_corr as pc_mod

    rates = smooth(lif_motif(60.0, 1), width=0.01, sampling_rate=1000.0)   # the demo's (e)
    fast = sw.infer(rates, "partial_corr", **kwargs)
    assert fast.diagnostics["dense"] is True
    old = pc_mod.DENSE_SHARE
    try:
        pc_mod.DENSE_SHARE = 1.1                  # never dense: the sparse path
        slow = sw.infer(rates, "partial_corr", **kwargs)
    finally:
        pc_mod.DENSE_SHARE = old
    assert slow.diagnostics["dense"] is False
    np.testing.assert_allclose(fast.weights, slow.weights, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(fast.pvalues, slow.pvalues, rtol=1e-7, atol=1e-13)
