"""Shift surrogates of binned spike counts: a resampling null that holds under slow shared input.

The analytic tests of :mod:`~spikewire.infer.partial_corr` and :mod:`~spikewire.infer.te`
treat time bins as independent samples. Slow input shared by the units (co-modulated
rates, network up/down states) correlates their counts at every time scale, and bursts
correlate a unit's neighbouring bins; both break those tests (false-positive rates of
0.6–0.8 at α = 0.05 on the co-modulated and up/down null families of
:mod:`spikewire.infer._null_families`).

A *shift surrogate* moves every unit's binned count series, as a whole, by its own random
shift ``s_i`` (circularly, so no count is lost): a multiple of a step ``w`` bins, uniform
in ``[−D, D]``. Each unit keeps its own rate, bursts and autocorrelation exactly; the fine
timing between units is moved by the relative shift ``r = s_i − s_j``; slow shared input is
kept up to a lag of at most ``2D`` (``D`` must be short against its correlation time).

Choice of widths, against the synaptic window:

* ``w`` (``min_shift``, default 20 ms, and at least the test's own window of lags) is the
  shortest relative shift a pair may use: a postsynaptic effect lasts its delay plus about
  a membrane time constant (10–20 ms), and a shorter shift keeps part of it in the
  surrogate. Steps of ``w`` also make the windows of different surrogates disjoint: with
  1-bin steps, neighbouring surrogates shared most of their bins (and bursty trains'
  cross-covariance noise is correlated over a burst, ~10 ms), their spread understated the
  null's and the test was anticonservative (0.07–0.09 at α = 0.05 on bursting trains).
* ``D`` (``max_shift``, default 100 ms) gives relative shifts of ±1 … ±10 steps, 20
  distinct null values per pair; relative shifts of 0 and repeats of an earlier surrogate's
  ``r`` are not used (a pair's cross-covariance at the same lag is the same number).
* Widths shorter than the data's time resolution are refused (:func:`shift_bins`).

The statistic of every pair is recomputed on ``K`` surrogates and the observation is
compared with its null level and spread (:func:`surrogate_test`): a z test with the
surrogates' mean and a pooled standard deviation, so that p-values are continuous, not
limited to ``1 / (K + 1)``. It is the shift null of Fujisawa et al. (2008) and the "train
shifting" of Pipa et al. (2008), used parametrically.

Shared input that changes within the shifts (up/down states lasting 0.3–0.5 s decorrelate
by 10 % over the smallest relative shift, 20 ms) leaves the surrogates with less shared
covariance than the data: the z values had mean +0.5 and ``partial_corr`` called 0.078 of
unconnected up/down pairs at α = 0.05. The level is therefore read at ``r = 0`` with the
decay ``φ(r)`` of the units' shared covariance (:func:`slow_decay`, fitted to the data's
cross-unit covariance at the surrogates' lags): a mean of ``a · φ̄`` over the surrogates is
a level of ``a`` at ``r = 0``. Without shared covariance ``φ ≡ 1`` and nothing changes.

References
----------
Fujisawa S, Amarasingham A, Harrison MT, Buzsáki G (2008) Behavior-dependent short-term
assembly dynamics in the medial prefrontal cortex. Nat Neurosci 11:823–833.
Pipa G, Wheeler DW, Singer W, Nikolić D (2008) NeuroXidence: reliable and efficient analysis
of an excess or deficiency of joint-spike events. J Comput Neurosci 25:64–88.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy import stats

__all__ = ["auto_max_shift", "conservative_sparse", "draw_shifts", "shift_bins",
           "shift_columns", "surrogate_test", "usable_surrogates", "warn_if_short"]

MIN_USABLE = 3    # fewest usable surrogates per pair (for its null mean)


def auto_max_shift(max_shift: float | None, bin_width: float) -> float:
    """The largest shift in s: ``max_shift``, or automatically 100 ms and at least 10 bins.

    With shifts in steps of 20 ms (the ``min_shift`` default), 100 ms gives relative
    shifts of ±1 … ±10 steps: 20 distinct null values per pair, all far from the synaptic
    windows these tests look at (one 5 ms bin for ``partial_corr``, three 2 ms lags for
    ``te``) and short against the slow shared input the null must keep (the null families'
    co-modulation has a 1 s correlation time, their up/down states last 0.3–0.5 s; what
    decorrelates over the shift is extrapolated away, see :func:`surrogate_test`).
    """
    return max(0.1, 10 * bin_width) if max_shift is None else float(max_shift)


def shift_bins(max_shift: float, bin_width: float, min_sep: int, time_resolution,
               method: str) -> int:
    """``max_shift`` in whole bins, refused (with the reason) when too short.

    Parameters
    ----------
    max_shift : float
        Largest shift of a unit in s.
    bin_width : float
        The method's bin width in s.
    min_sep : int
        The test's synaptic window in bins: relative shifts shorter than this are unusable.
    time_resolution : float or None
        The data's time resolution in s.
    method : str
        Name used in the error message.

    Returns
    -------
    int
        ``D``, the largest shift in bins.
    """
    res = time_resolution
    if res is not None and max_shift < res:
        raise ValueError(f"{method}: max_shift ({max_shift * 1e3:g} ms) is shorter than the "
                         f"data's time resolution ({res * 1e3:g} ms): such a shift moves no "
                         "spike; use max_shift of at least a few bins")
    D = int(math.floor(max_shift / bin_width + 1e-9))
    if D < 2 * min_sep:
        raise ValueError(f"{method}: max_shift ({max_shift * 1e3:g} ms = {D} bin(s) of "
                         f"{bin_width * 1e3:g} ms) must be at least twice the test's synaptic "
                         f"window ({min_sep} bins = {min_sep * bin_width * 1e3:g} ms), or most "
                         "surrogates keep the interaction; use max_shift >= "
                         f"{2 * min_sep * bin_width * 1e3:g} ms")
    return D


def warn_if_short(method: str, counts: np.ndarray, want: np.ndarray, duration: float,
                  window: float, alpha: float, correction: str) -> None:
    """Warn when the median tested pair has too few coincidences for a test at ``alpha``.

    A pair with rates ``r_i, r_j`` expects ``λ = r_i r_j · window · duration`` coincident
    spikes within the test's window by chance. A link that doubles them gives an excess of
    ``λ`` against a Poisson spread ``sqrt(λ)``, i.e. ``z ≈ sqrt(λ)``; it reaches the
    per-pair level (``alpha``, or ``alpha`` over the tested pairs with Bonferroni) only if
    ``λ ≥ z²_{level/2}``. The warning gives the recording length at which the median tested
    pair gets there.
    """
    n_tests = int(want.sum())
    if n_tests == 0 or duration <= 0:
        return
    level = alpha / n_tests if correction == "bonferroni" else alpha
    z2 = float(stats.norm.isf(level / 2)) ** 2
    rates = np.asarray(counts, dtype=float) / duration
    lam = float(np.median((rates[:, None] * rates[None, :])[want])) * window * duration
    if lam < z2:
        import warnings

        from spikewire._validation import user_stacklevel

        need = duration * z2 / max(lam, 1e-12)
        warnings.warn(
            f"{method}: the median tested pair expects {lam:.2g} chance coincidences within "
            f"the {window * 1e3:g} ms window; a link that doubles them reaches "
            f"alpha={alpha:g} ({correction} over {n_tests} tests) only with about {z2:.3g}, "
            f"which needs a recording of about {need:.3g} s (this one: {duration:.3g} s), "
            "or larger bins", stacklevel=user_stacklevel())


#: Fewest expected chance coincidences in a pair's window for the Gaussian z test; sparser
#: pairs get a conservative (Chebyshev) p-value: on the heterogeneous null family (rates
#: 0.1–20 Hz) a single coincidence of two 0.1 Hz units gave p ≈ 1e-14 with the Gaussian
#: reference.
LAMBDA_MIN = 1.0


def conservative_sparse(p: np.ndarray, z: np.ndarray, lam: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Chebyshev's bound ``P(|z| ≥ x) ≤ 1/x²`` for pairs expecting fewer than
    :data:`LAMBDA_MIN` chance coincidences (valid for any null distribution with the
    estimated spread; conservative). Returns the p-values and the mask of pairs that keep
    the Gaussian (calibrated) test."""
    sparse = lam < LAMBDA_MIN
    with np.errstate(divide="ignore"):
        cheb = np.minimum(1.0, 1.0 / np.maximum(z * z, 1e-300))
    return np.where(sparse & np.isfinite(p), np.maximum(p, cheb), p), ~sparse


def slow_decay(X: sp.csr_array, lags: np.ndarray) -> np.ndarray:
    """Decay ``φ(r)`` of the slow shared covariance at ``lags`` (bins), ``φ(0) = 1``.

    The cross-unit covariance ``C(r) = Σ_{i≠j} cov(x_i(t), x_j(t − r))`` (the population's
    autocovariance minus the units' own) is fitted by ``A e^{−λ r}`` over ``lags``; the fit
    is extrapolated to ``r = 0`` (so fast synchrony at lag 0 does not enter). Returns ones
    (no correction) when the shared covariance is not positive at every lag or does not
    decay.
    """
    T = X.shape[0]
    mu = np.asarray(X.sum(axis=0)).ravel() / T
    pop = np.asarray(X.sum(axis=1)).ravel() - mu.sum()
    C = np.empty(lags.size)
    for k, r in enumerate(lags):
        r = int(r)
        own = float(X.multiply(shift_columns(X, np.full(X.shape[1], r))).sum()) - T * mu @ mu
        C[k] = float(pop @ np.roll(pop, r)) - own
    if np.any(C <= 0) or lags.size < 2:
        return np.ones(lags.size)
    slope, icpt = np.polyfit(lags.astype(float), np.log(C), 1)
    if slope >= 0:
        return np.ones(lags.size)
    return np.exp(slope * lags)


def draw_shifts(rng: np.random.Generator, m: int, D: int, n_surrogates: int, step: int = 1
                ) -> np.ndarray:
    """Shifts in bins, uniform over the multiples of ``step`` in ``[−D, D]``, shape ``(K, m)``.

    Multiples of the test's window length ``step`` make the windows of two surrogates with
    different relative shifts disjoint: surrogates whose windows overlap by most of their
    bins are nearly copies of each other, and their spread understates the null's.
    """
    U = D // step
    return step * rng.integers(-U, U + 1, size=(n_surrogates, m))


def usable_surrogates(shifts: np.ndarray, min_sep: int) -> np.ndarray:
    """Which surrogates each pair may use, shape ``(K, m, m)``.

    A surrogate is usable for pair ``(i, j)`` when the relative shift ``r = s_i − s_j`` is
    at least ``min_sep`` bins long (shorter ones keep a true interaction) and no earlier
    surrogate had the same ``r``: the pair's cross-covariance at lag ``r`` is then the same
    in both, and counting it twice would understate the null's spread.
    """
    K, m = shifts.shape
    D2 = int(np.abs(shifts).max(initial=0)) * 2
    seen = np.zeros((m, m, 2 * D2 + 1), dtype=bool)
    out = np.zeros((K, m, m), dtype=bool)
    ii, jj = np.indices((m, m))
    for k in range(K):
        r = shifts[k][:, None] - shifts[k][None, :]
        new = ~seen[ii, jj, r + D2]
        out[k] = new & (np.abs(r) >= min_sep)
        seen[ii, jj, r + D2] = True
    return out


def shift_columns(X: sp.csr_array, shifts: np.ndarray) -> sp.csr_array:
    """Circularly shift column ``j`` of the sparse ``(T, m)`` count matrix by ``shifts[j]`` rows.

    Row ``t`` of the result holds row ``(t − shifts[j]) mod T`` of column ``j``.
    """
    C = sp.coo_array(X)
    T = X.shape[0]
    rows = (C.row.astype(np.int64) + shifts[C.col]) % T
    return sp.csr_array((C.data, (rows, C.col)), shape=X.shape)


def _two_way_log_sd(sd: np.ndarray, ok: np.ndarray, n_iter: int = 20) -> np.ndarray:
    """Fit ``log sd_ij ≈ a_i + b_j`` (Tukey's median polish over the pairs in ``ok``)."""
    R = np.where(ok, np.log(np.where(ok, sd, 1.0)), np.nan)
    a = np.zeros(R.shape[0])
    b = np.zeros(R.shape[1])
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)    # all-NaN rows (skipped units)
            for _ in range(n_iter):
                a = np.nan_to_num(np.nanmedian(R - b[None, :], axis=1))
                b = np.nan_to_num(np.nanmedian(R - a[:, None], axis=0))
    return np.exp(a[:, None] + b[None, :])


def surrogate_test(obs: np.ndarray, sur: np.ndarray, shifts: np.ndarray, min_sep: int,
                   extrapolate: bool = False, symmetric: bool = False, decay=None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two-sided test of ``obs`` against the null level and spread of its surrogates.

    Null level: the mean of the pair's ``K'`` usable surrogates (divided by the mean of
    ``decay(|r|)`` over them when ``decay`` is given, see the module docstring); with
    ``extrapolate`` the
    surrogates are instead regressed on the relative shift ``|r|`` and the line is read at
    ``r = 0`` (meant for shared input that decorrelates over the shift; on the up/down
    family it over-corrected: 80 % of the false positives then had the sign opposite to
    the shared input, because shifting every unit also misaligns the conditioning set, so
    it is off by default). Spread: the pairs' standard deviations are pooled as
    ``log sd_ij = a_i + b_j`` (median polish; one factor per post and one per pre unit, as
    the analytic standard error of a regression or correlation statistic factorises), each
    factor resting on ``m · K'`` values: a pair's own ``K'`` values gave a noisier test
    that cost 0.02 AUC on a LIF network. Then ``z = (x − level) / (sd · sqrt(1 + 1/K'))``
    (the level's own error included; with ``extrapolate`` also ``+ r̄² / S_rr``) is referred
    to the standard normal distribution.

    Parameters
    ----------
    obs : ndarray (m, m)
        Statistic of each pair on the data.
    sur : ndarray (K, m, m)
        The same statistic on ``K`` surrogates.
    shifts : ndarray of int (K, m)
        The surrogates' shifts (bins), see :func:`usable_surrogates`.
    min_sep : int
        Shortest usable relative shift (bins).
    extrapolate : bool, default False
        Read the null level at ``r = 0`` from a regression on ``|r|`` instead of the mean.
    decay : callable or None, default None
        ``φ(|r|)`` (bins → decay of the shared covariance, :func:`slow_decay`). The
        level's error then enters as ``1 + 1/(K' φ̄²)``.
    symmetric : bool, default False
        The statistic is symmetric (``obs[i, j] = obs[j, i]``, and so are the surrogates):
        the pooled sd is made symmetric too, so that both orders get one p-value.

    Returns
    -------
    p : ndarray (m, m)
        Two-sided p-values (NaN where fewer than :data:`MIN_USABLE` surrogates with two
        different ``|r|`` are usable).
    z : ndarray (m, m)
        Signed z statistics.
    level, sd : ndarray (m, m)
        Null level (at ``r = 0``) and pooled residual standard deviation per pair.
    k : ndarray of int (m, m)
        Usable surrogates per pair.
    """
    usable = usable_surrogates(shifts, min_sep)
    r = np.abs(shifts[:, :, None] - shifts[:, None, :]).astype(float)
    k = usable.sum(axis=0)
    kf = np.maximum(k, 1).astype(float)
    w = usable.astype(float)
    rbar = (w * r).sum(axis=0) / kf
    ybar = (w * sur).sum(axis=0) / kf
    dr = np.where(usable, r - rbar, 0.0)
    dy = np.where(usable, sur - ybar, 0.0)
    srr = (dr ** 2).sum(axis=0)
    ok_fit = (k >= MIN_USABLE) & (srr > 0)
    if extrapolate:
        slope = np.where(ok_fit, (dr * dy).sum(axis=0) / np.where(ok_fit, srr, 1.0), 0.0)
    else:
        slope = np.zeros_like(ybar)
    level = ybar - slope * rbar
    res = np.where(usable, dy - slope * dr, 0.0)
    sd_pair = np.sqrt((res ** 2).sum(axis=0) / np.maximum(kf - 1 - extrapolate, 1))
    fit_ok = ok_fit & (sd_pair > 0)
    np.fill_diagonal(fit_ok, False)
    sd = _two_way_log_sd(sd_pair, fit_ok)
    if symmetric:
        sd = np.sqrt(sd * sd.T)       # a_i + b_j → (a_i + b_i + a_j + b_j) / 2 in logs
    ok = ok_fit & (sd > 0)
    infl = np.sqrt(1 + 1 / kf + (rbar ** 2 / np.where(ok, srr, 1.0) if extrapolate else 0.0))
    if decay is not None and not extrapolate:
        # level = a φ̄ on the surrogates: read it at φ = 1 (r = 0)
        phi = decay(r)
        phibar = np.maximum((w * phi).sum(axis=0) / kf, 0.2)
        level = level / phibar
        infl = np.sqrt(1 + 1 / (kf * phibar ** 2))
    z = np.where(ok, (obs - level) / np.where(ok, sd, 1.0) / infl, 0.0)
    p = np.where(ok, 2 * stats.norm.sf(np.abs(z)), np.nan)
    return p, z, level, sd, k
