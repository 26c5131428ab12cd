"""Small problems and symmetric estimates under the null check (issues 12 and 15).

``check_null``'s small-problem rule (45–999 distinct tests): where more than 0.3 of the
distinct tests are at p < 0.05 and Efron's central null departs from N(0, 1) beyond its
sampling error, the estimate switches to ``correction="lfdr"``, which there decides with
Benjamini–Hochberg on the p-values re-referred to that null (never lowered); the
estimate's p-values stay the method's own. A symmetric estimate (``partial_corr`` with
``lag=0``) counts each unordered pair once. ``partial_corr(shared_null="off")`` opts out.
"""

import warnings

import numpy as np
import pytest
from scipy import stats

import spikewire as sw
from spikewire.infer.base import check_null
from spikewire.infer.estimate import Estimate, adjust_pvalues
from spikewire.infer.fdr import LFDR_SWITCH_LEVEL, MIN_TESTS_LFDR, MIN_TESTS_SMALL_NULL


def _symmetric(z_upper, n, correction="bonferroni", flag=True):
    """Symmetric estimate (two-sided p) from upper-triangle signed z-values."""
    z = np.zeros((n, n))
    z[np.triu_indices(n, 1)] = z_upper
    z = z + z.T
    p = 2 * stats.norm.sf(np.abs(z))
    np.fill_diagonal(p, np.nan)
    diag = {"symmetric": True} if flag else {}
    return Estimate(weights=z, method="toy", settings={}, units=np.arange(n), pvalues=p,
                    correction=correction, diagnostics=diag)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_null_bulk_keeps_the_pvalues(seed):
    # 20 units, 190 unordered pairs from N(0, 1): a calibrated null, nothing changes
    n = 20
    rng = np.random.default_rng(seed)
    est = _symmetric(rng.standard_normal(n * (n - 1) // 2), n)
    p = est.pvalues.copy()
    out = check_null(est)
    nc = out.diagnostics["null_check"]
    assert nc["n_tests"] == 190 and nc["symmetric"] and "switched_from" not in nc
    assert out.correction == "bonferroni"
    np.testing.assert_array_equal(out.pvalues, p)


@pytest.mark.parametrize("flag", [True, False])
def test_symmetric_estimates_count_distinct_tests(flag):
    # with or without diagnostics["symmetric"]: a symmetric matrix is recognised, a
    # directed one (weights not symmetric) counts every ordered pair
    n = 12
    rng = np.random.default_rng(3)
    est = _symmetric(rng.standard_normal(n * (n - 1) // 2), n, flag=flag)
    nc = check_null(est).diagnostics["null_check"]
    assert nc["n_tests"] == n * (n - 1) // 2 and nc["symmetric"]
    w = rng.standard_normal((n, n))
    np.fill_diagonal(w, 0.0)
    p = stats.norm.sf(w)
    np.fill_diagonal(p, np.nan)
    directed = Estimate(weights=w, method="toy", settings={}, units=np.arange(n), pvalues=p)
    nc = check_null(directed).diagnostics["null_check"]
    assert nc["n_tests"] == n * (n - 1) and not nc["symmetric"]


def test_shifted_bulk_is_the_null_and_links_stay():
    # 170 unconnected pairs lifted by shared input, N(2, 1.5²), and 20 links at z = 12
    n = 20
    rng = np.random.default_rng(4)
    m = n * (n - 1) // 2
    zu = 2 + 1.5 * rng.standard_normal(m)
    link = np.zeros(m, bool)
    link[rng.choice(m, 20, replace=False)] = True
    zu[link] = 12.0
    est = _symmetric(zu, n)
    p = est.pvalues.copy()
    iu = np.triu_indices(n, 1)
    bonf = 0.05 / m
    # before: Bonferroni over the duplicated p-values calls many lifted null pairs
    assert np.sum(p[iu][~link] < bonf / 2) > 5
    with pytest.warns(UserWarning, match="small-problem local FDR"):
        out = check_null(est)
    nc = out.diagnostics["null_check"]
    assert nc["small_problem"] and nc["switched_from"] == "bonferroni" and nc["n_tests"] == m
    assert out.correction == "lfdr" and out.alpha == LFDR_SWITCH_LEVEL
    np.testing.assert_array_equal(out.pvalues, p)     # the method's own p-values kept
    # adjust_pvalues' own "lfdr" for so few tests (session 20's decision, still its
    # default): BH on p-values re-referred to the null of the distinct tests (the upper
    # triangle: the duplicated ones are tied), never lowered; symmetric
    with pytest.warns(UserWarning, match="never lowered"):
        adj = adjust_pvalues(p, "lfdr")
    tested = ~np.eye(n, dtype=bool)
    np.testing.assert_array_equal(adj, adj.T)
    assert np.all(adj[tested] >= adjust_pvalues(p, "bh")[tested])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        called = out.significant()[iu]
    # every link (z = 12, far beyond the bulk) and few null pairs: BH at 0.05 with 20
    # links expects ≤ 0.05 · 190 / 20 ≈ 0.5 false calls under the right null; the folded
    # two-sided bulk is not exactly normal, so allow 3
    assert called[link].all()
    assert called[~link].sum() <= 3


def test_a_mild_departure_with_few_small_pvalues_is_left_alone():
    # bulk N(0.5, 1): only ~8 % of the tests at p < 0.05, far below the 0.3 of a failed
    # null (the up/down null family departs like this while its shift null holds)
    n = 20
    rng = np.random.default_rng(0)
    est = _symmetric(0.5 + rng.standard_normal(n * (n - 1) // 2), n)
    p = est.pvalues.copy()
    out = check_null(est)
    nc = out.diagnostics["null_check"]
    assert nc["share_p_below_0.05"] < 0.3 and "switched_from" not in nc
    np.testing.assert_array_equal(out.pvalues, p)


def test_too_few_distinct_tests_are_not_judged():
    n = 9           # 36 unordered pairs < 45 (72 ordered ones would be enough)
    assert n * (n - 1) // 2 < MIN_TESTS_SMALL_NULL <= n * (n - 1)
    rng = np.random.default_rng(0)
    est = _symmetric(3 + rng.standard_normal(n * (n - 1) // 2), n)
    p = est.pvalues.copy()
    out = check_null(est)
    assert "null_check" not in out.diagnostics and out.correction == "bonferroni"
    np.testing.assert_array_equal(out.pvalues, p)


def test_large_problems_are_left_to_the_local_fdr():
    # 46 units: 1,035 distinct tests >= MIN_TESTS_LFDR, a bulk lifted as far as above
    n = 46
    rng = np.random.default_rng(6)
    est = _symmetric(2 + 1.5 * rng.standard_normal(n * (n - 1) // 2), n, correction="bh")
    p = est.pvalues.copy()
    out = _quiet(check_null, est)
    nc = out.diagnostics["null_check"]
    assert nc["n_tests"] == 1035 >= MIN_TESTS_LFDR and "small_problem" not in nc
    np.testing.assert_array_equal(out.pvalues, p)


@pytest.mark.parametrize("m", [56, 90])
def test_small_problem_switches_a_broken_null_not_a_calibrated_one(m):
    # directed toy estimates with m tests: 10 % links at z ~ N(4, 1) over a null that is
    # calibrated (N(0, 1)) or broken (N(0.5, 1.8²): fast shared input). 20 seeds each.
    # Calibrated: a switch needs share > 0.3 (expected ≈ 0.045 + 0.1 · 0.99 ≈ 0.14, sd
    # ≈ 0.05 at 56 tests: > 3 sd) and a null beyond 3 sd of its fit: bench_smallnull
    # measured 0.1 % / 0 % switched at 56 / 90 tests, so no seed of 20 should (≈ 2 %).
    # Broken: share ≈ 0.9 · P(N(0.5, 1.8²) > 1.645) + 0.1 ≈ 0.38; the fitted
    # width 1.8 departs by 0.8, beyond the 3-sd tolerance (0.64 at 56, 0.51 at 90 tests)
    # in most seeds, but not all, and the share itself falls below 0.3 in some (binomial
    # sd 0.06 / 0.05): benchmarks/bench_smallnull.py measured 71 % switched at both sizes
    # over 1,000 seeds; 20 seeds give 14.2 ± 2.0, so at least 8 (3 sd below)
    n = {56: 8, 90: 10}[m]          # 56 and 90 directed tests
    off = ~np.eye(n, dtype=bool)
    switched = {"calibrated": 0, "broken": 0}
    false_before, false_after = 0, 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        link = np.zeros((n, n), bool)
        link[off] = rng.random(off.sum()) < 0.1
        for kind, (mu, sd) in {"calibrated": (0.0, 1.0), "broken": (0.5, 1.8)}.items():
            z = rng.normal(mu, sd, (n, n))
            z[link] = rng.normal(4.0, 1.0, link.sum())
            p = stats.norm.sf(z)
            np.fill_diagonal(p, np.nan)
            w = np.where(off, z, 0.0)
            est = Estimate(weights=w, method="toy", settings={}, units=np.arange(n),
                           pvalues=p, correction="bh")
            if kind == "broken":
                false_before += int((est.significant() & ~link).sum())
            out = _quiet(check_null, est)
            if out.diagnostics["null_check"].get("small_problem"):
                switched[kind] += 1
                assert out.correction == "lfdr"
                # never a call that BH on the method's own p-values would not make
                assert not np.any(_quiet(out.significant) & ~out.significant(correction="bh"))
            if kind == "broken":
                false_after += int((_quiet(out.significant) & ~link).sum())
    assert switched["calibrated"] == 0
    assert switched["broken"] >= 8
    # the switch removes false calls (the theoretical BH calls the null's upper tail)
    assert false_after < 0.6 * false_before


def _hidden_common_input(n=20, T=300.0, seed=11):
    """``n`` unconnected units, each firing 4 Hz of its own plus copies (jitter sd 1 ms, each
    kept with probability 0.5) of the events of 40 hidden 3 Hz neurons that each project
    to 5 random units: fast shared input, no direct link between any two units."""
    rng = np.random.default_rng(seed)
    trains = [list(rng.uniform(0, T, rng.poisson(4.0 * T))) for _ in range(n)]
    for _ in range(40):
        events = rng.uniform(0, T, rng.poisson(3.0 * T))
        for u in rng.choice(n, 5, replace=False):
            keep = events[rng.random(events.size) < 0.5]
            trains[u].extend(keep + rng.normal(0, 1e-3, keep.size))
    return sw.SpikeTrains.from_lists([np.sort(np.clip(t, 0, T - 1e-6)) for t in trains],
                                     t_stop=T)


def test_default_refers_hidden_common_input_to_the_bulk():
    # no links at all: every default call is false. The shift null moves the fast shared
    # input, so most pairs sharing a hidden neuron reject it; the bulk is the null
    st = _hidden_common_input()
    with pytest.warns(UserWarning, match="kept because the method's small-problem rule"):
        off = sw.infer(st, "partial_corr", shared_null="off")
    with pytest.warns(UserWarning, match="small-problem local FDR"):
        est = sw.infer(st, "partial_corr")
    nc = est.diagnostics["null_check"]
    assert nc["small_problem"] and nc["share_p_below_0.05"] > 0.3 and nc["symmetric"]
    assert nc["n_tests"] == 190 and nc["empirical_null"]["delta0"] > 0
    assert est.correction == "lfdr" and nc["switched_from"] == "bonferroni"
    assert off.correction == "bonferroni" and "switched_from" not in off.diagnostics[
        "null_check"]
    calls_off = int((off.adjacency() != 0).sum())
    calls = int((_quiet(est.adjacency) != 0).sum())
    assert calls_off > 40 and calls <= calls_off // 4
    # same p-values and weights: only the decision changed
    np.testing.assert_array_equal(est.pvalues, off.pvalues)
    np.testing.assert_array_equal(est.weights, off.weights)


def test_default_leaves_independent_units_alone():
    from infer_fixtures import independent

    st = independent(20, T=100.0)
    est = sw.infer(st, "partial_corr")
    off = sw.infer(st, "partial_corr", shared_null="off")
    assert "switched_from" not in est.diagnostics["null_check"]
    np.testing.assert_array_equal(est.pvalues, off.pvalues)


def test_tiny_pvalues_stay_significant():
    # 15 % of the pairs (about the linked share of network 3's subsets) far beyond double
    # precision's 1 − p (z = 12–40): the fitted null stays finite and those pairs stay
    # significant (p-values are never raised above the theoretical ones by more than
    # the re-referral, which at z ≥ 12 is still below BH's smallest threshold)
    n = 20
    rng = np.random.default_rng(7)
    m = n * (n - 1) // 2
    zu = 2.5 + 1.5 * rng.standard_normal(m)
    far_u = rng.random(m) < 0.15
    zu[far_u] = rng.uniform(12, 40, far_u.sum())
    est = _symmetric(zu, n)
    out = _quiet(check_null, est)
    nc = out.diagnostics["null_check"]
    assert nc["small_problem"]
    null = nc["empirical_null"]
    assert np.isfinite(null["delta0"]) and np.isfinite(null["sigma0"])
    far = np.abs(est.weights) > 12
    assert _quiet(out.significant)[far].all()
