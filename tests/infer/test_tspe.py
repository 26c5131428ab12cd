"""TSPE: exact agreement with elephant, links and delays, calibration, bad input."""

import logging

import neo
import numpy as np
import pytest
import quantities as pq
from elephant.conversion import BinnedSpikeTrain
from elephant.functional_connectivity import total_spiking_probability_edges
from infer_fixtures import independent, lif_motif

import spikewire as sw
from spikewire.infer.tspe import edge_filter, tspe_filter_matrix


def test_filter_bank_is_zero_sum_and_matches_the_paper():
    g = edge_filter(3, 2, 1)
    np.testing.assert_allclose(g, [-1 / 3] * 3 + [0] + [1, 1] + [0] + [-1 / 3] * 3)
    W, P = tspe_filter_matrix(25, (3, 4, 5, 6, 7, 8), (2, 3, 4, 5, 6), (0,))
    assert P == 8 and W.shape == (25, 41)
    # every edge filter sums to 0, so a flat correlogram gives TSPE 0 at every delay
    np.testing.assert_allclose(W.sum(axis=1), 0.0, atol=1e-12)


def test_matches_elephant_on_a_small_network():
    logging.disable(logging.WARNING)  # elephant logs one line per rounding correction
    net = sw.networks.brunel(n_neurons=60, epsilon=0.1, g=5.0, eta=2.0, J=1.0, delay=3e-3,
                             seed=1)
    st = sw.simulate(net, 20.0, seed=2)
    # elephant's settings: 25 delays of 1 ms (spikewire's default scans 30 ms)
    est = sw.infer(st, "tspe", min_spikes=1, max_delay=0.025, ranking="tspe")
    trains = [neo.SpikeTrain(st.train(k) * pq.s, t_start=0 * pq.s, t_stop=st.t_stop * pq.s)
              for k in range(st.n_units)]
    C, D = total_spiking_probability_edges(BinnedSpikeTrain(trains, bin_size=1 * pq.ms))
    off = ~np.eye(st.n_units, dtype=bool)
    # the same arithmetic in another order: equal to floating-point rounding (the largest
    # |TSPE| is ~10, double precision gives ~1e-15 relative error per operation)
    np.testing.assert_allclose(est.weights[off], C[off], rtol=0, atol=1e-10 * np.abs(C).max())
    # delays: identical argmax except where two delays tie to rounding
    assert np.mean(est.delays[off] == D[off] * 1e-3) > 0.999
    np.testing.assert_allclose(est.scores[off], np.abs(C[off]), atol=1e-10 * np.abs(C).max())
    # the standardised ranking changes the scores only
    dflt = sw.infer(st, "tspe", min_spikes=1, max_delay=0.025, ranking="z")
    np.testing.assert_array_equal(dflt.weights, est.weights)
    np.testing.assert_array_equal(dflt.scores, dflt.diagnostics["max_abs_z"])


def test_motif_links_signs_and_delays():
    st = lif_motif(duration=150.0)
    est = sw.infer(st, "tspe", correction="bonferroni")
    adj = est.adjacency()
    assert adj[1, 0] == 1 and adj[3, 2] == -1
    # 1.5 ms delay plus the PSP rise: the peak / trough lies 1–4 ms after the pre spike
    assert 1e-3 <= est.delays[1, 0] <= 4e-3 and 1e-3 <= est.delays[3, 2] <= 4e-3
    # the two links rank above every other pair except their reverses: a peak at negative
    # lags sits under the edge filter's surround at delays near 0 and gives the reverse pair
    # a negative TSPE (a property of the method, elephant's too)
    others = np.ones((4, 4), bool)
    np.fill_diagonal(others, False)
    others[1, 0] = others[3, 2] = others[0, 1] = others[2, 3] = False
    assert min(est.scores[1, 0], est.scores[3, 2]) > est.scores[others].max()
    assert est.weights[0, 1] < 0


def test_false_positive_rate_on_independent_poisson_trains():
    st = independent(n=40, T=200.0, rate=10.0, seed=11)
    est = sw.infer(st, "tspe", correction="none")
    tested = est.pair_status == 0
    rate = est.significant(0.05)[tested].mean()
    # 1,560 pairs at α = 0.05: binomial sd 0.0055, so [0.5α, 1.5α] = α ± 4.5 sd (pairs
    # sharing a unit are weakly dependent, which widens the sd a little)
    assert 0.025 <= rate <= 0.075


def test_bad_input():
    st = independent(n=3, T=20.0, rate=10.0)
    rec = sw.Recording.from_spikes(st).with_step({"step": "quantize"}, sampling_rate=500.0)
    with pytest.raises(ValueError, match="time resolution"):
        sw.infer(rec, "tspe", bin_width=1e-3)
    with pytest.raises(ValueError, match="observed_window_sizes"):
        sw.infer(st, "tspe", observed_window_sizes=())
    with pytest.raises(ValueError, match="max_delay"):
        sw.infer(st, "tspe", max_delay=1e-3)
    with pytest.raises(ValueError, match="correction"):
        sw.infer(st, "tspe", correction="holm")


def test_default_level_is_efrons_lfdr_level_only_where_the_local_fdr_applies():
    from spikewire.infer.fdr import LFDR_LEVEL, MIN_TESTS_LFDR

    big = independent(n=40, T=200.0, rate=10.0, seed=11)      # 1,560 tested pairs
    est = sw.infer(big, "tspe")
    assert (est.pair_status == 0).sum() >= MIN_TESTS_LFDR
    assert est.correction == "lfdr" and est.alpha == LFDR_LEVEL
    # on unlinked trains the local FDR at 0.2 still calls almost nothing: its cap
    # (lfdr <= m·pi0·p0) makes a call need Bonferroni-like evidence; 0.5 % of 1,560 pairs
    # is 8, far above the ~0.07 calls per run measured on pure-null mixtures (calgap.md)
    assert est.significant().sum() <= 0.005 * (est.pair_status == 0).sum()
    small = independent(n=20, T=100.0, rate=10.0, seed=3)     # 380 pairs: BH fallback
    assert sw.infer(small, "tspe").alpha == 0.05
    assert sw.infer(big, "tspe", correction="bh").alpha == 0.05
    assert sw.infer(big, "tspe", alpha=0.01).alpha == 0.01
