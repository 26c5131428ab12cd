"""The result of an inference method: a post × pre weight estimate with its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikewire._validation import check_choice, check_probability_open

__all__ = ["Estimate", "PAIR_STATUS", "adjust_pvalues"]

#: Meaning of the per-pair status codes in :attr:`Estimate.pair_status`.
PAIR_STATUS = {
    0: "ok",                 # estimated and tested
    1: "diagonal",           # self pair, not estimated
    2: "not_requested",      # outside the requested subset of pairs
    3: "too_few_spikes",     # a unit of the pair has too few spikes to estimate anything
    4: "undecided",          # too little evidence (e.g. too few coincidences) to decide
    5: "fit_failed",         # the optimiser failed for this pair / target (see diagnostics)
}


def _small_problem_null(vals: np.ndarray, min_tests: int | None = None):
    """The empirical null of a problem too small for the local FDR, where it is needed:
    ``None`` below ``min_tests`` tests (default
    :data:`~spikewire.infer.fdr.MIN_TESTS_NULL_CHECK`, 200;
    :func:`~spikewire.infer.base.check_null` passes
    :data:`~spikewire.infer.fdr.MIN_TESTS_SMALL_NULL`), when it cannot be fitted, or when
    it agrees with N(0, 1) within its sampling error."""
    null, _ = _small_problem_null_why(vals, min_tests)
    return null


def _small_problem_null_why(vals: np.ndarray, min_tests: int | None = None,
                            sigma0_range: tuple[float, float] | None = None):
    """:func:`_small_problem_null` and, when it is ``None``, a sentence saying why
    (``sigma0_range``: widths accepted, default
    :data:`~spikewire.infer.fdr.SIGMA0_RANGE`)."""
    from spikewire.infer.fdr import (
        MIN_TESTS_NULL_CHECK,
        SIGMA0_RANGE,
        central_null,
        departs_from_theory,
    )

    sigma0_range = SIGMA0_RANGE if sigma0_range is None else sigma0_range
    min_tests = MIN_TESTS_NULL_CHECK if min_tests is None else int(min_tests)
    vals = np.asarray(vals, dtype=float)
    vals = vals[np.isfinite(vals)]
    if vals.size < min_tests:
        return None, f"{vals.size} tests are too few for an empirical null (<{min_tests})"
    try:
        null = central_null(vals, min_tests=min_tests, sigma0_range=sigma0_range)
    except ValueError as err:
        return None, str(err)
    if not departs_from_theory(null):
        return None, (f"the empirical null N({null.delta0:.2f}, {null.sigma0:.2f}²) does "
                      f"not depart from N(0, 1) beyond its sampling error at {vals.size} "
                      "tests")
    return null, None


def _central_or_theoretical(vals: np.ndarray):
    """The central null of ``vals`` (p-values of distinct tests) whether or not it departs
    from N(0, 1), or N(0, 1) itself (π0 = 1) when it cannot be fitted."""
    from spikewire.infer.fdr import (
        MIN_TESTS_SMALL_NULL,
        SMALL_SIGMA0_RANGE,
        EmpiricalNull,
        central_null,
    )

    try:
        return central_null(vals, min_tests=MIN_TESTS_SMALL_NULL,
                            sigma0_range=SMALL_SIGMA0_RANGE)
    except ValueError:
        return EmpiricalNull(delta0=0.0, sigma0=1.0, pi0=1.0, n_tests=int(vals.size))


def _distinct_values(p: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """The distinct tests among the finite entries ``vals`` of ``p``: a square matrix equal
    to its transpose (a symmetric estimate reports each unordered pair twice) gives its
    upper triangle, anything else ``vals``."""
    if p.ndim == 2 and p.shape[0] == p.shape[1] and np.array_equal(p, p.T, equal_nan=True):
        upper = p[np.triu_indices(p.shape[0], 1)]
        return upper[np.isfinite(upper)]
    return vals


def adjust_pvalues(p: np.ndarray, method: str = "bh", small: str = "bh") -> np.ndarray:
    """Multiple-comparison adjusted p-values over the finite entries of ``p``.

    Parameters
    ----------
    p : ndarray
        Raw p-values; NaN entries (untested pairs) are ignored and stay NaN.
    method : {"bh", "bonferroni", "none", "lfdr"}
        Benjamini–Hochberg false discovery rate, Bonferroni family-wise error, none, or
        Efron's empirical-null local false discovery rate (returns each test's lfdr, the
        posterior probability that it is null; see :mod:`spikewire.infer.fdr`; with fewer
        than :data:`~spikewire.infer.fdr.MIN_TESTS_LFDR` distinct tests (finite p-values; a
        symmetric matrix's upper triangle), or p-values too
        tied for an empirical null, it warns and falls back on BH — from
        :data:`~spikewire.infer.fdr.MIN_TESTS_SMALL_NULL` (45) distinct tests on (a
        symmetric matrix's upper triangle), with the p-values referred to the empirical
        null of :func:`~spikewire.infer.fdr.central_null` and never lowered
        (:func:`~spikewire.infer.fdr.rereferred_pvalues`) when that null departs from
        N(0, 1) beyond its sampling error: the small-problem rule that
        :func:`~spikewire.infer.base.check_null` switches a failed small estimate to).
        Comparing the
        result with a level α calls tests with adjusted value < α in every case.
    small : {"bh", "lfdr"}, default "bh"
        What ``"lfdr"`` returns for 45 to 999 distinct tests whose central null departs
        from N(0, 1): ``"bh"`` the Benjamini–Hochberg values above; ``"lfdr"`` each test's
        local FDR against that null (:func:`~spikewire.infer.fdr.small_local_fdr`: a
        kernel density of the z-values), to be compared with an lfdr level. The
        small-problem rule of :func:`~spikewire.infer.base.check_null` decides a switched
        estimate this way (:meth:`Estimate.significant` passes ``small="lfdr"`` for it),
        and then gets an lfdr even where the null no longer departs (p-values changed
        after the switch): under the central null as fitted, or N(0, 1) if none fits.
        Ignored for the other methods and from 1,000 tests.
    """
    check_choice("correction", method, {"bh", "bonferroni", "none", "lfdr"})
    check_choice("small", small, {"bh", "lfdr"})
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    mask = np.isfinite(p)
    vals = p[mask]
    m = vals.size
    if m == 0:
        return out
    if method == "lfdr":
        from spikewire.infer.fdr import MIN_TESTS_LFDR, local_fdr

        # small or large by the distinct tests, as check_null counts them (a symmetric
        # matrix of 40 units holds 1,560 finite p-values but 780 tests)
        if _distinct_values(p, vals).size < MIN_TESTS_LFDR:
            import warnings

            from spikewire.infer.fdr import (
                MIN_TESTS_SMALL_NULL,
                SMALL_SIGMA0_RANGE,
                rereferred_pvalues,
                small_local_fdr,
            )

            distinct = _distinct_values(p, vals)
            m = distinct.size
            null, _ = _small_problem_null_why(distinct, MIN_TESTS_SMALL_NULL,
                                              SMALL_SIGMA0_RANGE)
            if small == "lfdr":
                # an lfdr is returned whatever happens to the null: the caller compares it
                # with an lfdr level (0.5), at which BH's values would call most pairs. The
                # p-values can change after check_null switched the estimate (presynaptic
                # centring, a delay range), so the null may no longer depart, or not fit:
                # then the fitted null as it is, or else the theoretical one
                if distinct.size < 2:
                    out[mask] = 1.0
                    return out
                if null is None:
                    null = _central_or_theoretical(distinct)
                warnings.warn(f"correction='lfdr' needs at least {MIN_TESTS_LFDR} tests for "
                              f"the local FDR's density fit, got {m}; using the small-problem "
                              "local FDR instead (a kernel density against the empirical "
                              f"null N({null.delta0:.2f}, {null.sigma0:.2f}²))", stacklevel=2)
                return small_local_fdr(p, null, reference=distinct)
            if null is not None:
                warnings.warn(f"correction='lfdr' needs at least {MIN_TESTS_LFDR} tests for "
                              f"the local FDR, got {m}; using Benjamini–Hochberg with the "
                              "p-values referred to the empirical null "
                              f"N({null.delta0:.2f}, {null.sigma0:.2f}²), never lowered, "
                              "instead (the theoretical N(0, 1) does not hold for these "
                              "p-values)", stacklevel=2)
                return adjust_pvalues(rereferred_pvalues(p, null), "bh")
            warnings.warn(f"correction='lfdr' needs at least {MIN_TESTS_LFDR} tests to estimate "
                          f"the empirical null, got {m}; using Benjamini–Hochberg instead",
                          stacklevel=2)
            return adjust_pvalues(p, "bh")
        try:
            adj = local_fdr(vals)
        except ValueError as err:
            import warnings

            warnings.warn(f"correction='lfdr' failed ({err}); using Benjamini–Hochberg instead",
                          stacklevel=2)
            return adjust_pvalues(p, "bh")
    elif method == "none":
        adj = vals
    elif method == "bonferroni":
        adj = np.minimum(vals * m, 1.0)
    else:
        order = np.argsort(vals)
        ranked = vals[order] * m / np.arange(1, m + 1)
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        adj = np.empty(m)
        adj[order] = np.minimum(ranked, 1.0)
    out[mask] = adj
    return out


@dataclass(eq=False)
class Estimate:
    """Estimated connectivity between observed units.

    Attributes
    ----------
    weights : ndarray, shape (n, n)
        Post × pre weight estimate (``weights[i, j]``: from unit ``j`` onto unit ``i``) in
        :attr:`weight_unit`. Pairs that were not estimated hold 0 and a non-zero
        :attr:`pair_status` saying why; never NaN.
    method : str
        Registered name of the method.
    settings : dict
        The method's settings.
    units : ndarray of int, shape (n,)
        Observed unit ids (rows and columns, in order).
    weight_unit : str
        Unit of :attr:`weights` (method specific, e.g. "coincidences per spike").
    pvalues : ndarray, shape (n, n), optional
        Raw p-value per pair (NaN where not tested; :attr:`pair_status` says why).
    scores : ndarray, shape (n, n), optional
        Method's test statistic / evidence per pair (larger = stronger link).
    delays : ndarray, shape (n, n), optional
        Estimated transmission delay per pair in s (NaN where no link was estimated).
    pair_status : ndarray of int8, shape (n, n)
        Codes from :data:`PAIR_STATUS`.
    unit_status : ndarray of str, shape (n,)
        ``"ok"`` or the reason a unit was skipped (e.g. ``"too_few_spikes"``).
    cell_type : ndarray of str, shape (n,)
        Inferred type per unit: ``"E"``, ``"I"`` or ``"?"`` (no significant outgoing link).
    cell_type_confidence : ndarray, shape (n,)
        Confidence in [0.5, 1] of each label (0 where ``"?"``).
    true_index : ndarray, optional
        Index of the true neuron behind each unit (from the recording), for scoring.
    alpha, correction : float, str
        Default significance level and multiple-comparison control of :meth:`adjacency`.
    diagnostics : dict
        Fit diagnostics (log-likelihoods, convergence, timings, skipped units).
    """

    weights: np.ndarray
    method: str
    settings: dict
    units: np.ndarray
    weight_unit: str = "a.u."
    pvalues: np.ndarray | None = None
    scores: np.ndarray | None = None
    delays: np.ndarray | None = None
    pair_status: np.ndarray | None = None
    unit_status: np.ndarray | None = None
    cell_type: np.ndarray | None = None
    cell_type_confidence: np.ndarray | None = None
    true_index: np.ndarray | None = None
    alpha: float = 0.05
    correction: str = "bh"
    diagnostics: dict = field(default_factory=dict)

    def __post_init__(self):
        self.weights = np.asarray(self.weights, dtype=float)
        n = self.weights.shape[0]
        if self.weights.shape != (n, n):
            raise ValueError(f"weights must be square, got {self.weights.shape}")
        bad = ~np.isfinite(self.weights)
        if bad.any():
            raise ValueError(f"{self.method}: weights contain {int(bad.sum())} non-finite "
                             "value(s); set them to 0 with a pair_status instead")
        self.units = np.asarray(self.units)
        if self.pair_status is None:
            self.pair_status = np.zeros((n, n), dtype=np.int8)
            np.fill_diagonal(self.pair_status, 1)
        self.pair_status = np.asarray(self.pair_status, dtype=np.int8)
        if self.unit_status is None:
            self.unit_status = np.array(["ok"] * n, dtype=object)
        if self.pvalues is not None:
            self.pvalues = np.asarray(self.pvalues, dtype=float)
            unexplained = ~np.isfinite(self.pvalues) & (self.pair_status == 0)
            if unexplained.any():
                raise ValueError(f"{self.method}: {int(unexplained.sum())} tested pair(s) have a "
                                 "NaN p-value without a status saying why")
        if self.cell_type is None:
            from spikewire.infer.labels import label_cell_types

            self.cell_type, self.cell_type_confidence = label_cell_types(
                self.adjacency(), weights=self.weights)
            # labels voted from the calls: refreshed by InferenceMethod.fit once the
            # decision is settled (check_null may switch it, centring may move it)
            self.diagnostics.setdefault("cell_type_from", "calls")

    @property
    def n_units(self) -> int:
        return int(self.weights.shape[0])

    def significant(self, alpha: float | None = None, correction: str | None = None) -> np.ndarray:
        """Boolean (n, n) mask of pairs significant at ``alpha`` after ``correction``.

        An estimate that :func:`~spikewire.infer.base.check_null`'s small-problem rule
        switched (``diagnostics["null_check"]["small_problem"]``) decides ``"lfdr"`` by the
        small-problem local FDR (:func:`adjust_pvalues` with ``small="lfdr"``).

        Methods without p-values (the learned method ``gnn`` on fewer than 50 tested
        pairs or with ``weight_null="weights"``; ``lowrank`` and
        ``lowrank_flow`` with ``n_surrogates=0`` — by default they gate their weights
        against shift-surrogate refits and return p-values) have no test of their own.
        Their weights are then tested against
        an empirical null of the weights themselves (:meth:`weight_null_pvalues`: robust
        z-scores about the median, scaled by the MAD, two-sided normal p-values), which
        assumes that most tested pairs are unconnected, as in a sparse circuit; on dense
        circuits (a ring's Mexican hat) rank pairs by :attr:`weights` instead. Before,
        such estimates called every non-zero weight: every pair of unconnected units
        (nullall.md). A weight matrix that is already sparse (MAD 0, e.g. a thresholded
        matrix) keeps ``|weight| > 0``.
        """
        alpha = check_probability_open("alpha", self.alpha if alpha is None else alpha)
        adj = self.adjusted_pvalues(correction)
        if adj is None:
            return (self.weights != 0) & (self.pair_status == 0)
        return np.nan_to_num(adj, nan=1.0) < alpha

    def adjusted_pvalues(self, correction: str | None = None) -> np.ndarray | None:
        """The tested pairs' p-values adjusted by ``correction`` (default: the estimate's
        own), as :meth:`significant` compares them with ``alpha``: BH q-values, Bonferroni
        p-values, or local FDRs; NaN where not tested.

        An estimate that :func:`~spikewire.infer.base.check_null`'s small-problem rule
        switched (``diagnostics["null_check"]["small_problem"]``) gets the small-problem
        local FDR for ``"lfdr"``. Methods without p-values use
        :meth:`weight_null_pvalues`; ``None`` when neither exists.
        """
        correction = self.correction if correction is None else correction
        pvalues = self.pvalues if self.pvalues is not None else self.weight_null_pvalues()
        if pvalues is None:
            return None
        small = ("lfdr" if (self.diagnostics.get("null_check") or {}).get("small_problem")
                 else "bh")
        return adjust_pvalues(np.where(self.pair_status == 0, pvalues, np.nan), correction,
                              small=small)

    def weight_null_pvalues(self) -> np.ndarray | None:
        """Two-sided p-values of the tested weights against their own empirical null.

        ``z = (w − median w) / (1.4826 · MAD w)`` over the tested pairs (``pair_status``
        0), ``p = 2 Φ(−|z|)``; NaN where not tested. ``None`` when the MAD is 0 (most
        weights equal, e.g. an already thresholded matrix) or fewer than 20 pairs were
        tested (too few for a median and MAD). Used by :meth:`significant` for methods
        without p-values.
        """
        from scipy.special import ndtr

        tested = self.pair_status == 0
        if int(tested.sum()) < 20:
            return None
        w = self.weights[tested]
        med = float(np.median(w))
        scale = 1.4826 * float(np.median(np.abs(w - med)))
        if not scale > 0:
            return None
        p = np.full(self.weights.shape, np.nan)
        p[tested] = 2.0 * ndtr(-np.abs(w - med) / scale)
        return p

    def adjacency(self, alpha: float | None = None, correction: str | None = None) -> np.ndarray:
        """Signed graph (int8, −1/0/+1, post × pre) of the significant links."""
        sig = self.significant(alpha, correction)
        return (np.sign(self.weights) * sig).astype(np.int8)

    def to_frame(self, alpha: float | None = None, correction: str | None = None,
                 only_tested: bool = True):
        """Tidy table with one row per pair: pre, post, weight, p, sign, delay, status."""
        import pandas as pd

        n = self.n_units
        post, pre = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        adj = self.adjacency(alpha, correction)
        frame = pd.DataFrame({
            "pre": self.units[pre.ravel()],
            "post": self.units[post.ravel()],
            "weight": self.weights.ravel(),
            "p": np.full(n * n, np.nan) if self.pvalues is None else self.pvalues.ravel(),
            "score": np.full(n * n, np.nan) if self.scores is None else self.scores.ravel(),
            "sign": adj.ravel(),
            "delay": np.full(n * n, np.nan) if self.delays is None else self.delays.ravel(),
            "status": [PAIR_STATUS[int(c)] for c in self.pair_status.ravel()],
        })
        if only_tested:
            frame = frame[self.pair_status.ravel() != 1].reset_index(drop=True)
        return frame

    def __repr__(self) -> str:
        n_sig = int(self.significant().sum())
        return (f"Estimate(method={self.method!r}, n_units={self.n_units}, "
                f"significant links={n_sig} at alpha={self.alpha} ({self.correction}))")
