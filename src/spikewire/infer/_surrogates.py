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
shifting" of Pipa et al. (2008), used parametrically. The z is referred not to N(0, 1) but
to the surrogates' own z-values, pooled over all pairs, with a fitted Student t tail
(:class:`TailReference`): under N(0, 1) the far tail was about 9× too light for a
Bonferroni decision (see :func:`surrogate_test`).

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

__all__ = ["DENSE_SHARE", "TailReference", "auto_max_shift", "conservative_sparse", "draw_shifts",
           "shift_bins", "shift_columns", "standardise_by_shift", "standardise_by_shift_masked",
           "surrogate_max_test", "surrogate_test", "surrogate_z", "usable_surrogates",
           "warn_if_short"]

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


def slow_decay(X: sp.csr_array | np.ndarray, lags: np.ndarray) -> np.ndarray:
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
        Xr = shift_columns(X, np.full(X.shape[1], r))
        prod = X * Xr if isinstance(X, np.ndarray) else X.multiply(Xr)
        own = float(prod.sum()) - T * mu @ mu
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


#: Share of non-zero bins above which ``te`` and ``partial_corr`` work on a dense array
#: (continuous signals: smoothed rates, deconvolved calcium) instead of sparse counts:
#: the same statistics, with BLAS products ~9× faster than sparse ones there.
DENSE_SHARE = 0.25


def shift_columns(X: sp.csr_array | np.ndarray, shifts: np.ndarray) -> sp.csr_array | np.ndarray:
    """Circularly shift column ``j`` of the ``(T, m)`` count matrix by ``shifts[j]`` rows.

    Row ``t`` of the result holds row ``(t − shifts[j]) mod T`` of column ``j``. A sparse
    matrix gives a sparse CSR matrix, a dense array (continuous signals) a dense array.
    """
    if isinstance(X, np.ndarray):
        shifts = np.asarray(shifts)
        if np.all(shifts == shifts[0]):
            return np.roll(X, int(shifts[0]), axis=0)
        T = X.shape[0]
        out = np.empty_like(X, order="F")              # contiguous columns to copy into
        for j, s in enumerate(shifts % T):
            out[s:, j] = X[:T - s, j]
            out[:s, j] = X[T - s:, j]
        return out
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


#: Fewest surrogate z-values for the empirical reference of :func:`surrogate_test`; with
#: fewer (about 11 usable surrogates per pair: under about 11 units for a directed
#: statistic, 15 for a symmetric one), the z-values are referred to the standard normal.
MIN_POOL = 1000
#: Share of the reference's largest ``|z|`` to which the Student t tail is fitted.
TAIL_SHARE = 0.2
#: Exceedances of the splice point: beyond the ``N_SPLICE``-th largest reference value the
#: tail probability comes from the fitted t, below it from the reference values themselves.
N_SPLICE = 100
#: The standard normal's two-sided 5 % point: the reference's scale is fixed there.
Z_ANCHOR = float(stats.norm.isf(0.025))
#: Beyond this ``|z|`` (or the splice point, if larger) the reference's tail continues with
#: the normal's shape: Bonferroni over up to ~10⁵ tests decides at ``|z| ≲ 5``, and a t's
#: polynomial tail extrapolated further compresses strong links' evidence (measured: the
#: empirical-null lfdr that ``check_null`` switches partial_corr to on a LIF Brunel network
#: then called 0 pairs instead of 472; benchmarks/results/ztail.md).
Z_CAP = 5.0


def surrogate_z(sur: np.ndarray, usable: np.ndarray, sd: np.ndarray, phi: np.ndarray | None
                ) -> np.ndarray:
    """Every usable surrogate's own z, standardised exactly as the data's, shape ``(K, m, m)``.

    Surrogate ``k`` of pair ``(i, j)`` is compared with the level of the pair's *other*
    ``K' − 1`` usable surrogates (leave-one-out, so that, like the data's value, it is
    independent of the level it is compared with), scaled by the same pooled ``sd_ij``:
    ``z_k = (x_k − φ_k · level_{−k}) / (sd_ij · sqrt(1 + φ_k² / ((K' − 1) φ̄²_{−k})))`` with
    ``level_{−k} = x̄_{−k} / φ̄_{−k}`` (``φ ≡ 1`` without a decay). Under the null these share
    with the data's z what makes it depart from N(0, 1): the statistic's own distribution
    (sparse, bursty counts) and the error of the pair's pooled sd. Entries of unusable
    surrogates are NaN.
    """
    K = sur.shape[0]
    if phi is None:
        phi = np.ones((K,) + sur.shape[1:])
    w = usable.astype(float)
    kf = usable.sum(axis=0).astype(float)
    km1 = np.maximum(kf - 1, 1.0)
    ybar_l = ((w * sur).sum(axis=0) - sur) / km1
    phib_l = np.maximum(((w * phi).sum(axis=0) - phi) / km1, 0.2)
    z = (sur - phi * ybar_l / phib_l) / sd / np.sqrt(1 + phi ** 2 / (km1 * phib_l ** 2))
    return np.where(usable & (kf >= MIN_USABLE), z, np.nan)


def _fit_t_tail(x: np.ndarray, u0: float) -> tuple[float, float]:
    """Student t (centre 0) fitted by maximum likelihood to the values ``x > u0``.

    The likelihood is the t density of ``|x|`` conditional on exceeding ``u0``,
    ``t_ν(x / σ) / (σ · S_ν(u0 / σ))``, so only the shape of the far tail enters. Returns
    ``(ν, σ)``, with ``ν`` in [1, 1000] (1000: a normal tail) and ``σ`` in [0.1, 10].
    """
    from scipy import optimize
    from scipy.special import gammaln

    y2 = x[x > u0] ** 2
    n = y2.size

    def nll(th):
        nu, s = math.exp(th[0]), math.exp(th[1])
        const = gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * math.log(nu * math.pi)
        ll = (n * (const - math.log(s)) - (nu + 1) / 2 * float(np.log1p(y2 / (nu * s * s)).sum())
              - n * float(stats.t.logsf(u0 / s, nu)))
        return -ll

    res = optimize.minimize(nll, np.array([math.log(30.0), 0.0]), method="L-BFGS-B",
                            bounds=[(0.0, math.log(1000.0)), (math.log(0.1), math.log(10.0))])
    return float(math.exp(res.x[0])), float(math.exp(res.x[1]))


#: Fewest surrogate z-values at one relative shift for their own centre and scale in
#: :func:`standardise_by_shift`; rarer shifts are left out of the reference.
MIN_PER_SHIFT = 50


def standardise_by_shift(z: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Centre and scale the surrogate z-values of each relative shift ``|r|`` on their own.

    The null level is one number per pair, but on a network the statistic at relative
    shift ``r`` also follows the population's own dynamics at lag ``r`` (an oscillation, or
    shared input faster than the decay :func:`slow_decay` fits): measured on a 1,000-neuron
    Izhikevich network (100 recorded, 10 min, ``te``), the surrogates' z had mean +1.7 at
    the shortest shift (20 ms) and −0.25 … −0.66 from 60 ms on, and pooled they made a
    location mixture with kurtosis 7.5 that says nothing about the data's z at ``r = 0``.
    Each shift's values are therefore centred on their median and divided by their MAD
    (× 1.4826) before pooling, which keeps the pair-to-pair scale mixture (present at every
    shift) and removes the shift-to-shift differences; the pooled values' overall scale is
    fixed afterwards (:class:`TailReference`). Shifts with fewer than
    :data:`MIN_PER_SHIFT` values are left out, and so is the shortest shift when there are
    at least three: a link whose delay and postsynaptic effect outlast one step (the
    Izhikevich networks' excitatory delays reach 20 ms, one default step) still acts in
    it: on that network 393 of the 410 pooled ``|z| > 4`` were at the shortest shift
    (after the per-shift scaling 177, 166 of them in linked pairs), while on the five
    null families leaving it out changed no count beyond ``|z| = 3.5``
    by more than 1 (benchmarks/results/ztail.md).
    """
    out = []
    shifts = np.unique(r)
    for rv in shifts[1:] if shifts.size >= 3 else shifts:
        v = z[r == rv]
        if v.size < MIN_PER_SHIFT:
            continue
        med = float(np.median(v))
        mad = 1.4826 * float(np.median(np.abs(v - med)))
        if mad > 0:
            out.append((v - med) / mad)
    return np.concatenate(out) if out else np.empty(0)


def standardise_by_shift_masked(z: np.ndarray, r: np.ndarray, into: np.ndarray) -> np.ndarray:
    """:func:`standardise_by_shift` that keeps the layout: same shape as ``z``.

    The centre and scale of each relative shift ``|r|`` are those of the values at that
    shift among the entries in ``into`` (finite ones), as in :func:`standardise_by_shift`;
    they are applied to every entry at that shift. Entries at shifts left out (too few
    values, or the shortest of at least three shifts) and entries outside ``into`` are NaN.

    Parameters
    ----------
    z, r : ndarray, same shape
        Surrogate z-values (NaN where unusable) and their relative shifts in bins.
    into : ndarray of bool, same shape
        Entries whose values form the per-shift centre and scale.
    """
    out = np.full(z.shape, np.nan)
    sel = into & np.isfinite(z)
    shifts = np.unique(r[sel])
    for rv in shifts[1:] if shifts.size >= 3 else shifts:
        at = sel & (r == rv)
        v = z[at]
        if v.size < MIN_PER_SHIFT:
            continue
        med = float(np.median(v))
        mad = 1.4826 * float(np.median(np.abs(v - med)))
        if mad > 0:
            out[at] = (v - med) / mad
    return out


class TailReference:
    """Reference distribution of ``|z|`` from null draws: empirical bulk, Student t tail.

    Built from ``N`` null z-values (:func:`surrogate_z`), each ``|z|`` divided by the scale
    ``s = q95 / 1.96`` that puts their two-sided 5 % point where the standard normal has
    its own (so per-pair rates at α = 0.05 stay what the pooled-sd z test measured: in
    band on all five null families; the shape, not the scale, comes from the draws). The
    two-sided p-value of ``|z|`` is then

    * the share of draws at least as large (linear between order statistics) up to the
      splice point ``u``, the :data:`N_SPLICE`-th largest draw;
    * beyond ``u``: ``(N_SPLICE / N) · S_ν(|z| / σ) / S_ν(u / σ)``, with ``S_ν`` the survival
      function of a Student t fitted by maximum likelihood to the largest
      :data:`TAIL_SHARE` of the draws (:func:`_fit_t_tail`); t's are the symmetric scale
      mixtures of normals with a polynomial tail, a one-parameter family from heavy
      (ν of a few) to normal (ν → ∞);
    * beyond ``c = max(Z_CAP, u)``: ``p(c) · Φ̄(|z|) / Φ̄(c)``, the normal's shape, so the
      tail is not extrapolated far past the draws (:data:`Z_CAP`).

    On a lognormal scale mixture of normals (``Z e^{0.15 ε}``, kurtosis 3.28, not a t) a
    reference of 17,000 draws estimates the tail at ``|z| = 4.17`` with a log-ratio of
    −0.004 ± 0.34 (200 samples), against the normal's 1.69 (tests/infer/
    test_surrogate_tail.py).

    Parameters
    ----------
    draws : ndarray
        Null z-values (NaNs ignored; at least :data:`MIN_POOL` finite ones).
    anchor : bool, default True
        Fix the scale at the normal 5 % point as above. False: ``s = 1``, the draws are
        taken on the data's own scale (for a statistic that is not a z, such as the
        maximum ``|z|`` over several windows whose draws were put on the data's scale
        already; :func:`surrogate_max_test`).

    Attributes
    ----------
    scale, dof, sigma, splice, cap, n : float
        ``s``, ``ν``, ``σ``, ``u``, ``c`` (the last two on the data's z scale) and ``N``.
    """

    def __init__(self, draws: np.ndarray, anchor: bool = True):
        a = np.sort(np.abs(np.asarray(draws, dtype=float)[np.isfinite(draws)]))
        if a.size < MIN_POOL:
            raise ValueError(f"TailReference needs at least {MIN_POOL} null draws, got "
                             f"{a.size}; pool more pairs or surrogates")
        n = a.size
        self.n = n
        self.scale = float(np.quantile(a, 0.95)) / Z_ANCHOR if anchor else 1.0
        self._x = a / self.scale
        self._surv = (n - np.arange(n)) / n
        self.dof, self.sigma = _fit_t_tail(self._x, float(np.quantile(self._x, 1 - TAIL_SHARE)))
        self.splice = float(self._x[n - N_SPLICE])
        self._log_su = float(stats.t.logsf(self.splice / self.sigma, self.dof))
        self.cap = max(Z_CAP, self.splice)
        self._log_pc = float(np.log(self._sf_t(np.array([self.cap]))[0]))

    def _sf_t(self, x: np.ndarray) -> np.ndarray:
        """Empirical bulk up to the splice point, the fitted t beyond it."""
        bulk = np.interp(x, self._x, self._surv, left=1.0)
        far = x > self.splice
        with np.errstate(invalid="ignore"):
            tail = (N_SPLICE / self.n) * np.exp(
                stats.t.logsf(np.where(far, x, self.splice) / self.sigma, self.dof) - self._log_su)
        return np.where(far, tail, bulk)

    def sf(self, z: np.ndarray) -> np.ndarray:
        """Two-sided p-value ``P(|Z| ≥ |z|)`` under the reference (``z`` on the data's scale)."""
        x = np.abs(np.asarray(z, dtype=float))
        beyond = x > self.cap
        normal = np.exp(self._log_pc + stats.norm.logsf(np.where(beyond, x, self.cap))
                        - stats.norm.logsf(self.cap))
        return np.where(beyond, normal, self._sf_t(x))

    def info(self) -> dict:
        """The fitted reference as plain numbers (for an estimate's diagnostics)."""
        return {"n_draws": int(self.n), "scale": self.scale, "dof": self.dof,
                "sigma": self.sigma, "splice_z": self.splice, "cap_z": self.cap}


def surrogate_test(obs: np.ndarray, sur: np.ndarray, shifts: np.ndarray, min_sep: int,
                   extrapolate: bool = False, symmetric: bool = False, decay=None,
                   pool: np.ndarray | None = None, reference: str = "surrogate"
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
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
    (the level's own error included; with ``extrapolate`` also ``+ r̄² / S_rr``).

    Reference distribution of ``z`` (``reference="surrogate"``, the default). Measured on
    the five null families (40 units, 300 s, 3 seeds; benchmarks/results/ztail.md), the
    per-pair rates at α = 0.05 are in band under N(0, 1) but the far tail is not:
    ``|z| > 4.17`` (Bonferroni 0.05 over 1,560 tests) 6 times against 0.7 expected for
    ``te``, 4 against 0.4 for ``partial_corr``. The surrogates' own z (:func:`surrogate_z`,
    standardised exactly as the data's) have the same tail (kurtosis 3.17 against the
    data's 3.15 for te, 3.16 against 3.14 for partial_corr; heavier for pairs expecting few
    coincidences). The pairs' own surrogate sds scatter around the ``a_i + b_j`` model no
    more than their sampling error from ~11 values allows (the prior degrees of freedom of
    a moderated t, Smyth 2004, came out infinite in 8 of 15 te fits, and that test left 5
    of the 6 exceedances), so the tail is mostly the statistic's own (sparse, bursty
    counts), not the pooled model's error; either way the surrogates carry it. So z is
    referred to the pooled surrogate z-values (``≈ 11 × pairs`` draws, centred and scaled
    per relative shift, :func:`standardise_by_shift`), with their scale fixed at the
    normal 5 % point and a fitted Student t tail beyond their resolution
    (:class:`TailReference`); the fixed scale keeps the per-pair rates at α = 0.05 where the
    measured N(0, 1) test had them (on up/down states the surrogates' z are narrower than
    the data's, sd 0.86 against 0.98, probably because only the data's level is
    extrapolated to ``r = 0``). With fewer than :data:`MIN_POOL` draws, with
    ``extrapolate`` or with ``reference="normal"`` z is referred to N(0, 1).

    Smyth GK (2004) Linear models and empirical Bayes methods for assessing differential
    expression in microarray experiments. Stat Appl Genet Mol Biol 3:3.

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
    pool : ndarray of bool (m, m) or None, default None
        Pairs whose surrogate z-values form the reference (e.g. those with enough chance
        coincidences for a Gaussian-like statistic, :func:`conservative_sparse`); None:
        every pair with a fitted spread. Only the upper triangle is used if ``symmetric``.
    reference : {"surrogate", "normal"}, default "surrogate"
        Reference distribution of z (see above).

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
    reference : dict
        The reference used: ``{"kind": "surrogate", **TailReference.info()}`` or
        ``{"kind": "normal", "n_draws": N}``.
    """
    if reference not in ("surrogate", "normal"):
        raise ValueError(f"reference must be 'surrogate' or 'normal', got {reference!r}")
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
    phi = None
    if decay is not None and not extrapolate:
        # level = a φ̄ on the surrogates: read it at φ = 1 (r = 0)
        phi = decay(r)
        phibar = np.maximum((w * phi).sum(axis=0) / kf, 0.2)
        level = level / phibar
        infl = np.sqrt(1 + 1 / (kf * phibar ** 2))
    z = np.where(ok, (obs - level) / np.where(ok, sd, 1.0) / infl, 0.0)
    p = np.where(ok, 2 * stats.norm.sf(np.abs(z)), np.nan)
    into = ok.copy() if pool is None else ok & np.asarray(pool, dtype=bool)
    np.fill_diagonal(into, False)
    if symmetric:
        into = np.triu(into)
    n_draws = int(usable[:, into].sum())
    info: dict = {"kind": "normal", "n_draws": n_draws}
    if reference == "surrogate" and not extrapolate and n_draws >= MIN_POOL:
        zs = surrogate_z(sur[:, into], usable[:, into], np.where(ok, sd, 1.0)[into],
                         None if phi is None else phi[:, into])
        fin = np.isfinite(zs)
        draws = standardise_by_shift(zs[fin], r[:, into][fin])
        info["n_draws"] = int(draws.size)
        if draws.size >= MIN_POOL:
            ref = TailReference(draws)
            p = np.where(ok, ref.sf(z), np.nan)
            info = {"kind": "surrogate", **ref.info()}
    return p, z, level, sd, k, info


def surrogate_max_test(obs: np.ndarray, sur: np.ndarray, shifts: np.ndarray, min_sep: int,
                       decay=None, pool: np.ndarray | None = None, empirical_null: bool = True
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    """Test of the largest ``|z|`` over ``W`` windows, calibrated on the surrogates' own maximum.

    Each window's statistic (e.g. the summed weight over a few lags, the windows sliding
    over the delays scanned) is standardised as in :func:`surrogate_test` (its surrogates'
    level and pooled spread, ``reference="normal"``): ``z_w``. The pair's statistic is
    ``M = max_w |z_w|``; the window that attains it estimates the delay. Scanning ``W``
    windows costs a multiple comparison, accounted for here by referring ``M`` to the same
    maximum over the surrogates: every usable surrogate's own z in every window
    (:func:`surrogate_z`, leave-one-out, with the pair's sd), centred and scaled per
    relative shift (:func:`standardise_by_shift_masked`) and, per window, put on the
    scale at which the data's z is read (their two-sided 5 % point at the normal's, as
    :class:`TailReference` does for one window); ``M_k = max_w |z_{k,w}|``, pooled over the
    pairs, is the reference (:class:`TailReference` with ``anchor=False``: empirical bulk,
    fitted Student t tail). The surrogates' windows are as correlated with each other as
    the data's (same lags, same counts), so the reference holds the scan's effective
    number of tests, between 1 and ``W``, without a formula for it. With fewer than
    :data:`MIN_POOL` draws, Šidák over the ``W`` windows on N(0, 1): ``1 − (1 − p_min)^W``
    (conservative for correlated windows).

    Empirical null (``empirical_null``, default True; Efron 2004): the data's window z are
    divided by one spread, the median over the windows of their MAD-based spreads over the
    pooled pairs, when it exceeds 1 (never narrowed); the surrogates' draws are then taken
    at their per-shift MAD scale (no 5 % anchor). Measured on the up/down null family (50
    units, 300 s, 11 windows of 3 × 2 ms lags): the data's window z had sd 1.09–1.12
    against 1.01–1.02 for the surrogates' own (the shared states change within the
    56–280 ms relative shifts), and the maximum called 0.108 at α = 0.05; scaled, 0.056,
    and 0.038–0.056 on all five families (seed 3). One spread for all windows, not one
    per window: on a recurrent network (LIF Brunel, 100 of 1,000 recorded, 10 min) the
    short-lag windows carry real effects in most pairs (first window: median z 1.57, MAD
    spread 2.82; 1.00 from the eighth window on), and per-window scaling cut te's AUC
    from 0.909 to 0.792. Nor is the data's median removed, for the same reason. With
    ``empirical_null=False`` the draws are put at the larger of the normal's 5 % point and
    their own before the per-shift scaling (independent Poisson trains: 0.055–0.060 at
    α = 0.05; the normal's point alone gave 0.076) and the data's z are used as they are.

    Efron B (2004) Large-scale simultaneous hypothesis testing: the choice of a null
    hypothesis. J Am Stat Assoc 99:96–104.

    Parameters
    ----------
    obs : ndarray (W, m, m)
        Statistic of each pair in each window on the data.
    sur : ndarray (K, W, m, m)
        The same on ``K`` surrogates.
    shifts : ndarray of int (K, m)
        The surrogates' shifts in bins (:func:`draw_shifts`).
    min_sep : int
        Shortest usable relative shift in bins (at least the scanned lags).
    decay : callable or None, default None
        ``φ(|r|)`` as in :func:`surrogate_test`.
    pool : ndarray of bool (m, m) or None, default None
        Pairs whose surrogates form the reference (None: every pair with a fitted spread),
        and whose data z give the empirical null's centre and spread.
    empirical_null : bool, default True
        Scale the data's window z by the pooled pairs' median MAD spread over the windows
        (above; used only with at least :data:`MIN_PER_SHIFT` pooled pairs).

    Returns
    -------
    p : ndarray (m, m)
        Two-sided p-values of ``M`` (NaN where a window has no fitted spread).
    z : ndarray (m, m)
        Signed ``z`` of the best window.
    best : ndarray of int (m, m)
        Index of the best window (``argmax_w |z_w|``).
    k : ndarray of int (m, m)
        Usable surrogates per pair.
    reference : dict
        ``{"kind": "max_surrogate", "windows": W, **TailReference.info()}`` or
        ``{"kind": "sidak_normal", "windows": W, "n_draws": N}``, with the empirical
        null's ``empirical_spread`` (1 when not used).
    """
    obs = np.asarray(obs, dtype=float)
    sur = np.asarray(sur, dtype=float)
    W, m = obs.shape[0], obs.shape[1]
    if sur.ndim != 4 or sur.shape[1:] != obs.shape or W < 1:
        raise ValueError(f"sur must have shape (K, {W}, {m}, {m}) to match obs {obs.shape}, "
                         f"got {sur.shape}")
    usable = usable_surrogates(shifts, min_sep)
    r = np.abs(shifts[:, :, None] - shifts[:, None, :]).astype(float)
    phi = None if decay is None else decay(r)
    z = np.zeros((W, m, m))
    ok = np.ones((m, m), dtype=bool)
    sds = []
    k = np.zeros((m, m), dtype=int)
    for w in range(W):
        p_w, z[w], _, sd_w, k, _ = surrogate_test(obs[w], sur[:, w], shifts, min_sep,
                                                  decay=decay, reference="normal")
        ok &= np.isfinite(p_w)
        sds.append(sd_w)
    into = ok.copy() if pool is None else ok & np.asarray(pool, dtype=bool)
    np.fill_diagonal(into, False)
    spread = np.ones(W)
    if empirical_null and into.sum() >= MIN_PER_SHIFT:
        for w in range(W):
            v = z[w][into]
            med = float(np.median(v))
            spread[w] = 1.4826 * float(np.median(np.abs(v - med)))
        # one spread for all windows, the median of theirs: a window where many pairs
        # carry real effects (short lags on a recurrent network) does not set it
        spread[:] = max(1.0, float(np.median(spread)))
        z /= spread[:, None, None]
    best = np.argmax(np.abs(z), axis=0)
    zbest = np.take_along_axis(z, best[None], axis=0)[0]
    M = np.abs(zbest)
    mask = np.broadcast_to(into, usable.shape) & usable
    Ms = np.zeros(usable.shape)
    fin = mask.copy()
    for w in range(W):
        raw = surrogate_z(sur[:, w], usable, np.where(ok, sds[w], 1.0), phi)
        zs = standardise_by_shift_masked(raw, r, mask)
        good = np.isfinite(zs)
        fin &= good
        if not good.any():
            continue
        # the 5 % point the draws are put at: the normal's, or the surrogates' own before
        # the per-shift scaling where wider (the data's z share it: on independent Poisson
        # trains both had sd 1.05 and |z| 95 % points 2.03-2.13; the normal's alone made
        # the maximum over 11 windows call 0.076 at α = 0.05)
        if empirical_null:
            scale = 1.0
        else:
            target = max(Z_ANCHOR, float(np.quantile(np.abs(raw[good]), 0.95)))
            scale = float(np.quantile(np.abs(zs[good]), 0.95)) / target
        Ms = np.maximum(Ms, np.abs(np.where(good, zs, 0.0)) / max(scale, 1e-12))
    draws = Ms[fin]
    if draws.size >= MIN_POOL:
        ref = TailReference(draws, anchor=False)
        p = ref.sf(M)
        info = {"kind": "max_surrogate", "windows": W, **ref.info()}
    else:
        pmin = 2 * stats.norm.sf(M)
        p = -np.expm1(W * np.log1p(-np.minimum(pmin, 1 - 1e-16)))
        info = {"kind": "sidak_normal", "windows": W, "n_draws": int(draws.size)}
    info["empirical_spread"] = float(spread[0])
    p = np.where(ok, p, np.nan)
    zbest = np.where(ok, zbest, 0.0)
    return p, zbest, best, k, info
