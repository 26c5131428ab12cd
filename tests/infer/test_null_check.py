"""The null-plausibility check every fitted estimate passes through (infer.base.check_null)."""

import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.stats import norm

from spikewire.infer.base import NULL_FAILURE_SHARE, check_null
from spikewire.infer.estimate import Estimate
from spikewire.infer.fdr import (
    LFDR_SWITCH_LEVEL,
    MIN_TESTS_SMALL_NULL,
    NULL_FAILURE_SHARE_FDR,
    EmpiricalNull,
    small_local_fdr,
)

N = 40  # 1,560 tested ordered pairs: enough for the empirical null (>= 200)


def _estimate(z_null_shift: float, seed: int = 0, correction: str = "bh") -> tuple:
    """Estimate whose unconnected pairs have z ~ N(shift, 1) and 40 links z ~ N(6, 1)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(z_null_shift, 1.0, (N, N))
    linked = np.zeros((N, N), dtype=bool)
    flat = rng.choice(N * N, 40, replace=False)
    linked.flat[flat] = True
    np.fill_diagonal(linked, False)
    z[linked] = rng.normal(6.0, 1.0, linked.sum())
    p = norm.sf(z)
    np.fill_diagonal(p, np.nan)
    est = Estimate(weights=np.where(np.eye(N, dtype=bool), 0.0, z), method="toy", settings={},
                   units=np.arange(N), pvalues=p, correction=correction, alpha=0.05)
    return est, linked


def test_calibrated_pvalues_keep_the_default_correction():
    est, linked = _estimate(0.0)
    out = check_null(est)
    assert out.correction == "bh"
    share = out.diagnostics["null_check"]["share_p_below_0.05"]
    # 1,520 null pairs at 5 % (sd 0.6 %) plus 40 links: about 7.5 %
    assert 0.05 < share < 0.11


def test_shifted_null_switches_to_the_empirical_null_and_warns():
    # every unconnected pair's z is shifted by 3 (fast shared input the test ignores):
    # 91 % of the pairs reach p < 0.05, BH would call most of them
    est, linked = _estimate(3.0)
    n_bh = int((est.adjacency(0.05, "bh") != 0).sum())
    assert n_bh > 0.8 * (N * N - N)
    with pytest.warns(UserWarning, match="null does not hold"):
        out = check_null(est)
    assert out.correction == "lfdr"
    assert out.diagnostics["null_check"]["switched_from"] == "bh"
    # the local FDR calls by the Bayes rule lfdr < 0.5 (a posterior probability), not at
    # α = 0.05
    assert out.alpha == LFDR_SWITCH_LEVEL == 0.5
    nc = out.diagnostics["null_check"]
    assert nc["alpha_from"] == 0.05
    assert nc["share_p_below_0.05"] > NULL_FAILURE_SHARE
    # the fitted null is recorded: a symmetric N(3, 1) bulk keeps the two-sided fit; its
    # sd at 1,560 tests is ≈ 0.04 (δ0) and 0.04 (σ0), 0.15 is > 3.5 sd
    null = nc["empirical_null"]
    assert null["side"] == "both" and null["n_tests"] == N * (N - 1)
    assert null["delta0"] == pytest.approx(3.0, abs=0.15)
    assert null["sigma0"] == pytest.approx(1.0, abs=0.15)
    called = out.adjacency() != 0
    # the empirical null (centre ~3) leaves the links (z ~ 6) above it: far fewer calls
    # than BH, at most 2x the 40 true links, most of them true: the expected share of false
    # calls is the calls' mean lfdr (< 0.5); measured 0.05–0.3 over seeds 0–5, so the true
    # share is checked at 0.6
    assert called.sum() <= 80
    assert (called & linked).sum() >= 0.6 * called.sum()


def test_a_skewed_null_is_fitted_on_its_right_half_and_the_warning_says_so():
    # glmcc-like p-values on 100 units: every unconnected pair's z is shifted by 2.5 (shared
    # input) on top of a delay scan corrected by Šidák over 8 delays of a statistic
    # inflated 2× (a bulk skewed to the left: a pile of p ≈ 1), 41 % of the pairs at
    # p < 0.05; 10 % links with z ~ N(7, 1). BH calls about 3,500 pairs.
    rng = np.random.default_rng(0)
    n = 100
    u = stats.chi2.sf(2.0 * rng.chisquare(1, (n, n)), 1)
    z = 2.5 - norm.ppf(-np.expm1(8 * np.log1p(-np.minimum(u, 1 - 1e-16))))
    linked = rng.random((n, n)) < 0.1
    z[linked] = rng.normal(7.0, 1.0, linked.sum())
    p = norm.sf(z)
    np.fill_diagonal(p, np.nan)
    np.fill_diagonal(linked, False)
    est = Estimate(weights=np.where(np.eye(n, dtype=bool), 0.0, 1.0), method="toy",
                   settings={}, units=np.arange(n), pvalues=p, correction="bh", alpha=0.05)
    with pytest.warns(UserWarning, match="right half-peak"):
        out = check_null(est)
    null = out.diagnostics["null_check"]["empirical_null"]
    assert out.correction == "lfdr" and null["side"] == "right"
    assert null["sigma0"] < null["sigma0_both"]
    called = out.adjacency() != 0
    # measured over seeds 0–5: recall 0.81–0.90, precision 0.95–0.98 (BH: precision 0.29)
    assert (called & linked).sum() > 0.75 * linked.sum()
    assert (called & linked).sum() > 0.9 * called.sum()


def test_an_explicit_empirical_null_default_is_left_alone():
    est, _ = _estimate(3.0, correction="lfdr")
    out = check_null(est)
    assert out.correction == "lfdr" and "switched_from" not in out.diagnostics["null_check"]


def test_too_few_tests_are_not_judged():
    rng = np.random.default_rng(1)
    n = 7  # 42 tests < MIN_TESTS_SMALL_NULL (45)
    assert n * (n - 1) < MIN_TESTS_SMALL_NULL
    p = np.full((n, n), 1e-9)
    np.fill_diagonal(p, np.nan)
    est = Estimate(weights=rng.normal(size=(n, n)) * ~np.eye(n, dtype=bool), method="toy",
                   settings={}, units=np.arange(n), pvalues=p, correction="bh")
    out = check_null(est)
    assert out.correction == "bh" and "null_check" not in out.diagnostics


def test_a_failed_null_with_too_few_tests_for_lfdr_uses_the_small_problem_local_fdr():
    # 24 units (552 tests): enough to judge the share (>= 200) but below the local FDR's
    # 1,000 tests. Unconnected pairs z ~ N(3, 1) (a shifted null, as network synchrony
    # gives tspe on 20 recorded Izhikevich neurons), 20 links at z ~ N(9, 1)
    rng = np.random.default_rng(2)
    n = 24
    z = rng.normal(3.0, 1.0, (n, n))
    linked = np.zeros((n, n), dtype=bool)
    linked.flat[rng.choice(n * n, 20, replace=False)] = True
    np.fill_diagonal(linked, False)
    z[linked] = rng.normal(9.0, 1.0, linked.sum())
    p = norm.sf(z)
    np.fill_diagonal(p, np.nan)
    est = Estimate(weights=np.where(np.eye(n, dtype=bool), 0.0, 1.0), method="toy",
                   settings={}, units=np.arange(n), pvalues=p, correction="bh")
    assert est.significant().sum() > 400           # the theoretical BH calls most pairs
    p_before = est.pvalues.copy()
    with pytest.warns(UserWarning, match="small-problem local FDR"):
        out = check_null(est)
    # lfdr < 0.5, the Bayes rule, as after the large problems' switch
    assert out.correction == "lfdr" and out.alpha == LFDR_SWITCH_LEVEL
    nc = out.diagnostics["null_check"]
    assert nc["small_problem"] and nc["switched_from"] == "bh" and nc["alpha_from"] == 0.05
    # the method's own p-values are kept; the decision is the small-problem lfdr under
    # the fitted null, never below the lfdr under N(0, 1)
    np.testing.assert_array_equal(out.pvalues, p_before)
    null = EmpiricalNull(**{k: nc["empirical_null"][k] for k in ("delta0", "sigma0", "pi0",
                                                                 "n_tests")})
    np.testing.assert_array_equal(out.significant(),
                                  np.nan_to_num(small_local_fdr(p, null), nan=1.0) < 0.5)
    # the centre within 3 sd of the fit (1.6 / sqrt(552) = 0.068 per sd)
    assert abs(nc["empirical_null"]["delta0"] - 3.0) < 0.2
    called = out.significant()
    # every link at z ≈ 9 (6 null sd above the centre: f0 / f < 1e-6 there) and few
    # false calls: the largest of 532 null z-values lies ~3 sd out, where the null's
    # density is still of the order of the kernel estimate (lfdr ~ 1)
    assert called[linked].all()
    assert (called & ~linked).sum() <= 4


def test_a_failed_null_that_cannot_be_estimated_keeps_the_correction():
    # 552 tests, most p-values tied at 1e-4 (a discretised test): the share fails, but the
    # bulk has no width for an empirical null, so the correction is kept with a warning
    n = 24
    p = np.full((n, n), 1e-4)
    p[:, :3] = np.linspace(0.1, 0.9, n)[:, None]
    np.fill_diagonal(p, np.nan)
    est = Estimate(weights=np.where(np.eye(n, dtype=bool), 0.0, 1.0), method="toy",
                   settings={}, units=np.arange(n), pvalues=p, correction="bh")
    with pytest.warns(UserWarning, match="kept because"):
        out = check_null(est)
    assert out.correction == "bh"
    nc = out.diagnostics["null_check"]
    assert nc["n_tests"] == n * (n - 1) and nc["share_p_below_0.05"] > NULL_FAILURE_SHARE
    assert "tied" in nc["not_switched"] and "switched_from" not in nc


@pytest.mark.parametrize("correction, switched", [("bh", True), ("none", True),
                                                  ("bonferroni", False)])
def test_a_moderately_inflated_null_switches_bh_but_not_bonferroni(correction, switched):
    # unconnected pairs' z ~ N(1.4, 1): P(z > 1.645) = 0.40 of them at p < 0.05, between
    # NULL_FAILURE_SHARE_FDR (0.3) and NULL_FAILURE_SHARE (0.5)
    est, _ = _estimate(1.4, seed=4, correction=correction)
    share = float(np.mean(est.pvalues[np.isfinite(est.pvalues)] < 0.05))
    assert NULL_FAILURE_SHARE_FDR < share < NULL_FAILURE_SHARE
    if switched:
        with pytest.warns(UserWarning, match="null does not hold"):
            out = check_null(est)
        assert out.correction == "lfdr"
        assert out.diagnostics["null_check"]["switched_from"] == correction
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = check_null(est)
        assert out.correction == "bonferroni"
        assert "switched_from" not in out.diagnostics["null_check"]
