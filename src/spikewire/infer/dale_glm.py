"""Coupled Poisson GLM fitted under Dale's law, with refractoriness, a delay basis, state
covariates and cell-type priors (``dale_glm``).

The model
---------
Spikes are binned at ``bin_width``. The count of target unit ``i`` in bin ``t`` is Poisson
with log-mean

    ``η_i(t) = b_i + Σ_j Σ_l k_ij(l) y_j(t − l) + Σ_c β_ic x_c(t) + Σ_k γ_ik p_k(t)``,

``k_ij = B w_ij`` with ``B`` the raised-cosine basis of :mod:`spikewire.infer._bases` over
lags ``1 .. window/bin_width`` bins (a *delay basis*: the filter may peak anywhere in the
window, so each connection gets its own delay), ``k_ii`` the relative-refractory
self-history filter, ``x_c`` the user's state covariates (standardised) and ``p_k``
optional population-rate covariates that stand in for unmeasured shared slow input and
hidden network states: glm's (:func:`spikewire.infer._bases.population_covariates`), the
log of the summed spikes of all fitted units over the past only, smoothed by an
exponential kernel of time scale ``τ_k`` (``population_timescales``, default 30 ms and
300 ms) over the bins before ``t`` (``population_gap``), the target's own spikes left
out, standardised. Absolute refractoriness:
the ``refractory`` s after each of its own spikes carry no
information about a target (its rate is ~0 there), so those bins are left out of its
likelihood.

Dale's law while fitting (alternation)
-------------------------------------
1. Fit without sign constraints (ridge ``ridge`` on the coupling coefficients).
2. Label every presynaptic unit by the summed evidence of its outgoing links
   (:func:`label_units`; with the scan test, by default the scan's test z-scores,
   confirmed by the summed filters', :func:`confirm_labels` and ``label_from``). With
   the Wald z-scores ``z_ij`` of its summed filters, the
   profile log-likelihood ratio of "all its links ≥ 0" against "all ≤ 0" is
   ``Σ_i z_ij |z_ij| / 2`` (normal approximation: a pair of the wrong sign costs ``z²/2``);
   adding the prior log-odds ``log(excitatory_fraction / (1 − excitatory_fraction))``
   gives ``Z_j``, whose sign is the label. Its confidence is ``Φ(|S_j|)`` with
   ``S_j = Σ_i z_ij |z_ij| / √(3 m_j)``, the same sum in units of its spread for a unit
   without links (``m_j`` targets). **Label fallback:** a unit whose confidence is below
   ``min_label_confidence`` (default ``Φ(2)``) stays unlabelled (``"?"``): its couplings
   are fitted free, one sign per link, with two-sided p-values, because a wrong label
   would flip the sign of all its links. Optionally (``empirical_null``) each unit's
   z-scores are first standardised by their own median and MAD (:func:`empirical_null`),
   which removes a shift that common input gives all of a unit's pairs.
3. Refit with every coupling coefficient of a labelled unit ``j`` bounded to the sign of its label
   (``scipy.optimize.minimize(method="L-BFGS-B", bounds=...)``). The basis functions are
   non-negative, so this makes each whole filter, and the summed weight, one-signed: every
   column of a labelled unit has one sign. Under the sign constraint an L1 penalty is
   linear, so the type-dependent prior penalty (``prior``) costs nothing extra; the
   weight-magnitude prior (``weight_scale``) adds a Gaussian slab penalty on each summed
   filter. ``prior_strength="cv"`` picks the strength of both by held-out likelihood.

Stitching (:meth:`DaleGLM.fit_sessions`)
---------------------------------------
Sessions recording overlapping subsets of one network are fitted as one problem: the
log-likelihoods of the sessions add up, every session sees only the filters of the units
it records (the others' input is absorbed by the session's own intercepts and population
covariate), and all sessions share the filters, so a pair recorded in several sessions
pools their evidence and a unit's label pools its outgoing links from all of them. A pair
never recorded together has no term in the likelihood: its filter stays 0 (the ridge's
optimum) and it is reported as untested (``pair_status`` 4, NaN p-value,
``diagnostics["recorded_together"]``).

p-values are one-sided Wald tests of the step-1 filter in the direction of the
presynaptic unit's label: by default (``contrast``) a lag scan, the largest of the Wald z
of the filter's area over short, middle and long lags with its exact joint-normal
p-value (:func:`scan_test`, each contrast over its own null scale); with
``contrast="area"`` (and on the screened solver) the summed filter (by default with a
time-block-robust sandwich variance, ``variance="robust"``, which stays calibrated on
bursting or over-dispersed spikes; uniform under no connection, up to the small
dependence of the label on the pair itself), two-sided for unlabelled units. Before the
tests (after the labels) the z-scores are divided by one global empirical-null scale
(per contrast under the scan), the root mean square about 0 of Efron's central null
fit, ``max(1, √(δ0² + σ0²))`` (``null_scale``;
on bursting spikes the robust z-scores still have sd ≈ 1.1; on networks with hidden
neurons the unlinked pairs' z-scores have sd 1.5–2.3). ``scores`` are ``s_j z_ij``, and
``Φ⁻¹(1 − p)`` of the two-sided p-value for unlabelled units (the same N(0, 1) scale under
no connection, so one ranking holds for all pairs). Held-out bits per spike are those of
the constrained model fitted on the first ``1 − validation_fraction`` of the recording and
scored on the rest, against a homogeneous Poisson model with the training rate.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from numba import njit
from scipy.optimize import minimize
from scipy.special import gammaln
from scipy.stats import norm

from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains
from spikewire.infer import _dale_screened as _scr
from spikewire.infer import _glm_kernels as _gk
from spikewire.infer._bases import population_covariates
from spikewire.infer._glm_kernels import chunk_gradient, linear_predictor
from spikewire.infer._params import Boolean, Constraint, Interval, Options, RealSequence
from spikewire.infer._surrogates import warn_if_short
from spikewire.infer.base import (
    FitContext,
    InferenceMethod,
    NotApplicableError,
    as_recording,
    pair_status_from,
    register,
)
from spikewire.infer.estimate import Estimate
from spikewire.infer.glm import (
    MIN_SCAN_EVENTS,
    MIN_UNITS_FOR_POPULATION,
    SCAN_MAX_CONTRASTS,
    _psd_max,
    build_design,
    scan_contrasts,
    scan_pvalue,
)

__all__ = ["DaleGLM", "resample_covariates", "prior_penalties", "magnitude_penalties",
           "confirm_labels", "strongest_link_labels",
           "scan_test", "CONTRASTS",
           "label_units", "empirical_null", "null_scale", "MIN_LABEL_CONFIDENCE",
           "NULL_SCALE_ESTIMATORS", "DEFAULT_NULL_SCALE",
           "MIN_NULL_SCALE_PAIRS",
           "CELL_TYPES", "CV_STRENGTHS"]

#: Cell types a prior may name (the labels Dale's law assigns).
CELL_TYPES = ("E", "I")

#: Default label fallback threshold (``min_label_confidence``): ``Φ(2) ≈ 0.977``, i.e. the
#: summed outgoing evidence of a labelled unit is 2 null standard deviations from 0. Set by
#: measurement (benchmarks/results/dale3.md): on a Brunel recording (20 of 200 units) 19
#: units pass it, all labelled right; on the thin-evidence AdEx recording with
#: ``empirical_null`` the units above it are labelled 97 % right, those below it 84 %,
#: worse than calling all of those E (88 % of them are).
MIN_LABEL_CONFIDENCE = 0.977

#: Default time constants (s) of the population-rate covariates (glm's: 30 ms follows
#: hidden state switches, 300 ms slow co-modulation).
DEFAULT_POPULATION_TIMESCALES = (0.03, 0.3)

#: Automatic bin width (s) of the full solver (``bin_width=None``; not finer than the
#: data). 1 ms since session 20 (2 ms before): at 2 ms a 1.5 ms-delay link puts part of
#: its coincidences in lag 0, the target's own bin, which a causal filter cannot use, and
#: the short contrast of the scan spans 2–6 ms; at 1 ms it spans 1–5 ms. Measured on
#: Brunel, 50 % hidden, two network seeds (benchmarks/results/dalebest.md): AUC 0.965 →
#: 0.988 / 0.951 → 0.987, MCC 0.772 → 0.914 / 0.732 → 0.916 (glm: 0.901 / 0.882), at
#: about 2.5× the CPU time; better on hidden states and scale-free LIF, worse on
#: Izhikevich's 1–20 ms delays (MCC 0.414 → 0.370).
AUTO_BIN_WIDTH = 0.001

#: Automatic bin width (s) of the screened solver (its 2 ms of before session 20; the
#: 1 ms bins were not measured there).
AUTO_BIN_WIDTH_SCREENED = 0.002

#: Prior strengths tried (in this order, warm-started) by ``prior_strength="cv"``.
CV_STRENGTHS = (0.0, 0.3, 1.0, 3.0, 10.0, 30.0)


# ============================================================================ settings
class _CovariateLike(Constraint):
    """None, a callable of time, or a finite numeric array of shape (n_samples,) or
    (n_covariates, n_samples)."""

    def is_satisfied_by(self, value) -> bool:
        if value is None or callable(value):
            return True
        if isinstance(value, str | bytes):
            return False
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return False
        return arr.ndim in (1, 2) and arr.size > 0 and bool(np.all(np.isfinite(arr)))

    def describe(self) -> str:
        return ("None, a callable f(t) of times in s, or a finite array of shape (n_samples,) "
                "or (n_covariates, n_samples) sampled at covariate_rate")

    def invalid_examples(self) -> list:
        return ["not-a-covariate", [[float("nan"), 1.0]]]


class _TypePairDict(Constraint):
    """None or a non-empty dict {(pre_type, post_type): number in (0, upper]} (or
    (0, upper) when ``upper_inclusive`` is False)."""

    upper: float = math.inf
    upper_inclusive: bool = False

    def is_satisfied_by(self, value) -> bool:
        if value is None:
            return True
        if not isinstance(value, dict) or not value:
            return False
        for k, v in value.items():
            if not (isinstance(k, tuple) and len(k) == 2):
                return False
            if isinstance(v, bool) or not isinstance(v, int | float | np.number):
                return False
            v = float(v)
            if not (v > 0.0 and (v <= self.upper if self.upper_inclusive else v < self.upper)):
                return False
        return True


class _PriorLike(_TypePairDict):
    """None or a dict {(pre_type, post_type): connection probability in (0, 1]}."""

    upper, upper_inclusive = 1.0, True

    def describe(self) -> str:
        return ("None or a dict {(pre_type, post_type): connection probability in (0, 1]}, "
                "e.g. {('E', 'E'): 0.1, ('I', 'E'): 0.4}")

    def invalid_examples(self) -> list:
        return ["EE", {("E", "E"): 1.5}, {"E": 0.1}]


class _ScaleLike(_TypePairDict):
    """None or a dict {(pre_type, post_type): typical weight magnitude > 0}."""

    def describe(self) -> str:
        return ("None or a dict {(pre_type, post_type): typical magnitude > 0 of a summed "
                "coupling filter (log-rate gain)}, e.g. {('E', 'E'): 0.3, ('I', 'E'): 0.8}")

    def invalid_examples(self) -> list:
        return ["EE", {("E", "E"): -1.0}, {"E": 0.1}]


# ============================================================================ helpers
@njit(cache=True, nogil=True)
def _poisson_pass(e, y, w):
    """Weighted Poisson loss ``Σ w (exp(η) − y η)`` (η clipped at 50 inside the exp);
    overwrites ``e`` (η) with the residual ``w (μ − y)`` and returns (loss, column sums of
    the residual). One pass instead of numpy's eight over the (n_bins, n_targets) arrays."""
    n, m = e.shape
    f = 0.0
    rs = np.zeros(m)
    for t in range(n):
        for i in range(m):
            wi = w[t, i]
            if wi == 0.0:
                e[t, i] = 0.0
                continue
            v = e[t, i]
            yy = y[t, i]
            mu = math.exp(min(v, 50.0))
            f += wi * (mu - yy * v)
            res = wi * (mu - yy)
            e[t, i] = res
            rs[i] += res
    return f, rs


@njit(cache=True, nogil=True)
def _poisson_pass_population(e, y, w, P, gp, gg):
    """:func:`_poisson_pass` with the population covariates' term ``Σ_k P[k] gp[k]`` added
    to ``η`` first and their gradient ``gg[k, i] = Σ_t P[k, t, i] w (μ − y)`` accumulated
    in the same pass (``P`` (n_scales, n_bins, n_targets), ``gp`` and ``gg`` (n_scales,
    n_targets)); numpy needed four passes and two temporaries over the (n_bins, n_targets)
    arrays per scale. Kept beside :func:`_poisson_pass` on purpose: with zero scales this
    loop is ~1.6× slower than the plain one (benchmarks/bench_speed_paths.py pass)."""
    n, m = e.shape
    npop = P.shape[0]
    f = 0.0
    rs = np.zeros(m)
    for t in range(n):
        for i in range(m):
            wi = w[t, i]
            if wi == 0.0:
                e[t, i] = 0.0
                continue
            v = e[t, i]
            for k in range(npop):
                v += P[k, t, i] * gp[k, i]
            yy = y[t, i]
            mu = math.exp(min(v, 50.0))
            f += wi * (mu - yy * v)
            res = wi * (mu - yy)
            e[t, i] = res
            rs[i] += res
            for k in range(npop):
                gg[k, i] += P[k, t, i] * res
    return f, rs


def resample_covariates(covariates, covariate_rate: float | None, t_start: float,
                        duration: float, bin_centres: np.ndarray) -> np.ndarray:
    """State covariates at the GLM's bin centres, shape (n_covariates, n_bins).

    Parameters
    ----------
    covariates : array_like or callable
        Array of shape (n_samples,) or (n_covariates, n_samples) whose sample ``k`` is at
        time ``t_start + k / covariate_rate`` (s), or a callable ``f(t)`` of absolute times
        in s returning (n_bins,) or (n_covariates, n_bins) values.
    covariate_rate : float or None
        Sampling rate of an array in Hz.
    t_start, duration : float
        The recording's window in s.
    bin_centres : ndarray
        Absolute bin-centre times in s.

    Raises
    ------
    ValueError
        If an array's length does not match the recording (``round(duration · rate)``
        samples, ±1), naming both lengths, or a callable returns the wrong shape.
    """
    n_bins = bin_centres.size
    if callable(covariates):
        raw = np.asarray(covariates(bin_centres), dtype=float)
        vals = raw[None] if raw.ndim == 1 else raw
        if vals.ndim != 2 or vals.shape[1] != n_bins:
            raise ValueError(f"the covariate callable returned shape {raw.shape} for "
                             f"{n_bins} bin times; it must return (n_bins,) or "
                             f"(n_covariates, n_bins) values, one per time it is given")
        if not np.all(np.isfinite(vals)):
            raise ValueError("the covariate callable returned non-finite values")
        return vals
    arr = np.asarray(covariates, dtype=float)
    if arr.ndim == 1:
        arr = arr[None]
    if covariate_rate is None:
        raise ValueError("covariate_rate (Hz) is needed with a covariate array: at what rate "
                         "are its samples taken?")
    expected = int(round(duration * covariate_rate))
    if abs(arr.shape[1] - expected) > 1:
        raise ValueError(
            f"covariates hold {arr.shape[1]} samples but the recording lasts {duration:g} s, "
            f"i.e. {expected} samples at covariate_rate={covariate_rate:g} Hz; give one "
            f"sample per 1/covariate_rate s over the whole recording (or fix covariate_rate)")
    t = t_start + np.arange(arr.shape[1]) / covariate_rate
    return np.stack([np.interp(bin_centres, t, row) for row in arr])


def prior_penalties(prior: dict | None, strength: float, labels: np.ndarray) -> np.ndarray:
    """Type-dependent L1 penalty per (post, pre) pair from connection probabilities.

    ``λ_ij = strength · max(log((1 − p) / p), 0)`` with ``p = prior[(type_j, type_i)]``:
    the negative log prior odds of a connection (a spike-and-slab prior's MAP penalty up to
    the slab scale); pairs of types the prior does not name get ``strength · log 1 = 0``
    beyond the base value, i.e. no extra shrinkage.

    Parameters
    ----------
    prior : dict or None
        {(pre_type, post_type): probability in (0, 1]}; types must be in
        :data:`CELL_TYPES`.
    strength : float
        Penalty scale (per unit of log prior odds).
    labels : ndarray of str, shape (n,)
        Cell type of every unit.

    Raises
    ------
    ValueError
        If the prior names a cell type that does not exist.
    """
    n = labels.size
    lam = np.zeros((n, n))
    if prior is None:
        return lam
    for (pre, post), p in prior.items():
        for t in (pre, post):
            if t not in CELL_TYPES:
                raise ValueError(f"prior names cell type {t!r}, which does not exist; the "
                                 f"types are {list(CELL_TYPES)} (keys are (pre_type, "
                                 f"post_type) pairs such as ('E', 'I'))")
        odds = math.log((1.0 - float(p)) / float(p)) if p < 1 else 0.0
        mask = (labels[:, None] == post) & (labels[None, :] == pre)
        lam[mask] = strength * max(odds, 0.0)
    return lam


def magnitude_penalties(weight_scale: dict | None, strength: float,
                        labels: np.ndarray) -> np.ndarray:
    """Type-dependent precision of the Gaussian weight-magnitude prior per (post, pre) pair.

    ``κ_ij = strength / scale²`` with ``scale = weight_scale[(type_j, type_i)]``: the
    penalty ``κ_ij u_ij² / 2`` on the summed coupling filter ``u_ij`` is the negative log
    density of a (half-)normal slab of that scale, i.e. shrinkage towards 0 that is weak
    for type pairs with large typical weights and strong for those with small ones. Type
    pairs the dict does not name get 0 (no shrinkage beyond ``ridge``).

    Parameters
    ----------
    weight_scale : dict or None
        {(pre_type, post_type): typical magnitude > 0 (log-rate gain)}; types must be in
        :data:`CELL_TYPES`.
    strength : float
        Penalty scale (``prior_strength``).
    labels : ndarray of str, shape (n,)
        Cell type of every unit.

    Raises
    ------
    ValueError
        If ``weight_scale`` names a cell type that does not exist or a scale that is not
        positive.
    """
    n = labels.size
    kappa = np.zeros((n, n))
    if weight_scale is None:
        return kappa
    for (pre, post), scale in weight_scale.items():
        for t in (pre, post):
            if t not in CELL_TYPES:
                raise ValueError(f"weight_scale names cell type {t!r}, which does not exist; "
                                 f"the types are {list(CELL_TYPES)}")
        if not float(scale) > 0:
            raise ValueError(f"weight_scale[({pre!r}, {post!r})] = {scale!r}; give a "
                             "positive typical magnitude")
        mask = (labels[:, None] == post) & (labels[None, :] == pre)
        kappa[mask] = strength / float(scale) ** 2
    return kappa


def empirical_null(z: np.ndarray, tested: np.ndarray, min_pairs: int = 10):
    """Standardise each presynaptic unit's z-scores by its own empirical null.

    ``z'_ij = (z_ij − m_j) / s_j`` with ``m_j`` the median and ``s_j = 1.4826 · MAD`` (the
    normal-consistent median absolute deviation) of unit ``j``'s tested z-scores: where most
    pairs are not connected, the bulk of a unit's z-scores is its null, and common input or
    a shared slow drive that the model misses shifts and widens it (Efron 2004, "Large-scale
    simultaneous hypothesis testing: the choice of a null hypothesis", JASA 99:96). Units
    with fewer than ``min_pairs`` tested pairs (or a zero MAD) are left as they are.

    Parameters
    ----------
    z : ndarray, shape (n_pre, n_post)
        Wald z-scores.
    tested : ndarray of bool, shape (n_pre, n_post)
        Pairs that carry evidence.
    min_pairs : int, default 10
        Fewest tested pairs from which a unit's null is estimated.

    Returns
    -------
    z_std : ndarray, shape (n_pre, n_post)
        Standardised z-scores (untested entries unchanged).
    loc, scale : ndarray, shape (n_pre,)
        ``m_j`` and ``s_j`` (0 and 1 where left as is).

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    z = np.asarray(z, dtype=float)
    tested = np.asarray(tested, dtype=bool)
    if z.shape != tested.shape or z.ndim != 2:
        raise ValueError(f"z {z.shape} and tested {tested.shape} must be (n_pre, n_post) "
                         "arrays of one shape")
    loc = np.zeros(z.shape[0])
    scale = np.ones(z.shape[0])
    for j in range(z.shape[0]):
        v = z[j, tested[j]]
        if v.size < min_pairs:
            continue
        m = float(np.median(v))
        mad = 1.4826 * float(np.median(np.abs(v - m)))
        if mad > 0:
            loc[j], scale[j] = m, mad
    out = np.where(tested, (z - loc[:, None]) / scale[:, None], z)
    return out, loc, scale


#: Fewest tested pairs from which :func:`null_scale` estimates a scale: the relative
#: standard error of ``median |z|`` is ≈ 1.17 / √m (asymptotic variance of a normal
#: median absolute value), 0.12 at 100 pairs; below that the scale stays 1.
MIN_NULL_SCALE_PAIRS = 100

#: Fewest expected coincidences under no coupling (the target's mean count per bin times
#: the bins within the window after the presynaptic spikes, :meth:`_Problem.wald`) from
#: which a pair's Wald test uses the time-block-robust variance; sparser pairs use the
#: model-based sandwich alone. The robust meat of a pair is a sum over the few blocks
#: with a coincidence: with ≲ 3 expected events it is dominated by whether one happened
#: (a coincidence inflates it, its absence deflates it), which on the heterogeneous null
#: made the tests useless there (two-sided FPR at 0.05: 0.59 at < 1 event, 0.25 at 1–3
#: raw; 0.000 / 0.005 floored); from 3–10 events on it is calibrated (0.059;
#: benchmarks/results/dalehet.md), 10 leaves a margin.
MIN_ROBUST_EVENTS = 10.0


#: Estimators of :func:`null_scale`: ``"central"`` (the root mean square about 0 of
#: Efron's maximum-likelihood central null) and ``"median"`` (``median |z| / Φ⁻¹(0.75)``).
NULL_SCALE_ESTIMATORS = ("central", "median")

#: The estimator ``DaleGLM(null_scale=True)`` uses.
DEFAULT_NULL_SCALE = "central"


def null_scale(z: np.ndarray, tested: np.ndarray,
               min_pairs: int = MIN_NULL_SCALE_PAIRS,
               estimator: str = DEFAULT_NULL_SCALE) -> float:
    """One global empirical-null scale of the Wald z-scores, never below 1.

    ``estimator="median"``: ``max(1, median_ij |z_ij| / Φ⁻¹(0.75))`` over the tested
    pairs: for ``z ~ N(0, σ²)`` the median of ``|z|`` is ``0.6745 σ``, and where most pairs
    are unconnected the bulk of the z-scores is their null (Efron 2004, JASA 99:96;
    location kept at 0, only the scale is estimated, and only widened: a scale below 1 is
    sampling noise or conservative discreteness, not a reason to sharpen the tests).
    Every link raises ``median |z|``: 10 % strong links raise it by ≈ 13 %, the 20 %
    of a dense Brunel network by ≈ 27 % over the unlinked pairs' own spread
    (benchmarks/results/dalehid.md).

    ``estimator="central"``: ``max(1, √(δ0² + σ0²))``, the root mean square about 0 of
    Efron's maximum-likelihood central null ``N(δ0, σ0²)`` — a normal truncated to
    ``median ± 1.5 σ_IQR`` of the signed z-scores and fitted to those inside
    (:mod:`spikewire.infer.fdr`, step 3). Links outside that interval do not enter the
    fit, so they inflate the scale far less than ``median |z|``; a shift of the whole bulk
    (a shared gain the model misses) still widens it, as it widens ``median |z|``
    (location kept at 0: the tests stay about 0, and a shifted null is absorbed by width).

    Parameters
    ----------
    z : ndarray, shape (n_pre, n_post)
        Wald z-scores.
    tested : ndarray of bool, shape (n_pre, n_post)
        Pairs that carry evidence.
    min_pairs : int, default :data:`MIN_NULL_SCALE_PAIRS`
        Fewest tested pairs from which the scale is estimated; with fewer it is 1.
    estimator : {"median", "central"}, default :data:`DEFAULT_NULL_SCALE`
        How the scale is estimated (above). Where the central fit fails (a tied bulk,
        no convergence) the median estimator is used.

    Returns
    -------
    float
        The scale ``≥ 1`` to divide the z-scores by.

    Raises
    ------
    ValueError
        If the shapes differ, ``min_pairs`` < 1 or the estimator is unknown.
    """
    z = np.asarray(z, dtype=float)
    tested = np.asarray(tested, dtype=bool)
    if z.shape != tested.shape or z.ndim != 2:
        raise ValueError(f"z {z.shape} and tested {tested.shape} must be (n_pre, n_post) "
                         "arrays of one shape")
    if int(min_pairs) < 1:
        raise ValueError(f"min_pairs={min_pairs!r} must be a positive count, e.g. 100")
    if estimator not in NULL_SCALE_ESTIMATORS:
        raise ValueError(f"estimator={estimator!r} is not one of "
                         f"{NULL_SCALE_ESTIMATORS}; use 'central' or 'median'")
    v = z[tested & np.isfinite(z)]
    if v.size < int(min_pairs):
        return 1.0
    median = max(1.0, float(np.median(np.abs(v))) / float(norm.ppf(0.75)))
    if estimator == "median":
        return median
    fit = _central_null_fit(v)
    return median if fit is None else max(1.0, float(np.hypot(*fit)))


def _central_null_fit(v: np.ndarray) -> tuple[float, float] | None:
    """Efron's maximum-likelihood central null ``(δ0, σ0)`` of the finite z-values ``v``
    (:mod:`spikewire.infer.fdr`, step 3), or None where it cannot be fitted (a tied bulk,
    no convergence)."""
    from spikewire.infer.fdr import _ml_central_null

    q25, q75 = np.quantile(v, [0.25, 0.75])
    if q75 - q25 < 1e-3:
        return None
    delta0, sigma0, ok, _ = _ml_central_null(v, float(q25), float(q75))
    if not (ok and np.isfinite(sigma0) and np.isfinite(delta0)):
        return None
    return float(delta0), float(sigma0)


def null_location_scale(z: np.ndarray, tested: np.ndarray,
                        min_pairs: int = MIN_NULL_SCALE_PAIRS) -> tuple[float, float]:
    """Centre and width of the z-scores' empirical null, ``(δ0, max(1, σ0))``.

    Efron's maximum-likelihood central null ``N(δ0, σ0²)`` (a normal truncated to
    ``median ± 1.5 σ_IQR``, as in :func:`null_scale`'s ``"central"`` estimator), but the
    shift is kept as a location instead of being absorbed into the width. For a mirror
    fit's causal filter: a synchrony hump that every pair shares moves the unlinked pairs'
    causal z by ``δ0`` (short lag group: +2.3, width 2.4, on the calibration study's
    Brunel family at 40 of 100 recorded), and :func:`null_scale` turns that shift into a
    width ``√(δ0² + σ0²)`` (3.3 there) that divides a link's whole z; centring tests the
    causal filter against the unlinked pairs, the question the intersection–union test
    asks of it (:func:`_mirror_evidence`). With fewer than
    ``min_pairs`` tested pairs: ``(0, 1)``; where the fit fails (a tied bulk, no
    convergence): the median and ``median |z − median| / Φ⁻¹(0.75)``.

    Parameters
    ----------
    z, tested, min_pairs
        As for :func:`null_scale` (the Wald z-scores, the pairs that carry evidence, the
        fewest tested pairs to estimate from).

    Returns
    -------
    (float, float)
        The location to subtract and the scale (≥ 1) to divide by.

    Raises
    ------
    ValueError
        If the shapes differ or ``min_pairs`` < 1.
    """
    z = np.asarray(z, dtype=float)
    tested = np.asarray(tested, dtype=bool)
    if z.shape != tested.shape:
        raise ValueError(f"z {z.shape} and tested {tested.shape} must be arrays of one shape")
    if int(min_pairs) < 1:
        raise ValueError(f"min_pairs={min_pairs!r} must be a positive count, e.g. 100")
    v = z[tested & np.isfinite(z)]
    if v.size < int(min_pairs):
        return 0.0, 1.0
    fit = _central_null_fit(v)
    if fit is None:
        med = float(np.median(v))
        return med, max(1.0, float(np.median(np.abs(v - med))) / float(norm.ppf(0.75)))
    return fit[0], max(1.0, fit[1])


#: Tests of ``DaleGLM(contrast=...)``: ``"auto"`` (the scan where the solver has it),
#: ``"area"`` (the summed filter) or ``"scan"``.
CONTRASTS = ("auto", "area", "scan")


def scan_test(zk: np.ndarray, corr: np.ndarray, events: np.ndarray, z_sum: np.ndarray,
              tested: np.ndarray, estimator: str | None = DEFAULT_NULL_SCALE,
              min_events: float = MIN_SCAN_EVENTS, centre: bool = False
              ) -> tuple[np.ndarray, dict]:
    """dale_glm's lag-scan test: per pair the contrast of largest |z| (glm's scan,
    :func:`~spikewire.infer.glm.scan_pvalue`), on the one-test z scale.

    Each contrast ``g`` (:func:`~spikewire.infer.glm.scan_contrasts`: the filter's area
    over the short, middle and long basis functions) enters a pair's scan only where its
    lags expect at least ``min_events`` coincidences (glm's
    :data:`~spikewire.infer.glm.MIN_SCAN_EVENTS`); a pair with none left keeps the
    summed filter's z (``z_sum``), a single test.

    **Null scale.** With ``estimator``, each contrast's z-scores are divided by their own
    global empirical-null scale (:func:`null_scale` over the tested pairs where the
    contrast enters) *before* the maximum. Hidden common input widens the null of each
    lag group by its own factor (Brunel network, 1.5 ms delays, 50 % hidden: 1.65 /
    1.37 / 1.23 for the short / middle / long contrast against 1.74 for the summed
    filter; benchmarks/results/dalescan.md); dividing each ``z_g`` by its ``σ_g`` makes
    every contrast N(0, 1) again under the null while their correlation (a property of
    ``Cᵀ V C``) is unchanged, so the joint-normal p-value of the maximum stays exact.
    One common scale would leave the short contrast, the widest, anti-conservative and
    the others conservative (measured: the per-contrast scales track the unlinked
    pairs' own widths within 4–13 %, one common scale over-scales the middle and long
    contrasts by 37–53 %); calibrating the maximum afterwards treats it as a scaled
    normal, which it is only approximately (it ranked those networks a little better,
    AUC +0.007, and stayed in band on two null families; dalescan.md §5).

    **One sign.** The pair's statistic is the signed ``T``, the contrast of largest
    ``|z_g|``; its two-sided p-value is ``p2 = P(max_g |z_g| ≥ |T|)``. ``T`` is symmetric
    under the null (``z → −z``), so ``P(T ≥ t) = p2(t) / 2`` exactly for ``t > 0``: the
    returned ``z = sign(T) Φ̄⁻¹(p2 / 2)`` is N(0, 1) under the null, and the one-sided
    test in the direction of a unit's label (``Φ̄(s_j z)``) and the two-sided test of an
    unlabelled unit (``2 Φ̄(|z|)`` = ``p2``) are both exact.

    Parameters
    ----------
    zk : ndarray, shape (n_pre, n_post, k)
        Unscaled Wald z of each contrast.
    corr : ndarray, shape (n_pre, n_post, k, k)
        Their correlation matrices.
    events : ndarray, shape (n_pre, n_post, k)
        Expected coincidences in each contrast's lags.
    z_sum : ndarray, shape (n_pre, n_post)
        The summed filter's z (already divided by its null scale): the fallback.
    tested : ndarray of bool, shape (n_pre, n_post)
        Pairs that carry evidence (others keep ``z_sum``).
    estimator : {"central", "median"} or None, default "central"
        :func:`null_scale` estimator of each contrast's scale; None: no scaling.
    min_events : float, default :data:`~spikewire.infer.glm.MIN_SCAN_EVENTS`
        Fewest expected coincidences for a contrast to enter a pair's scan.
    centre : bool, default False
        With ``estimator``: each contrast is also centred on its empirical null's location
        (:func:`null_location_scale`: ``(z_g − δ_g) / max(1, σ_g)``) instead of being
        divided by the root mean square about 0. ``z_sum`` must then be centred the same
        way by the caller.

    Returns
    -------
    z : ndarray, shape (n_pre, n_post)
        The scan's signed z on the one-test scale.
    info : dict
        ``scales`` (k,), ``locations`` (k,; 0 unless ``centre``), ``which`` (n_pre,
        n_post; the carrying contrast, −1 for the summed filter), ``p2`` (two-sided
        p-values; NaN where untested), ``z_raw``, ``events`` and ``corr`` (the inputs).

    Raises
    ------
    ValueError
        If the shapes disagree, ``min_events`` < 0 or the estimator is unknown.
    """
    zk = np.asarray(zk, dtype=float)
    corr = np.asarray(corr, dtype=float)
    events = np.asarray(events, dtype=float)
    z_sum = np.asarray(z_sum, dtype=float)
    tested = np.asarray(tested, dtype=bool)
    if zk.ndim != 3 or zk.shape[:2] != z_sum.shape or tested.shape != z_sum.shape:
        raise ValueError(f"zk {zk.shape} must be (n_pre, n_post, k) over z_sum "
                         f"{z_sum.shape} and tested {tested.shape} of one shape")
    k = zk.shape[2]
    if corr.shape != zk.shape + (k,) or events.shape != zk.shape:
        raise ValueError(f"corr {corr.shape} must be {zk.shape + (k,)} and events "
                         f"{events.shape} must be {zk.shape}")
    if not min_events >= 0:
        raise ValueError(f"min_events={min_events!r} must be a count ≥ 0, e.g. 10")
    if estimator is not None and estimator not in NULL_SCALE_ESTIMATORS:
        raise ValueError(f"estimator={estimator!r} is not one of {NULL_SCALE_ESTIMATORS} "
                         "or None")
    use = (events >= min_events) & tested[..., None]
    scales, locs = np.ones(k), np.zeros(k)
    if estimator is not None:
        for g in range(k):
            if centre:
                locs[g], scales[g] = null_location_scale(zk[..., g], use[..., g])
            else:
                scales[g] = null_scale(zk[..., g], use[..., g], estimator=estimator)
    zs = (zk - locs) / scales
    z_out = z_sum.copy()
    which = np.full(z_sum.shape, -1, dtype=np.int64)
    p2 = np.full(z_sum.shape, np.nan)
    p2[tested] = np.minimum(2.0 * norm.sf(np.abs(z_sum[tested])), 1.0)
    tmax = np.where(tested, z_sum, 0.0)
    idx = np.arange(k)
    code = use @ (1 << idx)
    for pattern in np.unique(code[tested]):
        if pattern == 0:
            continue
        sel = tested & (code == pattern)
        keep = np.flatnonzero((pattern >> idx) & 1)
        zsel = zs[sel][:, keep]
        best = np.argmax(np.abs(zsel), axis=1)
        tmax[sel] = zsel[np.arange(zsel.shape[0]), best]
        which[sel] = keep[best]
        p2[sel] = scan_pvalue(np.abs(tmax[sel]), corr[sel][:, keep][:, :, keep])
    live = tested & (which >= 0)
    z_out[live] = np.sign(tmax[live]) * norm.isf(np.clip(p2[live], 1e-300, 1.0) / 2.0)
    return z_out, {"scales": scales.tolist(), "locations": locs.tolist(), "which": which,
                   "p2": p2, "z_raw": zk, "events": events, "corr": corr}


def label_units(z: np.ndarray, tested: np.ndarray, excitatory_fraction: float = 0.8,
                min_confidence: float = 0.5) -> dict:
    """E/I label of every presynaptic unit from the Wald z-scores of its outgoing links,
    and whether the evidence suffices to impose it (Dale's law) at all.

    Direction: the log-likelihood ratio of "all the unit's links ≥ 0" against "all ≤ 0"
    under the normal approximation plus the prior log-odds,
    ``Z_j = ½ Σ_i z_ij |z_ij| + log(f / (1 − f))`` (``f = excitatory_fraction``); E if
    ``Z_j ≥ 0``. That ratio assumes every pair is a link, so it is far too sure when most
    are not (99 unconnected targets alone give ``|Z_j| ≈ 9``). Confidence: the same sum
    scaled by its spread when the unit has no links at all, ``S_j = Σ_i z_ij |z_ij| /
    √(3 m_j)`` over its ``m_j`` tested targets (``z |z|`` has mean 0 and variance
    ``E z⁴ = 3`` for ``z ~ N(0, 1)``, so ``S_j ≈ N(0, 1)`` for a unit without outgoing
    links), and ``c_j = Φ(|S_j|)`` in [0.5, 1): one minus the one-sided p-value of the sign
    of its summed outgoing evidence. A unit with ``c_j < min_confidence`` is left
    unlabelled (``"?"``, sign 0): its couplings are then fitted without a sign
    constraint, one sign per link.

    Parameters
    ----------
    z : ndarray, shape (n_pre, n_post)
        Wald z-scores of the summed coupling filters (unconstrained fit).
    tested : ndarray of bool, shape (n_pre, n_post)
        Pairs that carry evidence (recorded together, not the unit's own history).
    excitatory_fraction : float, default 0.8
        Prior probability that a unit is excitatory, in (0, 1).
    min_confidence : float, default 0.5
        Smallest confidence ``c_j`` at which a label is imposed, in [0.5, 1]; 0.5 labels
        every unit.

    Returns
    -------
    dict
        ``signs`` (n_pre,) +1 / −1 / 0 (unlabelled), ``labels`` ("E", "I", "?"),
        ``log_odds`` ``Z_j``, ``p_excitatory`` ``1 / (1 + exp(−Z_j))``, ``statistic``
        ``S_j``, ``confidence`` ``c_j``.

    Raises
    ------
    ValueError
        If the shapes differ, ``excitatory_fraction`` is outside (0, 1) or
        ``min_confidence`` outside [0.5, 1].
    """
    z = np.asarray(z, dtype=float)
    tested = np.asarray(tested, dtype=bool)
    if z.shape != tested.shape or z.ndim != 2:
        raise ValueError(f"z {z.shape} and tested {tested.shape} must be (n_pre, n_post) "
                         "arrays of one shape")
    if not 0.0 < float(excitatory_fraction) < 1.0:
        raise ValueError(f"excitatory_fraction={excitatory_fraction!r} must be a probability "
                         "in (0, 1), e.g. 0.8")
    if not 0.5 <= float(min_confidence) <= 1.0:
        raise ValueError(f"min_confidence={min_confidence!r} is outside [0.5, 1]; 0.5 labels "
                         "every unit, values near 1 only the sure ones")
    zc = np.where(tested, np.nan_to_num(z), 0.0)
    q = np.sum(zc * np.abs(zc), axis=1)
    m = tested.sum(axis=1)
    prior_lo = math.log(excitatory_fraction / (1.0 - excitatory_fraction))
    Z = 0.5 * q + prior_lo
    S = np.where(m > 0, q / np.sqrt(3.0 * np.maximum(m, 1)), 0.0)
    conf = norm.cdf(np.abs(S))
    signs = np.where(Z >= 0, 1.0, -1.0)
    signs[conf < min_confidence] = 0.0
    labels = np.where(signs > 0, "E", np.where(signs < 0, "I", "?"))
    return dict(signs=signs, labels=labels, log_odds=Z,
                p_excitatory=1.0 / (1.0 + np.exp(-np.clip(Z, -700, 700))), statistic=S,
                confidence=conf)


def confirm_labels(primary: dict, secondary: dict, min_confidence: float = 0.5) -> dict:
    """E/I labels in the direction of ``primary``'s evidence, imposed where it or an
    agreeing ``secondary`` is confident enough (two :func:`label_units` results).

    A unit gets ``primary``'s likelier type (the sign of its log-odds ``Z_j``) as its
    label when ``primary``'s confidence reaches ``min_confidence``, or when
    ``secondary`` points the same way with at least that confidence; else it stays
    unlabelled. ``secondary`` can confirm a label but never set its direction. dale_glm
    (``label_from="scan"``): ``primary`` from the scan's test z-scores (after the null
    scales; calibrated, so the confidence is honest where hidden input widens every
    pair's z), ``secondary`` from the summed filter's unscaled z (the labels of sessions
    before 21, which keep the type evidence of a unit-wide shift).

    Parameters
    ----------
    primary, secondary : dict
        :func:`label_units` results over the same units.
    min_confidence : float, default 0.5
        Smallest confidence, in [0.5, 1], at which a label is imposed.

    Returns
    -------
    dict
        As :func:`label_units`: ``signs``, ``labels``, ``log_odds`` and
        ``p_excitatory`` (``primary``'s), ``statistic`` (``primary``'s) and
        ``confidence`` (the larger of the two where they agree in sign, else
        ``primary``'s).

    Raises
    ------
    ValueError
        If the two results cover different numbers of units or ``min_confidence`` is
        outside [0.5, 1].
    """
    if not 0.5 <= float(min_confidence) <= 1.0:
        raise ValueError(f"min_confidence={min_confidence!r} is outside [0.5, 1]; 0.5 labels "
                         "every unit, values near 1 only the sure ones")
    z1 = np.asarray(primary["log_odds"], dtype=float)
    z2 = np.asarray(secondary["log_odds"], dtype=float)
    if z1.shape != z2.shape:
        raise ValueError(f"primary ({z1.shape}) and secondary ({z2.shape}) label results "
                         "must cover the same units")
    direction = np.where(z1 >= 0, 1.0, -1.0)
    agree = np.where(z2 >= 0, 1.0, -1.0) == direction
    c1 = np.asarray(primary["confidence"], dtype=float)
    conf = np.where(agree, np.maximum(c1, np.asarray(secondary["confidence"], float)), c1)
    signs = np.where(conf >= min_confidence, direction, 0.0)
    labels = np.where(signs > 0, "E", np.where(signs < 0, "I", "?"))
    return dict(signs=signs, labels=labels, log_odds=primary["log_odds"],
                p_excitatory=primary["p_excitatory"], statistic=primary["statistic"],
                confidence=conf)


def strongest_link_labels(labels: dict, z_excitatory: np.ndarray,
                          z_inhibitory: np.ndarray, tested: np.ndarray,
                          alpha: float = 0.05) -> dict:
    """Check E/I labels against each unit's single strongest outgoing link.

    A unit's summed outgoing evidence (:func:`label_units`) can point the wrong way when
    most of its pairs share a bias: with 10 of 100 Brunel neurons recorded every pair's
    causal filter takes in a shared-input synchrony hump, and an I unit with one strong
    inhibitory link and eight unlinked, hump-lifted pairs sums to "E" with confidence
    1.00 (benchmarks/results/dale90c.md). One link that is significant on its own after
    a Bonferroni correction over the unit's tests says more. Per presynaptic unit ``j``
    with ``m_j`` tested targets: excitatory evidence ``e_j = max_i z_excitatory[j, i]``,
    inhibitory evidence ``h_j = max_i (−z_inhibitory[j, i])``; the stronger of the two is
    *decisive* when it exceeds ``Φ⁻¹(1 − alpha / (2 m_j))`` (Bonferroni over the unit's
    ``2 m_j`` one-sided tests). A decisive unit that is unlabelled takes its sign; a
    labelled one whose label disagrees becomes unlabelled (sign 0, its links then fitted
    and tested without Dale's sign); every other label is kept. A decisive link never
    overrides a label outright: an E unit can show a strong inhibitory-looking dip (a
    disynaptic inhibition through unrecorded cells), so a conflict is left to the
    unlabelled unit's two-sided test.

    Parameters
    ----------
    labels : dict
        A :func:`label_units` (or :func:`confirm_labels`) result.
    z_excitatory, z_inhibitory : ndarray, shape (n_pre, n_post)
        Test z-scores of the outgoing pairs: large positive values are evidence of an
        excitatory link in ``z_excitatory``, large negative values of an inhibitory one in
        ``z_inhibitory`` (the same array where one test serves both).
    tested : ndarray of bool, shape (n_pre, n_post)
        Pairs that carry evidence.
    alpha : float, default 0.05
        Family-wise level over each unit's ``2 m_j`` one-sided tests, in (0, 1).

    Returns
    -------
    dict
        ``labels`` with ``signs`` and ``labels`` updated, plus ``strongest`` (the per-unit
        ``excitatory`` and ``inhibitory`` evidence, the ``threshold`` and what ``changed``:
        ``"set"``, ``"freed"`` or ``""``).

    Raises
    ------
    ValueError
        If the shapes differ or ``alpha`` is outside (0, 1).
    """
    ze = np.asarray(z_excitatory, dtype=float)
    zi = np.asarray(z_inhibitory, dtype=float)
    tested = np.asarray(tested, dtype=bool)
    if ze.shape != tested.shape or zi.shape != tested.shape or ze.ndim != 2:
        raise ValueError(f"z_excitatory {ze.shape}, z_inhibitory {zi.shape} and tested "
                         f"{tested.shape} must be (n_pre, n_post) arrays of one shape")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha={alpha!r} must be a level in (0, 1), e.g. 0.05")
    signs = np.asarray(labels["signs"], dtype=float)
    if signs.shape != (ze.shape[0],):
        raise ValueError(f"labels cover {signs.shape[0]} units, the z-scores "
                         f"{ze.shape[0]} presynaptic units")
    ok = tested & np.isfinite(ze) & np.isfinite(zi)
    exc = np.where(ok, ze, -np.inf).max(axis=1)
    inh = np.where(ok, -zi, -np.inf).max(axis=1)
    m = ok.sum(axis=1)
    thr = np.where(m > 0, norm.isf(float(alpha) / (2.0 * np.maximum(m, 1))), np.inf)
    decisive = np.maximum(exc, inh) > thr
    direction = np.where(exc > inh, 1.0, -1.0)
    set_ = decisive & (signs == 0)
    freed = decisive & (signs != 0) & (signs != direction)
    new = np.where(set_, direction, np.where(freed, 0.0, signs))
    out = dict(labels)
    out["signs"] = new
    out["labels"] = np.where(new > 0, "E", np.where(new < 0, "I", "?"))
    out["strongest"] = dict(excitatory=exc, inhibitory=inh, threshold=thr,
                            changed=np.where(set_, "set", np.where(freed, "freed", "")))
    return out


def _mirror_evidence(z_contrast: np.ndarray, z_causal: np.ndarray,
                     z_contrast_inh: np.ndarray | None = None,
                     z_reverse: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """One-sided p-values of a mirror fit (:data:`MIRROR_EVIDENCE`), ``(p_exc, p_inh)``.

    ``"reverse"`` (the default): inhibition as ``"both"`` below; excitation from the
    contrast alone, ``p_exc = Φ̄(z_contrast)``, except where the reverse pair's causal z
    (``z_reverse``: pair (post j, pre i) for the pair (post i, pre j); NaN where it was
    not fitted) is below ``−``:data:`MIRROR_REVERSE_INHIBITION` or unknown, where it takes
    ``"both"``'s intersection–union test. Of the three one-null configurations the
    intersection–union test guards against, only one reaches the excitation side: the
    reverse pair of an inhibitory link (a negative mirror, a null causal filter), and
    that pair is flagged by the link itself, whose causal z is strongly negative. A pair
    that shares more hidden input than most (causal filter above the null, contrast null)
    is not called by the contrast either. Requiring the causal filter everywhere cost
    most of the excitatory links where the hump varies from pair to pair (the causal
    null's width 2.4 against the contrast's 1.3: calibration study's Brunel family, 40
    recorded, 9–39 of 138 called; benchmarks/results/dale28.md).

    ``"both"``: each sign needs the causal filter *and* the causal − mirror contrast. An
    inhibitory link j → i empties i's spikes just after j's, so the reverse pair (post j,
    pre i) has a negative mirror and a null causal filter: its contrast reads as
    excitation, its causal filter does not. An excitatory link i → j makes the reverse
    pair's contrast negative (a positive mirror) with a null causal filter. Two units
    that fire apart (a symmetric trough from hidden input) make both the causal filter
    and the mirror negative, the contrast null. A true link moves both. Intersection–union
    tests: ``p_exc = Φ̄(min(z_contrast, z_causal))``, ``p_inh = Φ(max(z_contrast_inh,
    z_causal))`` (``z_contrast_inh``: the scan over every lag group's contrast,
    :data:`MIRROR_INHIBITION_SCAN`; ``z_contrast`` where None), each valid at
    its level whenever either statistic is null. Under a shared-input hump (the causal z
    of unlinked pairs far above 0, where the mirror is meant) ``p_exc`` is the
    contrast's own test, at its level; without a hump both means are 0 and the test is
    conservative (two z correlated ≈ 0.7 both beyond Φ̄⁻¹(0.05): ≈ 0.02). The exact
    joint null (bivariate normal) was tried and rejected: squaring the tail amplifies
    any excess width of the z (a Poisson null recording with sd 1.13 got three calls;
    benchmarks/results/dale90c.md). ``"excitation"``: only excitation needs both;
    ``"split"``: excitation from the contrast, inhibition from the causal filter
    (sessions 22–24).
    """
    z_inh = z_contrast if z_contrast_inh is None else z_contrast_inh
    if MIRROR_EVIDENCE == "split":
        return norm.sf(z_contrast), norm.cdf(z_causal)
    p_exc = norm.sf(np.minimum(z_contrast, z_causal))
    if MIRROR_EVIDENCE == "excitation":
        return p_exc, norm.cdf(z_causal)
    if MIRROR_EVIDENCE == "reverse" and z_reverse is not None:
        p_exc = np.where(_reverse_flags_inhibition(z_reverse), p_exc, norm.sf(z_contrast))
    return p_exc, norm.cdf(np.maximum(z_inh, z_causal))


#: Correlation of a mirror fit's causal z and its causal − mirror z assumed by
#: :func:`_mirror_excitation_score` where the fit has no scan (``contrast="area"``): the
#: scan's short groups measure 0.64–0.70 (calibration study's Brunel family, 40 recorded)
MIRROR_SCORE_CORRELATION = 0.7


def _mirror_excitation_score(z_contrast: np.ndarray, z_causal: np.ndarray,
                             z_reverse: np.ndarray, rho) -> np.ndarray:
    """A mirror fit's excitatory ranking score (``Estimate.scores``; N(0, 1) where both
    statistics are null): ``(z_contrast + z_causal) / √(2 + 2ρ)``, Stouffer's
    combination of the contrast and the centred causal z (correlation ``ρ``), and the
    intersection–union statistic ``min(z_contrast, z_causal)`` where the reverse pair
    flags an inhibitory link (as in :func:`_mirror_evidence`). The decision stays on the
    p-values (the contrast's test): a pair that shares more hidden input than most lifts
    the causal z and would make the combination anti-conservative as a test, but as a
    ranking it adds the causal filter's evidence for the links whose contrast is weak
    (excitatory links slower than the short lag group). Measured against the contrast's
    test z as the ranking (benchmarks/results/dale28.md): AUC 0.808 → 0.894 on a
    1,000-neuron Brunel network with 40 recorded, 0.831 → 0.849 with 20, 0.986 → 0.984 on
    the calibration study's Brunel family, 0.984–0.996 against 0.991–0.999 at 10 of 100
    recorded."""
    combined = (z_contrast + z_causal) / np.sqrt(2.0 + 2.0 * np.asarray(rho, dtype=float))
    return np.where(_reverse_flags_inhibition(z_reverse), np.minimum(z_contrast, z_causal),
                    combined)


def _reverse_flags_inhibition(z_reverse) -> np.ndarray:
    """Pairs whose reverse pair's causal z flags an inhibitory link (below
    −:data:`MIRROR_REVERSE_INHIBITION`) or is unknown (NaN)."""
    return ~(np.asarray(z_reverse, dtype=float) >= -MIRROR_REVERSE_INHIBITION)


def _sparse_design(design) -> sp.csr_matrix:
    """Explicit sparse basis-space coupling design, (n_bins, n_units · n_basis)."""
    L, nu, n_bins = design.n_lags, design.n_units, design.n_bins
    lags = np.arange(1, L + 1)
    rows = (design.s_bins[:, None] + lags[None, :]).ravel()
    cols = (design.s_units[:, None] * L + (lags - 1)[None, :]).ravel()
    vals = np.repeat(design.s_counts, L)
    keep = rows < n_bins
    x_lag = sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n_bins, nu * L))
    kron = sp.kron(sp.identity(nu, format="csr"), sp.csr_matrix(design.basis), format="csr")
    return (x_lag @ kron).tocsr()


#: First lag (bins after the target's bin) of the mirror filter: 1, the exact time reversal
#: of the causal filter (lags −1 … −L: under no link a pair whose joint statistics are
#: time-reversible has equal causal and mirror filters in expectation); 0 the prototype's
#: (lags 0 … −(L − 1): the mirror also takes the same-bin synchrony, benchmarks/results/
#: dale90.md §3), which pushes a symmetric hump's contrast below 0
MIRROR_FIRST_LAG = 0


def _mirror_sparse_design(design, first_lag: int | None = None) -> sp.csr_matrix:
    """Sparse coupling design with each unit's causal *and* mirror (acausal) filter,
    (n_bins, n_units · 2 n_basis): unit ``j``'s block holds its ``n_basis`` causal columns
    (``Σ_l B[l−1, b] n_j(t − l)``, lags 1 … L) and then its ``n_basis`` mirror columns
    ``Σ_m B[m, b] n_j(t + f + m)``, m = 0 … L − 1, ``f`` = ``first_lag`` (default
    :data:`MIRROR_FIRST_LAG`): the same basis over the unit's spikes after the target's
    bin, the causal filter's time reversal."""
    L, nu, n_bins, nb = design.n_lags, design.n_units, design.n_bins, design.n_basis
    first = MIRROR_FIRST_LAG if first_lag is None else int(first_lag)
    lags = np.arange(L)
    rows = (design.s_bins[:, None] - first - lags[None, :]).ravel()
    cols = (design.s_units[:, None] * L + lags[None, :]).ravel()
    vals = np.repeat(design.s_counts, L)
    keep = rows >= 0
    x_lag = sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n_bins, nu * L))
    kron = sp.kron(sp.identity(nu, format="csr"), sp.csr_matrix(design.basis), format="csr")
    both = sp.hstack([_sparse_design(design), x_lag @ kron], format="csc")
    b = np.arange(2 * nb)
    order = np.where(b[None, :] < nb, np.arange(nu)[:, None] * nb + b[None, :],
                     nu * nb + np.arange(nu)[:, None] * nb + (b[None, :] - nb)).ravel()
    return both[:, order].tocsr()


class _Session:
    """One recording's block of the joint problem, placed in the global unit/target index.

    ``X`` (n_bins, F_s) is the session's sparse basis-space coupling design, ``Y``
    (n_bins, nt_s) its target counts, ``P`` (n_scales, n_bins, nt_s) its population
    covariates (each target's own spikes left out) or None, ``C`` (n_bins, nc) its
    standardised covariates; ``feat`` (F_s,) are the global coefficient rows of its
    design columns and ``tg`` (nt_s,) the global targets of its count columns.
    """

    def __init__(self, X, Y, C, P, feat, tg, units, design=None):
        # with the design's spike list, products with X run over the spikes in compiled
        # kernels (infer._glm_kernels) instead of scipy's sparse products
        self.design = design
        # sparse even at ~5 % density: measured 2x faster than dense BLAS on a 100-unit,
        # 300 s design (benchmarks/results/dale2.md)
        self.dense = not sp.issparse(X)
        self.X, self.Y, self.C, self.P = X, Y, C, P
        self.feat = np.asarray(feat, dtype=np.int64)
        self.tg = np.asarray(tg, dtype=np.int64)
        self.units = np.asarray(units, dtype=np.int64)    # global unit of each design block
        self.n_bins = X.shape[0]
        self.m = np.asarray(X.mean(axis=0)).ravel()        # column means
        self.colsq = ((X * X).sum(axis=0) if self.dense
                      else np.asarray(X.multiply(X).sum(axis=0)).ravel())
        self.ix = np.ix_(self.feat, self.tg)
        self.full = False


class _Problem:
    """The joint (separable over targets) penalised Poisson problem over one or several
    sessions that share the coupling filters, the covariate and population coefficients;
    each session has its own intercepts (it absorbs the mean input of the units it does
    not record)."""

    def __init__(self, sessions, R, nu, tpos, nb, nc, npop, ridge, history_ridge):
        self.S = sessions
        self.nS = len(sessions)
        self.nu, self.nb, self.F = nu, nb, nu * nb
        self.tpos = np.asarray(tpos, dtype=np.int64)
        self.nt = self.tpos.size
        self.nc, self.npop = nc, int(npop)
        self.has_p = self.npop > 0
        F, nt = self.F, self.nt
        unit_of = np.repeat(np.arange(nu), nb)
        self.hist = unit_of[:, None] == self.tpos[None, :]            # (F, nt) history coefs
        self.lam2 = np.where(self.hist, history_ridge, ridge)
        ysum, rsum = np.zeros(nt), np.zeros(nt)
        co = np.zeros((F, nt))
        self.together = np.zeros((nu, nt), dtype=bool)                # (pre, post) co-recorded
        self.n_together = np.zeros((nu, nt), dtype=np.int64)
        for s, r in zip(sessions, R, strict=True):
            ysum[s.tg] += (s.Y * r).sum(0)
            rsum[s.tg] += r.sum(0)
            co[s.ix] += s.colsq[:, None]
            self.together[np.ix_(s.units, s.tg)] = True
            self.n_together[np.ix_(s.units, s.tg)] += 1
            s.full = (s.feat.size == F and s.tg.size == nt
                      and np.array_equal(s.feat, np.arange(F))
                      and np.array_equal(s.tg, np.arange(nt)))
        rate = np.maximum(ysum / np.maximum(rsum, 1), 1e-8)
        self.s_w = np.sqrt(np.maximum(rate[None, :] * co, 1e-6))
        self.s_b = np.ones((self.nS, nt))
        for k, s in enumerate(sessions):
            self.s_b[k, s.tg] = np.sqrt(rate[s.tg] * s.n_bins)
        self.s_o = np.sqrt(rate * sum(s.n_bins for s in sessions))     # covariates
        self.rate = rate
        self.nbias = self.nS * nt
        # acausal="mirror": the mirror coefficients (F,) (no sign constraint, no prior) and
        # those held at 0 (F, nt): each target's mirror of its own spikes (its own counts)
        self.nuisance = np.zeros(F, dtype=bool)
        self.fixed = np.zeros((F, nt), dtype=bool)

    def unpack(self, x):
        nt, F, nc, k = self.nt, self.F, self.nc, self.nbias
        b = x[:k].reshape(self.nS, nt) / self.s_b
        W = x[k:k + F * nt].reshape(F, nt) / self.s_w
        k += F * nt
        Bc = x[k:k + nc * nt].reshape(nc, nt) / self.s_o[None]
        g = x[k + nc * nt:].reshape(self.npop, nt) / self.s_o[None]
        return b, W, Bc, g

    def pack(self, b, W, Bc, g):
        parts = [(b * self.s_b).ravel(), (W * self.s_w).ravel(), (Bc * self.s_o[None]).ravel(),
                 (g * self.s_o[None]).ravel()]
        return np.concatenate(parts)

    def eta(self, k, b, W, Bc, g, population=True):
        """Log-mean of session ``k`` (n_bins_k, nt_k); without the population covariates'
        term with ``population=False``."""
        s = self.S[k]
        Ws = W if s.full else W[s.ix]
        # centred coupling columns: the intercept is the log-rate at the mean design
        bias = b[k, s.tg] - s.m @ Ws
        d = s.design
        if d is not None:
            kern = np.ascontiguousarray(np.einsum(
                "lb,jbi->jli", d.basis, Ws.reshape(d.n_units, self.nb, s.tg.size)))
            e = np.empty((s.n_bins, s.tg.size))
            linear_predictor(d.s_bins, d.s_units, d.s_counts, kern, np.ascontiguousarray(bias),
                             s.n_bins, e)
        else:
            e = np.asarray(s.X @ Ws)
            e += bias[None, :]
        if self.nc:
            e += s.C @ Bc[:, s.tg]
        if self.has_p and population:
            for k_, pk in enumerate(s.P):
                e += pk * g[k_, s.tg][None, :]
        return e

    @staticmethod
    def _xt(s, e):
        """``Xᵀ e`` for session ``s`` (F_s, nt_s)."""
        d = s.design
        if d is None:
            return np.asarray(s.X.T @ e)
        g = np.zeros((d.n_units, d.n_lags, e.shape[1]))
        chunk_gradient(d.s_bins, d.s_units, d.s_counts, e, np.ones(s.n_bins), 0, s.n_bins,
                       d.n_lags, np.zeros(e.shape[1]), g)   # e is scaled by 1 in place
        return np.einsum("lb,jli->jbi", d.basis, g).reshape(-1, e.shape[1])

    def _summed(self, W, csum):
        return np.einsum("jbi,b->ji", W.reshape(self.nu, self.nb, self.nt), csum)

    def objective(self, row_w, l1, quad=None, csum=None):
        """f(x), ∇f(x) on rows weighted by ``row_w`` (a list of (n_bins_k, nt_k) arrays)
        with the linear L1 term ``l1`` (F, nt) (already signed: the penalty is Σ l1 ⊙ W)
        and the magnitude prior ``Σ quad ⊙ u² / 2`` on the summed filters ``u = csum·w``
        (``quad`` (nu, nt) or None)."""
        nb, nt = self.nb, self.nt

        def fun(x):
            b, W, Bc, g = self.unpack(x)
            f = 0.0
            gb = np.zeros((self.nS, nt))
            gW = np.zeros((self.F, nt))
            gBc = np.zeros((self.nc, nt))
            gg = np.zeros((self.npop, nt))
            for k, (s, r) in enumerate(zip(self.S, row_w, strict=True)):
                if self.has_p:
                    # the population term and its gradient in the loss's own pass
                    e = self.eta(k, b, W, Bc, g, population=False)
                    gk = np.zeros((self.npop, s.tg.size))
                    fk, rs = _poisson_pass_population(e, s.Y, r, s.P,
                                                      np.ascontiguousarray(g[:, s.tg]), gk)
                    gg[:, s.tg] += gk
                else:
                    e = self.eta(k, b, W, Bc, g)
                    fk, rs = _poisson_pass(e, s.Y, r)   # e now holds w ⊙ (μ − y)
                f += fk
                gb[k, s.tg] = rs
                gWs = self._xt(s, e) - s.m[:, None] * rs[None, :]
                if s.full:
                    gW += gWs
                else:
                    gW[s.ix] += gWs
                if self.nc:
                    gBc[:, s.tg] += s.C.T @ e
            f += 0.5 * float(np.sum(self.lam2 * W * W)) + float(np.sum(l1 * W))
            gW += self.lam2 * W + l1
            if quad is not None:
                u = self._summed(W, csum)
                f += 0.5 * float(np.sum(quad * u * u))
                gW += ((quad * u)[:, None, :] * csum[None, :, None]).reshape(self.nu * nb, nt)
            if not np.isfinite(f):
                return 1e300, np.zeros_like(x)
            parts = [(gb / self.s_b).ravel(), (gW / self.s_w).ravel(),
                     (gBc / self.s_o[None]).ravel(), (gg / self.s_o[None]).ravel()]
            return f, np.concatenate(parts)

        return fun

    def fit(self, x0, row_w, *, signs=None, l1=None, quad=None, csum=None, max_iter=300):
        """L-BFGS-B; ``signs`` (n_units,) of ±1 bounds every coupling coefficient of a
        presynaptic unit to its sign (history coefficients stay free)."""
        nt, F, k = self.nt, self.F, self.nbias
        lo = np.full(x0.size, -np.inf)
        hi = np.full(x0.size, np.inf)
        if signs is not None:
            s = np.repeat(signs, self.nb)[:, None] * np.ones((1, nt))
            s = np.where(self.hist | self.nuisance[:, None], 0.0, s).ravel()
            lo[k:k + F * nt][s > 0] = 0.0
            hi[k:k + F * nt][s < 0] = 0.0
        fx = self.fixed.ravel()
        lo[k:k + F * nt][fx] = 0.0
        hi[k:k + F * nt][fx] = 0.0
        l1 = np.zeros((F, nt)) if l1 is None else l1
        x0 = np.clip(x0, lo, hi)
        res = minimize(self.objective(row_w, l1, quad, csum), x0, jac=True, method="L-BFGS-B",
                       bounds=list(zip(lo, hi, strict=True)),
                       options={"maxiter": max_iter, "ftol": 1e-10, "gtol": 1e-6,
                                "maxcor": 20})
        ok = bool(np.isfinite(res.fun)) and res.fun < 1e299 and (
            bool(res.success) or "ABNORMAL" not in str(res.message))
        return res.x, ok, int(res.nit), str(res.message)

    def loglik(self, x, row_w):
        """Per-target Poisson log-likelihood (nats, log y! included) on weighted rows."""
        params = self.unpack(x)
        ll = np.zeros(self.nt)
        for k, (s, r) in enumerate(zip(self.S, row_w, strict=True)):
            e = self.eta(k, *params)
            with np.errstate(over="ignore"):
                mu = np.exp(np.minimum(e, 50.0))
            ll[s.tg] -= np.sum(r * (mu - s.Y * e + gammaln(s.Y + 1.0)), axis=0)
        return ll

    def wald(self, x, row_w, csum, robust_bins=None, floor=True, model="sandwich",
             min_events=MIN_ROBUST_EVENTS, contrasts=None):
        """Wald z of every summed filter ``w_ij · csum`` (nu pre × nt post); 0 for pairs
        never recorded together. Also sets ``self.expected_events`` (nu pre × nt post).

        With ``contrasts`` (an (nb, k) array: the scan's contrasts, :func:`scan_contrasts`)
        it also sets ``self.scan``: a dict of ``z`` (nu, nt, k), the Wald z of each
        contrast ``w_ij · contrasts[:, g]``, ``corr`` (nu, nt, k, k), their correlation
        under the same variance as the summed filter's (``Cᵀ V C``; the robust one
        floored by the model one in the positive-semidefinite order, glm's rule), and
        ``events`` (nu, nt, k), the expected coincidences in each contrast's lags
        (``ȳ_i Σ_t r_t Σ_{b ∈ g} x_{j,b}(t)``, the summed filter's split by group).
        The summed filter's z is computed exactly as without ``contrasts``.

        Model-based variance of ``cᵀŵ`` (``c`` the contrast that sums a presynaptic
        unit's basis coefficients with weights ``csum``; the counts conditionally Poisson
        given the design): with ``model="sandwich"`` (default) the variance of the
        *penalised* estimate, ``cᵀ H⁻¹ I H⁻¹ c = cᵀ H⁻¹ c − vᵀ Λ v`` (``v = H⁻¹ c``), ``H =
        I + Λ`` the penalised Fisher information of the target's block, ``I`` the Fisher
        information, ``Λ`` the ridge (Le Cessie & van Houwelingen 1992, Appl. Stat. 41:191,
        ridge estimators in logistic regression). ``model="posterior"``: ``cᵀ H⁻¹ c``, the
        ridge's posterior variance (dale_glm before 2026-11-30), which exceeds the
        estimate's variance by a factor ``(I + λ) / I`` for one coefficient: where a pair
        has few expected coincidences (``I`` comparable to the ridge λ = 1) its z-scores
        shrink towards 0 (sd 0.3 at < 1 expected event, 0.7 at 3–10 on the heterogeneous
        null; benchmarks/results/dalehet.md). Under the null ``ŵ ≈ H⁻¹ s`` (``s`` the
        score at 0, ``Var s = I``), so the sandwich z is then a score (Rao) statistic of
        the contrast direction ``H⁻¹ c``, the test that stays valid with few events.

        With ``robust_bins`` (an int ≥ 1), the time-block-robust sandwich ``cᵀ H⁻¹ M H⁻¹
        c · G / (G − 1) · (N − 1) / (N − K)`` with ``M = Σ_b g_b g_bᵀ``, ``g_b = Σ_{t ∈ b}
        r_t (y_t − μ_t) x_t`` the score summed over consecutive blocks of ``robust_bins``
        bins (per session; ``G`` blocks, ``N`` bins with weight, ``K`` coefficients of the
        target: the CR1 small-sample factor). Only the contrasts are formed: ``cᵀ H⁻¹ M H⁻¹
        c = Σ_b (g_bᵀ v)²``, with ``g_bᵀ v = Σ_{t ∈ b} r_t (y_t − μ_t) (x_t · v)``, i.e.
        one product of the design with the (K × n_pre) solution per target. It is used
        only for pairs with at least ``min_events`` expected coincidences under no
        coupling, ``E_ij = ȳ_i Σ_t r_t Σ_b x_{j,b}(t)`` (the target's mean count per bin
        ``ȳ_i`` times the weighted bins that follow a presynaptic spike within the window;
        the basis rows sum to ≤ 1), which depends on the pair's counts but not on its
        coincidences; sparser pairs keep the model-based variance
        (:data:`MIN_ROBUST_EVENTS`). With ``floor``
        (default) the robust variance is never below the model-based one (see the
        comment below).
        """
        if model not in ("sandwich", "posterior"):
            raise ValueError(f"model={model!r} is not a model-based variance; use "
                             "'sandwich' (the penalised estimate's) or 'posterior'")
        b, W, Bc, g = self.unpack(x)
        mus, resid = [], []
        for k, r in enumerate(row_w):
            with np.errstate(over="ignore"):
                mu = np.exp(np.minimum(self.eta(k, b, W, Bc, g), 50.0))
            mus.append(mu * r)
            if robust_bins is not None:
                resid.append(r * (self.S[k].Y - mu))
        nb, nc, npop = self.nb, self.nc, self.npop
        z = np.zeros((self.nu, self.nt))
        events = np.zeros((self.nu, self.nt))
        ncon = 0 if contrasts is None else int(np.shape(contrasts)[1])
        if ncon:
            contrasts = np.asarray(contrasts, dtype=float)
            zk = np.zeros((self.nu, self.nt, ncon))
            corrk = np.zeros((self.nu, self.nt, ncon, ncon))
            corrk[..., np.arange(ncon), np.arange(ncon)] = 1.0
            eventsk = np.zeros((self.nu, self.nt, ncon))
            in_group = (contrasts != 0).astype(float)                 # (nb, k)
        # Σ_t r_t x_t per coefficient and target, one sparse-dense product per session
        xr = [np.asarray(s.X.T @ r) for s, r in zip(self.S, row_w, strict=True)]
        where = [dict(zip(s.tg.tolist(), range(s.tg.size), strict=True)) for s in self.S]
        for i in range(self.nt):
            ks = [(k, where[k][i]) for k in range(self.nS) if i in where[k]]
            fi = np.unique(np.concatenate([self.S[k].feat for k, _ in ks]))
            Fi, nk = fi.size, len(ks)
            dim = Fi + nk + nc + npop
            H = np.zeros((dim, dim))
            extras, idxs = [], []
            ev = np.zeros(Fi)                          # Σ_t r_t x_t per coefficient
            for q, (k, li) in enumerate(ks):
                s = self.S[k]
                w = mus[k][:, li]
                cols = [np.ones((s.n_bins, 1))]
                if nc:
                    cols.append(s.C)
                if npop:
                    cols.append(s.P[:, :, li].T)
                D = np.hstack(cols)                                    # dense extras
                Dw = D * w[:, None]
                if s.dense:
                    Hxx = s.X.T @ (s.X * w[:, None])
                else:      # one compiled pass over the rows' non-zero pairs
                    Hxx = np.zeros((s.feat.size, s.feat.size))
                    _gk.csr_weighted_gram(s.X.indptr, s.X.indices, s.X.data, w, Hxx)
                    _gk.symmetrise_gram(Hxx)
                Hxd = np.asarray(s.X.T @ Dw)
                Hdd = D.T @ Dw
                idx = np.concatenate([np.searchsorted(fi, s.feat), [Fi + q],
                                      Fi + nk + np.arange(nc + npop)])
                H[np.ix_(idx, idx)] += np.block([[Hxx, Hxd], [Hxd.T, Hdd]])
                ev[idx[:s.feat.size]] += xr[k][:, li]
                extras.append(D)
                idxs.append(idx)
            H[np.arange(Fi), np.arange(Fi)] += self.lam2[fi, i]
            H += 1e-10 * np.trace(H) / dim * np.eye(dim)
            fixed_i = np.flatnonzero(self.fixed[fi, i])     # held at 0: out of the model
            if fixed_i.size:
                H[fixed_i, :] = 0.0
                H[:, fixed_i] = 0.0
                H[fixed_i, fixed_i] = 1.0
            # contrast: the summed filter of each presynaptic unit recorded with i
            units_i = np.unique(fi // nb)
            Cm = np.zeros((dim, units_i.size))
            start = np.searchsorted(fi, units_i * nb)
            for c, p in enumerate(start):
                Cm[p:p + nb, c] = csum
            Cm[fixed_i] = 0.0
            U = units_i.size
            e_i = self.rate[i] * ev.reshape(U, nb).sum(axis=1)
            events[units_i, i] = e_i
            if ncon:
                # the scan's contrasts of each unit: columns U + c·k + g
                Ck = np.zeros((dim, U * ncon))
                for c, p in enumerate(start):
                    Ck[p:p + nb, c * ncon:(c + 1) * ncon] = contrasts
                Ck[fixed_i] = 0.0
                eventsk[units_i, i] = self.rate[i] * (ev.reshape(U, nb) @ in_group)
                rows_k = start[:, None] + np.arange(nb)[None, :]             # (U, nb)
            try:
                sol = np.linalg.solve(H, Cm if not ncon else np.hstack([Cm, Ck]))
                var = np.einsum("fj,fj->j", Cm, sol[:, :U])
                if model == "sandwich":
                    # cᵀH⁻¹(H − Λ)H⁻¹c; > 0 wherever the unit has any data (the 1e-10
                    # jitter stays in I), clipped against rounding
                    var = np.maximum(var - np.einsum("fj,f->j", sol[:Fi, :U] ** 2,
                                                     self.lam2[fi, i]), 1e-300)
                if ncon:
                    S3 = sol[:, U:].reshape(dim, U, ncon)
                    covk = np.einsum("bk,ubl->ukl", contrasts,
                                     S3[rows_k, np.arange(U)[:, None], :])
                    if model == "sandwich":
                        covk = covk - np.einsum("fua,fub,f->uab", S3[:Fi], S3[:Fi],
                                                self.lam2[fi, i])
                    covk = 0.5 * (covk + np.swapaxes(covk, 1, 2))
            except np.linalg.LinAlgError:
                sol, var = None, np.full(U, np.inf)
                if ncon:
                    covk = np.broadcast_to(np.diag(np.full(ncon, np.inf)), (U, ncon, ncon)).copy()
            if robust_bins is not None and sol is not None:
                meat = np.zeros(U)
                meatk = np.zeros((U, ncon, ncon)) if ncon else None
                n_blocks = n_rows = 0
                for (k, li), D, idx in zip(ks, extras, idxs, strict=True):
                    s = self.S[k]
                    nf = s.feat.size
                    starts = np.arange(0, s.n_bins, robust_bins)
                    # g_b = Σ_{t∈b} r_t (y_t − μ_t) (x_t · v): the residual-weighted rows
                    # summed over each block first (one pass over the design's non-zeros),
                    # then one (G_k × K) product with the solution, instead of the
                    # (n_bins × ·) product and its block sums
                    rk = resid[k][:, li]
                    agg = sp.csr_matrix((rk, np.arange(s.n_bins), np.append(
                        starts, s.n_bins)), shape=(starts.size, s.n_bins))
                    rx = agg @ s.X
                    rx = rx if s.dense else rx.toarray()
                    gb = rx @ sol[idx[:nf]] + np.add.reduceat(
                        D * rk[:, None], starts, axis=0) @ sol[idx[nf:]]      # (G_k, ·)
                    meat += np.einsum("bj,bj->j", gb[:, :U], gb[:, :U])
                    if ncon:
                        gk = gb[:, U:].reshape(-1, U, ncon)
                        meatk += np.einsum("gua,gub->uab", gk, gk)
                    live = row_w[k][:, li] > 0
                    n_blocks += int(np.count_nonzero(np.add.reduceat(live, starts)))
                    n_rows += int(np.count_nonzero(live))
                if n_blocks > 1 and n_rows > dim:
                    # never below the model variance: where a coefficient runs towards −∞
                    # (the target is silent after the presynaptic spikes, μ ≈ 0 wherever
                    # the regressor is non-zero) the scores carry no information and the
                    # sandwich collapses to ~0 while the estimate is least determined
                    rob = meat * (n_blocks / (n_blocks - 1.0)) * (
                        (n_rows - 1.0) / (n_rows - dim))
                    cr1 = (n_blocks / (n_blocks - 1.0)) * ((n_rows - 1.0) / (n_rows - dim))
                    rob = np.maximum(var, rob) if floor else rob
                    var = np.where(e_i >= min_events, rob, var)
                    if ncon:
                        robk = meatk * cr1
                        robk = _psd_max(covk, robk) if floor else robk
                        covk = np.where((e_i >= min_events)[:, None, None], robk, covk)
            wsum = W[fi, i].reshape(U, nb) @ csum
            with np.errstate(divide="ignore", invalid="ignore"):
                z[units_i, i] = np.where(var > 0, wsum / np.sqrt(var), 0.0)
                if ncon:
                    sd = np.sqrt(np.maximum(np.einsum("uaa->ua", covk), 0.0))
                    wk = W[fi, i].reshape(U, nb) @ contrasts
                    zk[units_i, i] = np.where(sd > 0, wk / sd, 0.0)
                    ck = covk / (sd[:, :, None] * sd[:, None, :])
                    ck[:, np.arange(ncon), np.arange(ncon)] = 1.0
                    corrk[units_i, i] = np.nan_to_num(ck, nan=0.0, posinf=0.0, neginf=0.0)
        self.expected_events = events
        if ncon:
            self.scan = {"z": np.nan_to_num(zk, nan=0.0), "corr": corrk, "events": eventsk}
        return np.nan_to_num(z, nan=0.0)


ACAUSAL = ("none", "mirror", "auto")

#: What a mirror fit tests (:func:`_mirror_evidence`): ``"reverse"`` (inhibition needs
#: the causal filter and the causal − mirror contrast; excitation the contrast, and also
#: the causal filter where the reverse pair's causal z flags an inhibitory link:
#: session 28), ``"both"`` (each sign needs both: intersection–union tests, sessions
#: 25–27), ``"excitation"`` (only excitation needs both; inhibition from the causal
#: filter) or ``"split"`` (excitation from the contrast, inhibition from the causal
#: filter: sessions 22–24)
MIRROR_EVIDENCE = "reverse"

#: ``MIRROR_EVIDENCE = "reverse"``: a reverse pair whose causal z is below minus this
#: flags an inhibitory link, and the pair's excitation then also needs its causal filter
#: (the calibration study's Brunel family, 40 recorded: the same 0 false calls for 1, 1.645,
#: 2 and 3, 89 / 98 / 101 / 103 true; benchmarks/results/dale28.md)
MIRROR_REVERSE_INHIBITION = 2.0

#: Which scan contrasts the mirror changes: "all" (each group's causal − mirror),
#: "short" (only the short group's, the other groups left out), "mixed" (the short
#: group's causal − mirror, the others causal alone)
MIRROR_SCAN = "short"

#: The contrast on the inhibition side of a mirror fit (:func:`_mirror_evidence`): "all"
#: (the scan over every group's causal − mirror) or "short" (the excitation side's
#: short group, sessions 22–26). Inhibitory troughs are broad and their evidence sits in
#: the middle group (1,000-neuron Brunel network, 40 recorded: the inhibitory links'
#: middle-group contrast z −8.7, short −3.0; 44 of 44 called against 17), while the
#: excitation side keeps the short group, whose longer groups hold the shared-input
#: hump's tails (:data:`MIRROR_SCAN`; benchmarks/results/dale27.md)
MIRROR_INHIBITION_SCAN = "all"

#: The null of a mirror fit's causal filter in the intersection–union tests
#: (:func:`_mirror_evidence`): "scale" (divided by the root mean square about 0 of its
#: empirical null, :func:`null_scale`: sessions 22–27) or "centre" (centred on the
#: empirical null's location and divided by its width, :func:`null_location_scale`).
MIRROR_CAUSAL_NULL = "centre"

#: ``acausal="auto"`` turns the mirror on when the median over the tested pairs of the
#: causal fit's short-lag scan z (unscaled) exceeds this: the shift of the unlinked pairs'
#: null that a shared-input synchrony hump causes (Brunel, 10 of 100 recorded: +3.6 to
#: +4.9; 50 of 100: +0.4; independent nulls: 0 ± 0.15; benchmarks/results/dalemirror.md)
AUTO_MIRROR_SHIFT = 2.0

#: ``n_basis="auto"``: raised-cosine functions per filter of a causal fit, and of a fit
#: with the mirror filter (whose contrast needs the finer short lags: Brunel 10 of 100
#: recorded, MCC 0.937 / 0.877 with 6 against 1.000 / 0.920 but 0.000 on a third network
#: with 4; benchmarks/results/dale90c.md)
AUTO_N_BASIS = 4
AUTO_N_BASIS_MIRROR = 6


def _hump_shift(z_short: np.ndarray, tested: np.ndarray) -> float:
    """Median over the tested pairs of the causal short-lag z: how far a synchrony hump
    that every pair shares shifts the unlinked pairs' null (0 without one)."""
    v = z_short[tested]
    return float(np.median(v)) if v.size else 0.0


def _mirror_wald(prob, x, row_w, basis, robust_bins, contrasts):
    """Wald step of a fit with mirror filters (``prob.nb`` = 2 × the basis' functions).

    One :meth:`_Problem.wald` call, so every contrast's variance comes from the same
    full covariance of the causal and mirror coefficients (they are correlated: the
    contrast's variance is not the sum of the two). Returns the causal summed filter's z
    (nu, nt) (the labels' evidence), the causal − mirror summed filter's z (nu, nt) (the
    tests where the scan is off or a pair is too sparse for it) and the causal scan
    (a dict as ``prob.scan``, or None without ``contrasts``); sets ``prob.scan`` to the
    scan of causal − mirror (each group's causal contrast minus the same contrast of the
    mirror filter)."""
    csum = basis.sum(axis=0)
    nb = csum.size
    k = 0 if contrasts is None else contrasts.shape[1]
    cs = np.zeros((nb, 0)) if contrasts is None else contrasts
    con = np.vstack([np.hstack([cs, cs, csum[:, None]]),
                     np.hstack([np.zeros_like(cs), -cs, -csum[:, None]])])
    z_lab = prob.wald(x, row_w, np.concatenate([csum, np.zeros(nb)]),
                      robust_bins=robust_bins, contrasts=con)
    sc = prob.scan
    z_diff = sc["z"][..., 2 * k]

    def part(idx):
        idx = np.asarray(idx)
        return {"z": sc["z"][..., idx], "corr": sc["corr"][..., idx[:, None], idx[None, :]],
                "events": sc["events"][..., idx]}

    causal = part(np.arange(k)) if k else None
    prob.mirror_scan = part(np.arange(2 * k + 1))    # every contrast, for diagnostics
    tests = {"all": np.arange(k, 2 * k), "short": np.array([k]),
             "mixed": np.r_[k, np.arange(1, k)]}[MIRROR_SCAN]
    prob.scan = part(tests) if k else None
    # every group's causal − mirror, for the inhibition side (MIRROR_INHIBITION_SCAN)
    prob.scan_inh = part(np.arange(k, 2 * k)) if k else None
    return z_lab, z_diff, causal


# ============================================================================ method
@register
class DaleGLM(InferenceMethod):
    """Coupled Poisson GLM under Dale's law with refractoriness, delays, covariates, priors.

    Coupled point-process model of Pillow, J. W. et al. (2008) Nature 454, 995–999, fitted
    with every presynaptic unit's outgoing filters constrained to one sign, its E/I label
    inferred jointly by alternation (unconstrained fit → label by summed outgoing evidence
    → sign-bounded refit), as proposed for constrained, realistic E/I models of recorded
    spikes (see the module docstring for the model and the tests). Several sessions that
    record overlapping subsets of one network are fitted jointly by :meth:`fit_sessions`.

    Parameters
    ----------
    bin_width : float or None, default None (automatic: 1 ms, not finer than the data)
        Bin width in s. The automatic width is 1 ms on the full solver (since session
        20; 2 ms before) and 2 ms on the screened one (:data:`AUTO_BIN_WIDTH`,
        :data:`AUTO_BIN_WIDTH_SCREENED`). Measured (Brunel N = 100, 120 s, 50 % hidden,
        1.5 ms delays, two network seeds; benchmarks/results/dalebest.md): 2 → 1 ms
        raises AUC 0.965 → 0.988 / 0.951 → 0.987 and MCC 0.772 → 0.914 / 0.732 →
        0.916 (glm on the same recordings: 0.901 / 0.882), at ~2.5× the CPU time; at
        2 ms part of a short-delay link's coincidences falls into lag 0 (the target's
        own bin), which a causal filter leaves out. Not used to choose it: hidden
        states MCC 0.621 → 0.845 / 0.501 → 0.790, a 1,000-neuron Brunel network (40
        recorded, 300 s; reported in session 20 as scale-free LIF, which the benchmark then
        built as Brunel; benchmarks/results/dale26.md) 0.480 → 0.519, but Izhikevich
        (1–20 ms delays, 40 of 1,000, 600 s) 0.414 → 0.370; null families in band (FPR
        at α = 0.05: 0.033–0.052). For long-delay data ``bin_width=0.002`` gives the
        former fit.
    window : float, default 0.025
        Longest coupling / history lag in s (delay basis over 0–``window``).
    n_basis : int or "auto", default "auto"
        Raised-cosine basis functions per filter. ``"auto"``: 4 for a causal fit, 6 for a
        fit with the mirror filter (``acausal``; :data:`AUTO_N_BASIS`,
        :data:`AUTO_N_BASIS_MIRROR`), so a fit without the mirror is the former default's.
        Why 6 with the mirror: its causal − mirror contrast is tested on the short scan
        group, which 6 functions keep to the first 1–3 ms at 1 ms bins; with 4, Brunel 10 of
        100 recorded gave MCC 1.000 / 0.920 / 0.814 / 0.851 / 0.000 / 0.906 on network seeds
        3–8 (seed 7: the small-problem decision made no call) against 0.937 / 0.877 / 0.931 /
        0.920 / 0.938 / 0.906 with 6 (benchmarks/results/dale90c.md).
    basis_last_peak : float, "window", "extend" or None, default None
        Lag in s of the basis' last peak (:func:`~spikewire.infer._bases.raised_cosine_log_basis`,
        ``bin_width < basis_last_peak <= window``). None: the last function decays to 0 at
        ``window``, so the filters' reach fades before it (4 functions at 1 ms bins: the
        functions' sum is 1 up to 12 ms, 0.61 at 17 ms, 0.16 at 21 ms; at 2 ms bins 0.7 at
        18 ms). ``"window"`` (or the window's value): the ``n_basis`` functions respread so
        that the last peaks at the window (4 at 1 ms bins: 1, 4, 10, 25 ms; coarser at
        short lags). ``"extend"``: the ``n_basis`` functions of None kept (1, 3, 6, 13 ms at
        1 ms bins; 2, 4, 8, 14 ms at 2 ms) and one more added, peaking at the window
        (``n_basis + 1`` functions, summing to 1 over the whole window); the scan
        (``contrast="scan"``) keeps None's short and middle groups and puts the extra
        function into the long group. Neither is the default (benchmarks/results/
        dalebasis.md): on Brunel (1.5 ms delays, 50 % hidden, seeds 3 / 4) ``"extend"``
        keeps MCC within 0.01 (0.918 / 0.916 → 0.917 / 0.909), but on Izhikevich (1–20 ms
        delays, 40 of 1,000, 600 s) it brings the 15–20 ms E links back (AUC 0.51 → 0.91)
        while the long group's spread costs the 5–10 ms ones (0.97 → 0.90): AUC 0.624 →
        0.688, MCC 0.370 → 0.367; ``basis_last_peak=0.025`` (4 functions respread) reaches
        Izhikevich MCC 0.553 but Brunel 0.863.
    scan_groups : "auto" or int, default "auto"
        Contrasts of the scan test (``contrast="scan"``). An integer ``k`` (1 to
        :data:`~spikewire.infer.glm.SCAN_MAX_CONTRASTS` = 4, at most the number of basis
        functions): the basis functions split in order into ``k`` groups
        (:func:`~spikewire.infer.glm.scan_contrasts`), the maximum's p-value over ``k``
        correlated contrasts (:func:`~spikewire.infer.glm.scan_pvalue`). With
        ``basis_last_peak="extend"``, ``scan_groups=4`` tests 1–3 / 6 / 13 / 25 ms (peaks at
        1 ms bins) so that the function at the window gets its own contrast (a
        21.5–23.5 ms link: 1.7× the z of the merged 13 + 25 ms contrast in the
        weak-coupling limit). ``"auto"``: three groups; with ``"extend"`` the former
        three and the extra function in the long group. Not the default
        (benchmarks/results/dalescan4.md): ``basis_last_peak="extend", scan_groups=4``
        on Izhikevich (1–20 ms delays, 40 of 1,000, 600 s) reaches every delay band
        (E-link AUC 0.972; 1–5 / 5–10 / 10–15 / 15–20 ms: 0.99 / 0.98 / 0.95 / 0.99),
        AUC 0.740, MCC 0.542 (best threshold 0.570) against the former default's 0.624 /
        0.370, and Brunel (1.5 ms delays, 50 % hidden, seeds 3 / 4) MCC 0.918 / 0.916 →
        0.910 / 0.908; null families in band (FPR at 0.05: 0.034–0.074), but the
        Izhikevich MCC stays under ``basis_last_peak=0.025``'s 0.553 (one network).
    refractory : float, default 0.002
        Absolute refractory period in s: bins within it after a target's own spike are
        left out of its likelihood (0 disables).
    ridge : float, default 1.0
        L2 penalty on coupling coefficients.
    history_ridge : float, default 1.0
        L2 penalty on self-history coefficients.
    covariates : array_like or callable, optional
        State covariates (:func:`resample_covariates`): an array (n_samples,) or
        (n_covariates, n_samples) at ``covariate_rate`` Hz covering the recording, or a
        callable ``f(t)`` of times in s. (:meth:`fit_sessions` takes one per session.)
    covariate_rate : float, optional
        Sampling rate of a covariate array in Hz.
    population_covariate : bool, default True
        Add population-rate covariates (a proxy for unmeasured shared slow input and
        hidden network states): glm's
        (:func:`~spikewire.infer._bases.population_covariates`), the log of the summed
        counts of all fitted units but the target over the *past* (bins before ``t`` and
        ``population_gap``), smoothed by an exponential kernel of each time scale in
        ``population_timescales``, standardised; one free (unpenalised) coefficient per
        time scale and target. Added only when at least 8 units are fitted (with fewer the
        "population" is a few single units and leaks pair-specific drive). Log: shared
        co-modulation is multiplicative (a gain), so the log-rate is linear in the log
        population rate; past-only: no future spike of the target leaks in; two scales:
        the fast one follows hidden state switches, the slow one slow co-modulation
        (benchmarks/results/dalecov.md).
    population_timescales : sequence of float or None, default (0.03, 0.3)
        Time constants in s of the population covariates (each > ``bin_width``); None or
        ``population_covariate=False``: none.
    population_gap : float, default 0.0
        Time in s before the bin that the population covariates leave out (besides the
        bin itself). 0: they start at the previous bin, so they follow a hidden state
        switch as soon as any unit does (glm's quarter window, 5–6 ms, leaves the first
        ms after a switch to the presynaptic filters: up/down FPR 0.165 instead of 0.065,
        benchmarks/results/dalecov.md).
    population_tau : float or None, default None
        Deprecated (the former linear, two-sided Gaussian covariate's width in s): a value
        warns (``DeprecationWarning``) and is used as ``population_timescales=(tau,)``.
    variance : {"robust", "model"}, default "robust"
        Variance of the Wald tests. ``"model"``: the variance of the ridge-penalised
        estimate under conditionally Poisson counts, the sandwich ``H⁻¹ I H⁻¹`` of the
        penalised (``H``) and plain (``I``) Fisher information (the former ``H⁻¹``, the
        ridge's posterior variance, made pairs with few expected coincidences
        conservative: FPR 0.024 on the heterogeneous null, benchmarks/results/dalehet.md).
        ``"robust"``: the time-block-robust (cluster-robust Huber–White) sandwich with
        ``H`` as bread and the outer products of the scores summed over blocks of
        ``robust_block`` s as meat (CR1 small-sample factor; :meth:`_Problem.wald`),
        never below the model variance; it stays valid when the spike counts are
        over-dispersed or correlated within a block (bursts, residual state switches),
        where the model variance is too small. Pairs with fewer than
        :data:`MIN_ROBUST_EVENTS` expected coincidences keep the model variance: their
        meat rests on a handful of blocks.
    robust_block : float, default 0.1
        Length in s of the time blocks of the robust variance (≥ ``window``; longer than
        a burst and the coupling window, short enough to give many blocks).
    prior : dict, optional
        Connection probability per (pre_type, post_type), e.g. ``{("E", "E"): 0.1}``;
        becomes a type-dependent L1 penalty (:func:`prior_penalties`) on the sign-
        constrained refit, with types from step 2's labels.
    weight_scale : dict, optional
        Typical magnitude per (pre_type, post_type) of a connected pair's summed coupling
        filter (log-rate gain, dimensionless), e.g. ``{("E", "E"): 0.3, ("I", "E"): 0.8}``:
        a Gaussian slab of that scale, i.e. the shrinkage penalty
        ``prior_strength · u² / (2 · scale²)`` on each summed filter ``u`` of that type
        pair (:func:`magnitude_penalties`) on the sign-constrained refit.
    prior_strength : float or "cv", default 1.0
        Scale of the prior penalties (``prior`` and ``weight_scale``). ``"cv"``: chosen
        among :data:`CV_STRENGTHS` by the held-out log-likelihood of the last
        ``validation_fraction`` of the recording (fits on the rest; warm starts along the
        path); the choice and the path are in ``diagnostics["prior_strength_cv"]``.
    excitatory_fraction : float, default 0.8
        Prior probability that a unit is excitatory (E/I label prior).
    min_label_confidence : float, default :data:`MIN_LABEL_CONFIDENCE`
        Label fallback: a unit whose label confidence (:func:`label_units`: ``Φ(|S|)``, the
        sign of its summed outgoing evidence against a unit without links) is below this is
        left unlabelled (``"?"``) and its couplings are fitted free, one sign per link, its
        p-values two-sided. 0.5 labels (and constrains) every unit.
    empirical_null : bool, default False
        Standardise each presynaptic unit's Wald z-scores by its own empirical null
        (:func:`empirical_null`: median and MAD over its targets) before labels, p-values
        and scores. For recordings where common input the model misses shifts a unit's
        z-scores as a whole (measured on the thin-evidence AdEx data: the I units'
        non-links sit at z ≈ +1.8, which labelled 14 of 18 I units E); it costs accuracy
        where the shift is itself evidence of the type (Brunel: indirect excitation
        shifts E units' z-scores up), hence off by default. Needs ≥ 10 targets per unit.
    null_scale : bool or {"central", "median"}, default True
        Divide the Wald z-scores by one global empirical-null scale ``max(1, s)``, ``s``
        the root mean square about 0 of Efron's central null fit over every tested pair
        (``"central"``, the default of ``True``: :data:`DEFAULT_NULL_SCALE`) or
        ``median |z| / Φ⁻¹(0.75)`` (``"median"``, the default until session 18)
        (:func:`null_scale`), before
        the p-values and scores; the summed-filter labels use the unscaled z-scores (a
        shift of a unit's z-scores is type evidence the scale would wash out), the scan's
        labels (``label_from``) the scaled ones, confirmed by the unscaled. Not with
        ``empirical_null``, which already standardises. Only widens: on bursting spikes
        the robust z-scores still have sd ≈ 1.1 (the sandwich misses part of the
        burst-driven variance), which a per-pair α = 0.05 turns into 0.08 false
        positives; where most pairs are unconnected the bulk of ``|z|`` is the null's.
        Links raise ``median |z|`` (≈ +13 % if 10 % of the pairs are strong links; on
        Brunel networks with 20 % of the pairs linked 1.97–2.09 against the unlinked
        pairs' 1.55–1.65), far less the central fit, which leaves the tails out
        (1.74–1.85: MCC +0.06 to +0.08 at 50 % hidden; benchmarks/results/dalehid.md).
        That costs p-value size, not ranking. Needs ≥ :data:`MIN_NULL_SCALE_PAIRS`
        tested pairs.
    contrast : {"auto", "area", "scan"}, default "auto"
        What the Wald tests score. ``"auto"`` (since session 19): ``"scan"`` on the full
        solver (and :meth:`fit_sessions`), ``"area"`` on the screened solver (which has
        no scan) and with ``empirical_null`` or ``n_basis < 3``;
        ``diagnostics["contrast"]`` names the test used. Measured against ``"area"`` on
        the same fits (benchmarks/results/dalescan.md): Brunel, 50 % hidden, AUC
        0.922 → 0.965 / 0.911 → 0.951, MCC 0.582 → 0.772 / 0.496 → 0.732 (two network
        seeds); hidden states likewise; Izhikevich (1–20 ms delays) AUC 0.637 → 0.657,
        MCC 0.179 → 0.414; the null families in band (FPR at 0.05: 0.042–0.053). It
        pays for its three looks where a link's evidence spreads evenly over the window
        (a weak inhibitory LIF link on 60 s: p = 0.23 against 0.024 with ``"area"``),
        and at 90 % hidden (10 units: no null scale) it ranks better but over-calls
        more (MCC 0.111 → 0.041 and 0.229 → 0.254 on the two seeds).
        ``"area"``: the summed filter
        (the weight) over the whole 0–``window`` delay basis. ``"scan"``: glm's lag-scan test
        (:func:`scan_test`): the filter's area over the short, middle and long basis
        functions (:func:`~spikewire.infer.glm.scan_contrasts`; with the default 4
        functions at 1 ms bins, peaking at 1, 3, 6 and 13 ms: lags 1–5, 3–12 and
        7–23 ms), each Wald z with the same (robust) variance, each divided by its own
        empirical-null scale, the largest |z| with its exact joint-normal p-value
        (:func:`~spikewire.infer.glm.scan_pvalue`), one-sided in the label's direction;
        contrasts expecting fewer than :data:`~spikewire.infer.glm.MIN_SCAN_EVENTS`
        coincidences are left out of a pair's scan. A short-delay link is no longer
        diluted by the long lags' noise (benchmarks/results/dalescan.md). Labels,
        weights (the summed filter) and delays are those of ``"area"``. An explicit
        ``"scan"`` needs the full solver (``solver="auto"`` then fits the full problem
        at any size), ``n_basis ≥ 3`` and no ``empirical_null``.
    label_from : {"auto", "scan", "area"}, default "auto"
        Which Wald z-scores the E/I labels (:func:`label_units`) sum over a unit's
        outgoing pairs. ``"area"``: the summed filter's unscaled z (the only choice until
        session 21, and the screened solver's). ``"scan"``: the direction from the scan's
        test z (:func:`scan_test`, after the per-contrast null scales), imposed where its
        confidence or that of an agreeing summed-filter label reaches
        ``min_label_confidence`` (:func:`confirm_labels`). ``"auto"``: ``"scan"`` where
        the tests are the scan, else ``"area"``. Why: the summed filter adds up the long
        lags, where the fast population covariate, built from the spikes inside the
        coupling window, absorbs part of a unit's own (and its network echo's) effect and
        shifts all of the unit's outgoing z-scores together (Brunel, 50 % hidden, two
        hidden states: unlinked pairs' summed-filter z of E units −0.35 on average, down
        to −1.3; the 30 ms covariate's coefficient 1.5–1.6 against 0.14 without states);
        summed over ~40 unlinked targets that outweighed ten true links and labelled four
        E units I. The scan's z lean on the lags that carry the link, and its null
        scales keep the confidence honest where hidden input widens every pair's z (the
        unscaled scan z alone mislabel I units of a scale-free LIF network, whose
        unlinked pairs sit at +2 to +3.5 on the short lags); the summed filter still
        confirms labels where the scan is unsure. Measured in
        benchmarks/results/dalestate.md.
    acausal : {"none", "mirror", "auto"}, default "auto"
        A mirror filter per presynaptic unit (full solver and :meth:`fit_sessions`).
        With ``n_basis="auto"`` (the default) a fit with the mirror uses 6 basis
        functions per filter (:data:`AUTO_N_BASIS_MIRROR`), the setting measured below.
        ``"mirror"``: the design also gets, per presynaptic unit, the delay basis applied
        to its spikes in the target's bin and the L − 1 bins *after* it (the causal
        filter's mirror image; :data:`MIRROR_FIRST_LAG`; the target's own mirror is held
        at 0), fitted jointly and left free (no sign constraint, no prior). The tests
        become the short scan group's **causal − mirror** contrast (:data:`MIRROR_SCAN`;
        on the inhibition side the scan over every group's causal − mirror,
        :data:`MIRROR_INHIBITION_SCAN`, since inhibitory troughs are broad; the summed
        causal − mirror filter where a pair has too few expected events for
        the scan, and with ``contrast="area"``), its variance from the full (robust,
        floored) covariance of both filters; the population covariate is two-sided (a
        past-only one leaves a slow state's future half to the mirror). Labels, weights
        and delays keep coming from
        the causal filter (labels from the summed causal z: ``label_from="auto"`` means
        ``"area"`` here). Inhibition is called only where the causal filter **and** the
        contrast agree (intersection–union test on the larger of the two z): an E link
        i → j makes the reverse pair (post i, pre j)'s contrast strongly negative with a
        null causal filter, and two units that fire apart (a symmetric trough from hidden
        input) make both filters negative and the contrast null. Excitation is called on
        the contrast alone, except where the reverse pair's causal z flags an inhibitory
        link (below −:data:`MIRROR_REVERSE_INHIBITION`), whose reverse pair's contrast is
        positive: there it also needs the causal filter (:data:`MIRROR_EVIDENCE`
        ``"reverse"``; session 28). The causal filter's z in these tests is centred on its
        empirical null (:data:`MIRROR_CAUSAL_NULL`; the hump shifts it). Requiring the
        causal filter for every excitatory call (sessions 25–27, ``"both"``) lost most
        excitatory links where the hump differs from pair to pair (calibration study's
        Brunel family, 40 of 100 recorded, 600 s: 9 of 138 called, MCC 0.442; now
        MCC ≈ 0.77 with no false call, benchmarks/results/dale28.md). A unit labelled I is
        tested for inhibition, E for excitation, an unlabelled one on the Bonferroni
        combination of the two one-sided tests. Why: with a small
        recorded fraction every pair shares hidden input, a symmetric ±5 ms synchrony hump
        that a causal filter tested against 0 takes in (Brunel 100 × 120 s, 10 recorded:
        unlinked pairs' short-lag z ≈ N(+4, 2.4²), overlapping the links;
        benchmarks/results/dale90.md). The contrast moves the unlinked pairs to −0.5 … 0 (sd
        1.2–1.8). Measured with the agreement rule and ``label_check`` (session 25,
        benchmarks/results/dale90c.md; network seeds 3 / 4 used to choose, 5–8 not; MCC at
        the default decision): with ``n_basis=6`` 0.937 / 0.877 and 0.931 / 0.920 / 0.938 /
        0.906; with 4 functions 1.000 / 0.920 and 0.814 / 0.851 / 0.000 / 0.906; with the
        inhibition side over every group (session 27, benchmarks/results/dale27.md), 6
        functions: 0.943 / 0.840 and 0.898 / 0.920 / 0.938 / 0.906 (one more false call on
        three seeds). Before them
        (benchmarks/results/dalemirror.md, "Lead, after the merge"): with ``n_basis=6``
        0.741 / 0.806 and 0.898 / 0.920 / 0.938 / 0.906 (default 0.471 / 0.713 and 0.628 /
        0.506 / 0.596 / 0.484; ccg 0.893 / 0.894 and 0.898 / 0.795 / 0.843 / 0.808); with
        the default 4 functions 0.741 / 0.884 and 0.766 / 0.765 / 0.000 / 0.848 (the
        small-problem decision of :func:`~spikewire.infer.base.check_null` makes no call on
        seed 7; best threshold 0.796). Null families, 10 units × 300 s, seeds 0 / 1, FPR at
        0.05 with the agreement rule: 0.000–0.033 with ``n_basis=6`` (no default call;
        0.000–0.056 with the inhibition side over every group, session 27),
        0.000–0.022 with 4 functions (one call): conservative, since without a hump both z
        must pass (≈ 0.02 expected); before it Poisson 0.033 / 0.100, heterogeneous 0.022 /
        0.044, co-modulated 0.067 / 0.044, up-down 0.022 / 0.056, bursting 0.067 / 0.033
        (today's default 0.033 / 0.100, 0.011 / 0.033, 0.122 / 0.156, 0.022 / 0.033, 0.078 /
        0.111). A mirror forced onto data without a hump (50 of 100 recorded) calls a
        quarter of the links (MCC 0.505 / 0.457, best threshold 0.916 / 0.933), which is why
        ``"auto"`` keeps it off there. Only the short lags are tested: links with delays
        beyond the short group (≈ 2–3 ms at 1 ms bins) lose their test, so this is for
        short-delay networks recorded sparsely. ``"auto"``: the causal fit first; the mirror
        fit only where the median over the tested pairs of the causal short-lag z exceeds
        :data:`AUTO_MIRROR_SHIFT` (2): 3.98–4.61 at 10 of 100 recorded (six seeds), −0.32 …
        +0.16 on the 10-unit nulls, 0.58–0.64 at 50 of 100 with and without hidden states,
        so there the fit is the ``"none"`` fit exactly. ``diagnostics["acausal"]`` names
        what was fitted, ``diagnostics["synchrony_shift"]`` the statistic (``"auto"``: the
        causal fit's). The gate is not specific to such data: on a 1,000-neuron Brunel
        network with 40 recorded (600 s; delays 0.5–≈5 ms from positions) the shift is 3.23
        and ``"auto"`` fits the mirror. With the short group on both sides MCC fell 0.524 →
        0.319 (AUC 0.883 → 0.776; benchmarks/results/dale26.md): the inhibitory links'
        troughs lie in the middle group and 17 of 44 were called (the causal fit: 43).
        With the inhibition side over every group all 44 are called, MCC 0.525, best MCC
        0.591 against 0.537, but AUC 0.823 (its weak E links, 3 and 1 of 108 called by
        the two fits, rank lower; benchmarks/results/dale27.md). With the excitation
        decision on the contrast and the ranking on both filters (session 28,
        benchmarks/results/dale28.md) ``"auto"`` is at least as good as the causal fit
        in MCC and AUC on every recording where it switches: this network 0.565 / 0.894
        against 0.524 / 0.883 (20 recorded: 0.523 / 0.849 against 0.431 / 0.788), the
        calibration study's Brunel family at 40 of its 100 recorded 0.768 / 0.984
        against 0.435 / 0.885, Brunel 100 at 10 recorded 0.840–0.943 / 0.984–0.996
        against 0.471–0.713 / 0.727–0.963; so it is the default since session 28. The
        Izhikevich networks (1–20 ms, 1.5–1.7), the study's AdEx (0.2), scale-free LIF
        (1.8) and hidden-state (2.0) families at 40 recorded stay under the gate (the
        same fit as ``"none"``). ``"auto"`` keeps the causal fit with
        ``empirical_null=True`` and on the screened solver; ``"mirror"`` is refused
        there. CPU ≈ 1.3–1.5× a ``"none"`` fit (``"auto"`` that switches: ≈ 2×; 10
        units × 120 s). **Known limitation:** the contrast cancels a link whose reverse
        pair is also a link (the mirror carries the reverse link at the same delay), so
        reciprocal E pairs are mostly missed: on Brunel networks not used in tuning
        (seeds 9–20, 10 of 100 recorded) 22 of 55 reciprocal E links called against 43
        by ``ccg``, and ``ccg`` has the better MCC on 8 of 12 (mean 0.850 against 0.768;
        benchmarks/results/dale30.md). There, prefer ``ccg``'s calls. A local
        second-difference test of the fitted filters (calibrated, but weaker) did not
        recover them (dale31.md §1–4). At 100 of 1,000 recorded (the calibration study's
        Brunel and scale-free LIF networks, 10 min) the causal fit is used and ``glmcc``
        has the better MCC (0.921 / 0.860 against 0.699 / 0.753; dale31.md §5): with 90 %
        of the inputs hidden, prefer the pairwise methods' calls and use dale_glm for the
        E/I labels.
    label_check : {"auto", "strongest", "none"}, default "auto"
        Check each unit's E/I label against its single strongest outgoing link
        (:func:`strongest_link_labels`): where one link is significant on its own after a
        Bonferroni correction over the unit's one-sided tests (at 0.05), an unlabelled
        unit takes that link's sign and a label that disagrees with it is lifted (the
        unit's links are then fitted and tested without Dale's sign), on the evidence
        each way that the tests use. ``"auto"``: ``"strongest"`` where the mirror filter is
        fitted (``acausal``), else ``"none"``; the default fit without the mirror is
        unchanged. Why: with the mirror, labels come from the summed causal filter, which
        the synchrony hump lifts on every pair; an I unit with one strong link among nine
        targets was labelled E with confidence 1.00 (Brunel 10 of 100 recorded, seed 3).
        Measured with ``acausal="mirror", n_basis=6`` and both session-25 rules (the
        check and :data:`MIRROR_EVIDENCE` ``"both"``; benchmarks/results/dale90c.md;
        seeds 3 / 4 used to choose, 5–8 not), MCC at the default decision: 0.937 / 0.877
        and 0.931 / 0.920 / 0.938 / 0.906 (before: 0.741 / 0.806 and 0.898 / 0.920 /
        0.938 / 0.906; ccg 0.893 / 0.894 and 0.898 / 0.795 / 0.843 / 0.808).
        ``diagnostics["label_check"]`` holds each unit's evidence, threshold and change.
        Not with ``solver="screened"``.
    validation_fraction : float, default 0.2
        Final part of the recording (of each session) held out to score bits per spike.
    alpha : float, default 0.05
    correction : {"bh", "bonferroni", "none"}, default "bh"
    min_spikes : int, default 20
    max_iter : int, default 300
        L-BFGS-B iterations per stage.
    solver : {"auto", "full", "screened"}, default "auto"
        ``"full"``: the joint problem above (every target on every unit; a dense
        ``(n_units · n_basis)²`` Wald Hessian per target). ``"screened"``
        (:mod:`spikewire.infer._dale_screened`): a score-test screen keeps
        ``n_candidates`` inputs per target, each target's sparse model is fitted by
        Newton's method and Wald-tested on its candidates, the other pairs get a score
        test against it; labels, null scale and p-values as above. Memory and time grow with
        ``n_candidates``, not ``n_units``, per target. ``"auto"``: screened from
        :data:`~spikewire.infer._dale_screened.AUTO_SCREENED_UNITS` (150) fitted units
        on, when no option only the full solver has (``covariates``, ``prior``,
        ``weight_scale``, ``empirical_null``) is set. Measured (100 of 1,000 Izhikevich
        units, 120 s; benchmarks/results/dalescale.md): 3.8× less CPU, AUC 0.70 vs
        0.68, better held-out likelihood, I-AUC 0.63 vs 0.76. Non-candidates get a score
        test against the target's fitted sparse model. The tests see the screen's
        bins, so the p-values are calibrated over all pairs, not per candidate
        (selection bias: null candidates too small, the others too large; see
        ``screen_split``).
    n_candidates : int, default 40
        Candidate inputs per target of the screened solver. Inhibitory inputs are
        found mostly as candidates (their screening z is pulled up by co-firing with
        the excitatory population): at 100 of 1,000 Izhikevich units, 60 candidates
        raise I-AUC from 0.637 to 0.707 (120 s) and from 0.750 to 0.856 (600 s) for
        1.9× / 1.65× the CPU and an AUC 0.008 / 0.012 lower
        (benchmarks/results/dalescr.md).
    screen_duration : float, default 300.0
        Seconds of the recording the screen uses (evenly spaced 10 s chunks; all of it
        when shorter).
    screen_split : bool, default False
        Screened solver, recordings at least 4 × ``screen_duration`` long: the
        candidates' fit and Wald step leave the screen's bins out and the other pairs
        are score-tested on as many different bins (``diagnostics["screen_split"]``),
        so no p-value is biased by the screen's choice; the candidates' tests use
        1 − 1/4 or more of the data. Off by default. Use it with
        ``screen_statistic="deviance"``: on that short test block the score test of
        very sparse pairs (well under 1 Hz) is anti-conservative (10 false BH calls of
        1,560 on a 0.1–20 Hz null; with the deviance 1, and all five null families in
        band per candidate and over all pairs: benchmarks/results/dalescr.md).
    screen_statistic : {"score", "deviance"}, default "score"
        Statistic of the screened solver's screen and of its non-candidates' test:
        the score z ``U / √V``, or the signed root of the Poisson deviance of the
        input's weighted coincidences
        (:func:`~spikewire.infer._dale_screened.signed_root_deviance`), which gives a
        deficit of coincidences the weight the Poisson law gives it and keeps sparse
        pairs calibrated (measured: both 1 % tails at 0.7 % on 0.3–3 Hz independent
        units, where the score z puts 2.2 % / 0.1 % into them). Same cost. At 100 of
        1,000 Izhikevich units it changes the candidates little and the accuracy within
        noise (I-AUC 0.643 vs 0.637 at 120 s; dalescr.md), so the score stays the
        default; the deviance is for ``screen_split=True``.
    n_jobs : int, default 1
        Threads over targets of the screened solver (-1: all cores).
    """

    in_all = False  # a joint constrained fit (minutes per recording): named explicitly
    name = "dale_glm"
    reference = ("Pillow et al. (2008) Nature 454:995 (coupled GLM), fitted under Dale's "
                 "law with inferred E/I labels")
    bin_settings = {"bin_width": AUTO_BIN_WIDTH}
    settings_constraints = {
        "bin_width": [None, Interval("real", 0, None, closed="neither", unit="s")],
        "window": [Interval("real", 0, 1.0, closed="right", unit="s")],
        "n_basis": [Options(["auto"]), Interval("int", 1, 20)],
        "basis_last_peak": [None, Options(["window", "extend"]),
                            Interval("real", 0, 1.0, closed="right", unit="s")],
        "scan_groups": [Options(["auto"]), Interval("int", 1, SCAN_MAX_CONTRASTS)],
        "refractory": [Interval("real", 0, 0.1, unit="s")],
        "ridge": [Interval("real", 0, None)],
        "history_ridge": [Interval("real", 0, None)],
        "covariates": [_CovariateLike()],
        "covariate_rate": [None, Interval("real", 0, None, closed="neither", unit="Hz")],
        "population_covariate": [Boolean()],
        "population_timescales": [RealSequence(0, None, closed="neither", unit="s"), None],
        "population_tau": [None, Interval("real", 0, None, closed="neither", unit="s")],
        "population_gap": [Interval("real", 0, 1.0, unit="s")],
        "variance": [Options(["robust", "model"])],
        "robust_block": [Interval("real", 0, None, closed="neither", unit="s")],
        "prior": [_PriorLike()],
        "weight_scale": [_ScaleLike()],
        "prior_strength": [Interval("real", 0, None), Options(["cv"])],
        "excitatory_fraction": [Interval("real", 0, 1, closed="neither")],
        "min_label_confidence": [Interval("real", 0.5, 1, closed="both")],
        "empirical_null": [Boolean()],
        "null_scale": [Boolean(), Options(list(NULL_SCALE_ESTIMATORS))],
        "contrast": [Options(list(CONTRASTS))],
        "label_from": [Options(["auto", "scan", "area"])],
        "acausal": [Options(list(ACAUSAL))],
        "label_check": [Options(["auto", "strongest", "none"])],
        "validation_fraction": [Interval("real", 0, 0.5, closed="neither")],
        "alpha": [Interval("real", 0, 1, closed="neither")],
        "correction": [Options(["bh", "bonferroni", "none"])],
        "min_spikes": [Interval("int", 1, None)],
        "max_iter": [Interval("int", 1, None)],
        "solver": [Options(["auto", "full", "screened"])],
        "n_candidates": [Interval("int", 1, None)],
        "screen_duration": [Interval("real", 0, None, closed="neither", unit="s")],
        "screen_split": [Boolean()],
        "screen_statistic": [Options(["score", "deviance"])],
        "n_jobs": [Interval("int", -1, -1), Interval("int", 1, None)],
    }

    def __init__(self, bin_width: float | None = None, window: float = 0.025,
                 n_basis: int | str = "auto", refractory: float = 0.002, ridge: float = 1.0,
                 history_ridge: float = 1.0,
                 covariates: np.ndarray | Callable | None = None,
                 covariate_rate: float | None = None, population_covariate: bool = True,
                 population_timescales=DEFAULT_POPULATION_TIMESCALES,
                 population_tau: float | None = None, population_gap: float = 0.0,
                 variance: str = "robust",
                 robust_block: float = 0.1, prior: dict | None = None,
                 weight_scale: dict | None = None,
                 prior_strength: float | str = 1.0, excitatory_fraction: float = 0.8,
                 min_label_confidence: float = MIN_LABEL_CONFIDENCE,
                 empirical_null: bool = False, null_scale: bool = True,
                 validation_fraction: float = 0.2,
                 alpha: float = 0.05, correction: str = "bh", min_spikes: int = 20,
                 max_iter: int = 300, solver: str = "auto", n_candidates: int = 40,
                 screen_duration: float = 300.0, n_jobs: int = 1,
                 screen_split: bool = False, screen_statistic: str = "score",
                 contrast: str = "auto", label_from: str = "auto",
                 basis_last_peak: float | str | None = None,
                 scan_groups: int | str = "auto", acausal: str = "auto",
                 label_check: str = "auto"):
        self.bin_width = bin_width
        self.window = window
        self.n_basis = n_basis
        self.refractory = refractory
        self.ridge = ridge
        self.history_ridge = history_ridge
        self.covariates = covariates
        self.covariate_rate = covariate_rate
        self.population_covariate = population_covariate
        self.population_timescales = population_timescales
        self.population_tau = population_tau
        self.population_gap = population_gap
        self.variance = variance
        self.robust_block = robust_block
        if population_tau is not None:
            warnings.warn("dale_glm: population_tau is deprecated (the population covariate "
                          "is now the log, past-only population rate at several time "
                          f"scales); using population_timescales=({population_tau!r},)",
                          DeprecationWarning, stacklevel=3)
        self.prior = prior
        self.weight_scale = weight_scale
        self.prior_strength = prior_strength
        self.excitatory_fraction = excitatory_fraction
        self.min_label_confidence = min_label_confidence
        self.empirical_null = empirical_null
        self.null_scale = null_scale
        self.validation_fraction = validation_fraction
        self.alpha = alpha
        self.correction = correction
        self.min_spikes = min_spikes
        self.max_iter = max_iter
        self.solver = solver
        self.n_candidates = n_candidates
        self.screen_duration = screen_duration
        self.screen_split = screen_split
        self.screen_statistic = screen_statistic
        self.n_jobs = n_jobs
        self.contrast = contrast
        self.label_from = label_from
        self.basis_last_peak = basis_last_peak
        self.scan_groups = scan_groups
        self.acausal = acausal
        self.label_check = label_check

    def _check_combination(self, bins: dict) -> None:
        # the basis checks below with the functions a fit will use first (n_basis="auto")
        self._mirror_now = self.acausal == "mirror"
        bw = bins["bin_width"]
        if bw is not None and bw > self.window:
            raise ValueError(f"dale_glm: the delay window ({self.window * 1e3:g} ms) is "
                             f"shorter than bin_width ({bw * 1e3:g} ms), the time resolution "
                             "of the fit; use a longer window or a smaller bin_width")
        for name in ("prior", "weight_scale"):
            table = getattr(self, name)
            for key in table or {}:
                for t in key:
                    if t not in CELL_TYPES:
                        raise ValueError(
                            f"dale_glm: {name} names cell type {t!r}, which does not exist; "
                            f"the types are {list(CELL_TYPES)} (keys are (pre_type, "
                            "post_type) pairs such as ('E', 'I'))")
        for tau in self._timescales():
            if bw is not None and tau <= bw:
                raise ValueError(f"dale_glm: population_timescales ({tau:g} s) must exceed "
                                 f"bin_width ({bw:g} s); use longer time scales or None")
        if bw is not None and self.robust_block < bw:
            raise ValueError(f"dale_glm: robust_block ({self.robust_block:g} s) is shorter "
                             f"than bin_width ({bw:g} s); give blocks of at least the coupling "
                             f"window ({self.window:g} s), e.g. 0.1")
        if self.variance == "robust" and self.robust_block < self.window:
            raise ValueError(f"dale_glm: robust_block ({self.robust_block:g} s) is shorter "
                             f"than the coupling window ({self.window:g} s): the scores of "
                             "neighbouring blocks would share spikes; use a robust_block of "
                             "at least the window, e.g. 0.1")
        if (self.scan_groups != "auto" and self._contrast_used() == "scan"
                and self.scan_groups > self._n_functions()):
            raise ValueError(f"dale_glm: scan_groups={self.scan_groups} splits the delay "
                             f"basis' {self._n_functions()} functions into more groups than "
                             f"there are functions; use scan_groups <= {self._n_functions()}, "
                             "more basis functions or scan_groups='auto'")
        if self.contrast == "scan" and self._n_basis_used() < 3:
            raise ValueError(f"dale_glm: contrast='scan' tests three groups of basis "
                             f"functions and needs n_basis >= 3, got {self.n_basis}; use "
                             "more basis functions or contrast='area'")
        if self.contrast == "scan" and self.empirical_null:
            raise ValueError("dale_glm: contrast='scan' does not combine with "
                             "empirical_null=True (the per-unit standardisation is of the "
                             "summed filter's z); use one of them")
        lp = self._basis_last_peak()
        if lp is not None and (lp > self.window * (1 + 1e-9) or (bw is not None and lp <= bw)):
            raise ValueError(f"dale_glm: basis_last_peak ({lp:g} s) must lie above bin_width "
                             f"and within the window ({self.window:g} s); use "
                             "basis_last_peak='window', or None")
        if lp is not None and self._n_functions() < 2:
            raise ValueError(f"dale_glm: basis_last_peak={self.basis_last_peak!r} needs "
                             f"n_basis >= 2 (one function has one peak, at the first bin), "
                             f"got n_basis={self.n_basis}; use more basis functions or "
                             "basis_last_peak=None")
        if self.label_from == "scan" and self._contrast_used() != "scan":
            raise ValueError(f"dale_glm: label_from='scan' labels units by the scan test's "
                             f"z-scores, but the tests are contrast={self._contrast_used()!r} "
                             "(empirical_null=True or n_basis < 3 turn the scan off); use "
                             "label_from='auto' or 'area', or the scan contrast")
        if self.acausal == "mirror" and self.solver == "screened":
            raise ValueError("dale_glm: acausal='mirror' needs the full solver (the screened "
                             "solver has no mirror filters); use solver='full' or 'auto', or "
                             "acausal='none'")
        if self.label_check == "strongest" and self.solver == "screened":
            raise ValueError("dale_glm: label_check='strongest' needs the full solver (the "
                             "screened solver labels units before testing all pairs); use "
                             "solver='full' or 'auto', or label_check='auto'")
        if self.acausal == "mirror" and self.empirical_null:
            raise ValueError("dale_glm: acausal='mirror' does not combine with "
                             "empirical_null=True (which standardises the causal filter's "
                             "z per unit); use acausal='auto' (which then keeps the causal "
                             "fit), acausal='none' or empirical_null=False")
        if (self.covariates is not None and not callable(self.covariates)
                and self.covariate_rate is None):
            raise ValueError("dale_glm: covariate_rate (Hz) is needed with a covariate array")

    def _basis_last_peak(self) -> float | None:
        """The delay basis' last peak in s (``"window"`` and ``"extend"``: the window; None:
        the last function decays to 0 at the window)."""
        if self.basis_last_peak is None:
            return None
        if isinstance(self.basis_last_peak, str):
            return float(self.window)
        return float(self.basis_last_peak)

    def _n_basis_used(self) -> int:
        """``n_basis`` with ``"auto"`` resolved: :data:`AUTO_N_BASIS_MIRROR` functions for a
        fit with the mirror filter, else :data:`AUTO_N_BASIS`."""
        if self.n_basis != "auto":
            return int(self.n_basis)
        return AUTO_N_BASIS_MIRROR if getattr(self, "_mirror_now", False) else AUTO_N_BASIS

    def _n_functions(self) -> int:
        """Functions of the delay basis: ``n_basis``, one more with ``"extend"``."""
        return self._n_basis_used() + (self.basis_last_peak == "extend")

    def _scan_contrasts(self, basis: np.ndarray) -> np.ndarray:
        """The scan's contrasts (:func:`scan_contrasts`). ``scan_groups`` k: the functions
        in order in k groups. ``"auto"``: 3 groups; with ``basis_last_peak="extend"`` the
        groups of the ``n_basis`` former functions, the extra function (peak at the
        window) added to the long group."""
        if self.scan_groups != "auto":
            return scan_contrasts(basis, int(self.scan_groups))
        if self.basis_last_peak != "extend":
            return scan_contrasts(basis)
        out = np.zeros((basis.shape[1], 3))
        out[:-1] = scan_contrasts(basis[:, :-1])
        out[-1, 2] = basis[:, -1].sum()
        return out

    def _contrast_used(self) -> str:
        """The test of the full solver: ``contrast``, with ``"auto"`` resolved (the scan
        unless ``empirical_null`` or fewer than 3 basis functions)."""
        if self.contrast != "auto":
            return str(self.contrast)
        return "scan" if self._n_basis_used() >= 3 and not self.empirical_null else "area"

    def _label_check_used(self, mirror: bool) -> str:
        """``label_check`` with ``"auto"`` resolved: ``"strongest"`` where the mirror
        filter is fitted, else ``"none"``."""
        if self.label_check != "auto":
            return str(self.label_check)
        return "strongest" if mirror else "none"

    def _label_from_used(self) -> str:
        """The z-scores the full solver's labels sum: ``label_from``, with ``"auto"``
        resolved (the scan's when the tests are the scan, else the summed filter's)."""
        if self.label_from != "auto":
            return str(self.label_from)
        if getattr(self, "_mirror_now", False):
            return "area"
        return "scan" if self._contrast_used() == "scan" else "area"

    def _null_scale_estimator(self) -> str:
        """The :func:`null_scale` estimator of this setting (``True``: the default)."""
        if isinstance(self.null_scale, bool | np.bool_):
            return DEFAULT_NULL_SCALE
        return str(self.null_scale)

    def _timescales(self) -> tuple:
        """Time scales (s) of the population covariates (() when there are none)."""
        if not self.population_covariate:
            return ()
        if self.population_tau is not None:
            return (float(self.population_tau),)
        ts = self.population_timescales
        return () if ts is None else tuple(float(t) for t in np.atleast_1d(ts))

    # ------------------------------------------------------------------ blocks
    def _session(self, st, positions, gunits, tloc, tg, bw, covariates, drop_flat):
        """One session's block: ``positions`` (in ``st``) of the units used, their global
        unit indices ``gunits``, the local positions ``tloc`` (among the used units) of the
        targets and their global target indices ``tg``."""
        if st.duration < 5 * self.window:
            raise ValueError(f"dale_glm: the recording ({st.duration:g} s) is shorter than 5 "
                             f"filter windows ({5 * self.window:g} s); use a longer recording")
        self._bw = bw
        design = build_design(st, bin_width=bw, window=self.window,
                              n_basis=self._n_functions(), units=positions,
                              last_peak=self._basis_last_peak())
        nb, nu, n_bins = design.n_basis, design.n_units, design.n_bins
        mirror = getattr(self, "_mirror_now", False)
        X = _mirror_sparse_design(design) if mirror else _sparse_design(design)
        Y = np.stack([design.counts(i) for i in tloc], axis=1)
        centres = st.t_start + (np.arange(n_bins) + 0.5) * bw
        cov = np.zeros((0, n_bins))
        if covariates is not None:
            cov = resample_covariates(covariates, self.covariate_rate, st.t_start,
                                      st.duration, centres)
        sd = cov.std(axis=1, keepdims=True)
        C = ((cov - cov.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)).T
        if drop_flat:
            C = C[:, sd.ravel() > 0]
        C = np.ascontiguousarray(C)
        P = None
        taus = self._timescales()
        if taus and nu >= MIN_UNITS_FOR_POPULATION:
            # glm's covariates (log population rate, past only, starting window/4 back),
            # each target's own spikes left out: (n_scales, n_bins, n_targets)
            pop = np.bincount(design.s_bins, weights=design.s_counts.astype(float),
                              minlength=n_bins)[:n_bins]
            gap = int(round(self.population_gap / bw))
            every = np.arange(n_bins)
            P = np.empty((len(taus), n_bins, Y.shape[1]))
            # with the mirror the covariate is two-sided too: a past-only covariate takes
            # a slow state's past half, the mirror filters would take its future half and
            # the contrast would lean negative (up-down null, 10 units: FPR 0.12 / 0.22;
            # benchmarks/results/dalemirror.md §4)
            for r in range(Y.shape[1]):
                P[:, :, r] = population_covariates(every, pop - Y[:, r], n_bins, bw, taus,
                                                   gap=gap, two_sided=mirror).T
        # absolute refractoriness: drop the bins right after a target's own spikes
        R = np.ones((n_bins, len(tloc)))
        r_bins = int(round(self.refractory / bw))
        for r, i in enumerate(tloc):
            sb = design.u_bins[design.u_ptr[i]:design.u_ptr[i + 1]]
            for k in range(1, r_bins + 1):
                idx = sb + k
                R[idx[idx < n_bins], r] = 0.0
        n_ref = int(np.sum((R == 0) & (Y > 0)))
        R[Y > 0] = 1.0    # a spike inside the stated refractory period is still data
        nf = 2 * nb if mirror else nb        # columns per unit: causal (and mirror)
        feat = (np.asarray(gunits)[:, None] * nf + np.arange(nf)[None, :]).ravel()
        return (_Session(X, Y, C, P, feat, tg, gunits, None if mirror else design), R, n_ref,
                design)

    def _solve(self, sessions, R, nu, tpos, nb, basis):
        """Stages 1–3 on the joint problem; returns everything the estimate needs."""
        nt = tpos.size
        nc = sessions[0].C.shape[1]
        mirror = getattr(self, "_mirror_now", False)
        basis_c, nb_c = basis, nb
        if mirror:
            # each unit's block: nb causal then nb mirror coefficients; the weights,
            # filters and delays read the causal half (the mirror half's basis is 0 here)
            nb = 2 * nb
            basis = np.hstack([basis, np.zeros_like(basis)])
        has_p = all(s.P is not None for s in sessions)
        if not has_p:
            for s in sessions:
                s.P = None
        npop = sessions[0].P.shape[0] if has_p else 0
        prob = _Problem(sessions, R, nu, tpos, nb, nc, npop, float(self.ridge),
                        float(self.history_ridge))
        csum = basis.sum(axis=0)
        self._csum = csum
        if mirror:
            is_m = np.tile(np.arange(nb) >= nb_c, nu)
            prob.nuisance = is_m
            prob.fixed = prob.hist & is_m[:, None]
        # stage 1: unconstrained
        x0 = prob.pack(np.repeat(np.log(prob.rate)[None], prob.nS, axis=0),
                       np.zeros((prob.F, nt)), np.zeros((nc, nt)), np.zeros((npop, nt)))
        x1, ok1, it1, msg1 = prob.fit(x0, R, max_iter=self.max_iter)
        rb = (max(int(round(self.robust_block / self._bw)), 1) if self.variance == "robust"
              else None)
        t_wald = time.perf_counter()
        scan = self._contrast_used() == "scan"
        own = np.zeros((nu, nt), dtype=bool)
        own[tpos, np.arange(nt)] = True
        scan_causal = None
        if mirror:
            z_lab, z, scan_causal = _mirror_wald(prob, x1, R, basis_c, rb,
                                                 self._scan_contrasts(basis_c) if scan else None)
        else:
            z = prob.wald(x1, R, csum, robust_bins=rb,              # (nu pre, nt post)
                          contrasts=self._scan_contrasts(basis) if scan else None)
            z_lab = z
        t_wald = time.perf_counter() - t_wald
        if scan:
            z_short = (scan_causal if mirror else prob.scan)["z"][..., 0]
        else:
            z_short = z_lab
        hump = _hump_shift(z_short, prob.together & ~own)
        if (not mirror and self.acausal == "auto" and not self.empirical_null
                and hump > AUTO_MIRROR_SHIFT):
            return {"switch": True, "hump": hump}
        z_raw, null = z, None
        if self.empirical_null:
            z, loc, scale = empirical_null(z, prob.together & ~own)
            null = {"loc": loc, "scale": scale}
        tested = prob.together & ~own
        # tests (not labels) on the z-scores over the global empirical-null scale: the
        # labels' type evidence includes a shift of a unit's z-scores that the scale
        # would wash out (hidden-unit drive in Brunel networks, dalesplit.md)
        # the scan tests' per-contrast null scales (None: off)
        scan_estimator = self._null_scale_estimator() if self.null_scale else None
        zscale = 1.0
        if self.null_scale and not self.empirical_null:
            zscale = null_scale(z, tested, estimator=self._null_scale_estimator())
        z_test, scan_info = z / zscale, None
        if scan:
            z_test, scan_info = scan_test(
                prob.scan["z"], prob.scan["corr"], prob.scan["events"], z_test, tested,
                estimator=scan_estimator)
        # stage 2: labels from the summed outgoing evidence (own history excluded): the
        # summed filter's unscaled z, or (label_from) the scan's test z confirmed by it;
        # with the mirror both from the causal filter alone (an E link i→j makes the
        # pair (post i, pre j)'s causal − mirror negative, as an I link would)
        lab_info = label_units(np.where(own, 0.0, z_lab), tested, self.excitatory_fraction,
                               self.min_label_confidence)
        if scan and self._label_from_used() == "scan":
            z_scan_lab = z_test
            if mirror:
                zs_lab = z_lab / (null_scale(z_lab, tested,
                                             estimator=self._null_scale_estimator())
                                  if self.null_scale else 1.0)
                z_scan_lab, _ = scan_test(
                    scan_causal["z"], scan_causal["corr"], scan_causal["events"], zs_lab,
                    tested, estimator=scan_estimator)
            lab_info = confirm_labels(
                label_units(np.where(own, 0.0, z_scan_lab), tested, self.excitatory_fraction,
                            self.min_label_confidence), lab_info, self.min_label_confidence)
        signs, lab, Z = lab_info["signs"], lab_info["labels"], lab_info["log_odds"]
        p_e = lab_info["p_excitatory"]
        # with the mirror, evidence of inhibition comes from the causal filter alone: the
        # mirror removes a symmetric *excess* (shared excitatory input), while an E link
        # i → j makes the reverse pair's (post i, pre j) causal − mirror negative, which
        # would read as an inhibitory link j → i (see _place)
        z_neg = None
        if mirror:
            centre = self.null_scale and MIRROR_CAUSAL_NULL == "centre"
            if centre:
                loc, sc = null_location_scale(z_lab, tested)
                z_neg = (z_lab - loc) / sc
            else:
                z_neg = z_lab / (null_scale(z_lab, tested,
                                            estimator=self._null_scale_estimator())
                                 if self.null_scale else 1.0)
            if scan:
                z_neg, _ = scan_test(
                    scan_causal["z"], scan_causal["corr"], scan_causal["events"], z_neg,
                    tested, estimator=scan_estimator, centre=centre)
        # with the mirror: each sign's p-value from the causal filter and the contrast
        p_exc = p_inh = s_exc = None
        if z_neg is not None:
            z_inh = None
            if scan and MIRROR_INHIBITION_SCAN == "all":
                sci = prob.scan_inh
                z_inh, _ = scan_test(
                    sci["z"], sci["corr"], sci["events"], z / zscale, tested,
                    estimator=scan_estimator)
            # each pair's reverse (post j, pre i): NaN where unit i is not a target
            at = np.full(nu, -1)
            at[tpos] = np.arange(nt)
            rows = np.clip(at, 0, None)
            z_rev = np.where((at >= 0)[:, None], z_neg[tpos][:, rows].T, np.nan)
            p_exc, p_inh = _mirror_evidence(z_test, z_neg, z_inh, z_rev)
            # correlation of the short groups' causal and causal − mirror z (the ranking)
            rho = (prob.mirror_scan["corr"][..., 0, scan_causal["z"].shape[-1]] if scan
                   else MIRROR_SCORE_CORRELATION)
            s_exc = _mirror_excitation_score(z_test, z_neg, z_rev, rho)
        # labels checked against each unit's strongest single link (label_check), on the
        # evidence each way that _place tests
        if self._label_check_used(mirror) == "strongest":
            z_e, z_i = z_test, z_test
            if z_neg is not None:
                z_e = norm.isf(np.clip(p_exc, 1e-300, 1.0 - 1e-16))
                z_i = -norm.isf(np.clip(p_inh, 1e-300, 1.0 - 1e-16))
            lab_info = strongest_link_labels(lab_info, z_e, z_i, tested)
            signs, lab = lab_info["signs"], lab_info["labels"]

        # the priors' type pairs use every unit's likelier type (also for unlabelled ones:
        # the fallback only frees their outgoing signs); the L1 of the connection prior is
        # linear only under a sign constraint, so it skips unlabelled presynaptic units
        guess = np.where(signs != 0, np.where(signs > 0, "E", "I"),
                         np.where(Z >= 0, "E", "I"))

        def penalties(strength):
            """Signed L1 (F, nt) and magnitude precision (nu, nt) at ``strength``."""
            l1 = quad = None
            if self.prior is not None and strength > 0:
                lam_t = prior_penalties(self.prior, strength, guess)[tpos].T  # (nu pre, nt)
                l1 = np.repeat(lam_t, nb, axis=0) * np.repeat(signs, nb)[:, None]
                l1 = np.where(prob.hist | prob.nuisance[:, None], 0.0, l1)
            if self.weight_scale is not None and strength > 0:
                quad = np.where(own, 0.0,
                                magnitude_penalties(self.weight_scale, strength,
                                                    guess)[tpos].T)
            return l1, quad

        # stage 3: constrained, first on the training part (held-out score), then on all
        train, val = [], []
        for r in R:
            cut = int(round(r.shape[0] * (1 - self.validation_fraction)))
            tr, va = r.copy(), r.copy()
            tr[cut:] = 0.0
            va[:cut] = 0.0
            train.append(tr)
            val.append(va)
        cv = self.prior_strength == "cv"
        path = list(CV_STRENGTHS) if cv else [float(self.prior_strength)]
        best = None
        lls, its = [], []
        x_prev, ok2 = x1, True
        for strength in path:
            l1, quad = penalties(strength)
            x_s, ok_s, it_s, msg2 = prob.fit(x_prev, train, signs=signs, l1=l1, quad=quad,
                                             csum=csum, max_iter=self.max_iter)
            ll_s = prob.loglik(x_s, val)
            lls.append(float(ll_s.sum()))
            its.append(it_s)
            if best is None or lls[-1] > best[0]:
                best = (lls[-1], strength, x_s, ll_s, ok_s)
            x_prev = x_s
        _, chosen, x2, ll_val, ok2 = best
        yv = sum(np.bincount(s.tg, (s.Y * v).sum(0), minlength=nt)
                 for s, v in zip(sessions, val, strict=True))
        n_tr = sum(np.bincount(s.tg, t.sum(0), minlength=nt)
                   for s, t in zip(sessions, train, strict=True))
        y_tr = sum(np.bincount(s.tg, (s.Y * t).sum(0), minlength=nt)
                   for s, t in zip(sessions, train, strict=True))
        n_va = sum(np.bincount(s.tg, v.sum(0), minlength=nt)
                   for s, v in zip(sessions, val, strict=True))
        lgam = sum(np.bincount(s.tg, (gammaln(s.Y + 1) * v).sum(0), minlength=nt)
                   for s, v in zip(sessions, val, strict=True))
        r_tr = np.maximum(y_tr / np.maximum(n_tr, 1), 1e-12)
        hom = yv * np.log(r_tr) - r_tr * n_va - lgam
        bits = float(np.sum(ll_val - hom) / max(yv.sum(), 1) / math.log(2))
        l1, quad = penalties(chosen)
        x3, ok3, it3, msg3 = prob.fit(x2, R, signs=signs, l1=l1, quad=quad, csum=csum,
                                      max_iter=self.max_iter)
        b, W, Bc, g = prob.unpack(x3)
        Wr = W.reshape(nu, nb, nt)
        out = dict(
            prob=prob, ok=ok1 and ok3, converged=bool(ok1 and ok2 and ok3),
            z=z_test, Z=Z, z_raw=z_raw, null=null, zscale=zscale, scan=scan_info,
            signs=signs, lab=lab, p_e=p_e, label_conf=lab_info["confidence"],
            label_stat=lab_info["statistic"], bits=bits, ll_val=float(ll_val.sum()),
            wsum=np.einsum("jbi,b->ij", Wr, csum),                    # (nt post, nu pre)
            kern=np.einsum("lb,jbi->ijl", basis, Wr),                 # (nt, nu, L)
            b=b, Bc=Bc, g=g, x1=x1, messages=[msg1, msg2, msg3],
            iterations={"unconstrained": it1, "train": its, "final": it3}, t_wald=t_wald,
            hump=hump, mirror=mirror, z_causal=z_lab, z_neg=z_neg, p_exc=p_exc,
            s_exc=s_exc,
            p_inh=p_inh,
            label_check=lab_info.get("strongest"),
            mirror_scan=getattr(prob, "mirror_scan", None) if mirror else None)
        if cv:
            out["prior_strength_cv"] = {"strengths": path, "heldout_loglik": lls,
                                        "chosen": chosen}
        return out

    def _place(self, res, rows, cols, status, bw):
        """Write the per-pair results of ``_solve`` into (n, n) matrices; ``rows`` are the
        estimate rows of the targets, ``cols`` those of the global units."""
        n = status.shape[0]
        weights = np.zeros((n, n))
        pvals = np.full((n, n), np.nan)
        scores = np.full((n, n), np.nan)
        delays = np.full((n, n), np.nan)
        signs, z = res["signs"], res["z"]
        free = signs == 0                     # unlabelled units: one sign per link
        # the sign of each link: its unit's label, or its own (final fit) where unlabelled
        lsign = np.where(free[None, :], np.sign(res["wsum"]), signs[None, :])   # (nt, nu)
        peak = np.argmax(res["kern"] * lsign[:, :, None], axis=2) + 1  # lag in bins
        sz = (signs[:, None] * z).T                                     # (nt, nu)
        pv = norm.sf(sz)
        # unlabelled: two-sided test, and a score on the one-sided scale (N(0, 1) under no
        # link, like the labelled units' s_j z_ij) so that one ranking holds for all pairs
        pv2 = np.minimum(2.0 * norm.sf(np.abs(z.T)), 1.0)
        sz_free = None
        if res.get("z_neg") is not None:
            # mirror fits: each sign's p-value from _solve's tests (_mirror_evidence);
            # unlabelled units take the Bonferroni combination of the two one-sided tests.
            # The ranking: excitation on both filters' evidence (_mirror_excitation_score),
            # inhibition on its test's z; unlabelled units on the larger of the two
            p_exc, p_inh = res["p_exc"].T, res["p_inh"].T
            pv = np.where(signs[None, :] < 0, p_inh, p_exc)
            s_inh = norm.isf(np.clip(p_inh, 1e-300, 1.0 - 1e-16))
            s_exc = res["s_exc"].T
            sz = np.where(signs[None, :] < 0, s_inh, s_exc)
            pv2 = np.minimum(2.0 * np.minimum(p_exc, p_inh), 1.0)
            sz_free = np.maximum(s_exc, s_inh)
        pv = np.where(free[None, :], pv2, pv)
        if sz_free is None:
            sz_free = norm.isf(np.clip(pv2, 1e-300, 1 - 1e-12))
        sz = np.where(free[None, :], sz_free, sz)
        together = res["prob"].together                                 # (nu, nt)
        for r, i in enumerate(rows):
            for c, j in enumerate(cols):
                if i == j or status[i, j] != 0:
                    continue
                if not together[c, r]:
                    status[i, j] = 4          # never recorded together: no evidence
                    continue
                if not res["ok"]:
                    status[i, j] = 5
                    continue
                weights[i, j] = res["wsum"][r, c]
                pvals[i, j] = pv[r, c]
                scores[i, j] = sz[r, c]
                delays[i, j] = peak[r, c] * bw
        return weights, pvals, scores, delays

    def _diagnostics(self, res, units, n_ref, nbins):
        prob = res["prob"]
        nu, nb, nt = prob.nu, prob.nb, prob.nt
        diag = dict(
            heldout_bits_per_spike=res["bits"], heldout_loglik=res["ll_val"],
            p_excitatory=dict(zip(np.asarray(units).tolist(), res["p_e"].tolist(),
                                  strict=True)),
            label_log_odds=res["Z"].tolist(), label_statistic=res["label_stat"],
            label_confidence=res["label_conf"],
            labelled=np.asarray(res["signs"]) != 0, wald_z_unconstrained=res["z_raw"].T,
            converged=res["converged"], iterations=res["iterations"],
            messages=res["messages"], n_bins=nbins, filters=res["kern"],
            intercepts=res["b"] if prob.nS > 1 else res["b"][0],
            covariate_coefs=res["Bc"], population_coef=res["g"],
            n_covariates=int(prob.nc), population_covariate=prob.has_p,
            population_timescales=self._timescales() if prob.has_p else (),
            variance=self.variance, time_wald_s=res["t_wald"],
            spikes_in_refractory_period=n_ref,
            unconstrained_weights=np.einsum(
                "jbi,b->ij", prob.unpack(res["x1"])[1].reshape(nu, nb, nt),
                self._csum))
        diag["null_scale"] = float(res["zscale"])
        diag["contrast"] = self._contrast_used()
        # acausal: whether the tests are causal − mirror, and the hump statistic (the
        # median causal short-lag z over the tested pairs, AUTO_MIRROR_SHIFT)
        diag["acausal"] = "mirror" if res["mirror"] else "none"
        diag["synchrony_shift"] = float(res["hump"])
        if res.get("label_check") is not None:
            # per presynaptic unit: its strongest link's evidence each way, the
            # Bonferroni threshold, and whether the check set or freed its label
            diag["label_check"] = {k: np.asarray(v) for k, v in res["label_check"].items()}
        if res["mirror"]:
            diag["wald_z_causal"] = res["z_causal"].T
            ms = res["mirror_scan"]
            # (nt post, nu pre, 2k + 1): the causal scan contrasts, then causal − mirror
            # per contrast, then the summed causal − mirror; unscaled z, their correlation
            # and expected events
            diag["mirror_scan_z"] = np.moveaxis(ms["z"], 0, 1)
            diag["mirror_scan_corr"] = np.moveaxis(ms["corr"], 0, 1)
            diag["mirror_scan_events"] = np.moveaxis(ms["events"], 0, 1)
        if res.get("scan") is not None:
            sc = res["scan"]
            diag["scan_null_scales"] = sc["scales"]
            # (nt post, nu pre): the contrast that carried each pair's scan (-1: the
            # summed filter, no contrast with MIN_SCAN_EVENTS), the scan's signed z
            # (single-test scale, after the null scales) and its two-sided p-value; the
            # contrasts' unscaled z, expected coincidences and correlation
            diag["scan_contrast"] = sc["which"].T
            diag["scan_z"] = res["z"].T
            diag["scan_pvalue_two_sided"] = sc["p2"].T
            diag["scan_z_contrasts"] = np.moveaxis(sc["z_raw"], 0, 1)   # (nt, nu, k)
            diag["scan_events"] = np.moveaxis(sc["events"], 0, 1)
            diag["scan_corr"] = np.moveaxis(sc["corr"], 0, 1)             # (nt, nu, k, k)
        # (nt post, nu pre) expected coincidences of the unconstrained fit's Wald step
        diag["expected_events"] = prob.expected_events.T
        if res["null"] is not None:
            diag["empirical_null"] = res["null"]
            diag["wald_z_standardised"] = res["z"].T
        if "prior_strength_cv" in res:
            diag["prior_strength_cv"] = res["prior_strength_cv"]
        if n_ref:
            diag["message"] = (f"{n_ref} target spikes fall within refractory="
                               f"{self.refractory:g} s of the previous one; the stated "
                               "refractory period is longer than the data's")
        if not res["ok"]:
            diag["message"] = ("the optimiser failed ({}; {}); rows are fit_failed"
                               .format(res["messages"][0], res["messages"][2]))
        return diag

    # ------------------------------------------------------------------ fit
    def _n_jobs(self) -> int:
        import os
        return (os.cpu_count() or 1) if self.n_jobs == -1 else int(self.n_jobs)

    def _use_screened(self, n_fitted: int) -> bool:
        """Whether ``_fit`` runs the screened solver (see ``solver``)."""
        only_full = {"covariates": self.covariates is not None, "prior": self.prior is not None,
                     "weight_scale": self.weight_scale is not None,
                     "empirical_null": bool(self.empirical_null),
                     "contrast='scan'": self.contrast == "scan",
                     "label_from='scan'": self.label_from == "scan",
                     "acausal='mirror'": self.acausal == "mirror"}
        if self.solver == "screened":
            bad = [k for k, v in only_full.items() if v]
            if bad:
                raise ValueError(f"dale_glm: solver='screened' does not support {bad}; use "
                                 "solver='full' with these options, or drop them")
            return True
        return (self.solver == "auto" and not any(only_full.values())
                and n_fitted >= _scr.AUTO_SCREENED_UNITS)

    def _solve_with_acausal(self, fit_once):
        """``fit_once()`` (a tuple whose first item is :meth:`_solve`'s result) with the
        mirror as ``acausal`` asks: ``"auto"`` fits causally first and, where that fit
        reports the shared-input hump (``"switch"``), once more with the mirror, keeping
        the causal fit's shift (which decided) as ``"hump"``."""
        self._mirror_now = self.acausal == "mirror"
        out = fit_once()
        if out[0].get("switch"):
            shift = out[0]["hump"]
            self._mirror_now = True
            out = fit_once()
            out[0]["hump"] = shift
        return out

    def _fit(self, ctx: FitContext) -> Estimate:
        self._mirror_now = False   # set per fit by _solve_with_acausal
        # issue 12's short-recording rule over the coupling window (as glm / ccg / te)
        warn_if_short(self.name, ctx.counts, ctx.want, float(ctx.data.duration),
                      float(self.window), float(self.alpha), self.correction)
        if self._use_screened(int(np.count_nonzero(ctx.unit_ok))):
            full_bw = ctx.settings["bin_width"]
            if "bin_width" in ctx.auto:   # the screened solver keeps its 2 ms bins
                res = ctx.time_resolution
                bw = (AUTO_BIN_WIDTH_SCREENED if res is None
                      else max(1, round(AUTO_BIN_WIDTH_SCREENED / res)) * res)
                ctx.settings["bin_width"] = ctx.auto["bin_width"] = float(bw)
            est = _scr.fit_screened(self, ctx)
            if est is not None:
                return est
            if "bin_width" in ctx.auto:   # it fell back to the full solver
                ctx.settings["bin_width"] = ctx.auto["bin_width"] = full_bw
        st = ctx.data
        n = st.n_units
        bw = ctx.settings["bin_width"]
        status = ctx.pair_status
        active = np.flatnonzero(ctx.unit_ok)
        cell_type = np.full(n, "?", dtype=object)
        conf = np.zeros(n)
        targets = np.array([i for i in active if np.any(status[i] == 0)], dtype=np.int64)
        if active.size < 2 or targets.size == 0:
            diag = {"message": f"nothing to fit: {int((~ctx.unit_ok).sum())} of {n} units "
                               f"have fewer than min_spikes={self.min_spikes} spikes"}
            z0 = np.zeros((n, n))
            return self._estimate(ctx, z0, np.full((n, n), np.nan), np.full((n, n), np.nan),
                                  np.full((n, n), np.nan), cell_type, conf, diag)
        t_fit = time.perf_counter()
        tpos = np.searchsorted(active, targets)

        def fit_once():
            sess, R, n_ref, design = self._session(
                st, active, np.arange(active.size), tpos, np.arange(tpos.size), bw,
                self.covariates, drop_flat=True)
            res = self._solve([sess], [R], active.size, tpos, design.n_basis, design.basis)
            return res, n_ref, design

        res, n_ref, design = self._solve_with_acausal(fit_once)
        weights, pvals, scores, delays = self._place(res, active[tpos], active, status, bw)
        cell_type[active] = res["lab"]
        conf[active] = res["label_conf"]
        diag = self._diagnostics(res, st.units[active], n_ref, design.n_bins)
        diag.update(basis=design.basis, time_fit_s=time.perf_counter() - t_fit)
        return self._estimate(ctx, weights, pvals, scores, delays, cell_type, conf, diag)

    def _estimate(self, ctx, weights, pvals, scores, delays, cell_type, conf, diag):
        return ctx.estimate(self, weights=weights, weight_unit=WEIGHT_UNIT,
                            pvalues=pvals, scores=scores, delays=delays,
                            cell_type=np.asarray(cell_type).astype(str),
                            cell_type_confidence=conf, diagnostics=diag)

    # ------------------------------------------------------------------ stitching
    def fit_sessions(self, sessions, covariates=None) -> Estimate:
        """Fit several recordings of one network jointly into one weight matrix (stitching).

        Every session records a subset of the network's neurons; a neuron is identified
        across sessions by its unit id (``spikes.units``: give the same id to the same
        neuron in every session). The sessions share the coupling filters (and so the
        weights, delays and E/I labels), the covariate and population coefficients; each
        session has its own intercepts, which absorb the mean input of the neurons it does
        not record. A pair recorded together in several sessions pools their evidence; a
        unit's E/I label pools its outgoing links from every session.

        Parameters
        ----------
        sessions : sequence of Recording or SpikeTrains
            The recordings (spike times), each with its own time window; they must be
            linked by shared units (the graph "shares a unit with" must be connected).
        covariates : sequence, optional
            One state-covariate entry per session (an array at ``covariate_rate`` Hz
            covering that session, or a callable of time), all with the same number of
            covariates; use this instead of the ``covariates`` setting.

        Returns
        -------
        Estimate
            Over the union of the units (sorted by id). Pairs never recorded together have
            no evidence: weight 0, p-value NaN and ``pair_status`` 4 (``"undecided"``);
            ``diagnostics["recorded_together"]`` (n, n, bool, post × pre) marks the pairs
            recorded together and ``diagnostics["sessions_together"]`` counts in how many
            sessions; ``diagnostics["session_units"]`` lists each session's unit ids.

        Raises
        ------
        ValueError
            If a session shares no unit with the others (nothing links it to them), a
            session is too short, the sessions' automatic bins differ, or ``covariates``
            does not give one entry per session.
        NotApplicableError
            If a session does not hold spike times.
        """
        t0 = time.perf_counter()
        self._validate_params()
        self._mirror_now = False   # set per fit by _solve_with_acausal
        if isinstance(sessions, Recording | SpikeTrains) or not hasattr(sessions, "__len__"):
            raise TypeError("sessions must be a sequence of Recording or SpikeTrains (one "
                            f"per session), got {type(sessions).__name__}")
        if len(sessions) == 0:
            raise ValueError("sessions is empty; give at least one recording")
        if self.covariates is not None:
            raise ValueError("dale_glm.fit_sessions: pass one covariate per session as "
                             "fit_sessions(sessions, covariates=[...]) instead of the "
                             "covariates setting (it describes a single recording)")
        recs = [as_recording(s) for s in sessions]
        for k, rec in enumerate(recs):
            if rec.kind != "spikes":
                raise NotApplicableError(f"session {k} holds {rec.kind!r}, not spike times; "
                                         "dale_glm stitches spike recordings")
        if covariates is not None:
            if len(covariates) != len(recs):
                raise ValueError(f"covariates has {len(covariates)} entries for "
                                 f"{len(recs)} sessions; give one per session")
            for k, c in enumerate(covariates):
                if c is None or not _CovariateLike().is_satisfied_by(c):
                    raise ValueError(f"covariates[{k}] must be "
                                     f"{_CovariateLike().describe()}, got {c!r}")
        bins = [self.resolve_bins(r)[0]["bin_width"] for r in recs]
        if not np.allclose(bins, bins[0], rtol=1e-9):
            raise ValueError(f"the sessions resolve to different bins {bins} s (their time "
                             "resolutions differ); set bin_width explicitly")
        bw = bins[0]
        self._check_combination({"bin_width": bw})
        # the union of the units, and which sessions are linked by shared units
        ids = [np.asarray(r.spikes.units).astype(np.int64) for r in recs]
        units = np.unique(np.concatenate(ids))
        n = units.size
        _check_linked(ids)
        counts = np.zeros(n)
        true_index = np.full(n, -1, dtype=np.int64)
        for r, u in zip(recs, ids, strict=True):
            pos = np.searchsorted(units, u)
            counts[pos] += np.asarray(r.spikes.counts())
            ti = np.asarray(r.true_index, dtype=np.int64)
            clash = (true_index[pos] >= 0) & (ti >= 0) & (true_index[pos] != ti)
            if clash.any():
                raise ValueError(f"unit id {int(u[clash][0])} maps to different true neurons "
                                 "in different sessions; unit ids must name one neuron")
            true_index[pos] = np.where(ti >= 0, ti, true_index[pos])
        unit_ok = counts >= self.min_spikes
        request = ~np.eye(n, dtype=bool)
        status = pair_status_from(request, unit_ok)
        active = np.flatnonzero(unit_ok)
        gidx = np.full(n, -1, dtype=np.int64)
        gidx[active] = np.arange(active.size)
        t_fit = time.perf_counter()

        def fit_once():
            blocks, Rs, n_ref, nbins = [], [], 0, []
            design = None
            for k, (r, u) in enumerate(zip(recs, ids, strict=True)):
                pos = np.searchsorted(units, u)
                keep = np.flatnonzero(unit_ok[pos])
                if keep.size == 0:
                    continue
                g = gidx[pos[keep]]
                cov = None if covariates is None else covariates[k]
                sess, R, nr, design = self._session(r.spikes, keep, g, np.arange(keep.size),
                                                    g, bw, cov, drop_flat=False)
                blocks.append(sess)
                Rs.append(R)
                n_ref += nr
                nbins.append(design.n_bins)
            res = self._solve(blocks, Rs, active.size, np.arange(active.size),
                              design.n_basis, design.basis)
            return res, n_ref, nbins, design

        res, n_ref, nbins, design = self._solve_with_acausal(fit_once)
        weights, pvals, scores, delays = self._place(res, active, active, status, bw)
        cell_type = np.full(n, "?", dtype=object)
        conf = np.zeros(n)
        cell_type[active] = res["lab"]
        conf[active] = res["label_conf"]
        diag = {"skipped_units": units[~unit_ok].tolist(), "time_resolution_s": None,
                "auto_settings": {}}
        diag.update(self._diagnostics(res, units[active], n_ref, nbins))
        tog = np.zeros((n, n), dtype=np.int64)
        tog[np.ix_(active, active)] = res["prob"].n_together.T
        diag.update(basis=design.basis, time_fit_s=time.perf_counter() - t_fit,
                    recorded_together=tog > 0, sessions_together=tog,
                    session_units=[u.tolist() for u in ids], n_sessions=len(recs),
                    time_total_s=time.perf_counter() - t0)
        return Estimate(weights=weights, method=self.name,
                        settings={**self.get_params(), "bin_width": bw}, units=units,
                        weight_unit=WEIGHT_UNIT, pvalues=pvals, scores=scores, delays=delays,
                        pair_status=status,
                        unit_status=np.where(unit_ok, "ok", "too_few_spikes").astype(object),
                        cell_type=np.asarray(cell_type).astype(str),
                        cell_type_confidence=conf,
                        true_index=true_index if np.all(true_index >= 0) else None,
                        alpha=float(self.alpha), correction=self.correction, diagnostics=diag)


WEIGHT_UNIT = "summed coupling filter (log-rate gain, dimensionless)"


def _check_linked(ids: list) -> None:
    """Raise unless the sessions form one group linked by shared units."""
    k = len(ids)
    parent = list(range(k))

    def root(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    sets = [set(u.tolist()) for u in ids]
    for a in range(k):
        for b in range(a + 1, k):
            if sets[a] & sets[b]:
                parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for a in range(k):
        groups.setdefault(root(a), []).append(a)
    if len(groups) > 1:
        parts = sorted(groups.values())
        raise ValueError(
            f"sessions {parts[1:]} share no unit id with sessions {parts[0]}: nothing links "
            f"them, so their weights cannot be placed in one matrix (groups {parts}); "
            "stitching needs overlapping recordings (the same unit id for the same neuron "
            "in the sessions that record it), otherwise fit the groups separately")
