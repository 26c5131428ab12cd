"""Dale's law imposed on an estimate's calls (labels.withdraw_against_dale), glmcc's
option ``dale``, and labels voted on the settled decision (base.fit)."""

import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.stats import norm

import spikewire as sw
from spikewire.infer.base import InferenceMethod, check_null
from spikewire.infer.estimate import Estimate
from spikewire.infer.labels import label_cell_types, withdraw_against_dale
from spikewire.observe.subsample import subsample


def _toy(p, w, correction="bh", alpha=0.05):
    return Estimate(weights=w, method="toy", settings={}, units=np.arange(w.shape[0]),
                    pvalues=p, correction=correction, alpha=alpha)


def test_minority_sign_withdrawn_tie_and_majority_kept():
    # pre 0: three E calls and one I call -> the I call goes; pre 1: a 1-1 tie -> nothing
    # goes; pre 2: one I call -> kept; pre 3, 4: no calls
    n = 5
    p = np.full((n, n), 0.9)
    np.fill_diagonal(p, np.nan)
    w = np.zeros((n, n))
    for post, sign in ((1, 1), (2, 1), (3, 1), (4, -1)):
        p[post, 0], w[post, 0] = 1e-8, 0.5 * sign
    for post, sign in ((2, 1), (3, -1)):
        p[post, 1], w[post, 1] = 1e-8, 0.5 * sign
    p[0, 2], w[0, 2] = 1e-8, -0.5
    est = withdraw_against_dale(_toy(p, w))
    adj = est.adjacency()
    assert adj[4, 0] == 0 and adj[1:4, 0].tolist() == [1, 1, 1]
    assert adj[2, 1] == 1 and adj[3, 1] == -1
    assert adj[0, 2] == -1
    assert est.pvalues[4, 0] == 1.0
    assert est.diagnostics["dale"] == {"n_withdrawn_called": 1, "n_lost_otherwise": 0,
                                       "n_held_back": 0, "n_units_mixed": 2}
    # the labels are the vote before the withdrawal: 3 E against 1 I
    assert est.cell_type[0] == "E"
    assert np.isclose(est.cell_type_confidence[0], stats.beta.sf(0.5, 4, 2))
    assert est.cell_type[2] == "I" and est.cell_type[3] == "?"


def test_nothing_is_added_under_a_refitted_empirical_null():
    # 40 units, unconnected pairs z ~ N(3, 1) (a shifted null: check_null switches to
    # the local FDR), 40 E links z ~ N(6, 1) and, in the columns of those links, 20
    # wrong-sign calls (z ~ N(6, 1) with a negative weight). The empirical null is
    # re-fitted after the withdrawal; the pairs it would newly call are held back.
    rng = np.random.default_rng(4)
    n = 40
    z = rng.normal(3.0, 1.0, (n, n))
    w = np.full((n, n), 0.01)
    pre = rng.choice(n, 8, replace=False)
    for j in pre:
        posts = rng.choice(np.setdiff1d(np.arange(n), [j]), 8, replace=False)
        z[posts[:5], j] = rng.normal(6.0, 1.0, 5)
        w[posts[:5], j] = 1.0
        z[posts[5:7], j] = rng.normal(6.0, 1.0, 2)
        w[posts[5:7], j] = -1.0
    p = norm.sf(z)
    np.fill_diagonal(p, np.nan)
    np.fill_diagonal(w, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = check_null(_toy(p, w))
        assert est.correction == "lfdr"
        before = est.adjacency() != 0
        est = withdraw_against_dale(est)
        after = est.adjacency() != 0
    assert not (after & ~before).any()
    lost = before & ~after
    d = est.diagnostics["dale"]
    assert d["n_withdrawn_called"] > 0
    assert d["n_withdrawn_called"] + d["n_lost_otherwise"] == int(lost.sum())
    # every column with a strict majority keeps one sign; the minority calls went
    a0, a1 = np.sign(w) * before, np.sign(w) * after
    pos, neg = (a0 > 0).sum(axis=0), (a0 < 0).sum(axis=0)
    strict = pos != neg
    assert d["n_withdrawn_called"] == int(np.minimum(pos, neg)[strict].sum())
    assert not ((a1[:, strict] > 0).any(axis=0) & (a1[:, strict] < 0).any(axis=0)).any()


def test_no_pvalues_refused():
    est = Estimate(weights=np.eye(3)[::-1], method="toy", settings={}, units=np.arange(3))
    with pytest.raises(ValueError, match="p-values"):
        withdraw_against_dale(est)


def test_glmcc_dale_only_removes_calls_and_leaves_one_sign_per_unit():
    # 60 of 1,000 Brunel neurons, 60 s: with the 2 ms exponential synchrony term alone
    # (the default until its population template) glmcc calls units with both signs here
    # (its inhibitory signs are poor on this fast synchronous network)
    net = sw.networks.brunel(1000, epsilon=0.1, g=5.0, eta=0.6, J=2.0, seed=3)
    rec = subsample(sw.simulate(net, 60.0, seed=1), count=60, network=net, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        free = sw.infer(rec, "glmcc", sync_tau=0.002)
        dale = sw.infer(rec, "glmcc", sync_tau=0.002, dale=True)
    a0, a1 = free.adjacency(), dale.adjacency()
    lost = (a0 != 0) & (a1 == 0)
    d = dale.diagnostics["dale"]
    assert d["n_withdrawn_called"] >= 5
    assert d["n_withdrawn_called"] + d["n_lost_otherwise"] == int(lost.sum())
    assert not ((a1 != 0) & (a0 == 0)).any()
    assert np.array_equal(a1[a1 != 0], a0[a1 != 0])
    n_minority = 0
    for j in range(a1.shape[1]):
        pos, neg = int((a0[:, j] > 0).sum()), int((a0[:, j] < 0).sum())
        if pos != neg:
            # a strict majority leaves only its own sign
            lab = 1 if pos > neg else -1
            assert np.all(np.sign(a1[a1[:, j] != 0, j]) == lab)
            n_minority += min(pos, neg)
    assert d["n_withdrawn_called"] == n_minority
    # the weights and delays of the fit are untouched, the raw p-values kept
    assert np.array_equal(free.weights, dale.weights)
    assert np.array_equal(free.pvalues, dale.diagnostics["pvalues_before_dale"],
                          equal_nan=True)


def test_labels_are_voted_on_the_settled_decision():
    # a shifted null (fast shared input): check_null switches the decision to the local
    # FDR after the estimate (and its first vote) was built; the labels follow the calls
    # the estimate finally makes
    rng = np.random.default_rng(0)
    n = 40
    z = rng.normal(3.0, 1.0, (n, n))
    w = np.where(rng.random((n, n)) < 0.5, 1.0, -1.0)
    links = rng.random((n, n)) < 0.03
    z[links] = rng.normal(7.0, 1.0, links.sum())
    p = norm.sf(z)
    np.fill_diagonal(p, np.nan)
    np.fill_diagonal(w, 0.0)

    class Toy(InferenceMethod):
        name = "toy_relabel"

        def _fit(self, ctx):
            m = ctx.n
            return ctx.estimate(self, weights=w[:m, :m], pvalues=p[:m, :m])

    st = sw.SpikeTrains.from_lists([np.arange(1, 40) * 0.1 + 0.001 * k for k in range(n)],
                                   t_stop=5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = Toy().fit(st)
    assert est.correction == "lfdr"
    first = label_cell_types(np.sign(w) * (np.nan_to_num(p, nan=1.0) < 0.05), w)[0]
    final = label_cell_types(est.adjacency(), weights=est.weights)[0]
    assert not np.array_equal(first, final)
    assert np.array_equal(est.cell_type, final)
