"""Presynaptic centring of pair-wise p-values: a hub's indirect background removed.

In a recorded subset of a circuit with hubs (scale-free connectivity, or any unit with many
outputs), a presynaptic unit that drives many neurons raises its test statistic with
almost every recorded target through two-step paths through the neurons it drives, which
no pair-wise null absorbs. :func:`centre_presynaptic` lowers such a unit's z-values by
the excess of their median over all pairs' median (a per-class shift in the sense of
Efron's separate-class empirical null); :func:`apply_presynaptic_centre` applies it to a
fitted :class:`~spikewire.infer.estimate.Estimate` (``glm``'s and ``glmcc``'s
``presynaptic_centre``). Measured: benchmarks/results/glm2x.md (glm) and the session-19
section of benchmarks/RESULTS.md (glmcc).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

__all__ = ["centre_presynaptic", "apply_presynaptic_centre", "MIN_CENTRE_TESTS", "CENTRE_SD"]


#: Fewest tested postsynaptic partners for which :func:`centre_presynaptic` shifts a
#: presynaptic unit's z-values (the median of 10 standard normals has sd 0.37).
MIN_CENTRE_TESTS = 10
#: :func:`centre_presynaptic` shifts a presynaptic unit only when its median z exceeds the
#: population's by more than this many sampling standard deviations of a median (one-sided
#: ≈ 2.3 % of the units of a calibrated test, each by ≥ 2 sd: on 40 independent Poisson
#: units an unthresholded upward shift lowered glm's rate at α = 0.05 from 0.033 to 0.026).
CENTRE_SD = 2.0


def centre_presynaptic(pvalues: np.ndarray, tested: np.ndarray,
                       min_tests: int = MIN_CENTRE_TESTS):
    """Shift each presynaptic unit's z-values down to the population's median (hubs).

    With ``z = Φ⁻¹(1 − p)`` of the tested pairs, a presynaptic unit ``j`` whose median z
    over its tested targets, ``med_j``, lies above the median of all tested pairs,
    ``med``, by more than :data:`CENTRE_SD` (2) sampling standard deviations of a median
    (``sqrt(π / 2) σ / sqrt(n_j)``, ``σ`` the interquartile width of all tested z over
    1.349, ``n_j`` the unit's tested targets), has every z lowered by ``med_j − med``;
    the other units (and those with fewer than ``min_tests`` tested targets) are left
    alone, so no p-value ever decreases and a calibrated test is rarely touched.

    Why: in a recorded subset of a scale-free circuit a presynaptic hub (many outputs,
    each driving further, mostly unrecorded, neurons) raises its Wald z with almost every
    recorded target through two-step paths, which no pair-wise null absorbs; its direct
    targets stand out from its own median, its indirect ones do not. This is Efron's
    (2008) separate-class empirical null reduced to a shift per class (Efron B, Simultaneous
    inference: when should hypothesis testing problems be combined? Ann Appl Stat 2:197–223);
    the average-product correction (Dunn SD, Wahl LM, Gloor GB 2008, Bioinformatics
    24:333–340) removes the same kind of per-node background from pairwise scores.
    Measured on the ``calibration`` study's scale-free LIF network (100 of 1,000, 600 s):
    benchmarks/results/glm2x.md.

    Parameters
    ----------
    pvalues : ndarray (n, n)
        Post × pre p-values; NaN where untested.
    tested : ndarray of bool (n, n)
        Pairs whose p-values enter (finite p-values outside it are left unchanged).
    min_tests : int, default 10
        Fewest tested targets for a presynaptic unit to be shifted.

    Returns
    -------
    pvalues, scores : ndarray (n, n)
        Shifted p-values ``1 − Φ(z − shift_j)`` and their two-sided single-test |z|
        (``Φ⁻¹(1 − p / 2)``, glm's score convention); NaN where ``pvalues`` is.
    shift : ndarray (n,)
        The shift of each presynaptic unit in z units (≥ 0).
    """
    p = np.asarray(pvalues, dtype=float)
    tested = np.asarray(tested, dtype=bool)
    if p.ndim != 2 or p.shape[0] != p.shape[1] or tested.shape != p.shape:
        raise ValueError(f"pvalues and tested must be square post × pre matrices of one "
                         f"shape, got {p.shape} and {tested.shape}")
    use = tested & np.isfinite(p)
    z = norm.isf(np.clip(p, 1e-300, 1.0))
    shift = np.zeros(p.shape[1])
    if use.sum() >= min_tests:
        q25, med, q75 = (float(v) for v in np.quantile(z[use], [0.25, 0.5, 0.75]))
        sigma = (q75 - q25) / 1.349       # robust width of all pairs' z
        for j in range(p.shape[1]):
            col = z[use[:, j], j]
            if col.size >= min_tests:
                excess = float(np.median(col)) - med
                # the median of n z-values has sd sqrt(π / 2) σ / sqrt(n)
                if excess > CENTRE_SD * np.sqrt(np.pi / 2) * sigma / np.sqrt(col.size):
                    shift[j] = excess
    out = p.copy()
    moved = use & (shift > 0)[None, :]   # unshifted columns keep their p-values exactly
    out[moved] = norm.sf((z - shift[None, :])[moved])
    scores = np.where(np.isfinite(out), norm.isf(np.maximum(out, 1e-300) / 2), np.nan)
    return out, scores, shift


def apply_presynaptic_centre(est):
    """Centre a fitted estimate's p-values in place (:func:`centre_presynaptic`).

    Run after :func:`~spikewire.infer.base.check_null` has judged the method's own
    p-values (the centring removes part of the excess that the check measures, but the
    decision rule belongs to the test's own null). Keeps the p-values before centring in
    ``diagnostics["pvalues_uncentred"]`` and the shifts (z units) in
    ``diagnostics["presynaptic_shift"]``; the scores become the two-sided single-test
    ``|z|`` of the centred p-values. An estimate without p-values is returned unchanged.
    """
    if est.pvalues is None:
        return est
    est.diagnostics["pvalues_uncentred"] = est.pvalues.copy()
    est.pvalues, est.scores, shift = centre_presynaptic(est.pvalues, est.pair_status == 0)
    est.diagnostics["presynaptic_shift"] = shift
    return est
