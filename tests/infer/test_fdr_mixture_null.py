"""The two-group null of dense small problems (session 22, fdr.mixture_null): recovery of
the null, the second-component test on samples without links, and the switched decision
it feeds (small_local_fdr's default null_fit="mixture")."""

import warnings

import numpy as np
import pytest
from infer_fixtures import directed_toy_estimate
from scipy import stats

from spikewire.infer.base import check_null
from spikewire.infer.fdr import (
    MIXTURE_LR_THRESHOLD,
    central_null,
    mixture_null,
    small_local_fdr,
    two_group_null,
)


def _dense(rng, m, pi1=0.25, null=(2.5, 2.0), alt=(8.0, 1.2)):
    n1 = rng.binomial(m, pi1)
    z = np.r_[rng.normal(*alt, n1), rng.normal(*null, m - n1)]
    return z, np.arange(m) < n1


def test_mixture_null_recovers_the_null_of_a_dense_two_group_sample():
    # 380 tests (20 units), null N(2.5, 2²), 25 % links N(8, 1.2²): the two-group fit's
    # pi0, delta0, sigma0 are within 3 standard errors (their sd over the 20 draws / sqrt 20;
    # measured sd 0.03 / 0.19 / 0.16) of the truth (pi0: the drawn null share), while the
    # central fit, whose window holds links, comes out wider than the truth on average
    R, m = 20, 380
    fits, central, share = [], [], []
    for seed in range(R):
        rng = np.random.default_rng(seed)
        z, link = _dense(rng, m)
        p = stats.norm.sf(z)
        mx = mixture_null(p)
        assert mx.needed and mx.lr >= MIXTURE_LR_THRESHOLD and mx.sigma1 < mx.null.sigma0
        fits.append((mx.null.pi0, mx.null.delta0, mx.null.sigma0))
        central.append(central_null(p, min_tests=45, sigma0_range=(0.5, 10.0)).sigma0)
        share.append(1 - link.mean())
    fits = np.array(fits)
    se = fits.std(axis=0, ddof=1) / np.sqrt(R)
    truth = np.array([np.mean(share), 2.5, 2.0])
    assert np.all(np.abs(fits.mean(axis=0) - truth) < 3 * se), (fits.mean(axis=0), se)
    assert np.mean(central) - 2.0 > 3 * np.std(central, ddof=1) / np.sqrt(R)
    assert abs(fits[:, 2].mean() - 2.0) < np.mean(central) - 2.0


@pytest.mark.parametrize("sd, rate, R", [(2.0, 0.02, 60), (1.0, 0.0, 30)])
def test_the_second_component_is_rarely_needed_without_links(sd, rate, R):
    # pure normal samples of 90 tests, N(2, sd²): the second component is "needed" (LR
    # >= MIXTURE_LR_THRESHOLD, a link cluster narrower than the null) at its nominal rate,
    # about 2 % at sd 2 and none at sd 1 (the link component is at least as wide as the
    # test's own noise, 1; benchmarks/results/glmccmix.md); R draws, so at most the
    # rate + 3 binomial sd (at least one false fire allowed at rate 0)
    rng = np.random.default_rng(11)
    fired = sum(mixture_null(stats.norm.sf(rng.normal(2.0, sd, 90))).needed
                for _ in range(R))
    assert fired <= max(R * rate + 3 * np.sqrt(R * rate * (1 - rate)), 1.0)


def _switched(z):
    est, off = directed_toy_estimate(z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = check_null(est)
    assert out.diagnostics["null_check"].get("small_problem")
    return out.pvalues[off]


def test_the_dense_switched_decision_calls_links_where_the_central_null_calls_none():
    # glmcc on 20 of 100 Brunel neurons (results/glmcc90.md §4b): 22 % of 380 pairs linked
    # at z ≈ 7.5 ± 1.2 over unlinked pairs N(2.5, 2.1²); the central fit, widened by the
    # links in its window, calls nothing on most draws; the two-group null calls most
    # links, and misclassifies no more than 1.5x the pairs the oracle Bayes rule does (the
    # true two-group lfdr < 0.5; measured 1.2x) and fewer than half the central null's
    none_central = 0
    err_central = err_mix = err_oracle = true_mix = 0
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        z, link = _dense(rng, 380, pi1=0.22, null=(2.5, 2.1), alt=(7.5, 1.2))
        p = _switched(z)
        null = central_null(p, min_tests=45, sigma0_range=(0.5, 10.0))
        given = small_local_fdr(p, null, null_fit="given") < 0.5
        mix = small_local_fdr(p, null) < 0.5          # the default: "mixture"
        none_central += given.sum() == 0
        err_central += (given != link).sum()
        err_mix += (mix != link).sum()
        true_mix += (mix & link).sum()
        f0 = 0.78 * stats.norm.pdf(z, 2.5, 2.1)
        oracle = f0 / (f0 + 0.22 * stats.norm.pdf(z, 7.5, 1.2)) < 0.5
        err_oracle += (oracle != link).sum()
    assert none_central >= 3
    assert true_mix > 0.6 * 6 * 0.22 * 380
    assert err_mix < 1.5 * err_oracle and err_mix < 0.5 * err_central


def _checked(z):
    est, _ = directed_toy_estimate(z)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = check_null(est)
    return out.diagnostics["null_check"], " ".join(str(w.message) for w in caught)


def test_the_switch_records_and_states_the_two_group_null_only_where_it_is_used():
    # a dense switched sample (as above) records the two-group fit the decision used and
    # names it in the warning; a broken null without links (N(2, 1.5²), 380 tests) is
    # switched too but decided under the central fit, and says so
    rng = np.random.default_rng(7)
    z, _ = _dense(rng, 380, pi1=0.22, null=(2.5, 2.1), alt=(7.5, 1.2))
    nc, said = _checked(z)
    assert nc["small_problem"] and nc["two_group_null"]["needed"]
    assert nc["two_group_null"]["lr"] >= MIXTURE_LR_THRESHOLD
    assert abs(nc["two_group_null"]["mu1"] - 7.5) < 1.0
    assert "two-group fit" in said
    nc, said = _checked(np.random.default_rng(8).normal(2.0, 1.5, 380))
    assert nc["small_problem"] and "two_group_null" not in nc
    assert "central peak" in said and "two-group" not in said


@pytest.mark.parametrize("p, match", [([0.1, np.nan] * 30, "finite p-values"),
                                      ([0.1, 1.5] * 30, "finite p-values")])
def test_two_group_null_refuses_what_is_not_a_p_value(p, match):
    with pytest.raises(ValueError, match=match):
        two_group_null(np.array(p))


def test_two_group_null_is_none_where_the_decision_keeps_the_central_null():
    rng = np.random.default_rng(3)
    z, _ = _dense(rng, 380, pi1=0.22, null=(2.5, 2.1), alt=(7.5, 1.2))
    p = stats.norm.sf(z)
    assert two_group_null(p).needed                  # dense: the two-group null
    assert two_group_null(p, null_fit="given") is None
    assert two_group_null(p[:44]) is None             # below MIN_TESTS_SMALL_NULL
    with pytest.raises(ValueError, match="null_fit"):
        two_group_null(p, null_fit="oracle")


def test_two_group_null_fits_each_set_of_p_values_once_and_as_mixture_null_does():
    # an estimate's decision asks for the same p-values' fit on every significant() call;
    # the remembered fit must be the fresh fit, and other p-values must get their own
    from spikewire.infer.fdr import _cached_mixture_null

    rng = np.random.default_rng(11)
    z, _ = _dense(rng, 200, pi1=0.22, null=(2.5, 2.1), alt=(7.5, 1.2))
    p = stats.norm.sf(z)
    first = two_group_null(p)
    hits = _cached_mixture_null.cache_info().hits
    again = two_group_null(p.copy())
    assert _cached_mixture_null.cache_info().hits == hits + 1
    assert again is first and first == mixture_null(p)
    other = two_group_null(stats.norm.sf(rng.normal(2.0, 1.5, 200)))
    assert other is None or other != first
