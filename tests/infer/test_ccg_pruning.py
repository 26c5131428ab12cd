"""ccg's second stage (``prune="conditional"``): indirect peaks explained away.

Ground truth is a point process whose links are known exactly and, unlike the reciprocal
test's, propagate: an excitatory link j → i adds to i a spike ``delay + U(0, 1 ms)`` after
each spike of j (its own and those added by its inputs) with probability ``w``. A chain
a → b → c then puts a peak into the correlogram of (c, a) at the summed delay, and a
shared input s → x, s → y with unequal delays a peak into (y, x) at their difference:
both are real directed dependence without a link, which the pairwise first stage calls.
"""

import numpy as np
import pytest
from infer_fixtures import poisson_times, propagate
from scipy import stats

import spikewire as sw
from spikewire.infer._pruning import conditional_pvalues

T = 300.0
RATE = 8.0


@pytest.fixture(scope="module")
def network():
    """Units: a=0 → b=1 → c=2 (2 ms, 3 ms); s=3 → x=4 (1 ms), s → y=5 (4 ms); two
    independent units 6, 7. Returns the spike trains and the signed truth (post × pre)."""
    rng = np.random.default_rng(5)
    tr = [poisson_times(rng, RATE, T) for _ in range(8)]
    tr[1] = np.sort(np.r_[tr[1], propagate(rng, tr[0], 0.3, 2e-3, T)])
    tr[2] = np.sort(np.r_[tr[2], propagate(rng, tr[1], 0.3, 3e-3, T)])
    tr[4] = np.sort(np.r_[tr[4], propagate(rng, tr[3], 0.3, 1e-3, T)])
    tr[5] = np.sort(np.r_[tr[5], propagate(rng, tr[3], 0.3, 4e-3, T)])
    truth = np.zeros((8, 8), dtype=int)
    for post, pre in ((1, 0), (2, 1), (4, 3), (5, 3)):
        truth[post, pre] = 1
    return sw.SpikeTrains.from_lists(tr, t_stop=T), truth


def test_first_stage_calls_the_indirect_pairs(network):
    st, truth = network
    est = sw.infer(st, "ccg", prune="none")
    adj = est.adjacency()
    # the chain a → c (expected excess ≈ 0.09 transmission, ~190 coincidences over a
    # baseline of ~20 per ms) and the shared input x → y (lag 3 ms) are directed peaks
    assert adj[2, 0] == 1 and adj[5, 4] == 1
    assert np.all(adj[truth != 0] == 1)


def test_second_stage_drops_indirect_pairs_and_keeps_links(network):
    st, truth = network
    first = sw.infer(st, "ccg", prune="none")
    est = sw.infer(st, "ccg", prune="conditional")
    adj = est.adjacency()
    assert adj[2, 0] == 0 and adj[5, 4] == 0, est.diagnostics["prune_pvalues"]
    # every true link survives, with its sign, delay and first-stage weight
    linked = truth != 0
    assert np.all(adj[linked] == 1)
    np.testing.assert_array_equal(est.delays, first.delays)
    np.testing.assert_array_equal(est.weights, first.weights)
    # no other pair is called, and the pruned pairs' p-values are the second stage's
    assert not np.any(adj[~linked])
    p2 = est.diagnostics["prune_pvalues"]
    assert est.pvalues[2, 0] == pytest.approx(max(first.pvalues[2, 0], p2[2, 0]))
    # conditioned on b (s), the chain (shared-input) peak is left with chance-level
    # deviations, against < 1e-40 for every true link
    assert p2[2, 0] > 1e-3 and p2[5, 4] > 1e-3
    assert np.all(p2[linked] < 1e-40)
    # only first-stage calls are re-tested; the rest keep their p-values
    cand = first.adjacency() != 0
    assert np.all(np.isfinite(p2[cand])) and np.all(np.isnan(p2[~cand]))
    np.testing.assert_array_equal(est.pvalues[~cand], first.pvalues[~cand])


def test_window_prune_keeps_links_and_first_stage_pvalues_elsewhere(network):
    st, truth = network
    first = sw.infer(st, "ccg", prune="none")
    est = sw.infer(st, "ccg")                      # prune="window" is the default
    assert est.settings["prune"] == "window"
    cand = first.adjacency() != 0
    p2 = est.diagnostics["prune_pvalues"]
    assert np.all(np.isfinite(p2[cand])) and np.all(np.isnan(p2[~cand]))
    # pairs not called keep their p-values; called pairs either keep theirs (survivors of
    # BH over the called pairs' window tests) or get the larger of the two stages'
    np.testing.assert_array_equal(est.pvalues[~cand], first.pvalues[~cand])
    same = est.pvalues[cand] == first.pvalues[cand]
    raised = est.pvalues[cand] == np.fmax(first.pvalues[cand], p2[cand])
    assert np.all(same | raised)
    # the window test of a sharp monosynaptic peak is strong: every link survives
    assert np.all(est.adjacency()[truth != 0] == 1)
    np.testing.assert_array_equal(est.weights, first.weights)


def test_conditional_pvalues_are_uniform_for_independent_trains():
    # 16 independent Poisson units, every ordered pair forced to be a candidate with a
    # 3 ms delay: no unit depends on any other, so each one-sided Wald p-value is uniform
    # (asymptotically: ~1,500 spikes per unit put ~45 pre spikes in each narrow bin)
    rng = np.random.default_rng(2)
    n, T0 = 16, 200.0
    trains = [np.sort(rng.uniform(0, T0, rng.poisson(8.0 * T0))) for _ in range(n)]
    st = sw.SpikeTrains.from_lists(trains, t_stop=T0)
    cand = ~np.eye(n, dtype=bool)
    exc = rng.random((n, n)) < 0.5
    p = conditional_pvalues(np.asarray(st.grouped_times), np.asarray(st.indptr), 0.0, T0,
                            5e-4, cand, np.full((n, n), 3e-3), exc, 2, 10)[cand]
    # 240 p-values: the KS distance of a uniform sample exceeds 0.105 with probability
    # ~0.01, and the count below 0.05 (mean 12, sd 3.4) lies in [3, 24] with prob > 0.99
    assert stats.kstest(p, "uniform").statistic < 0.105
    assert 3 <= np.sum(p < 0.05) <= 24


def test_prune_setting_is_validated():
    with pytest.raises(ValueError, match="prune"):
        sw.infer(sw.SpikeTrains.from_lists([np.arange(50) * 0.1] * 2, t_stop=6.0), "ccg",
                 prune="glm")
    with pytest.raises(ValueError, match="flank"):
        conditional_pvalues(np.zeros(0), np.zeros(2, dtype=np.int64), 0.0, 1.0, 1e-3,
                            np.zeros((1, 1), bool), np.zeros((1, 1)), np.zeros((1, 1), bool),
                            2, 2)
