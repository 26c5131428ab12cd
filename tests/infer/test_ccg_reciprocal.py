"""Reciprocal links in `ccg` (issue 18): each direction is called with its own sign.

Ground truth is a point process whose links are known exactly: every unit fires as a
Poisson process; an excitatory link j → i adds to i a spike ``delay + U(0, 1 ms)`` after
each spike of j with probability ``w``; an inhibitory link deletes each spike of i that
falls ``delay … delay + 2 ms`` after a spike of j with probability ``q``. Links act on the
units' Poisson ("base") spikes, so a reciprocal pair is exactly the sum of its two one-way
links.
"""

import numpy as np
import pytest
from pair_trains import pair_trains, poisson_train

import spikewire as sw

T = 400.0
RATE = 12.0

# (kind i→j, strength, delay of i→j, kind j→i, strength, delay of j→i); None: no link
PAIRS = [
    ("E", 0.05, 1.5e-3, "E", 0.05, 1.5e-3),    # E–E, equal delays: the two peaks mirror
    ("E", 0.10, 1.5e-3, "E", 0.10, 1.5e-3),
    ("E", 0.20, 1.5e-3, "E", 0.05, 1.5e-3),    # unequal strengths
    ("E", 0.10, 1.5e-3, "E", 0.10, 3.0e-3),    # unequal delays
    ("E", 0.10, 1.5e-3, "I", 0.8, 1.5e-3),     # E–I
    ("E", 0.05, 2.0e-3, "I", 0.6, 1.0e-3),
    ("I", 0.8, 1.5e-3, "I", 0.8, 1.5e-3),      # I–I
    ("I", 0.7, 1.0e-3, "I", 0.9, 2.5e-3),
    ("E", 0.10, 1.5e-3, None, 0.0, 0.0),       # one-way links
    ("I", 0.8, 1.5e-3, None, 0.0, 0.0),
    (None, 0.0, 0.0, None, 0.0, 0.0),          # unconnected pairs
    (None, 0.0, 0.0, None, 0.0, 0.0),
]


def _reciprocal_trains(seed=0):
    """Spike trains of PAIRS (units 2p, 2p + 1) and the signed truth (post × pre)."""
    return pair_trains(PAIRS, RATE, T, seed)


@pytest.fixture(scope="module")
def reciprocal():
    st, truth = _reciprocal_trains()
    return sw.infer(st, "ccg"), truth


def test_reciprocal_pairs_get_both_directions_with_their_signs(reciprocal):
    est, truth = reciprocal
    # Bonferroni over the 552 ordered pairs: every link here is strong enough (the weakest
    # trough removes ~60 % of ~29 coincidences per bin over 2 ms), so every linked
    # direction must be called with its sign; an unlinked pair passes with probability
    # 0.05 / 552, so 528 unlinked pairs give 0.05 false calls on average and two or more
    # with probability < 0.002
    adj = est.adjacency(0.05, "bonferroni")
    linked = truth != 0
    wrong = np.argwhere(linked & (adj != truth))
    assert wrong.size == 0, [(i, j, adj[i, j], truth[i, j]) for i, j in wrong]
    assert np.count_nonzero(adj[~linked]) <= 1


def test_reciprocal_signs_and_delays_per_direction(reciprocal):
    est, truth = reciprocal
    # the sign of the weight follows the link's sign in every linked direction, also at
    # per-pair alpha
    linked = truth != 0
    assert np.all(np.sign(est.weights[linked]) == truth[linked])
    assert np.all(est.adjacency()[linked] == truth[linked])
    # excitatory delays: the peak lies between the delay and the delay + 1 ms spread
    for p, (k1, _, d1, k2, _, d2) in enumerate(PAIRS):
        a, b = 2 * p, 2 * p + 1
        for kind, d, post, pre in ((k1, d1, b, a), (k2, d2, a, b)):
            if kind == "E":
                assert d - 2.5e-4 <= est.delays[post, pre] <= d + 1e-3 + 2.5e-4, (p, kind)


def test_unconnected_and_reverse_of_one_way_links_are_not_called(reciprocal):
    est, truth = reciprocal
    # the reverse directions of the one-way links (pairs 8, 9) and the unconnected pairs
    # (10, 11), at per-pair alpha: the reverse direction of a strong link is a null
    # direction like any other, so it is called at most at rate alpha; here none of them is
    for p in (8, 9):
        assert est.adjacency()[2 * p, 2 * p + 1] == 0
    for p in (10, 11):
        assert est.adjacency()[2 * p, 2 * p + 1] == 0 and est.adjacency()[2 * p + 1, 2 * p] == 0


def test_common_input_synchrony_is_not_called_a_reciprocal_link():
    # two units share a common input that makes both fire within ±1 ms of each other (a
    # peak centred on zero lag, symmetric): neither direction is a link
    rng = np.random.default_rng(11)
    common = poisson_train(rng, 4.0, T)
    trains = []
    for _ in range(2):
        own = poisson_train(rng, RATE, T)
        shared = common[rng.random(common.size) < 0.5]
        trains.append(np.sort(np.r_[own, shared + rng.normal(0, 1e-3, shared.size)]))
    st = sw.SpikeTrains.from_lists(trains, t_stop=T + 0.01)
    est = sw.infer(st, "ccg")
    # a causal-window-only test sees it: the zero-lag peak reaches into the window (the
    # second stage's narrow-vs-flank contrast would drop it again: test the first stage)
    plain = sw.infer(st, "ccg", causal_test=False, prune="none")
    assert plain.significant().all(where=~np.eye(2, dtype=bool))
    assert not est.significant()[~np.eye(2, dtype=bool)].any(), est.pvalues
