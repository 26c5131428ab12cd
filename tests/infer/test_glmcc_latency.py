"""glmcc's ``delay_range``: a call whose fitted delay no direct link can have is withdrawn.

Ground truth is a point process whose links propagate (as tests/infer/test_ccg_pruning.py):
an excitatory link j → i adds to i a spike ``delay + U(0, 1 ms)`` after each spike of j
(its own and those its inputs added) with probability ``w``. The chain a → b → c (2 ms,
3 ms) puts a peak into the correlogram of (c, a) at 5–7 ms, which glmcc calls as a link;
with the prior that direct links act within 1–4 ms it is withdrawn and the links stay.
"""

import numpy as np
import pytest
from infer_fixtures import poisson_times, propagate

import spikewire as sw
from spikewire.infer._latency import check_delay_range, restrict_delays
from spikewire.infer.glmcc import GLMCC

T = 300.0
RATE = 8.0


@pytest.fixture(scope="module")
def chain():
    """a=0 → b=1 (2 ms) → c=2 (3 ms), two independent units 3, 4; glmcc at its defaults
    and with ``delay_range=(1 ms, 4 ms)``."""
    rng = np.random.default_rng(7)
    tr = [poisson_times(rng, RATE, T) for _ in range(5)]
    tr[1] = np.sort(np.r_[tr[1], propagate(rng, tr[0], 0.3, 2e-3, T)])
    tr[2] = np.sort(np.r_[tr[2], propagate(rng, tr[1], 0.3, 3e-3, T)])
    st = sw.SpikeTrains.from_lists(tr, t_stop=T)
    return sw.infer(st, "glmcc"), sw.infer(st, "glmcc", delay_range=(0.001, 0.004))


def test_chain_is_called_at_its_summed_delay_by_default(chain):
    est, _ = chain
    adj = est.adjacency()
    assert adj[1, 0] == 1 and adj[2, 1] == 1
    # the chain's peak (expected excess 0.3 · 0.3 = 0.09 transmissions per spike of a,
    # ~200 coincidences over a baseline of ~20 per ms) is called, at 5–6 ms (the summed
    # delays; the grid has 5 and 6 ms), the links at their own delays
    assert adj[2, 0] == 1
    assert 0.005 - 1e-9 <= est.delays[2, 0] <= 0.006 + 1e-9
    assert est.delays[1, 0] == pytest.approx(0.002)
    assert est.delays[2, 1] == pytest.approx(0.003)


def test_delay_range_withdraws_the_chain_and_keeps_the_links(chain):
    est, lim = chain
    adj = lim.adjacency()
    assert adj[2, 0] == 0
    assert adj[1, 0] == 1 and adj[2, 1] == 1
    truth = np.zeros((5, 5), dtype=bool)
    truth[1, 0] = truth[2, 1] = True
    assert not adj[~truth].any()
    # the fit is the same: weights and delays unchanged, p-values inside the range
    # unchanged, outside it 1 (never lower than before)
    np.testing.assert_array_equal(lim.weights, est.weights)
    np.testing.assert_array_equal(lim.delays, est.delays)
    tested = est.pair_status == 0
    d = est.delays
    inside = tested & (d >= 0.001 - 1e-12) & (d <= 0.004 + 1e-12)
    # only the withdrawn call's p-value changes (to 1); every pair outside ranks last
    changed = tested & (lim.pvalues != est.pvalues)
    assert changed.sum() == 1 and changed[2, 0] and lim.pvalues[2, 0] == 1.0
    assert np.all(lim.scores[tested & ~inside] == 0.0)
    np.testing.assert_array_equal(lim.scores[inside], est.scores[inside])
    info = lim.diagnostics["delay_range"]
    assert info["n_outside"] == int((tested & ~inside).sum()) > 1
    assert info["n_withdrawn_called"] == 1
    assert info["n_held_back"] == 0 and info["n_newly_called"] == 0
    np.testing.assert_array_equal(lim.diagnostics["pvalues_before_delay_range"],
                                  est.pvalues)


@pytest.mark.parametrize("bad", [(0.004, 0.001), (-0.001, 0.004), (0.001,), "1-4 ms",
                                 (0.001, np.inf)])
def test_bad_delay_range_is_refused(bad):
    with pytest.raises(ValueError, match="delay_range"):
        check_delay_range(bad)
    st = sw.SpikeTrains.from_lists([np.arange(0, 10, 0.1), np.arange(0.05, 10, 0.1)],
                                   t_stop=10.0)
    with pytest.raises(ValueError, match="delay_range"):
        GLMCC(delay_range=bad).fit(st)


def test_restrict_delays_needs_delays():
    rng = np.random.default_rng(1)
    st = sw.SpikeTrains.from_lists([poisson_times(rng, 5.0, T) for _ in range(3)], t_stop=T)
    est = sw.infer(st, "glmcc")
    est.delays = None
    with pytest.raises(ValueError, match="delays"):
        restrict_delays(est, (0.001, 0.004))


def test_decision_after_is_the_decision_before_less_the_withdrawn_calls():
    # an estimate decided by the empirical-null local FDR (re-fitted to the p-values each
    # time the decision is made): 3,000 tests, 2,700 null (z ~ N(0.3, 1.2²), a shifted
    # null as on recurrent networks), 300 links (z ~ N(4, 1)); delays 1–10 ms, so links
    # and nulls alike fall outside (0.5, 6) ms
    from scipy.special import ndtr

    from spikewire.infer.estimate import Estimate

    rng = np.random.default_rng(3)
    n = 56                              # 56 · 55 = 3,080 ordered pairs
    off = ~np.eye(n, dtype=bool)
    m = int(off.sum())
    z = np.r_[rng.normal(0.3, 1.2, m - 300), rng.normal(4.0, 1.0, 300)]
    rng.shuffle(z)
    p = np.full((n, n), np.nan)
    p[off] = ndtr(-z)
    d = np.full((n, n), np.nan)
    d[off] = rng.choice(np.r_[1:11] * 1e-3, m)
    w = np.where(off, 1.0, 0.0)
    sc = np.full((n, n), np.nan)
    sc[off] = z
    est = Estimate(weights=w, method="test", settings={}, units=np.arange(n), pvalues=p,
                   scores=sc, delays=d, alpha=0.2, correction="lfdr")
    before = est.adjacency() != 0
    lim = restrict_delays(est, (0.0005, 0.006))
    after = lim.adjacency() != 0
    outside = off & (d > 0.006 + 1e-12)
    assert before.sum() > 100 and (before & outside).sum() > 20
    assert not (after & ~before).any()
    assert not (after & outside).any()
    info = lim.diagnostics["delay_range"]
    assert info["n_newly_called"] == 0
    assert info["n_withdrawn_called"] == int((before & outside).sum())
    # the re-fitted null may drop some calls inside the range (14 of 111 here): the
    # weakest ones, every one of them weaker than every call kept
    lost, kept = before & ~outside & ~after, after
    assert lost.sum() < 0.2 * (before & ~outside).sum()
    assert lost.sum() == 0 or p[lost].min() >= p[kept].max()

