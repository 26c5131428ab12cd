"""Total spiking probability edges (TSPE; De Blasi, Ciba, Bahmer & Thielemann 2019).

TSPE filters the normalised cross-correlation of binned spike trains with a bank of edge
filters (a positive centre of ``b`` bins flanked by negative surrounds of ``a`` bins, with
``c`` empty crossover bins) followed by running-total filters, sums the responses over the
bank and takes, per pair, the delay with the largest absolute response: a peak standing
out of its surround is excitatory (+), a trough inside a higher surround inhibitory (−).

spikewire's implementation is exact with respect to elephant's
(``elephant.functional_connectivity.total_spiking_probability_edges``, the anchor; the
test suite compares the two): the whole filter bank is one linear map ``W`` (delays ×
lags) applied to the integer cross-correlation counts of the binned trains, which the
all-pairs CCG kernel of :mod:`spikewire.infer.ccg` counts from the spikes themselves (sparse,
``O(coincidences)``), so no dense binned matrix (elephant's memory bottleneck: ~51 GB for
1,000 units × 1 h) is ever formed.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
import warnings

import numpy as np
from scipy import special

from spikewire.core.spiketrains import SpikeTrains
from spikewire.infer import _ccg_kernels as K
from spikewire.infer._params import Boolean, Interval, Options, RealSequence
from spikewire.infer.base import FitContext, InferenceMethod, register
from spikewire.infer.correlograms import _prepare, numba_threads
from spikewire.infer.estimate import Estimate
from spikewire.infer.fdr import LFDR_LEVEL, lfdr_fallback_reason

__all__ = ["TSPE", "tspe_filter_matrix", "edge_filter", "binned_indices"]

#: Fewest expected coincidences per lag bin for the normal test; pairs below it get the
#: conditional (count) test instead (on the heterogeneous null family the normal test's
#: false-positive rate at α = 0.05 was 0.08 for 0.3 <= λ < 1 and 0.18 below 0.3).
LAMBDA_MIN = 1.0
#: Monte Carlo draws per coincidence count of the conditional test's null table (a property
#: of the filter bank, simulated once per bank with a fixed seed; the smallest Monte Carlo
#: p-value is 1 / (N_NULL_DRAWS + 1), below which a Chernoff bound takes over).
N_NULL_DRAWS = 50_000
#: The reverse check (``reverse_check=True``) tests a pair again without the lags of its
#: reverse direction when that direction has p <= REVERSE_LEVEL and is the stronger one.
REVERSE_LEVEL = 1e-3
#: ... and only pairs that could be called (own p <= REVERSE_CANDIDATE_P) are re-tested.
REVERSE_CANDIDATE_P = 0.05
#: ... and only where the stronger direction's delay is at most P + REVERSE_REACH bins (a
#: peak further out does not reach the reverse direction's lags −P .. −1; a delay a few
#: bins past P still does through the peak's width).
REVERSE_REACH = 2
_TOL = 1e-8  # elephant's binning tolerance (a spike within 1e-8 bins of an edge moves up)


def edge_filter(a: int, b: int, c: int) -> np.ndarray:
    """Edge filter ``g`` of De Blasi et al. (2019): ``-1/a`` on ``a`` surround bins, 0 on ``c``
    crossover bins, ``2/b`` on ``b`` observed bins, then mirrored (length ``2a + b + 2c``;
    sums to 0)."""
    return np.concatenate([np.full(a, -1.0 / a), np.zeros(c), np.full(b, 2.0 / b),
                           np.zeros(c), np.full(a, -1.0 / a)])


def tspe_filter_matrix(max_delay: int, surrounding: tuple[int, ...],
                       observed: tuple[int, ...], crossover: tuple[int, ...]
                       ) -> tuple[np.ndarray, int]:
    """The TSPE filter bank as one linear map.

    Returns ``(W, P)``: ``W`` has shape ``(max_delay, max_delay + 2P)`` and maps the
    cross-correlation at lags ``-P .. max_delay + P - 1`` (bins) to the TSPE at delays
    ``0 .. max_delay - 1``, ``P = max(a) + max(c)`` being the padding the widest filter
    needs. Each filter ``(a, b, c)`` is the valid convolution with :func:`edge_filter`
    over lags ``-(a+c) .. max_delay + a + c - 1`` followed by the full convolution with a
    running-total filter of ``b`` ones (elephant's order).
    """
    P = max(surrounding) + max(crossover)
    nk = max_delay + 2 * P
    W = np.zeros((max_delay, nk))
    for a, b, c in itertools.product(surrounding, observed, crossover):
        if b > max_delay:
            raise ValueError(f"observed window {b} bins exceeds max_delay={max_delay} bins; "
                             "use smaller observed_window_sizes or a longer max_delay")
        g = edge_filter(a, b, c)
        p = a + c
        L = g.size
        n1 = max_delay + 2 * p - L + 1          # = max_delay - b + 1
        x1 = np.zeros((n1, nk))
        for n in range(n1):                     # valid convolution (g is symmetric)
            x1[n, P - p + n:P - p + n + L] = g[::-1]
        for d in range(max_delay):              # full convolution with b ones
            lo, hi = max(0, d - b + 1), min(n1 - 1, d)
            if lo <= hi:
                W[d] += x1[lo:hi + 1].sum(axis=0)
    return W, P


def binned_indices(spikes: SpikeTrains, bin_width: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Bin index of every spike (grouped by unit, elephant's rounding) and the bin count.

    Returns ``(idx, indptr, n_bins)``: integer-valued float64 bin indices in the layout of
    ``spikes.grouped_times`` (spikes past the last whole bin dropped, ``indptr`` adjusted).
    """
    def rounded_floor(x):
        f = np.floor(x)
        return np.where(np.ceil(x) - x < _TOL, np.ceil(x), f)

    n_bins = int(rounded_floor(np.array(spikes.duration / bin_width)))
    x = rounded_floor((spikes.grouped_times - spikes.t_start) / bin_width)
    keep = (x >= 0) & (x < n_bins)
    unit_of = np.repeat(np.arange(spikes.n_units), spikes.counts())
    counts = np.bincount(unit_of[keep], minlength=spikes.n_units)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return np.ascontiguousarray(x[keep]), indptr, n_bins


def _binned_std(idx: np.ndarray, indptr: np.ndarray, n_bins: int) -> np.ndarray:
    """Sample standard deviation (ddof = 1) of each unit's binned counts, from the indices."""
    n = indptr.size - 1
    out = np.zeros(n)
    for u in range(n):
        x = idx[indptr[u]:indptr[u + 1]]
        if x.size == 0:
            continue
        _, c = np.unique(x, return_counts=True)
        s1, s2 = float(c.sum()), float((c.astype(float) ** 2).sum())
        out[u] = math.sqrt(max(s2 - s1 * s1 / n_bins, 0.0) / (n_bins - 1))
    return out


def _autocovariances(idx: np.ndarray, indptr: np.ndarray, n_bins: int, lag: int) -> np.ndarray:
    """Autocovariance ``γ(τ) = Σ_t x(t) x(t + τ) / n_bins − μ²`` of each unit's binned counts
    at lags ``−lag .. lag`` (bins), from the spike bin indices (shape (n_units, 2·lag + 1))."""
    n = indptr.size - 1
    out = np.zeros((n, 2 * lag + 1))
    buf = np.zeros(2 * lag + 1, dtype=np.int64)
    for u in range(n):
        a = idx[indptr[u]:indptr[u + 1]]
        if a.size == 0:
            continue
        buf[:] = 0
        K._count_pair(a, a, 1.0, -lag, lag, buf)
        mu = a.size / n_bins
        out[u] = buf / n_bins - mu * mu
    # remove the slow part (co-modulation, up/down states): the level of γ at lags
    # lag/2 .. lag, which the zero-sum filters cancel; what is left decays within the window
    far = np.r_[np.arange(0, lag // 2 + 1), np.arange(lag + lag // 2, 2 * lag + 1)]
    return out - out[:, far].mean(axis=1, keepdims=True)


def _standardise(raw, lam, W, idx, indptr, n_bins, lag):
    """z-values of the unnormalised TSPE responses under independence of the two trains.

    For independent stationary trains, the response ``Σ_k W_dk CC(k)`` has mean 0 (the
    filters sum to 0) and variance (Bartlett's formula for cross-products)
    ``n_bins · Σ_τ γ_post(τ) Σ_δ ω_d(δ) γ_pre(τ + δ)``, with ``γ`` the trains' binned
    autocovariances and ``ω_d(δ) = Σ_k W_dk W_d,k+δ`` the filter's autocorrelation. For
    Poisson trains this is ``λ ‖W_d‖²``; bursts and refractoriness change it (both ways),
    which a Poisson variance would miss. ``γ`` is truncated at ``±lag`` bins after its
    slow part (its mean level at ``lag/2 .. lag``: co-modulation, up/down states, which
    the zero-sum filters cancel) is subtracted. The variance is floored at a
    quarter of the Poisson one (estimation noise of ``γ`` for sparse units). Shared slow
    modulation makes the trains dependent and raises the coincidence rate above
    ``n_bins μ_post μ_pre``; given the modulation the counts stay Poisson-like with the raised
    mean, so the variance is scaled by the pair's observed excess ``λ / (n_bins μ_post μ_pre)``
    (at least 0.5).
    Returns ``z`` (n, n, D) and the median ratio of the variance to the Poisson one.
    """
    n, _, D = raw.shape
    gam = _autocovariances(idx, indptr, n_bins, lag)
    mu = np.diff(indptr) / n_bins
    indep = n_bins * np.outer(mu, mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.where(indep > 0, np.maximum(lam, 0.0) / indep, 1.0)
    excess = np.clip(excess, 0.5, None)
    nk = W.shape[1]
    T = 2 * lag + 1
    z = np.zeros_like(raw)
    ratios = []
    for d in range(D):
        w = W[d]
        om = np.correlate(w, w, mode="full")            # ω_d(δ), δ = -(nk-1) .. nk-1
        Om = np.zeros((T, T))
        tau = np.arange(T)
        for a in range(T):
            delta = tau - a                              # τ' − τ
            ok = np.abs(delta) <= nk - 1
            Om[a, ok] = om[delta[ok] + nk - 1]
        var = n_bins * (gam @ Om @ gam.T) * excess
        pois = np.maximum(lam, 0.0) * float(w @ w)
        var = np.maximum(var, 0.25 * pois)
        with np.errstate(divide="ignore", invalid="ignore"):
            z[:, :, d] = np.where(var > 0, raw[:, :, d] / np.sqrt(var), 0.0)
        if d == D // 2:
            sel = pois > 0
            ratios = (var[sel] / pois[sel]) if sel.any() else np.ones(1)
    return z, float(np.median(ratios))


@functools.lru_cache(maxsize=16)
def _effective_tests(key: tuple) -> float:
    D, sur, obs, cro = key
    return _max_abs_effective_tests(tspe_filter_matrix(D, sur, obs, cro)[0])


def _max_abs_effective_tests(W: np.ndarray, level: float = 1e-3, n_draws: int = 400_000,
                             seed: int = 12345) -> float:
    """Effective number of independent delays for the max |z| over the TSPE delays.

    Under the Poisson null the standardised TSPE responses are Gaussian with correlation
    ``W Wᵀ`` (normalised). The tail ``P(max|z| > x)`` is simulated once (fixed seed: this is
    a property of the filter bank, not of the data) and ``m_eff`` solves
    ``1 − (1 − 2Φ(−x))^m_eff = level`` at the simulated ``level`` quantile; capped at the
    number of delays (Šidák's bound).
    """
    norms = np.linalg.norm(W, axis=1)
    C = (W @ W.T) / np.outer(norms, norms)
    vals, vecs = np.linalg.eigh(C)
    L = vecs * np.sqrt(np.clip(vals, 0, None))
    rng = np.random.default_rng(seed)
    m = W.shape[0]
    maxes = np.empty(n_draws)
    for s in range(0, n_draws, 50_000):
        z = rng.standard_normal((min(50_000, n_draws - s), m)) @ L.T
        maxes[s:s + z.shape[0]] = np.abs(z).max(axis=1)
    x = np.quantile(maxes, 1 - level)
    p1 = 2 * special.ndtr(-x)
    return float(min(math.log1p(-level) / math.log1p(-p1), m))


@functools.lru_cache(maxsize=8)
def _conditional_null(key: tuple, n_max: int, n_draws: int = N_NULL_DRAWS) -> np.ndarray:
    """Null samples of ``S = max_d |R_d| / ‖W_d‖`` given ``N`` coincidences in the filter
    bank's lag window, for ``N = 0 .. n_max`` (key: ``(D, sur, obs, cro)``).

    Under the conditional null the ``N`` coincidences fall independently and uniformly on
    the window's ``D + 2P`` lags (multinomial counts), which holds exactly for independent
    Poisson trains and for any pair whose coincidence rate is flat over the window (slow
    co-modulation). The draws are built by adding one uniform coincidence at a time, so
    row ``N`` (sorted) is an exact sample for ``N`` coincidences. Simulated once per bank
    with a fixed seed: the table is a property of the filter bank, not of the data.
    Returns an array of shape ``(n_max + 1, n_draws)``, each row sorted.
    """
    W = tspe_filter_matrix(*key)[0]
    Wn = W / np.linalg.norm(W, axis=1)[:, None]
    rng = np.random.default_rng(20191)
    k = W.shape[1]
    out = np.zeros((n_max + 1, n_draws))
    resp = np.zeros((n_draws, W.shape[0]))
    for n_c in range(1, n_max + 1):
        resp += Wn.T[rng.integers(0, k, size=n_draws)]
        out[n_c] = np.abs(resp).max(axis=1)
    out.sort(axis=1)
    return out


def _chernoff_union(W: np.ndarray, n_coinc: int, s_obs: np.ndarray, n_t: int = 200
                    ) -> np.ndarray:
    """Upper bounds on ``P(S >= s)`` for each ``s`` in ``s_obs`` given ``n_coinc`` uniform
    coincidences: a union over the delays and both signs of Chernoff's bound
    ``min_t M_d(±t)^N e^{−t x_d}`` on the weighted multinomial sum (``x_d = s ‖W_d‖``, ``M_d``
    the moment generating function of one coincidence's weight), minimised over a grid of
    ``t`` (any ``t`` gives a valid bound)."""
    norms = np.linalg.norm(W, axis=1)
    t = np.geomspace(1e-3, 50.0, n_t) / np.abs(W).max()
    s_obs = np.asarray(s_obs, dtype=float)
    total = np.zeros(s_obs.shape)
    for sign in (1.0, -1.0):
        log_m = (special.logsumexp(sign * t[:, None, None] * W[None], axis=2)
                 - math.log(W.shape[1]))                               # (n_t, D)
        for d in range(W.shape[0]):
            expo = n_coinc * log_m[:, d, None] - np.outer(t, s_obs * norms[d])
            total += np.exp(np.minimum(expo.min(axis=0), 0.0))
    return np.minimum(total, 1.0)


def _conditional_pvalues(raw: np.ndarray, n_coinc: np.ndarray, W: np.ndarray,
                         key: tuple) -> np.ndarray:
    """Conditional p-values of pairs with few coincidences (see :class:`TSPE`, Notes).

    ``raw``: (m, D) unnormalised responses; ``n_coinc``: (m,) coincidences in the window.
    Returns the Monte Carlo p-value ``(1 + #{S_null >= S}) / (1 + n_draws)`` of each pair,
    replaced by the Chernoff union bound where that is smaller (the Monte Carlo table has
    no draw at or above ``S``).
    """
    norms = np.linalg.norm(W, axis=1)
    s_obs = np.abs(raw / norms).max(axis=1)
    p = np.ones(raw.shape[0])
    # one table per bank, for every count a pair below LAMBDA_MIN can have
    table = _conditional_null(key, max(int(n_coinc.max()),
                                       math.ceil(LAMBDA_MIN * W.shape[1])))
    for n_c in np.unique(n_coinc):
        if n_c <= 0:
            continue
        sel = np.flatnonzero(n_coinc == n_c)
        null = table[n_c]
        # ≥ with a relative tolerance: S takes discrete values that float sums reproduce
        # only to rounding
        above = null.size - np.searchsorted(null, s_obs[sel] * (1 - 1e-9), side="left")
        p[sel] = (1.0 + above) / (1.0 + null.size)
        tail = sel[above == 0]
        if tail.size:
            p[tail] = np.minimum(p[tail], _chernoff_union(W, int(n_c), s_obs[tail]))
    return p


def _sidak_pvalues(zmax: np.ndarray, m_eff: float) -> np.ndarray:
    """Šidák p-value of ``max_d |z_d|`` over ``m_eff`` effective delays (two-sided normal)."""
    log_p1 = np.log(2.0) + special.log_ndtr(-zmax)
    with np.errstate(divide="ignore"):
        p = np.where(np.exp(log_p1) > 1e-8,
                     -np.expm1(m_eff * np.log1p(-np.minimum(np.exp(log_p1), 1 - 1e-16))),
                     m_eff * np.exp(log_p1))
    return np.clip(p, 0.0, 1.0)


def _reverse_candidates(p: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Ordered pairs ``(post, pre)`` whose reverse direction is a confident link.

    A pair qualifies when both directions were tested with the normal test (``ok``), its
    own p-value is at most :data:`REVERSE_CANDIDATE_P` (it could be called) and the reverse
    direction's p-value is at most :data:`REVERSE_LEVEL` and smaller than its own (the
    reverse is the stronger direction). Returns an (m, 2) integer array.
    """
    pt = p.T
    sel = ok & (p <= REVERSE_CANDIDATE_P) & (pt <= REVERSE_LEVEL) & (pt < p)
    np.fill_diagonal(sel, False)
    return np.argwhere(sel)


def _reverse_check_pvalues(sel: np.ndarray, raw: np.ndarray, z: np.ndarray, W: np.ndarray,
                           P: int, idx: np.ndarray, indptr: np.ndarray, m_eff: float,
                           reverse_sign: np.ndarray) -> np.ndarray:
    """p-values of the pairs ``sel`` (post, pre) with their reverse link's lags censored.

    The filter bank of the pair (post ``i``, pre ``j``) reads the cross-correlation at lags
    ``−P .. D + P − 1``; the ``P`` lags below 0 (``i`` *before* ``j``) are the causal lags
    of the reverse link ``i → j``, whose peak there sits under the surrounds of the
    filters at small delays and gives this direction a response of its own. Each of those
    lags ``−k`` is censored: where the reverse link is excitatory (``reverse_sign`` > 0)
    its count is cut down to ``max(c(+k), m)``, where inhibitory filled up to
    ``min(c(+k), m)``, ``c(+k)`` being its mirror lag and ``m`` the pair's mean count per
    lag at lags ``0 .. D + P − 1``. What is symmetric about lag 0 (common input, up/down
    states) therefore stays, and the pair's own peak or trough at ``+k`` is not copied into
    its surround. The responses are recomputed (``R' = W c'``) and tested with each delay's
    null standard deviation (``raw / z``) and the same Šidák combination over ``m_eff``
    delays. The caller keeps the larger of the two p-values, so the check can only remove
    calls of a level-based decision.
    """
    D, nk = W.shape
    out = np.ones(sel.shape[0])
    buf = np.zeros(nk, dtype=np.int64)
    for r, (i, j) in enumerate(sel):
        buf[:] = 0
        K._count_pair(idx[indptr[j]:indptr[j + 1]], idx[indptr[i]:indptr[i + 1]], 1.0,
                      -P, nk - P - 1, buf)
        c = buf.astype(float)
        if not np.allclose(W @ c, raw[i, j], rtol=1e-9, atol=1e-6):
            raise RuntimeError("tspe reverse check: recounted correlogram does not match")
        neg = c[P - 1::-1][:P]                   # lags −1, −2, …, −P
        mirror = c[P + 1:2 * P + 1]              # lags +1, +2, …, +P
        m = c[P:].mean()                         # the pair's own level (lags 0 .. D+P−1)
        # a peak (trough) of the reverse link is cut down (filled up) to its mirror image,
        # so structure symmetric about lag 0 (common input, up/down states) stays, but not
        # below (above) the pair's own level, so its own trough (peak) is not copied there
        if reverse_sign[r] > 0:
            fill = np.minimum(neg, np.maximum(mirror, m))
        else:
            fill = np.maximum(neg, np.minimum(mirror, m))
        c[P - 1::-1][:P] = fill
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = np.where(z[i, j] != 0, raw[i, j] / z[i, j], np.inf)
        zc = np.where(np.isfinite(sd) & (sd > 0), (W @ c) / sd, 0.0)
        out[r] = _sidak_pvalues(np.abs(zc).max(), m_eff)
    return out


@register
class TSPE(InferenceMethod):
    """Total spiking probability edges (De Blasi et al. 2019): edge-filtered cross-correlation.

    For each ordered pair (post ``i``, pre ``j``) the binned trains' cross-correlation
    ``CC(d) = Σ_t x_i(t + d) x_j(t)`` (``d`` in bins, post after pre at ``d > 0``) is
    normalised by ``σ_i σ_j n_bins`` (sample standard deviations of the binned counts;
    the mean is not subtracted, as in the paper and elephant) and passed through the
    filter bank (:func:`tspe_filter_matrix`); the delay ``d`` in ``0 .. max_delay − 1``
    with the largest ``|TSPE(d)|`` gives the weight (signed TSPE) and the delay.

    Parameters
    ----------
    bin_width : float, default 1 ms
        Bin width in s (De Blasi et al. tuned the filter sizes for 1 ms bins). Must not be
        finer than the recording's time resolution (:attr:`Recording.time_resolution`).
    max_delay : float, default 30 ms
        Longest delay tested, in s (rounded to whole bins; delays ``0 .. max_delay − bin``).
        elephant's default is 25 bins (25 ms at 1 ms bins); with ``max_delay=0.025`` and
        ``ranking="tspe"`` the estimate equals elephant's (the test suite checks it). 30 ms
        because a synapse shows in the cross-correlation at its delay plus the time the
        post neuron needs to fire (median +4 ms on the Izhikevich networks at 1 ms
        resolution): with a 25 ms scan the peaks of 18–20 ms delays sat at its end, where
        the edge filter's negative surround still covers them but its centre no longer does,
        and TSPE came out negative (37 of 752 recorded E links of the random network, 36 of
        them with delays of 18–20 ms). On those networks (100 recorded of 1,000, 10 min;
        benchmarks/results/nulls.md) E-AUC rose from 0.946 / 0.969 to 0.996 / 0.996
        (random / scale-free) and sign accuracy from 0.987 / 0.991 to 1.000; at 1 h E-AUC
        from 0.967 / 0.981 to 1.000 / 1.000.
    surrounding_window_sizes, observed_window_sizes, crossover_window_sizes : tuple of int
        Filter sizes ``a``, ``b``, ``c`` in bins (defaults (3, …, 8), (2, …, 6), (0,): the
        paper's and elephant's).
    min_spikes : int, default 20
        Units with fewer spikes are skipped (pair status 3).
    alpha : float or None, default None
        Default significance level of :meth:`Estimate.adjacency`. ``None``: Efron's
        reporting level lfdr ≤ :data:`~spikewire.infer.fdr.LFDR_LEVEL` (0.2) when the
        correction is ``"lfdr"`` and the local FDR can be estimated on the tested pairs,
        else 0.05. On the 1 h-equivalent Izhikevich families (10 min, 100 of 1,000,
        benchmarks/results/calgap.md) calling at lfdr ≤ 0.2 instead of 0.05 raised MCC
        from 0.87 / 0.91 to 0.92 / 0.94 (random / scale-free; 856 / 861 calls for 969 / 905
        true links), leaving 0.01 between the default and the best threshold on the ranking,
        and on the delayed LIF family (brunel_long) from 0.68 to 0.76.
    correction : {"lfdr", "bh", "bonferroni", "none"}, default "lfdr"
        Default multiple-comparison control: Efron's empirical-null local FDR
        (:mod:`spikewire.infer.fdr`; below 1,000 tested pairs BH, with a warning — from
        45 distinct tests on p-values referred to the bulk's empirical null, never
        lowered, where that null departs from N(0, 1):
        :func:`~spikewire.infer.estimate.adjust_pvalues`, benchmarks/results/smallnull.md).
        The
        p-values (Notes) are calibrated for unconnected units, but in a recurrent network
        nearly every pair is dependent through the network: on three 1,000-neuron LIF
        families (100 recorded, 10 min; benchmarks/results/calibration.md) Bonferroni called
        9,011 / 534 / 6,138 of 9,900 pairs (996 true links; MCC 0.09 / 0.68 / 0.22), BH
        9,858 / 1,106 / 9,470 (0.02 / 0.76 / 0.07), lfdr 46 / 465 / 35 (0.07 / 0.64 / 0.08).
        lfdr is the default because it never calls far more links than exist; none of the
        corrections closes the gap to the best threshold on the ranking (MCC 0.54 / 0.80 /
        0.58).
    n_jobs : int, default 1
        Threads over units (-1: all).
    ranking : {"tspe", "z"}, default "tspe"
        What ``scores`` (the ranking of the pairs) hold. ``"tspe"``: ``|TSPE|`` at the
        chosen delay, the paper's and elephant's ranking (AUCs equal elephant's).
        ``"z"``: ``max_d |z_d|``, the standardised response the p-values come from
        (Notes), which compares pairs by evidence rather than by normalised correlation.
        With the 25 ms scan it raised AUC on the random Izhikevich network from 0.997 to
        1.000 (1 h) and 0.985 to 0.994 (10 min); with the 30 ms default the two rankings
        are equal to ±0.001 AUC (0.996 / 0.996 at 10 min), so elephant's stays the
        default. The weights and delays are TSPE's in both modes.
    reverse_check : bool, default False
        Test the weaker direction of a pair again without its reverse direction's lags.
        A link ``i → j`` puts a peak at lag ``+δ`` of the pair (post ``j``, pre ``i``); the
        pair (post ``i``, pre ``j``) sees it at ``−δ``, and for ``δ`` up to the filters'
        padding ``P`` (8 bins at the defaults) it sits under the negative surrounds of the
        filters at small delays and gives that direction a large response of its own
        (p = 10⁻¹²–10⁻¹⁸⁵ for one-way point-process links of 2–5 ms,
        tests/infer/test_tspe_reverse.py). With the check, a pair whose reverse direction
        has a delay of at most ``P +`` :data:`REVERSE_REACH` bins (so its peak can reach
        the lags below 0) and p ≤ :data:`REVERSE_LEVEL` and a smaller p-value than its own,
        also when
        censored the same way (so its evidence is its own, not this direction's leaking
        into it), and whose own p ≤ :data:`REVERSE_CANDIDATE_P`, is tested again with its
        lags ``−P .. −1``
        censored: a peak (trough) of the reverse link there is cut down (filled up) to its
        mirror image at ``+k`` but not beyond the pair's mean count per lag at
        ``0 .. D + P − 1``, so symmetric structure (common input, up/down states) stays
        (same standard deviations and Šidák combination); its p-value becomes the larger
        of the two.
        ``diagnostics["reverse_checked"]`` marks those pairs and
        ``diagnostics["reverse_check_p"]`` holds the censored p-values. p-values only ever
        rise, so BH and Bonferroni call a subset of the links called without the check; the
        lfdr, fitted to all p-values, can call a few more or fewer. Off by default: on the
        Izhikevich families at 1 h it raises MCC at the default level from 0.945 / 0.899 to
        0.962 / 0.912 (random / scale-free) by removing 34 / 27 calls, but the weaker
        direction of a true reciprocal pair whose own evidence is weak (an inhibitory
        trough under a strong excitatory link back) can lose its call
        (benchmarks/results/tspe2.md).

    Notes
    -----
    TSPE has no significance test of its own; spikewire adds one. The edge filters sum to
    zero, so a flat cross-correlation gives a response of 0. For two independent stationary
    trains the unnormalised response at delay ``d``, ``R_d = Σ_k W_dk CC(k)``, has mean 0 and
    the variance given by Bartlett's formula for cross-products of the trains' binned
    autocovariances (for Poisson trains ``λ ‖W_d‖²``, ``λ`` the mean count per lag; bursts
    and refractoriness change it, by a factor 0.3 on the bursting null family), scaled by
    the pair's coincidence excess ``λ / (n_bins μ_post μ_pre)`` so that shared slow
    modulation, which raises the coincidence rate, is accounted for (``_standardise``).
    The pair's statistic is ``max_d |z_d|`` with ``z_d = R_d / sd_d``; its p-value is
    Šidák's over an *effective* number of delays, found by simulating the maximum of the
    correlated Gaussian responses (the filters overlap, so neighbouring delays are
    correlated: with the default bank, 30 delays act like 22.6 independent tests, 25 like 18.7,
    at the 10⁻³ level).

    Pairs with fewer than :data:`LAMBDA_MIN` expected coincidences per lag bin (low-rate
    units, short recordings) are too discrete for the normal approximation (its
    false-positive rate at α = 0.05 was 0.08–0.18 there). They get a *conditional* test
    instead: given the pair's ``N`` coincidences in the bank's ``D + 2P`` lags, the null
    puts them independently and uniformly on those lags (exact for independent Poisson
    trains, and for any coincidence rate that is flat over the window, such as slow
    co-modulation; bursts that put several coincidences on neighbouring lags would make
    it anticonservative, but bursting units are rarely this sparse). The statistic is
    ``S = max_d |R_d| / ‖W_d‖``; its null distribution for every ``N`` is a table of
    :data:`N_NULL_DRAWS` Monte Carlo draws per count, simulated once per filter bank with a
    fixed seed (about 1 s), and the p-value is ``(1 + #{S_null ≥ S}) / (1 + draws)``; where
    no draw reaches ``S``, a Chernoff bound (union over delays and signs) gives the smaller
    p-values, so strong sparse links can still pass a family-wise level.
    ``diagnostics["conditional_test"]`` marks these pairs (a warning says how long a
    recording the normal test on every pair would need). The conditional p-values are
    discrete for small ``N`` (a pair with no coincidence has p = 1), so they are valid but
    not exactly uniform. This replaced a conservative Chebyshev bound: on the heterogeneous
    null family (rates 0.1–20 Hz, 40 units, 5 min, seeds 0–2) the false-positive rate at
    α = 0.05 went from 0.021–0.025 to 0.042–0.048 (benchmarks/results/izh.md).
    ``diagnostics["calibrated"]`` marks every tested pair (all have a calibrated test
    now). On the null families of :mod:`spikewire.infer._null_families` (40 units, 5 min)
    the false-positive rate at α = 0.05 is within [0.5α, 1.5α]
    (tests/infer/test_calibration.py, tests/infer/test_tspe_sparse.py).

    ``scores`` hold ``max_d |z_d|`` (``ranking="z"``) or ``|TSPE|`` at the chosen delay
    (``ranking="tspe"``, elephant's ranking); ``diagnostics["max_abs_z"]`` always holds
    ``max_d |z_d|``.

    References
    ----------
    De Blasi S, Ciba M, Bahmer A, Thielemann C (2019) Total spiking probability edges: a
    cross-correlation based method for effective connectivity estimation of cortical
    spiking neurons. J Neurosci Methods 312:169–181.
    """

    name = "tspe"
    reference = "De Blasi et al. 2019, J Neurosci Methods 312:169"

    bin_settings = {"bin_width": 1e-3}
    settings_constraints = {
        "bin_width": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "max_delay": [Interval("real", 0, None, closed="neither", unit="s")],
        "surrounding_window_sizes": [RealSequence(1, None, unit="bins")],
        "observed_window_sizes": [RealSequence(1, None, unit="bins")],
        "crossover_window_sizes": [RealSequence(0, None, unit="bins")],
        "min_spikes": [Interval("int", 1, None)],
        "autocorr_lag": [Interval("int", 1, None)],
        "alpha": [Interval("real", 0, 1, closed="neither"), None],
        "correction": [Options(("lfdr", "bh", "bonferroni", "none"))],
        "n_jobs": [Interval("int", -1, -1), Interval("int", 1, None), None],
        "ranking": [Options(("z", "tspe"))],
        "reverse_check": [Boolean()],
    }

    def __init__(self, bin_width: float | None = None, max_delay: float = 0.03,
                 surrounding_window_sizes: tuple[int, ...] = (3, 4, 5, 6, 7, 8),
                 observed_window_sizes: tuple[int, ...] = (2, 3, 4, 5, 6),
                 crossover_window_sizes: tuple[int, ...] = (0,), min_spikes: int = 20,
                 autocorr_lag: int = 60, alpha: float | None = None, correction: str = "lfdr",
                 n_jobs: int | None = 1, ranking: str = "tspe", reverse_check: bool = False):
        self.bin_width = bin_width
        self.max_delay = max_delay
        self.surrounding_window_sizes = surrounding_window_sizes
        self.observed_window_sizes = observed_window_sizes
        self.crossover_window_sizes = crossover_window_sizes
        self.min_spikes = min_spikes
        self.autocorr_lag = autocorr_lag
        self.alpha = alpha
        self.correction = correction
        self.n_jobs = n_jobs
        self.ranking = ranking
        self.reverse_check = reverse_check

    def _check_combination(self, bins: dict) -> None:
        for name in ("surrounding_window_sizes", "observed_window_sizes",
                     "crossover_window_sizes"):
            vals = getattr(self, name)
            if any(float(v) != int(v) for v in vals):
                raise ValueError(f"{name} must hold whole numbers of bins, got {vals!r}")
        if bins.get("bin_width") is not None:
            self._geometry(float(bins["bin_width"]))

    def _geometry(self, bw: float):
        """Number of delay bins and the three window-size tuples for bin width ``bw`` (s)."""
        md = float(self.max_delay)
        n_delay = int(round(md / bw))
        if n_delay < 2:
            raise ValueError(f"max_delay ({md * 1e3:g} ms) must span at least 2 bins of "
                             f"{bw * 1e3:g} ms")
        sizes = [tuple(int(v) for v in getattr(self, name))
                 for name in ("surrounding_window_sizes", "observed_window_sizes",
                              "crossover_window_sizes")]
        return n_delay, sizes

    def _fit(self, ctx: FitContext) -> Estimate:
        """Compute TSPE for every requested pair; returns an :class:`Estimate`."""
        t0 = ctx.t0
        bw = ctx.settings["bin_width"]
        D, (sur, obs, cro) = self._geometry(bw)
        spikes = ctx.data
        W, P = tspe_filter_matrix(D, sur, obs, cro)
        kmax = D + P - 1
        if spikes.duration < 2 * (kmax + 1) * bw:
            raise ValueError(f"the recording ({spikes.duration:g} s) is shorter than the lag "
                             f"range ±{(kmax + 1) * bw * 1e3:g} ms TSPE needs")
        idx, indptr, n_bins = binned_indices(spikes, bw)
        n = spikes.n_units
        counts = ctx.counts
        unit_ok = ctx.unit_ok
        want = ctx.want
        # the lag range -kmax..kmax covers -P..D+P-1; W acts on lags -P.. (offset kmax - P)
        nk = 2 * kmax + 1
        base_w = np.zeros((D, nk))
        base_w[:, kmax - P:kmax - P + W.shape[1]] = W
        mean_w = np.zeros((1, nk))
        mean_w[0, kmax - P:kmax - P + W.shape[1]] = 1.0 / W.shape[1]
        base_all = np.vstack([base_w, mean_w])
        win_idx = np.r_[np.arange(D), D - 1] + kmax          # counts at delays (diagnostic)
        anti_idx = kmax - np.r_[np.arange(D), D - 1]
        m = D + 1
        win_counts = np.zeros((n, n, m), dtype=np.int64)
        resp = np.zeros((n, n, m))
        anti_counts = np.zeros((n, n, m), dtype=np.int64)
        binned = SpikeTrains(idx, indptr, spikes.units, 0.0, float(n_bins))
        either = want | want.T
        count = np.triu(either.T, k=1)
        args = _prepare(binned, count.T, (nk + 2) * 1.0)
        with numba_threads(self.n_jobs) as n_threads:
            K.ccg_window_stats(*args, 1.0, kmax, np.ascontiguousarray(want.T), win_idx,
                               anti_idx, base_all, win_counts, resp, anti_counts, False,
                               np.zeros((1, 1, 1), dtype=np.int64))
        t_count = time.perf_counter() - t0
        del win_counts, anti_counts
        raw = resp[:, :, :D]                     # unnormalised responses W @ CC
        lam = resp[:, :, D]                      # mean count per lag
        std = _binned_std(idx, indptr, n_bins)
        norm = np.outer(std, std) * n_bins
        with np.errstate(divide="ignore", invalid="ignore"):
            tspe = np.where(norm[..., None] > 0, raw / norm[..., None], 0.0)
        best = np.argmax(np.abs(tspe), axis=2)
        value = np.take_along_axis(tspe, best[..., None], 2)[..., 0]
        z, sd_ratio = _standardise(raw, lam, W, idx, indptr, n_bins, self.autocorr_lag)
        zmax = np.abs(z).max(axis=2)
        m_eff = _effective_tests((D, sur, obs, cro))
        p = _sidak_pvalues(zmax, m_eff)
        sparse = lam < LAMBDA_MIN
        rev_mask = np.zeros((n, n), dtype=bool)
        rev_p = np.full((n, n), np.nan)
        if self.reverse_check:
            sel = _reverse_candidates(p, want & want.T & ~sparse & ~sparse.T)
            if sel.size:
                ii, jj = sel[:, 0], sel[:, 1]
                rp = _reverse_check_pvalues(sel, raw, z, W, P, idx, indptr, m_eff,
                                            np.sign(value[jj, ii]))
                # the stronger direction censored the same way: only if its evidence is
                # its own (not this direction's peak or trough leaking into it) is it the
                # link that explains this direction's lags
                rp_strong = _reverse_check_pvalues(sel[:, ::-1], raw, z, W, P, idx, indptr,
                                                   m_eff, np.sign(value[ii, jj]))
                # ... and only if its peak (trough) can reach this direction's lags: its
                # delay within the padding plus REVERSE_REACH bins of width
                use = ((np.maximum(p[jj, ii], rp_strong) <= REVERSE_LEVEL)
                       & (best[jj, ii] <= P + REVERSE_REACH))
                ii, jj, rp = ii[use], jj[use], rp[use]
                rev_mask[ii, jj] = True
                rev_p[ii, jj] = rp
                p[ii, jj] = np.maximum(p[ii, jj], rp)
        del z
        # too few coincidences for the normal approximation: the conditional test given the
        # pair's coincidence count in the bank's lag window (exact under uniform lags)
        low = want & sparse
        if low.any():
            n_coinc = np.rint(lam[low] * W.shape[1]).astype(np.int64)
            p[low] = _conditional_pvalues(raw[low], n_coinc, W, (D, sur, obs, cro))
            need = spikes.duration * LAMBDA_MIN / max(float(lam[low].min()), 1e-12)
            warnings.warn(f"tspe: {int(low.sum())} of {int(want.sum())} pair(s) have fewer than "
                          f"{LAMBDA_MIN:g} expected coincidence per {bw * 1e3:g} ms lag bin, too "
                          "few for the normal test; they get the conditional test of their "
                          "coincidence count, which has little power with so few coincidences. "
                          f"The normal test on every pair needs about {need:.3g} s of data "
                          f"(this recording: {spikes.duration:.3g} s)", stacklevel=2)
        weights = np.where(want, value, 0.0)
        delays = np.where(want, best * bw, np.nan)
        pvalues = np.where(want, p, np.nan)
        scores = np.where(want, zmax if self.ranking == "z" else np.abs(value), 0.0)
        diagnostics = {
            "skipped_units": spikes.units[~unit_ok].tolist(),
            "n_spikes": counts,
            "n_bins": n_bins,
            "effective_delays": m_eff,
            "mean_count_per_lag": lam,
            "max_abs_z": np.where(want, zmax, 0.0),
            "calibrated": want.copy(),
            "conditional_test": low,
            "reverse_checked": rev_mask,
            "reverse_check_p": rev_p,
            "variance_ratio_median": sd_ratio,
            "n_threads": n_threads,
            "time_counting_s": t_count,
            "time_total_s": time.perf_counter() - t0,
            "weight_definition": "signed TSPE at the delay of largest |TSPE| (De Blasi 2019)",
        }
        return ctx.estimate(self, weights=weights, weight_unit="TSPE (normalised CC)",
                            pvalues=pvalues, scores=scores, delays=delays,
                            alpha=self._default_alpha(pvalues[want]),
                            diagnostics=diagnostics)

    def _default_alpha(self, tested_p: np.ndarray) -> float:
        """``alpha``, or for ``None`` Efron's lfdr level where the local FDR applies."""
        if self.alpha is not None:
            return float(self.alpha)
        if self.correction == "lfdr" and lfdr_fallback_reason(tested_p) is None:
            return LFDR_LEVEL
        return 0.05
