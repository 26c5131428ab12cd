"""Empirical-null local false discovery rate (Efron 2004, 2007).

When many pairs are tested at once, the p-values of the pairs without a link need not be
uniform: slow co-modulation, bursts and indirect dependence in a recurrent network widen
and shift the null distribution of the test statistic, and a theoretical-null procedure
(per-pair α, Bonferroni, Benjamini–Hochberg) then calls far too many links. Efron's
empirical null estimates the null's centre ``δ0`` and width ``σ0`` from the bulk of the
z-values, which are dominated by null pairs, and reports for each pair the local false
discovery rate ``lfdr(z) = π0 · f0(z) / f(z)``: the posterior probability that a pair with
statistic ``z`` is null.

Pipeline (:func:`local_fdr`):

1. p-values → z-values ``z = Φ⁻¹(1 − p)`` (uniform p gives ``z ~ N(0, 1)``; small p,
   large z).
2. Mixture density ``f``: Lindsey's method — a Poisson regression of the histogram counts
   of ``z`` (``n_bins`` bins over the central ``[0.1 %, 99.9 %]`` quantile range) on a
   degree-``degree`` polynomial of the bin centres.
3. Empirical null by Efron's maximum-likelihood method: the z-values within
   ``median ± 1.5 σ_IQR`` (``σ_IQR`` = interquartile range / 1.349) are taken as null and
   fitted by a normal ``f0 = N(δ0, σ0²)`` truncated to that interval; ``π0`` is the share of
   tests in the interval over ``f0``'s mass there (clipped to ≤ 1). (Central matching — a
   quadratic fitted to ``log f`` — was 3–6× noisier in σ0 on simulated mixtures.)
3b. Skewed bulk: the decisions depend only on the null's right tail (links raise z), and
   a bulk that is skewed to the left — a pile of p-values near 1, as glmcc's delay-scan
   (Šidák) p-values produce: 25 % of its unconnected pairs at p > 0.998 on a scale-free
   LIF network — widens the two-sided fit far beyond the right tail (its fitted normal
   put 344 unconnected pairs above z = 4.42 where there were 119, under hidden up/down
   states; 106 for 15 on the scale-free LIF network). So the null is also fitted to the
   right half-peak alone: ``δ0`` = the mode of Lindsey's density within the interquartile
   range, ``σ0`` by maximum likelihood of a normal with that centre truncated to
   ``[δ0, δ0 + 1.5 σ0]`` (iterated three times from the two-sided σ0), ``π0`` the share
   of tests there over the null's mass ``Φ(1.5) − ½``. It replaces the two-sided fit when
   it is narrower by more than :data:`SKEW_TEST_SD` (2) sampling standard deviations of
   the difference (:data:`SKEW_DIFF_SD`), or when the two-sided width is implausible
   (outside :data:`SIGMA0_RANGE`) and the right half is not: on a symmetric normal null
   both fits estimate the same width (with 5–10 % separated links the right half comes
   out 0.01–0.04 wider on average), so the two-sided fit, which uses twice the
   points, is kept; a left-heavy bulk makes the right half narrower. Dense networks
   (30–35 % links of z ≈ 5–6) crowd the two-sided window too: the right half is then
   chosen, and is the closer of the two (σ0 1.03–1.11 against the true 1; at 40 % links
   neither fit is usable). On analytic Šidák-type nulls (p = 1 − (1 − u)^K, u the p-value
   of an inflated statistic k·χ²(1); 9,900 tests, 10 % alternatives N(5, 1); the
   glmcc mechanism; k = 2 / 3, K = 8 / 16, 5 seeds each) the right half-peak with
   lfdr < 0.5 misclassified 1.1–1.6× the pairs the oracle Bayes rule does, the two-sided
   fit 1.4–3×; at lfdr < 0.2 the right half 2.6–3.3×, the two-sided fit (the rule before)
   3.6–6.2×.
   On the ``calibration`` study's networks it is chosen for glmcc on five of six
   families and for no ccg or tspe estimate (benchmarks/results/calib.md).
4. Body: ``lfdr = min(1, π0 f0 / f)`` for ``z`` up to the tail threshold ``z_t`` (the
   ``max(50, 5 %)`` largest z-values lie above it; at least ``δ0 + σ0``).
5. Right tail (``z > z_t``), where a histogram fit has too few points (a degree-7
   polynomial bends at the edge of sparse data, and the lfdr of strong links used to be
   held at the fit's edge value, up to 1): a two-group model fitted to the tail points
   alone by maximum likelihood, ``f(z) = π0 f0(z) + c_t g(z) / G(z_t)`` — the empirical
   null plus a normal excess ``g = N(μ1, σ1²)`` with ``σ1 ≥ σ0`` (``G(z_t)`` its mass
   above ``z_t``, ``c_t ≥ 0`` the excess's share of the tests) — and ``lfdr = π0 f0 / f``
   there. With no excess (``c_t = 0``) the tail stays at lfdr 1; with one, ``f0 / g``
   falls with z (``σ1 ≥ σ0``), so lfdr falls to 0 in the far tail. On two-group mixtures
   (2,000 tests, 3 % alternatives N(4, 1)) this cut the mean error of the lfdr at z = 2.5
   / 3 from −0.22 / −0.10 (Lindsey's polynomial there) to −0.05 / −0.03.
6. Cap: ``lfdr ≤ m π0 p0(z)``, the expected number of null tests at least as extreme
   (``p0`` the upper tail of the empirical null, ``m`` the number of tests): a test whose
   p-value Bonferroni rejects under the empirical null is never held at a large lfdr.
   When the empirical null is the theoretical one (``δ0 = 0, σ0 = 1``), every test that
   Bonferroni rejects at level α has lfdr < α.
7. Monotone: non-increasing in ``z`` above the null centre ``δ0``, 1 below it (less
   dependence than the null is no evidence for a link).

A pair is called when its lfdr is below the level (Efron suggests 0.2; spikewire uses the
estimate's ``alpha``).

Small problems: with fewer than :data:`MIN_TESTS_LFDR` (1,000) finite p-values, or when
the null cannot be estimated (p-values tied, fit failed, implausible width),
:func:`local_fdr` raises ``ValueError`` and :func:`spikewire.infer.adjust_pvalues` falls
back on Benjamini–Hochberg and says so in a ``UserWarning``;
:func:`lfdr_fallback_reason` gives the reason without fitting anything twice. From
:data:`MIN_TESTS_NULL_CHECK` (200) tests the fallback still uses an empirical null where
one is needed: step 3 alone (:func:`central_null`) places the null's centre and width, and
when they depart from N(0, 1) beyond their sampling error (:func:`departs_from_theory`)
Benjamini–Hochberg runs on the p-values under that null
(:func:`empirical_null_pvalues`); otherwise on the theoretical p-values. Measured on 20
units drawn from the 1,000-neuron Izhikevich networks of issue 12 (380 tests, 30 min,
benchmarks/bench_twenty_units.py): tspe's unconnected pairs had z ≈ N(1.0–1.8,
1.4–1.8²) (network synchrony), so the theoretical BH called 101–195 pairs for 24–55 links
(MCC 0.32–0.52), BH under the fitted null 24–53 (MCC 0.93–1.00).

The default decisions of small problems are judged by
:func:`spikewire.infer.base.check_null` from :data:`MIN_TESTS_SMALL_NULL` (45) distinct
tests: where the null failed (share at p < 0.05 above 0.3) and :func:`central_null`
departs from N(0, 1), the p-values are re-referred to it, never lowered
(:func:`rereferred_pvalues`), and decided with Benjamini–Hochberg (session 20,
benchmarks/results/smallnull.md). Since session 21 such a switched estimate is decided by
the local FDR of :func:`small_local_fdr` instead — the same central null against a kernel
density of the z-values, at lfdr < 0.5 — which can call a cluster of tail values that BH
over the m tests cannot (benchmarks/results/glmcc90.md).
Since session 22 the null of that decision comes from a two-group fit where the data
support one (:func:`mixture_null`; ``small_local_fdr(..., null_fit="mixture")``, the
default): with a fifth of the pairs linked, links inside the central window widen the
central fit until nothing is called; a separated, narrower second component fitted by
maximum likelihood beside the null gives the null back its width (glmcc on 20 of 100
Brunel neurons: 0 calls → MCC 0.69–0.74 on three seeds, benchmarks/results/glmccmix.md).

References
----------
Efron B (2004) Large-scale simultaneous hypothesis testing: the choice of a null
hypothesis. J Am Stat Assoc 99:96–104.
Efron B (2007) Size, power and false discovery rates. Ann Stat 35:1351–1377.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, special
from threadpoolctl import threadpool_limits

from spikewire._validation import check_choice, check_int

__all__ = ["EmpiricalNull", "empirical_null", "local_fdr", "lfdr_fallback_reason",
           "MIN_TESTS_LFDR", "MIN_TESTS_NULL_CHECK", "LFDR_LEVEL", "LFDR_SWITCH_LEVEL",
           "NULL_FAILURE_SHARE_FDR", "central_null", "departs_from_theory",
           "empirical_null_pvalues", "NULL_SD_FACTOR", "NULL_DEPARTURE_SD",
           "MIN_TESTS_SMALL_NULL", "SMALL_SIGMA0_RANGE", "rereferred_pvalues",
           "small_local_fdr", "MixtureNull", "mixture_null",
           "MIXTURE_LR_THRESHOLD", "MIXTURE_SEPARATION", "SMALL_NULL_FIT",
           "two_group_null"]

#: Fewest finite p-values for which the empirical null is estimated. Measured on
#: two-group mixtures (3 % alternatives, 40 seeds): the standard deviation of the fitted
#: σ0 is 0.104 / 0.085 / 0.053 / 0.034 at 200 / 500 / 1,000 / 2,000 tests. An error δσ in
#: σ0 scales the null density at the Bonferroni point z ≈ 4 by about exp((z² − 1) δσ):
#: a factor 3.6 (one sd) at 500 tests, 2.2 at 1,000. Below 1,000 tests the local FDR is
#: not trusted and BH on the theoretical p-values is used instead.
MIN_TESTS_LFDR = 1000

#: Level at which an estimate that :func:`spikewire.infer.base.check_null` switched to the
#: local FDR calls links (when its own α is lower): Efron's conventional reporting
#: threshold lfdr ≤ 0.2 (Efron 2007, 2010), a posterior probability of being null, not a
#: per-test error rate. On the 1,000-neuron networks of benchmarks/bench_calibration.py
#: (10 min, 961 links) glmcc's calls at lfdr ≤ 0.01 (its α) / 0.2 were 30 / 215 (MCC 0.16
#: / 0.42) on brunel and 169 / 466 (0.40 / 0.64) on the co-modulated network
#: (benchmarks/results/calgap.md).
LFDR_LEVEL = 0.2

#: Level at which :func:`spikewire.infer.base.check_null` calls links after switching an
#: estimate to the local FDR: lfdr < 0.5, the Bayes rule of the two-group model — a pair
#: is called when it is more probably a link than not, which minimises the expected
#: number of misclassified pairs (false calls plus missed links). The switch happens
#: because the estimate's own level α, an error rate under the theoretical null, has lost
#: its meaning; what remains to decide is the circuit, i.e. a classification of the pairs,
#: and Efron's 0.2 is a conservative screening level for reporting "interesting" cases.
#: Measured on the switched estimates of the ``calibration`` study (glmcc on Brunel, with
#: hidden up/down states, Izhikevich random / scale-free; ccg with hidden states), with
#: today's null (step 3b): MCC 0.911 / 0.735 / 0.617 / 0.644 / 0.215 at 0.2, 0.921 / 0.834
#: / 0.670 / 0.695 / 0.255 at 0.5 (benchmarks/results/calib.md); on analytic two-group
#: mixtures lfdr < 0.5 misclassified 1.1–1.6× the pairs the oracle Bayes rule does
#: (tests/infer/test_fdr_skew.py). A method's own lfdr default (tspe) keeps
#: :data:`LFDR_LEVEL`.
LFDR_SWITCH_LEVEL = 0.5

#: Fewest tested pairs from which :func:`central_null` fits a null by default, and
#: from which ``adjust_pvalues(..., "lfdr")`` falls back on BH under it (the share at
#: p < 0.05 of 200 null pairs has sd 1.5 %). :func:`spikewire.infer.base.check_null`
#: judges smaller problems too, from :data:`MIN_TESTS_SMALL_NULL` distinct tests.
MIN_TESTS_NULL_CHECK = 200

#: Fewest *distinct* tests (a symmetric estimate's unordered pairs) from which
#: :func:`spikewire.infer.base.check_null` judges an estimate and, where its null failed,
#: re-refers the p-values to :func:`central_null` (the small-problem rule): 45, the
#: unordered pairs of 10 units (90 directed pairs). On a pure N(0, 1) null the fitted
#: centre's and width's standard deviations are 1.4–1.5 / sqrt(m) and 1.7–2.0 / sqrt(m)
#: at 45–190 tests (1,000 seeds, benchmarks/results/smallnull.md), so
#: :func:`departs_from_theory`'s tolerance 3 × :data:`NULL_SD_FACTOR` / sqrt(m) (0.72 at
#: 45 tests) is 2.4–3.4 of them: about 1 % of calibrated nulls depart by chance (measured
#: 1.1 / 1.0 / 0.5 / 0.2 % at 45 / 56 / 90 / 190 tests), and together with the failure
#: share 0.3 — which a calibrated estimate with 10 % links (share ≈ 0.14, sd 0.05 at 45
#: tests) rarely passes — 0.3 % or fewer are switched. A null as wide as σ0 ≈ 1.7 (hidden
#: shared input on a 20-unit subset of a recurrent network: δ0 0.7–2.7, σ0 1.3–2.1,
#: benchmarks/results/indirect.md) is told apart from N(0, 1) in 77 % of draws at 45
#: tests (N(0.5, 1.8²)), 96 % at 90. Below 45 the tolerance passes 0.75 and the fit
#: rests on fewer than 40 z-values in its window (1.9 % of fits already fail at 45);
#: such estimates are not judged.
MIN_TESTS_SMALL_NULL = 45

#: Standard deviation of the maximum-likelihood null's centre and width, in units of
#: ``1 / sqrt(m)`` for ``m`` tests: measured on two-group mixtures (3 % alternatives, 40
#: seeds) the sd of σ0 was 0.104 / 0.053 at 200 / 1,000 tests (1.5–1.7 / sqrt(m)).
NULL_SD_FACTOR = 1.6

#: :func:`departs_from_theory` calls an empirical null different from N(0, 1) beyond this
#: many standard deviations (:data:`NULL_SD_FACTOR`): 3 sd of either parameter, about 0.5 %
#: of calibrated problems by chance, where the cost is small (Benjamini–Hochberg under a
#: null within 0.34 of N(0, 1) at 200 tests).
NULL_DEPARTURE_SD = 3.0

#: Share of tested pairs at p < 0.05 above which :func:`spikewire.infer.base.check_null`
#: also switches a default ``"bh"`` or ``"none"`` correction (any correction from
#: ``NULL_FAILURE_SHARE`` = 0.5): a calibrated test on a circuit at most 20 % connected
#: gives at most 0.2 + 0.05 · 0.8 = 0.24, and BH's calls grow with the excess. Bonferroni
#: (level α/m, far in the tail) is left alone between 0.3 and 0.5: measured on the
#: 1,000-neuron networks of benchmarks/bench_calibration.py, switching te / partial_corr
#: (Bonferroni, shares 0.32–0.48) changed their MCC by −0.05 to +0.02, while switching
#: glmcc on brunel_long (BH, share 0.38) raised it from 0.54 to 0.63 and ccg on the
#: scale-free Izhikevich network (BH, share 0.33, 2,245 calls of 905 links) from 0.50 to
#: 0.66 (572 calls; benchmarks/results/calgap.md).
NULL_FAILURE_SHARE_FDR = 0.3

#: Fewest z-values in the right tail fitted by the two-group tail model, and the share
#: of the tests in that tail if that is more.
MIN_TAIL = 50
TAIL_SHARE = 0.05

#: Right half-peak of the empirical null (step 3b of the module docstring): the null is
#: fitted to the z-values in ``[mode, mode + RIGHT_HALF_WIDTH · σ]``.
RIGHT_HALF_WIDTH = 1.5

#: The right half-peak replaces the two-sided fit when its width is below the two-sided
#: one by more than ``SKEW_TEST_SD`` standard deviations of their difference, which is
#: ``SKEW_DIFF_SD · σ0 / sqrt(m)`` for ``m`` tests. Measured on normal mixtures (60 seeds
#: each; null N(0, 1) alone, with 5 % alternatives N(4, 1), with 10 % N(3, 1); m = 1,000 /
#: 3,000 / 10,000): sqrt(m) · sd(σ_right − σ_both) = 2.0–4.1, mean difference −0.006 to
#: +0.037 (the alternatives widen the right half, never narrow it). 4 is the upper end; 2 sd
#: (one-sided, ≈ 2 % of symmetric nulls switch, at no bias: the right half-peak of a
#: symmetric null has the same width) keeps the rule sensitive to the skew measured on
#: glmcc's p-values (σ_right / σ_both = 0.55–0.87 at 9,900 tests, where 2 sd is 0.92).
SKEW_DIFF_SD = 4.0
SKEW_TEST_SD = 2.0

#: The right half-peak is not fitted when one z-value holds more than this share of its
#: points (continuous z-values: each value once; see ``_tied``).
MAX_TIE_SHARE = 0.02

#: ... or when fewer than this share of its points are distinct values.
MIN_DISTINCT_SHARE = 0.9

#: Range of the empirical null's σ0 accepted as an estimate (a narrower or much wider
#: bulk means the p-values are not continuous test results, e.g. heavily discretised).
SIGMA0_RANGE = (0.5, 4.0)

#: Range of σ0 accepted by the small-problem rule of
#: :func:`spikewire.infer.base.check_null` (``central_null(..., sigma0_range=...)``):
#: wider at the top, since its re-referral never lowers a p-value, so a wide fit only
#: removes calls, and a bulk that wide (zero-lag input shared by most recorded pairs: a
#: 20-unit toy with 40 hidden neurons gave σ0 = 6.6, tests/infer/
#: test_partial_corr_indirect.py) leaves the theoretical null nothing to say; 10 still
#: refuses a diverging fit.
SMALL_SIGMA0_RANGE = (0.5, 10.0)


@dataclass(frozen=True)
class EmpiricalNull:
    """Empirical null of z-values: ``π0 · N(delta0, sigma0²)``.

    Attributes
    ----------
    delta0, sigma0 : float
        Centre and width of the null density of ``z = Φ⁻¹(1 − p)`` (0 and 1 for the
        theoretical null).
    pi0 : float
        Estimated fraction of null tests (≤ 1).
    n_tests : int
        Number of finite p-values used.
    side : {"both", "right"}, default "both"
        Which part of the central peak the null was fitted to: ``"both"`` (Efron's
        maximum likelihood over ``median ± 1.5 σ_IQR``) or ``"right"`` (the half-peak
        from the mode towards the alternatives, chosen when the bulk is skewed; module
        docstring, step 3b).
    sigma0_both : float
        The two-sided fit's width (equal to ``sigma0`` when ``side == "both"``), kept so
        diagnostics can say how much the choice mattered.
    """

    delta0: float
    sigma0: float
    pi0: float
    n_tests: int
    side: str = "both"
    sigma0_both: float = float("nan")

    def as_dict(self) -> dict:
        """Plain dict of the fields (for an estimate's diagnostics)."""
        return {"delta0": self.delta0, "sigma0": self.sigma0, "pi0": self.pi0,
                "n_tests": self.n_tests, "side": self.side,
                "sigma0_both": self.sigma0_both}


def _p_to_z(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-300, 1.0 - 1e-16)
    return -special.ndtri(p)


def _finite_z(p, min_tests: int, too_few: str) -> np.ndarray:
    """z-values of the finite p-values, after checking they lie in [0, 1] and that there
    are at least ``min_tests`` (else ``too_few.format(m=...)`` is raised)."""
    p = np.asarray(p, dtype=float)
    vals = p[np.isfinite(p)]
    if vals.size and (vals.min() < 0 or vals.max() > 1):
        raise ValueError(f"p-values must lie in [0, 1], got values in [{vals.min():g}, "
                         f"{vals.max():g}]")
    if vals.size < min_tests:
        raise ValueError(too_few.format(m=vals.size))
    return _p_to_z(vals)


def _poisson_poly_fit(x: np.ndarray, y: np.ndarray, degree: int, n_iter: int = 100):
    """Poisson regression ``log E[y] = poly(x)`` by iteratively reweighted least squares.

    ``x`` is standardised inside; returns the fitted log means at ``x`` and a callable
    evaluating the log mean at new points."""
    mu_x, sd_x = float(x.mean()), float(x.std()) or 1.0

    def design(t):
        u = (np.asarray(t, dtype=float) - mu_x) / sd_x
        return np.vander(u, degree + 1, increasing=True)

    X = design(x)
    beta = np.zeros(degree + 1)
    beta[0] = np.log(max(y.mean(), 1e-12))
    for _ in range(n_iter):
        eta = np.clip(X @ beta, -700, 700)
        mu = np.exp(eta)
        z = eta + (y - mu) / np.maximum(mu, 1e-12)
        w = np.maximum(mu, 1e-12)
        XtW = X.T * w
        new = np.linalg.lstsq(XtW @ X, XtW @ z, rcond=None)[0]
        if not np.all(np.isfinite(new)):
            raise ValueError("the density fit of the z-values diverged; the p-values are too "
                             "discrete for an empirical null (use correction='bh')")
        if np.max(np.abs(new - beta)) < 1e-9 * (1 + np.max(np.abs(beta))):
            beta = new
            break
        beta = new
    return X @ beta, lambda t: design(t) @ beta


def empirical_null(p: np.ndarray, n_bins: int = 120, degree: int = 7) -> EmpiricalNull:
    """Efron's maximum-likelihood estimate of the null of ``z = Φ⁻¹(1 − p)``.

    Parameters
    ----------
    p : ndarray
        p-values; non-finite entries are ignored.
    n_bins : int, default 120
        Histogram bins for Lindsey's density fit.
    degree : int, default 7
        Degree of the log-density polynomial (Efron's locfdr uses 7 degrees of freedom).

    Returns
    -------
    EmpiricalNull
    """
    with threadpool_limits(1):
        null, _ = _fit(p, n_bins, degree)
    return null


def lfdr_fallback_reason(p: np.ndarray) -> str | None:
    """Why the empirical-null local FDR cannot be used on ``p`` (``None`` if it can).

    Checks the cheap conditions only (number of finite p-values, ties); the fit itself
    may still fail (``local_fdr`` then raises ``ValueError`` with the reason).

    Parameters
    ----------
    p : ndarray
        p-values; non-finite entries are ignored.

    Returns
    -------
    str or None
        A sentence saying why, or ``None``.
    """
    p = np.asarray(p, dtype=float)
    vals = p[np.isfinite(p)]
    if vals.size < MIN_TESTS_LFDR:
        return (f"the empirical-null local FDR needs at least {MIN_TESTS_LFDR} tested pairs "
                f"to estimate the null from their bulk, got {vals.size}")
    q25, q75 = np.quantile(vals, [0.25, 0.75])
    if q75 - q25 < 1e-12:
        return ("the middle half of the p-values is tied (e.g. most equal to 1), so the "
                "bulk has no width from which to estimate an empirical null")
    return None


def _fit(p, n_bins, degree):
    check_int("n_bins", n_bins, minimum=20)
    check_int("degree", degree, minimum=2)
    z = _finite_z(p, MIN_TESTS_LFDR, f"the empirical-null local FDR needs at least "
                  f"{MIN_TESTS_LFDR} tested pairs to estimate the null from their bulk, got "
                  "{m}; use correction='bh' or 'bonferroni' for small networks")
    m = z.size
    lo, q25, q75, hi = np.quantile(z, [0.001, 0.25, 0.75, 0.999])
    if not hi > lo:
        raise ValueError("the p-values are (almost) all equal; the empirical null cannot be "
                         "estimated from them")
    if q75 - q25 < 1e-3:
        raise ValueError("the middle half of the p-values is (nearly) tied (e.g. most equal "
                         "to 1), so the bulk of the z-values has no width from which to "
                         "estimate an empirical null; use correction='bh' or 'bonferroni'")
    edges = np.linspace(lo, hi, n_bins + 1)
    width = edges[1] - edges[0]
    centres = 0.5 * (edges[1:] + edges[:-1])
    counts, _ = np.histogram(np.clip(z, lo, hi), edges)
    log_counts, predict = _poisson_poly_fit(centres, counts.astype(float), degree)
    # density f = counts / (m · width)
    log_norm = np.log(m * width)
    # Efron's maximum-likelihood empirical null: the z-values in the central interval
    # median ± 1.5 σ_IQR are taken as null and fitted by a normal truncated to it; π0 is the
    # share of all tests in the interval over the fitted null's mass there
    delta0, sigma0, success, (a, b, inside) = _ml_central_null(z, q25, q75)
    both_ok = (success and np.isfinite(delta0)
               and SIGMA0_RANGE[0] <= sigma0 <= SIGMA0_RANGE[1])
    # the right half-peak (step 3b), also where a skewed bulk made the two-sided width
    # implausibly large
    right = None
    if success and np.isfinite(delta0) and np.isfinite(sigma0):
        right = _fit_right_half(z, predict, q25, q75,
                                float(np.clip(sigma0, *SIGMA0_RANGE)))
    use_right = right is not None and right[1] < sigma0 * (
        1.0 - SKEW_TEST_SD * SKEW_DIFF_SD / np.sqrt(m))
    if not (both_ok or use_right):
        raise ValueError(f"the empirical null could not be estimated (fit "
                         f"{'converged' if success else 'did not converge'}, σ0 = "
                         f"{sigma0:.3g}, accepted {SIGMA0_RANGE}); use correction='bh' or "
                         "'bonferroni'")
    if use_right:
        mode, s_r, pi0_r = right
        null = EmpiricalNull(delta0=mode, sigma0=s_r, pi0=pi0_r, n_tests=int(m),
                             side="right", sigma0_both=sigma0)
    else:
        mass = special.ndtr((b - delta0) / sigma0) - special.ndtr((a - delta0) / sigma0)
        pi0 = min(inside.size / m / max(mass, 1e-300), 1.0)
        null = EmpiricalNull(delta0=delta0, sigma0=sigma0, pi0=pi0, n_tests=int(m),
                             sigma0_both=sigma0)
    tail = _fit_tail(z, null)
    return null, (predict, log_norm, lo, hi, z, tail)


def _ml_central_null(z, q25, q75):
    """Efron's maximum-likelihood null (module docstring, step 3): a normal truncated to
    ``median ± 1.5 σ_IQR`` fitted to the z-values inside; returns ``δ0, σ0, converged,
    (a, b, inside)``."""
    med = float(np.median(z))
    s_iqr = max(float(q75 - q25) / 1.349, 1e-6)
    a, b = med - 1.5 * s_iqr, med + 1.5 * s_iqr
    inside = z[(z >= a) & (z <= b)]

    def nll(theta):
        d, s = theta[0], np.exp(theta[1])
        mass = special.ndtr((b - d) / s) - special.ndtr((a - d) / s)
        return (0.5 * np.sum(((inside - d) / s) ** 2) + inside.size * np.log(s)
                + inside.size * np.log(max(mass, 1e-300)))

    res = optimize.minimize(nll, [med, np.log(s_iqr)], method="Nelder-Mead",
                            options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 2000})
    return float(res.x[0]), float(np.exp(res.x[1])), bool(res.success), (a, b, inside)


def central_null(p: np.ndarray, min_tests: int = MIN_TESTS_NULL_CHECK,
                 sigma0_range: tuple[float, float] = SIGMA0_RANGE) -> EmpiricalNull:
    """Empirical null of a small problem: Efron's maximum-likelihood fit alone.

    For :data:`MIN_TESTS_NULL_CHECK` (200) to :data:`MIN_TESTS_LFDR` (1,000) tests, too few
    for the local FDR's density fit (Lindsey's histogram, the tail model) but enough to
    place the null's centre and width: step 3 of the module docstring (a normal truncated
    to ``median ± 1.5 σ_IQR``), without the skew rule (step 3b needs the density's mode).
    :func:`spikewire.infer.adjust_pvalues` uses it, where ``correction="lfdr"`` meets a
    small problem, for Benjamini–Hochberg under this null (:func:`empirical_null_pvalues`)
    when the null departs from N(0, 1) beyond its sampling error
    (:func:`departs_from_theory`).

    Parameters
    ----------
    p : ndarray
        p-values; non-finite entries are ignored; at least ``min_tests``.
    min_tests : int, default :data:`MIN_TESTS_NULL_CHECK`
        Fewest finite p-values accepted (:func:`spikewire.infer.base.check_null` passes
        :data:`MIN_TESTS_SMALL_NULL`; at least 20).
    sigma0_range : (float, float), default :data:`SIGMA0_RANGE`
        Widths accepted (``check_null`` passes :data:`SMALL_SIGMA0_RANGE`).

    Returns
    -------
    EmpiricalNull
        ``pi0`` is the share of tests in the fitting interval over the fitted null's mass
        there (≤ 1).

    Raises
    ------
    ValueError
        Too few finite p-values, p-values outside [0, 1], a tied bulk, or a fit that did
        not converge to a width within :data:`SIGMA0_RANGE`.
    """
    min_tests = check_int("min_tests", min_tests, minimum=20)
    z = _finite_z(p, min_tests, f"an empirical null needs at least {min_tests} tested "
                  "pairs, got {m}")
    m = z.size
    q25, q75 = np.quantile(z, [0.25, 0.75])
    if q75 - q25 < 1e-3 or _tied(z[(z >= q25) & (z <= q75)]):
        raise ValueError("the middle half of the p-values is tied, so the bulk of the "
                         "z-values has no width from which to estimate an empirical null")
    with threadpool_limits(1):
        delta0, sigma0, success, (a, b, inside) = _ml_central_null(z, q25, q75)
    if not (success and np.isfinite(delta0)
            and sigma0_range[0] <= sigma0 <= sigma0_range[1]):
        raise ValueError(f"the empirical null could not be estimated (σ0 = {sigma0:.3g}, "
                         f"accepted {tuple(sigma0_range)})")
    mass = special.ndtr((b - delta0) / sigma0) - special.ndtr((a - delta0) / sigma0)
    pi0 = min(inside.size / m / max(mass, 1e-300), 1.0)
    return EmpiricalNull(delta0=delta0, sigma0=sigma0, pi0=pi0, n_tests=int(m),
                         sigma0_both=sigma0)


#: Separation of the two-group fit of :func:`mixture_null`: the alternative's mean lies at
#: least this many pooled sds above the null's centre, ``μ1 − δ0 ≥ D · sqrt((σ0² + σ1²) /
#: 2)`` (Ashman's D ≥ 2: the two normals of a mixture are clearly apart, its density
#: bimodal or nearly so, from D ≈ 2). Without it a second normal overlapping the null's
#: bulk fits any skew of the bulk and the null's width is no longer identified.
MIXTURE_SEPARATION = 2.0

#: Which null :func:`small_local_fdr` uses by default: ``"mixture"`` (the two-group fit of
#: :func:`mixture_null` where its second component is needed, else the null passed) or
#: ``"given"`` (the null passed, as in session 21).
SMALL_NULL_FIT = "mixture"

#: Likelihood-ratio statistic above which :func:`mixture_null` takes the second component
#: as needed (with ``σ1 < σ0``). On normal samples without links (N(2, σ²), 100 draws per
#: cell, 45 / 90 / 380 tests) the second component was needed in 0–4 % of draws at
#: σ = 2–2.5 (10 of 600 in all, the test's nominal rate ≈ 2 %) and never at σ = 1; on
#: glmcc's switched estimates at 80–90 % hidden neurons the LR was 8.3–30.7 where it
#: rescued the decision (benchmarks/results/glmccmix.md).
MIXTURE_LR_THRESHOLD = 8.0


@dataclass(frozen=True)
class MixtureNull:
    """Two-group fit of :func:`mixture_null`: ``π0 N(δ0, σ0²) + (1 − π0) N(μ1, σ1²)``.

    Attributes
    ----------
    null : EmpiricalNull
        The null component (``delta0``, ``sigma0``, in z units; ``pi0`` the share of all
        ``n_tests`` tests that are null, the z-values below the fitting window counted as
        null).
    mu1, sigma1 : float
        Mean and sd of the alternative component (z units).
    lr : float
        Likelihood-ratio statistic ``2 (log L2 − log L1)`` of the two-group fit against a
        single normal, both on the z-values above the window's lower edge.
    needed : bool
        Whether the second component is supported: ``lr ≥``
        :data:`MIXTURE_LR_THRESHOLD` and ``σ1 < σ0`` and a null within the window.
    central : EmpiricalNull
        The central fit (:func:`central_null`) the two-group fit started from.
    """

    null: EmpiricalNull
    mu1: float
    sigma1: float
    lr: float
    needed: bool
    central: EmpiricalNull

    def as_dict(self) -> dict:
        """Plain dict of the fields (for diagnostics)."""
        return {"null": self.null.as_dict(), "mu1": self.mu1, "sigma1": self.sigma1,
                "lr": self.lr, "needed": self.needed, "central": self.central.as_dict()}


def _log_trunc_normal(x, d, s, a):
    """log density of N(d, s²) truncated to ``[a, ∞)`` at ``x``."""
    return (-0.5 * ((x - d) / s) ** 2 - np.log(np.sqrt(2 * np.pi) * s)
            - special.log_ndtr((d - a) / s))


def _two_group_params(t, s_max):
    """``(δ0, σ0, π0, μ1, σ1)`` from the unconstrained parameters of
    :func:`mixture_null` (``π0`` in [½, 1], ``σ1`` in [1, ``s_max``], ``μ1`` separated)."""
    t = np.clip(t, -30.0, 30.0)
    d, s0 = t[0], np.exp(t[1])
    pi = 0.5 + 0.5 * special.expit(t[2])
    s1 = 1.0 + (s_max - 1.0) * special.expit(t[4])
    mu = d + MIXTURE_SEPARATION * np.sqrt(0.5 * (s0 * s0 + s1 * s1)) + np.exp(t[3])
    return d, s0, pi, mu, s1


def mixture_null(p: np.ndarray, min_tests: int = MIN_TESTS_SMALL_NULL,
                 sigma0_range: tuple[float, float] = SMALL_SIGMA0_RANGE) -> MixtureNull:
    """Empirical null of a dense small problem from a two-group fit.

    Efron's two-group model (Efron 2004, 2007), ``f = π0 f0 + (1 − π0) f1``.
    :func:`central_null` fits the null to the z-values within ``median ± 1.5 σ_IQR``. When
    a fifth of the pairs or more are links, many links lie inside that window and widen
    the fit (glmcc on 20 of 100 Brunel neurons: σ0 2.7–3.5 against 1.9–2.3 for the
    unlinked pairs alone), and the small-problem local FDR calls nothing
    (benchmarks/results/glmcc90.md). Here the links get a component of their own: the
    z-values ``z = Φ⁻¹(1 − p)`` above the window's lower edge ``a = median − 1.5 σ_IQR``
    (the left tail, which carries no links and can be long — glmcc's p-values near 1 — is
    left out, as in the central fit) are fitted by maximum likelihood with

    ``π0 N(δ0, σ0²) + (1 − π0) N(μ1, σ1²)``, both truncated to ``[a, ∞)``,

    under ``π0 ≥ ½`` (most pairs unlinked), ``1 ≤ σ1 ≤ max(sigma0_range)`` (a link's z
    carries the test's own N(0, 1) noise) and a separated alternative, ``μ1 ≥ δ0 +``
    :data:`MIXTURE_SEPARATION` ``· sqrt((σ0² + σ1²) / 2)`` (three starts, Nelder–Mead), and
    against a single truncated normal (the null alone). The second component is
    **needed** when

    - the likelihood ratio ``2 (log L2 − log L1)`` is at least :data:`MIXTURE_LR_THRESHOLD`,
    - the alternative is narrower than the null (``σ1 < σ0``): a cluster of links. A
      heavy or skewed right tail of the null itself (glm's bulk under hidden input) also
      improves on one normal, but as a component wider than the bulk, and taking it for
      links would narrow the null under the null's own tail;
    - the null component is a plausible null: ``δ0`` within the window, ``σ0`` within
      ``sigma0_range``.

    Parameters
    ----------
    p : ndarray
        p-values (distinct tests); non-finite entries ignored; at least ``min_tests``.
    min_tests : int, default :data:`MIN_TESTS_SMALL_NULL`
        Fewest finite p-values accepted (at least 20).
    sigma0_range : (float, float), default :data:`SMALL_SIGMA0_RANGE`
        Null widths accepted (z units), for the central and the two-group fit.

    Returns
    -------
    MixtureNull
        ``needed`` says whether its ``null`` should replace the central one.

    Raises
    ------
    ValueError
        As :func:`central_null` (too few p-values, values outside [0, 1], a tied bulk, a
        central fit out of range).
    """
    central = central_null(p, min_tests=min_tests, sigma0_range=sigma0_range)
    p = np.asarray(p, dtype=float)
    z = _p_to_z(p[np.isfinite(p)])
    m = z.size
    q25, q75 = np.quantile(z, [0.25, 0.75])
    med = float(np.median(z))
    s_iqr = float(q75 - q25) / 1.349
    a, b = med - 1.5 * s_iqr, med + 1.5 * s_iqr
    x = z[z >= a]
    opts = {"xatol": 1e-4, "fatol": 1e-6, "maxiter": 3000, "maxfev": 3000}

    def nll1(t):
        return -np.sum(_log_trunc_normal(x, t[0], np.exp(t[1]), a))

    def nll2(t):
        d, s0, pi, mu, s1 = _two_group_params(t, s_max)
        return -np.sum(np.logaddexp(np.log(pi) + _log_trunc_normal(x, d, s0, a),
                                    np.log1p(-pi) + _log_trunc_normal(x, mu, s1, a)))

    d0, s00 = central.delta0, central.sigma0
    s_max = float(sigma0_range[1])
    with threadpool_limits(1), np.errstate(all="ignore"):
        one = optimize.minimize(nll1, [d0, np.log(s00)], method="Nelder-Mead",
                                options=opts)
        best = None
        for q, pi in ((0.75, 0.7), (0.85, 0.8), (0.95, 0.9)):
            gap = float(np.quantile(x, q)) - d0 - MIXTURE_SEPARATION * s00
            t0 = [d0, np.log(s00), special.logit(2 * pi - 1), np.log(max(gap, 0.3)),
                  special.logit(min(max((0.5 * s00 - 1.0) / (s_max - 1.0), 0.01), 0.99))]
            res = optimize.minimize(nll2, t0, method="Nelder-Mead", options=opts)
            if best is None or res.fun < best.fun:
                best = res
    d, s0, pi, mu, s1 = _two_group_params(best.x, s_max)
    lr = float(max(2.0 * (one.fun - best.fun), 0.0))
    pi0 = float(1.0 - (1.0 - pi) * x.size / m)
    null = EmpiricalNull(delta0=float(d), sigma0=float(s0), pi0=pi0, n_tests=int(m),
                         sigma0_both=float(s0))
    needed = bool(np.isfinite(lr) and lr >= MIXTURE_LR_THRESHOLD and s1 < s0
                  and a <= d <= b and sigma0_range[0] <= s0 <= sigma0_range[1])
    return MixtureNull(null=null, mu1=float(mu), sigma1=float(s1), lr=lr, needed=needed,
                       central=central)


def departs_from_theory(null: EmpiricalNull) -> bool:
    """Whether an empirical null differs from the theoretical N(0, 1) beyond sampling error.

    True when ``|δ0|`` or ``|σ0 − 1|`` exceeds :data:`NULL_DEPARTURE_SD` standard
    deviations of the estimate, ``NULL_SD_FACTOR / sqrt(m)`` for ``m`` tests.
    """
    tol = NULL_DEPARTURE_SD * NULL_SD_FACTOR / np.sqrt(null.n_tests)
    return bool(abs(null.delta0) > tol or abs(null.sigma0 - 1.0) > tol)


def empirical_null_pvalues(p: np.ndarray, null: EmpiricalNull) -> np.ndarray:
    """Upper-tail p-values of ``z = Φ⁻¹(1 − p)`` under the null ``N(δ0, σ0²)``.

    Parameters
    ----------
    p : ndarray
        p-values of any shape; NaN entries stay NaN.
    null : EmpiricalNull

    Returns
    -------
    ndarray
        ``1 − Φ((z − δ0) / σ0)``, same shape as ``p``.
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    out[ok] = special.ndtr(-(_p_to_z(p[ok]) - null.delta0) / null.sigma0)
    return out


def rereferred_pvalues(p: np.ndarray, null: EmpiricalNull) -> np.ndarray:
    """p-values re-referred to an empirical null, never lowered: ``max(p, p0)`` with
    ``p0`` the upper tail of ``z = Φ⁻¹(1 − p)`` under ``N(δ0, σ0²)``
    (:func:`empirical_null_pvalues`).

    The small-problem rule of :func:`spikewire.infer.base.check_null`: a null fitted to
    few tests is noisy (sd of σ0 ≈ 1.6 / sqrt(m)), and a fit narrower than N(0, 1), or
    centred below 0, would make tests *less* conservative than the method's own; taking
    the larger p-value only ever removes calls.

    Parameters
    ----------
    p : ndarray
        p-values of any shape; NaN entries stay NaN.
    null : EmpiricalNull

    Returns
    -------
    ndarray
        Same shape as ``p``, ``≥ p`` entry by entry.
    """
    p = np.asarray(p, dtype=float)
    return np.fmax(p, empirical_null_pvalues(p, null)) if p.size else p.copy()


def two_group_null(p: np.ndarray, null_fit: str | None = None) -> MixtureNull | None:
    """The two-group fit a small problem's decision uses instead of the central null.

    Parameters
    ----------
    p : ndarray
        The distinct tests' p-values (finite, in [0, 1]).
    null_fit : {"mixture", "given"} or None, default None
        As for :func:`small_local_fdr` (None: :data:`SMALL_NULL_FIT`, read at each call).

    Returns
    -------
    MixtureNull or None
        :func:`mixture_null`'s fit where ``null_fit`` is ``"mixture"``, there are at least
        :data:`MIN_TESTS_SMALL_NULL` tests and its second component is needed; None
        otherwise (the decision keeps the central null).
    """
    null_fit = SMALL_NULL_FIT if null_fit is None else null_fit
    check_choice("null_fit", null_fit, {"mixture", "given"})
    p = np.asarray(p, dtype=float)
    if not np.all(np.isfinite(p)) or (p.size and (p.min() < 0.0 or p.max() > 1.0)):
        raise ValueError("two_group_null: p must hold finite p-values in [0, 1]; drop the "
                         "untested (NaN) pairs first")
    if null_fit != "mixture" or p.size < MIN_TESTS_SMALL_NULL:
        return None
    mix = _cached_mixture_null(np.ascontiguousarray(p.ravel()).tobytes())
    return mix if mix is not None and mix.needed else None


@lru_cache(maxsize=16)
def _cached_mixture_null(p_bytes: bytes) -> MixtureNull | None:
    """:func:`mixture_null` at its defaults on the float64 p-values in ``p_bytes`` (None
    where it cannot be fitted), remembered: an estimate's decision refits the same
    p-values on each :meth:`~spikewire.infer.estimate.Estimate.significant` call (the fit
    takes 0.05–0.09 s at 90 tests), and the fit is a deterministic function of them."""
    try:
        return mixture_null(np.frombuffer(p_bytes, dtype=float))
    except ValueError:
        return None


def small_local_fdr(p: np.ndarray, null: EmpiricalNull,
                    reference: np.ndarray | None = None,
                    null_fit: str | None = None) -> np.ndarray:
    """Local FDR of a small problem: a fitted null against a kernel density estimate.

    With fewer than :data:`MIN_TESTS_LFDR` tests Lindsey's histogram fit of
    :func:`local_fdr` is not available, but the two-group model still applies:
    ``lfdr(z) = π0 f0(z) / f(z)`` with ``f0 = N(δ0, σ0²)`` the fitted null
    (:func:`central_null`) and ``f`` the density of all z-values, estimated here by a
    Gaussian kernel density over the ``m`` reference z-values with Silverman's rule-of-thumb
    bandwidth ``h = 0.9 min(sd, IQR / 1.349) m^(−1/5)``. Then, as in :func:`local_fdr`:

    - the null's width at least 1: an unlinked pair's z is its share of the input the
      model misses (shared input, synchrony: random over pairs, variance τ²) plus the
      test's own noise (variance 1), so ``σ0² = 1 + τ² ≥ 1``; a narrower fit is the fit's
      sampling error (sd ≈ 1.8 / sqrt(m) at 45–190 tests). On glm's 10-unit bursting null
      family (no links; σ0 fitted 0.75 about δ0 = 1.9) the fitted width called 8 pairs,
      width 1 calls 2 (benchmarks/results/glmcc90.md);
    - never below the lfdr under the theoretical null, ``π0 φ(z) / f(z)``: like
      :func:`rereferred_pvalues`, a fitted null centred below 0 does not make the
      decision less conservative than the method's own test;
    - 1 at ``z ≤ δ0`` (less dependence than the null is no evidence for a link);
    - non-increasing in ``z``: each value is the largest lfdr at or above its ``z``, so the
      calls at any level are the tests above a threshold, and a test whose density is no
      larger than the null's blocks every test below it.

    Why a density ratio and not Benjamini–Hochberg under the fitted null (the rule before,
    session 20): BH over ``m`` tests needs the strongest test beyond the null's
    ``1 − α/m`` quantile, 3.7 null sd at α = 0.01 and m = 90; under a null as wide as the
    bulk of a partly observed recurrent network (glmcc on 10 of 100 Brunel neurons:
    N(2.6, 2.0²)) a cluster of links 2.5–3.5 null sd out is never reached, while the
    density there is several times the null's. On normal mixtures of 90 tests
    (benchmarks/results/glmcc90.md; null N(2.6, 2²), 10 % links N(7.5, 1.3²)) lfdr < 0.5
    called 5.8 of 9 links with 1.7 false calls (BH under the fitted null at α = 0.05:
    2.5 and 0.5); on such a null without links it made 2.1 false calls per estimate (BH:
    0.4) — the price of the Bayes rule, which minimises the misclassified pairs where there
    are links to find.

    Parameters
    ----------
    p : ndarray
        p-values of any shape; NaN entries stay NaN.
    null : EmpiricalNull
        The fitted null (``delta0``, ``sigma0``, ``pi0``).
    reference : ndarray, optional
        p-values of the distinct tests the density is estimated from (a symmetric
        estimate's upper triangle); default: the finite entries of ``p``. At least 2.
    null_fit : {"mixture", "given"} or None, default None
        None: :data:`SMALL_NULL_FIT` (read at each call), ``"mixture"``.
        ``"given"``: ``null`` as passed. ``"mixture"``: where the reference z-values
        support a second, separated component of links (:func:`mixture_null` on the
        reference, from :data:`MIN_TESTS_SMALL_NULL` tests: ``needed``), the null of that
        two-group fit replaces ``null`` (links inside the central window widen a central
        fit until nothing is called: benchmarks/results/glmccmix.md); otherwise ``null``
        as passed. The floors below apply to either.

    Returns
    -------
    ndarray
        lfdr in [0, 1], same shape as ``p``.
    """
    null_fit = SMALL_NULL_FIT if null_fit is None else null_fit
    check_choice("null_fit", null_fit, {"mixture", "given"})
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    ref = p[ok] if reference is None else np.asarray(reference, dtype=float)
    ref = ref[np.isfinite(ref)]
    for name, v in (("p", p[ok]), ("reference", ref)):
        if v.size and (v.min() < 0.0 or v.max() > 1.0):
            raise ValueError(f"small_local_fdr: {name} must hold p-values in [0, 1], got "
                             f"values from {v.min():g} to {v.max():g}")
    if ref.size < 2:
        raise ValueError(f"small_local_fdr needs at least 2 reference p-values, got "
                         f"{ref.size}")
    if not ok.any():
        return out
    mix = two_group_null(ref, null_fit)
    if mix is not None:
        null = mix.null
    zr = _p_to_z(ref)
    z = _p_to_z(p[ok])
    m = zr.size
    q25, q75 = np.quantile(zr, [0.25, 0.75])
    scale = min(float(np.std(zr, ddof=1)), float(q75 - q25) / 1.349)
    if not scale > 0:
        scale = float(np.std(zr, ddof=1))
    if not scale > 0:
        raise ValueError("the reference z-values are all equal: no density to estimate")
    h = 0.9 * scale * m ** -0.2
    # kernel density at each test's z (in blocks: few tests here, but keep memory bounded)
    f = np.empty(z.size)
    for a in range(0, z.size, 4096):
        d = (z[a:a + 4096, None] - zr[None, :]) / h
        f[a:a + 4096] = np.exp(-0.5 * d * d).sum(axis=1)
    f /= m * h * np.sqrt(2 * np.pi)
    # the null no narrower than the test's own N(0, 1) noise (see the docstring)
    wide = EmpiricalNull(delta0=null.delta0, sigma0=max(float(null.sigma0), 1.0),
                         pi0=null.pi0, n_tests=null.n_tests)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        lf = null.pi0 * np.exp(_log_f0(z, wide)) / f
        lf_theory = null.pi0 * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) / f
    lf = np.where(f > 0, np.fmax(lf, lf_theory), 1.0)
    lf = np.minimum(np.nan_to_num(lf, nan=1.0), 1.0)
    lf[z <= null.delta0] = 1.0
    order = np.argsort(-z, kind="stable")
    res = np.empty(z.size)
    res[order] = np.maximum.accumulate(lf[order])
    out[ok] = res
    return out


def _fit_right_half(z, predict, q25, q75, sigma0):
    """Null fitted to the right half-peak (module docstring, step 3b).

    Returns ``(mode, σ, π0)``, or ``None`` when the fit is not usable (too few points,
    failed optimisation, width outside :data:`SIGMA0_RANGE`)."""
    grid = np.linspace(q25, q75, 2001)
    mode = float(grid[np.argmax(predict(grid))])
    s = float(sigma0)
    x = z[:0]
    for _ in range(3):
        lo, hi = mode, mode + RIGHT_HALF_WIDTH * s
        x = z[(z >= lo) & (z <= hi)]
        if x.size < 50 or _tied(x):
            return None

        def nll(ls, x=x, hi=hi):
            sd = np.exp(ls[0])
            mass = special.ndtr((hi - mode) / sd) - 0.5
            return (0.5 * np.sum(((x - mode) / sd) ** 2) + x.size * np.log(sd)
                    + x.size * np.log(max(mass, 1e-300)))

        res = optimize.minimize(nll, [np.log(s)], method="Nelder-Mead",
                                options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 500})
        s = float(np.exp(res.x[0]))
        if not (res.success and SIGMA0_RANGE[0] <= s <= SIGMA0_RANGE[1]):
            return None
    # π0 from the points of the last interval (width RIGHT_HALF_WIDTH times the previous
    # iterate, within 1 % of the final σ after three iterations)
    mass = special.ndtr(RIGHT_HALF_WIDTH) - 0.5
    n_in = int(np.sum((z >= mode) & (z <= mode + RIGHT_HALF_WIDTH * s)))
    return mode, s, min(n_in / z.size / mass, 1.0)


def _tied(x: np.ndarray) -> bool:
    """Whether the z-values of the right half-peak are too tied for its width estimate.

    The half-peak fit assumes continuous z-values. Discrete p-values (tspe's conditional
    count test, Monte Carlo p-values of sparse pairs) put many pairs on a few values; a
    mode sitting on such a spike makes the half-peak look narrow although the null holds
    (nullall.md: tspe on the heterogeneous null family, seed 1, σ0 0.62 against the
    two-sided 0.99, 94 false calls; the two-sided fit: 2). The half-peak is refused when
    one value holds more than :data:`MAX_TIE_SHARE` of its points or fewer than
    :data:`MIN_DISTINCT_SHARE` of them are distinct; the two-sided fit is used instead.
    """
    _, counts = np.unique(x, return_counts=True)
    # max(1, ...): below 50 points a single occurrence exceeds 2 % of them; a value seen
    # twice is a tie there (the small problems of check_null, from 45 tests)
    return bool(counts.max() > max(1.0, MAX_TIE_SHARE * x.size)
                or counts.size < MIN_DISTINCT_SHARE * x.size)


def _log_f0(z, null: EmpiricalNull):
    return (-0.5 * ((z - null.delta0) / null.sigma0) ** 2
            - np.log(np.sqrt(2 * np.pi) * null.sigma0))


def _fit_tail(z: np.ndarray, null: EmpiricalNull) -> tuple[float, float, float, float]:
    """Two-group model of the right tail above ``z_t``: ``f = π0 f0 + c_t g / G(z_t)``.

    ``g = N(μ1, σ1²)`` with ``σ1 ≥ σ0`` (so ``f0 / g`` falls with z and the tail's lfdr is
    non-increasing), ``G(z_t)`` its mass above ``z_t`` and ``c_t`` the alternatives' share
    of all tests above ``z_t``. Maximum likelihood of the tail points as a Poisson process
    of intensity ``m f``. Returns ``(z_t, c_t, μ1, σ1)``."""
    m = z.size
    n_t = max(MIN_TAIL, int(np.ceil(TAIL_SHARE * m)))
    zs = np.sort(z)
    z_t = max(float(zs[max(m - n_t - 1, 0)]), null.delta0 + null.sigma0)
    x = z[z > z_t]
    if x.size == 0:
        return z_t, 0.0, z_t, null.sigma0
    log_null = np.log(null.pi0) + _log_f0(x, null)
    null_mass = null.pi0 * special.ndtr(-(z_t - null.delta0) / null.sigma0)
    c_max = x.size / m

    def nll(theta):
        c, mu, ls = theta
        s = np.exp(ls)
        log_g = (-0.5 * ((x - mu) / s) ** 2 - np.log(np.sqrt(2 * np.pi) * s)
                 - special.log_ndtr((mu - z_t) / s))
        alt = np.log(max(c, 1e-300)) + log_g
        return -(np.sum(np.logaddexp(log_null, alt)) - m * (null_mass + c))

    s0 = null.sigma0
    bounds = [(0.0, c_max), (null.delta0, float(x.max()) + 2 * s0),
              (np.log(s0), np.log(5 * s0))]
    best = None
    for c0, mu0 in ((0.0, z_t), (0.5 * c_max, float(np.median(x))),
                    (0.5 * c_max, float(x.max()))):
        res = optimize.minimize(nll, [c0, mu0, np.log(s0)], method="L-BFGS-B",
                                bounds=bounds)
        if best is None or res.fun < best.fun:
            best = res
    c, mu, ls = best.x
    return z_t, float(c), float(mu), float(np.exp(ls))


def local_fdr(p: np.ndarray, n_bins: int = 120, degree: int = 7,
              return_null: bool = False):
    """Empirical-null local false discovery rate of each p-value (Efron 2004/2007).

    Parameters
    ----------
    p : ndarray
        p-values of any shape (e.g. post × pre); NaN entries (untested pairs) stay NaN.
        At least :data:`MIN_TESTS_LFDR` must be finite.
    n_bins, degree : int
        Histogram bins and polynomial degree of Lindsey's density fit of the body.
    return_null : bool, default False
        Also return the fitted :class:`EmpiricalNull`.

    Returns
    -------
    lfdr : ndarray
        Same shape as ``p``: posterior probability (in [0, 1]) that each test is null;
        non-increasing in ``z = Φ⁻¹(1 − p)``, 1 below the null's centre, and at most the
        expected number of null tests at least as extreme (module docstring).
    null : EmpiricalNull
        Only with ``return_null=True``.

    Raises
    ------
    ValueError
        Fewer than :data:`MIN_TESTS_LFDR` finite p-values, p-values outside [0, 1], or an
        empirical null that cannot be estimated (tied p-values, failed fit).
    """
    p = np.asarray(p, dtype=float)
    # the fits solve 8 × 8 systems: a BLAS thread pool only adds contention (3× the wall
    # time of the tests on the shared 2-core machine)
    with threadpool_limits(1):
        null, (predict, log_norm, lo, hi, z, (z_t, c, mu1, s1)) = _fit(p, n_bins, degree)
    m = z.size
    log_pi0 = np.log(null.pi0)
    log_f0 = _log_f0(z, null)
    # body: Lindsey's fit of the mixture density
    zc = np.clip(z, lo, hi)
    log_f = predict(zc) - log_norm
    log_lfdr = log_pi0 + log_f0 - log_f
    # right tail: the two-group tail model (null + exponential excess)
    tail = z > z_t
    if tail.any():
        lt = log_pi0 + log_f0[tail]
        alt = (np.log(max(c, 1e-300)) - 0.5 * ((z[tail] - mu1) / s1) ** 2
               - np.log(np.sqrt(2 * np.pi) * s1) - special.log_ndtr((mu1 - z_t) / s1))
        log_lfdr[tail] = lt - np.logaddexp(lt, alt)
    # cap: the expected number of null tests at least as extreme (Bonferroni under the
    # empirical null)
    log_sf0 = special.log_ndtr(-(z - null.delta0) / null.sigma0)
    log_lfdr = np.minimum(log_lfdr, np.log(m) + log_pi0 + log_sf0)
    fdr = np.exp(np.minimum(log_lfdr, 0.0))
    # only the right tail is evidence for a link (z below the null centre means less
    # dependence than the null): lfdr = 1 there; above the centre a more extreme z never
    # gets a larger lfdr
    order = np.argsort(z, kind="stable")
    fs = fdr[order]
    right = z[order] > null.delta0
    fs[~right] = 1.0
    fs[right] = np.minimum.accumulate(fs[right])
    out_vals = np.empty_like(fdr)
    out_vals[order] = fs
    out = np.full(p.shape, np.nan)
    out[np.isfinite(p)] = out_vals
    return (out, null) if return_null else out
