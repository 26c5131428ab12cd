"""Conditional Granger causality / Gaussian transfer entropy on binned spike counts."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import stats
from scipy.linalg import cho_factor, cho_solve
from threadpoolctl import threadpool_limits

from spikewire.core.seeds import rng as seeded_rng
from spikewire.infer._params import Interval, Options, SeedLike
from spikewire.infer._signals import BinnedSignals
from spikewire.infer._surrogates import (
    DENSE_SHARE,
    LAMBDA_MIN,
    MIN_USABLE,
    auto_max_shift,
    conservative_sparse,
    draw_shifts,
    shift_bins,
    shift_columns,
    slow_decay,
    surrogate_max_test,
    surrogate_test,
    warn_if_short,
)
from spikewire.infer.base import FitContext, InferenceMethod, register
from spikewire.infer.estimate import Estimate

__all__ = ["GrangerCausality", "lagged_design"]


def lagged_design(X: sp.csr_array, n_lags: int) -> tuple[sp.csr_array, sp.csr_array]:
    """Targets ``Y = x_t`` and lagged regressors ``Z = [x_{t−1}, …, x_{t−L}]``.

    Parameters
    ----------
    X : sparse array, shape (T, m)
        Counts, time bins in rows.
    n_lags : int
        Number of lags L.

    Returns
    -------
    Y : sparse (T − L, m)
    Z : sparse (T − L, m·L); column ``l·m + j`` is unit ``j`` at lag ``l + 1``.
    """
    T = X.shape[0]
    Y = X[n_lags:]
    Z = sp.hstack([X[n_lags - l:T - l] for l in range(1, n_lags + 1)], format="csr")
    return Y, Z


def _full_fit(X: sp.csr_array | np.ndarray, L: int):
    """OLS of every unit's count on all units' counts at lags 1..L (with intercept).

    ``X`` is sparse (spike counts) or a dense array (continuous signals, where sparse
    products cost ~10× dense BLAS: the demo's smoothed-rate variant). Returns the inverse
    centred Gram matrix ``V``, the centred cross products ``C``, the coefficients
    ``β = V C`` (mL, m) and the residual sums of squares (m,).
    """
    if isinstance(X, np.ndarray):
        T0, m = X.shape
        Y = X[L:]
        lagged = [X[L - l:T0 - l] for l in range(1, L + 1)]     # views, no (T, mL) copy
        T = Y.shape[0]
        mz = np.concatenate([b.sum(axis=0) for b in lagged]) / T
        my = Y.sum(axis=0) / T
        G = np.empty((m * L, m * L))
        for a in range(L):
            for b in range(a, L):
                blk = lagged[a].T @ lagged[b]
                G[a * m:(a + 1) * m, b * m:(b + 1) * m] = blk
                G[b * m:(b + 1) * m, a * m:(a + 1) * m] = blk.T
        C = np.concatenate([b.T @ Y for b in lagged], axis=0)
        yy = np.einsum("ti,ti->i", Y, Y)
    else:
        Y, Z = lagged_design(X, L)
        T = Y.shape[0]
        mz = np.asarray(Z.sum(axis=0)).ravel() / T
        my = np.asarray(Y.sum(axis=0)).ravel() / T
        G = (Z.T @ Z).toarray()
        C = (Z.T @ Y).toarray()
        yy = np.asarray(Y.multiply(Y).sum(axis=0)).ravel()
    G = G - T * np.outer(mz, mz)                              # centred Zᵀ Z
    C = C - T * np.outer(mz, my)                              # centred Zᵀ Y
    yy = yy - T * my ** 2
    try:
        V = np.linalg.inv(G)
    except np.linalg.LinAlgError as err:
        raise ValueError("the lagged design is singular (a unit is silent or exactly "
                         "repeats another); drop such units or change bin_width") from err
    beta = V @ C
    rss = np.maximum(yy - np.einsum("ki,ki->i", C, beta), 1e-12)
    return V, C, beta, rss


def _circular_lag_sum(X: sp.csr_array | np.ndarray, L: int) -> np.ndarray:
    """``Σ_l β`` (post, pre) of the full model fitted to ``X`` taken as circular
    (:func:`_circular_beta` summed over the lags)."""
    return _circular_beta(X, L).sum(axis=0)


def _circular_beta(X: sp.csr_array | np.ndarray, L: int) -> np.ndarray:
    """``β`` per lag, shape (L, post, pre), of the full model fitted to ``X`` taken as circular.

    The centred Gram matrix of the lagged design is block Toeplitz in the lag-``d``
    cross-products ``A_d = Σ_t x(t) x(t − d)ᵀ`` (exactly so for a circular series; the
    design of :func:`_full_fit` differs by its first ``L`` rows, a relative change of order
    ``L / T``), so ``L + 1`` products replace the ``(L + 1)²`` blocks of ``Zᵀ[Z, Y]``.
    """
    T, m = X.shape
    mu = np.asarray(X.sum(axis=0)).ravel() / T
    if isinstance(X, np.ndarray):
        # Σ_t x(t) x(t − d)ᵀ of the circular series, without a rolled copy
        A = [(X[d:].T @ X[:T - d] + X[:d].T @ X[T - d:]) - T * np.outer(mu, mu)
             for d in range(L + 1)]
    else:
        Xt = X.T.tocsr()
        A = [(Xt @ shift_columns(X, np.full(m, d))).toarray() - T * np.outer(mu, mu)
             for d in range(L + 1)]
    G = np.empty((m * L, m * L))
    for l1 in range(L):
        for l2 in range(L):
            d = l2 - l1
            G[l1 * m:(l1 + 1) * m, l2 * m:(l2 + 1) * m] = A[d] if d >= 0 else A[-d].T
    C = np.concatenate([A[l].T for l in range(1, L + 1)], axis=0)     # (mL, m targets)
    try:       # G is a centred Gram matrix: Cholesky, half the work of an LU solve
        beta = cho_solve(cho_factor(G, check_finite=False), C, check_finite=False)
    except np.linalg.LinAlgError:                     # not numerically positive definite
        beta = np.linalg.solve(G, C)
    return _per_lag(beta, m, L)


def _embed(block: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """An (m, m) block of the analysed units placed in an (n, n) array (NaN elsewhere)."""
    out = np.full((n, n), np.nan)
    out[np.ix_(idx, idx)] = block
    return out


def _lag_sum(beta: np.ndarray, m: int, L: int) -> np.ndarray:
    """``Σ_l β`` per (post, pre): the signed weight, shape (m, m)."""
    return beta.reshape(L, m, m).sum(axis=0).T


def _per_lag(beta: np.ndarray, m: int, L: int) -> np.ndarray:
    """``β`` (mL, m targets) as (L, post, pre)."""
    return beta.reshape(L, m, m).transpose(0, 2, 1)


def _window_sums(b: np.ndarray, width: int) -> np.ndarray:
    """Sums of ``b`` (..., L, m, m) over the ``L − width + 1`` sliding windows of ``width``
    consecutive lags along axis −3: entry ``a`` sums lags ``a + 1 … a + width``."""
    c = np.cumsum(b, axis=-3)
    zero = np.zeros_like(c[..., :1, :, :])
    c = np.concatenate([zero, c], axis=-3)
    return c[..., width:, :, :] - c[..., :-width, :, :]


#: Longest delay (s) that ``te``'s automatic ``n_lags`` scans (issue 12: published
#: benchmark networks have excitatory delays of 1–20 ms).
MAX_DELAY = 0.025


@register
class GrangerCausality(InferenceMethod):
    """Conditional linear Granger causality on binned counts, tested per pair (signed).

    Every unit's count at ``t`` is regressed (ordinary least squares with intercept) on the
    counts of all units at lags ``1..n_lags`` (the full, multivariate model: it conditions on
    every other observed unit and on the target's own history). For a pair (post ``i``, pre
    ``j``) the restricted model drops ``j``'s ``n_lags`` regressors; the increase of the
    residual sum of squares follows exactly from the full fit by the partitioned-inverse
    identity ``ΔRSS = β_Jᵀ [(ZᵀZ)⁻¹_JJ]⁻¹ β_J``, so all pairs cost one regression. The test
    is ``F = (ΔRSS / L) / (RSS / (T' − mL − 1))`` with ``(L, T' − mL − 1)`` degrees of
    freedom. The sign of the link is the sign of ``Σ_l β_{i,j,l}``, which is also the weight
    (extra post spikes per bin per pre spike, summed over lags). For Gaussian variables
    Granger causality equals transfer entropy (Barnett, Barrett & Seth 2009); the Gaussian
    transfer entropy ``½ ln(RSS_restricted / RSS_full)`` (nats per bin) is kept in
    ``diagnostics["transfer_entropy"]``.

    Parameters
    ----------
    bin_width : float or None, default None (automatic)
        Bin width in s (the lags cover ``n_lags · bin_width``; choose it to span the
        synaptic delays). Automatic: 2 ms, but never finer than the recording's time
        resolution and a whole multiple of it. A bin finer than the data is refused.
    n_lags : int or None, default None (automatic)
        Number of lags L of the regression. Automatic: on spike trains enough bins to
        reach 25 ms (:data:`MAX_DELAY`; 13 lags of 2 ms), and at least ``lag_window``; on
        continuous signals (smoothed rates, calcium: their timing is blurred beyond the
        delays) ``lag_window`` (one window, no delay scan).
    lag_window : int, default 3
        Lags per tested window (see "Delays" below); at most ``n_lags``.
    min_spikes : int, default 20
        Units with fewer spikes are left out (status 3).
    alpha : float, default 0.05
    correction : {"bonferroni", "bh", "lfdr", "none"}, default "bonferroni"
        Default multiple-comparison control, chosen by measurement with the shift null
        (three 1,000-neuron networks, 100 recorded, 10 min; benchmarks/results/nulls.md):
        MCC with Bonferroni 0.55 / 0.54 / 0.24 (1,121 / 895 / 97 links called of
        961 / 961 / 969) on the LIF brunel / co-modulated / Izhikevich random networks,
        against 0.51 / 0.50 / 0.24 with Efron's local FDR (318 / 385 / 97), 0.39 / 0.37 /
        0.20 with BH and 0.33 / 0.31 / 0.11 per pair. On the five null families (50 units,
        300 s, 2,450 pairs) it called 0–7 pairs. (Measured with the former single window
        of 3 lags; the 25 ms scan's figures: benchmarks/results/delays25.md.) With
        ``null="analytic"`` use ``"lfdr"``: the analytic p-values are not calibrated
        under shared input and Bonferroni then calls 2,400–3,900 of 9,900 pairs on these
        networks.

    null : {"shift", "analytic"}, default "shift"
        ``"analytic"``: the F test above (exact for independent Poisson trains). Its null
        assumes independent stationary trains; shared slow input breaks it
        (false-positive rate 0.51 / 0.63 at α = 0.05 on the co-modulated / up-down null
        families, 50 units, 300 s). ``"shift"``: the signed weight of every pair and
        window (``Σ_l β_{i,j,l}`` over the window's lags) is compared with its values on
        shift surrogates of the counts
        (:mod:`spikewire.infer._surrogates`: every unit's series shifted by its own
        multiple of ``min_shift`` up to ``±max_shift``, keeping each unit's bursts and the
        slow shared input and moving the fine timing between units), a two-sided z test
        with the surrogates' mean and a pooled spread; the largest ``|z|`` over the windows
        is referred to the surrogates' own maximum (see "Delays"): false-positive rate
        0.038–0.056 on all five null families (50 units, 300 s; tests/infer/
        test_calibration.py), 0.031–0.064 over 15 fits of 40 units (three seeds), with one
        default call in those 15 fits; 3.3–4.2× the former single window's time (100 units
        × 10 min; benchmarks/results/delays25.md). With one window (``n_lags =
        lag_window``, the former default of 3) the window's z is referred to the
        surrogates' own z-values pooled over the pairs (≈ 11 per pair), scale fixed at the
        normal 5 % point, with a fitted Student t tail beyond their resolution
        (:class:`~spikewire.infer._surrogates.TailReference`;
        ``diagnostics["null_reference"]``; below 1,000 draws, about 11 units, N(0, 1)):
        under N(0, 1) the far tail was too light for the Bonferroni default (false calls
        in 5 of 15 null fits, 40 units, 300 s; 1 of 15 with this reference;
        benchmarks/results/ztail.md). The F test is omnibus over
        the lags; the shift test is directional (the summed weight). Pairs expecting fewer
        than one chance coincidence in the tested window get a conservative Chebyshev
        p-value, with the union bound over the windows (``diagnostics["calibrated"]`` is
        False for them).
    n_surrogates : int, default 20
        Shift surrogates drawn (one full regression each); a pair uses those whose relative
        shift is long enough (below) and new (about 9 of 20 by default).
    max_shift : float or None, default None (automatic)
        Largest shift of a unit in s. Automatic: 100 ms, at least 10 bins and at least five
        shift steps (140 ms with the default 13 lags of 2 ms); refused if shorter than the
        data's time resolution or than twice the shortest usable relative shift.
    min_shift : float, default 0.02
        Step of the shifts in s, at least ``n_lags + 1`` bins (28 ms by default). Relative
        shifts shorter than ``2 · n_lags + 1`` bins are not used: a link ``j → i`` at lag
        ``d`` appears in the reverse pair's surrogate at lag ``r − d``, inside the scanned
        lags for ``r ≤ d + n_lags`` (measured: a 17 ms link made its reverse pair
        significantly negative with one-step shifts). Chosen against the synaptic window:
        a postsynaptic effect lasts its delay plus about a membrane time constant
        (10–20 ms), and a shorter shift would keep part of it in the null.
    seed : int or SeedSequence, default 0
        Seed of the surrogates' shifts.

    Delays (issue 12: scan delays up to 25 ms and report the estimated one;
    benchmarks/results/delays25.md). On 100 of 1,000 neurons, 10 min, AUC / MCC against
    the former 3 lags: 0.927 / 0.551 (0.622 / 0.245) on a LIF network with 1–20 ms
    delays, 0.969 / 0.734 (0.632 / 0.200) on an Izhikevich network with 1–20 ms E delays,
    0.909 / 0.568 (0.914 / 0.559) with 1.5 ms delays. The
    regression conditions on all lags ``1..L`` (26 ms by default), but a link is tested on
    the summed weight over a short window of ``lag_window`` consecutive lags (3 lags of
    2 ms: a 1–2 ms synapse's effect fits in it; summing over all 13 lags would add the
    other lags' noise and dilute it by about 2× in z), the window sliding over the
    ``W = L − lag_window + 1`` positions. The pair's statistic is the largest ``|z|`` over
    the windows, and the scan's multiple comparison is paid by referring it to the same
    maximum over the shift surrogates (:func:`~spikewire.infer._surrogates.
    surrogate_max_test`; ``diagnostics["null_reference"]``). ``delays[i, j]`` is
    ``l · bin_width`` for the lag ``l`` of the best window whose coefficient is largest in
    the sign of the window's sum (a spike of ``j`` at delay ``d`` before one of ``i`` falls
    ``⌊d / bin_width⌋`` or one more bins back, on average ``d / bin_width``, so the
    estimate is within about a bin); ``weights[i, j]`` is that window's summed weight;
    NaN delays where the pair was not tested. With ``null="analytic"`` the p-value is the
    F test over all ``L`` lags (an omnibus test, which pays for the lags through its ``L``
    degrees of freedom), and the window is the one with the largest Wald ``|z|`` of its
    sum. Lag 0 is not a regressor: a delay below one bin is seen only where the spikes
    fall in consecutive bins.

    Notes
    -----
    OLS on counts ignores their Poisson variance; the F test is asymptotically valid under
    the null of no influence when the residual variance does not depend on the regressors
    (independent Poisson trains satisfy this). Conditioning on all units removes indirect
    links through observed units but not through hidden ones.

    References
    ----------
    Granger CWJ (1969) Investigating causal relations by econometric models and cross-spectral
    methods. Econometrica 37:424–438. Barnett L, Barrett AB, Seth AK (2009) Granger causality
    and transfer entropy are equivalent for Gaussian variables. Phys Rev Lett 103:238701.
    """

    name = "te"
    input_kinds = frozenset({"spikes", "rate"})
    reference = "Granger 1969, Econometrica 37:424; Barnett, Barrett & Seth 2009, PRL 103:238701"

    bin_settings = {"bin_width": 2e-3}
    settings_constraints = {
        "bin_width": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "n_lags": [Interval("int", 1, None), None],
        "lag_window": [Interval("int", 1, None)],
        "min_spikes": [Interval("int", 1, None)],
        "alpha": [Interval("real", 0, 1, closed="neither")],
        "correction": [Options(("bh", "bonferroni", "none", "lfdr"))],
        "null": [Options(("shift", "analytic"))],
        "n_surrogates": [Interval("int", MIN_USABLE + 1, None)],
        "max_shift": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "min_shift": [Interval("real", 0, None, closed="left", unit="s")],
        "seed": [SeedLike()],
    }

    def __init__(self, bin_width: float | None = None, n_lags: int | None = None,
                 lag_window: int = 3, min_spikes: int = 20,
                 alpha: float = 0.05, correction: str = "bonferroni", null: str = "shift",
                 n_surrogates: int = 20, max_shift: float | None = None,
                 min_shift: float = 0.02, seed: int = 0):
        self.bin_width = bin_width
        self.n_lags = n_lags
        self.lag_window = lag_window
        self.min_spikes = min_spikes
        self.alpha = alpha
        self.correction = correction
        self.null = null
        self.n_surrogates = n_surrogates
        self.max_shift = max_shift
        self.min_shift = min_shift
        self.seed = seed

    def _fit(self, ctx: FitContext) -> Estimate:
        """F test of every requested pair (post × pre)."""
        bw = ctx.settings["bin_width"]
        wl = int(self.lag_window)
        if self.n_lags is None:
            # the delay scan needs spike timing: continuous signals (smoothed rates,
            # deconvolved calcium) are blurred over tens of ms, so there it would only add
            # cost (13 instead of 3 lags is ~19x the dense Gram's work: 234 s instead of
            # 12 s per fit of the demo's smoothed-rate variant) and one window is kept
            L = (max(int(np.ceil(MAX_DELAY / bw - 1e-9)), wl)
                 if not isinstance(ctx.data, BinnedSignals) else wl)
        else:
            L = int(self.n_lags)
            if wl > L:
                raise ValueError(f"te: lag_window ({wl}) must not exceed n_lags ({L}); use a "
                                 "shorter lag_window or more lags")
        n_win = L - wl + 1
        # spike times, or continuous signals (smoothed rates) averaged into bins
        spikes = ctx.data
        n = spikes.n_units
        ok = ctx.unit_ok
        status = ctx.pair_status
        idx = np.flatnonzero(ok)
        m = idx.size
        warn_if_short(self.name, ctx.counts, ctx.want, float(spikes.duration), wl * bw,
                      float(self.alpha), self.correction)
        weights = np.zeros((n, n))
        delays = np.full((n, n), np.nan)
        pvals = np.full((n, n), np.nan)
        te = np.zeros((n, n))
        diagnostics: dict = {}
        shift = self.null == "shift"
        # relative shifts shorter than the synaptic window would keep the interaction: the
        # test's own window (lags 1..L and the synchronous bin) and ``min_shift`` (a
        # postsynaptic effect outlasts its delay by about a membrane time constant)
        step = max(L + 1, int(np.ceil(float(self.min_shift) / bw - 1e-9)))
        # ... and a link j → i at lag d appears in the surrogates of the reverse pair
        # (i → j) at lag r − d: it stays out of lags 1..L only for |r| ≥ 2L + 1 (measured:
        # a 17 ms link with relative shifts of L + 1 bins made its reverse pair
        # significantly negative)
        min_sep = max(2 * L + 1, step)
        if shift:
            max_shift = (max(auto_max_shift(None, bw), 5 * step * bw)
                         if self.max_shift is None else float(self.max_shift))
            D = shift_bins(max_shift, bw, min_sep, ctx.time_resolution, "te")
        diagnostics["null"] = self.null
        if m >= 2:
            X = spikes.select(idx).binned(bw, sparse=True).T.tocsr().astype(np.float64)
            dense = X.nnz > DENSE_SHARE * X.shape[0] * X.shape[1]
            if dense:
                X = X.toarray(order="F")      # continuous signals: dense BLAS products
            diagnostics["dense"] = bool(dense)
            T = X.shape[0] - L
            dof = T - m * L - 1
            if dof < 10:
                raise ValueError(f"the recording ({spikes.duration:g} s = {X.shape[0]} bins of "
                                 f"{bw * 1e3:g} ms) is too short for {m} units × {L} lags; "
                                 "record longer, use fewer lags or larger bins")
            V, C, beta, rss = _full_fit(X, L)
            dRSS = np.zeros((m, m))                                 # [post, pre]
            for j in range(m):
                J = j + m * np.arange(L)
                Mj = np.linalg.inv(V[np.ix_(J, J)])
                bJ = beta[J]                                        # (L, m targets)
                dRSS[:, j] = np.einsum("li,lk,ki->i", bJ, Mj, bJ)
            blag = _per_lag(beta, m, L)                             # (L, post, pre)
            bwin = _window_sums(blag, wl)                           # (W, post, pre)
            sub = np.ix_(idx, idx)
            if shift:
                rng = seeded_rng(self.seed, "method")
                K = int(self.n_surrogates)
                shifts = draw_shifts(rng, m, D, K, step=step)
                sur = np.empty((K, n_win, m, m))
                # one BLAS thread: these solves are small, and a busy thread pool on a
                # loaded machine made each one 100× slower than its single-thread time
                with threadpool_limits(1):
                    for k in range(K):
                        sur[k] = _window_sums(_circular_beta(shift_columns(X, shifts[k]), L),
                                              wl)
                steps = np.arange(1, 2 * (D // step) + 1) * step
                phi = slow_decay(X, steps)
                c = np.asarray(ctx.counts, dtype=float)[idx]
                lam = np.outer(c, c) * wl / X.shape[0]
                decay = lambda r: np.interp(r, steps, phi)          # noqa: E731
                if n_win == 1:
                    # one window (the former default): its z referred to the surrogates' z
                    p, zstat, _, _, k_use, ref = surrogate_test(
                        bwin[0], sur[:, 0], shifts, min_sep, decay=decay,
                        pool=lam >= LAMBDA_MIN)
                    best = np.zeros((m, m), dtype=int)
                else:
                    p, zstat, best, k_use, ref = surrogate_max_test(
                        bwin, sur, shifts, min_sep, decay=decay, pool=lam >= LAMBDA_MIN)
                # Chebyshev for sparse pairs, with the union bound over the windows
                p, calibrated = conservative_sparse(p, zstat / np.sqrt(n_win), lam)
                pvals[sub] = p
                diagnostics["calibrated"] = _embed(calibrated, idx, n) == 1
                diagnostics.update({k: _embed(v, idx, n) for k, v in
                                    (("null_z", zstat), ("n_surrogates_used", k_use))})
                diagnostics["max_shift_bins"] = D
                diagnostics["null_reference"] = ref
            else:
                F = (np.maximum(dRSS, 0) / L) / (rss[:, None] / dof)
                pvals[sub] = stats.f.sf(F, L, dof)
                # Wald z of every window's sum: var(c_wᵀ β_J) = c_wᵀ V_JJ c_w · σ²
                zw = np.empty((n_win, m, m))
                Vd = np.diagonal(V).reshape(L, m)                   # V_(l,j),(l,j)
                for a in range(n_win):
                    var = np.zeros(m)
                    for l1 in range(a, a + wl):
                        var += Vd[l1]
                        for l2 in range(l1 + 1, a + wl):
                            var += 2 * V[l1 * m + np.arange(m), l2 * m + np.arange(m)]
                    zw[a] = bwin[a] / np.sqrt(np.maximum(var[None, :] * (rss[:, None] / dof),
                                                         1e-300))
                best = np.argmax(np.abs(zw), axis=0)
            wsum = np.take_along_axis(bwin, best[None], axis=0)[0]
            weights[sub] = wsum
            # the delay: the lag of the window's largest coefficient in the sign of its sum
            inwin = np.stack([np.take_along_axis(blag, (best + q)[None], axis=0)[0]
                              for q in range(wl)])                  # (wl, post, pre)
            q_best = np.where(wsum < 0, np.argmin(inwin, axis=0), np.argmax(inwin, axis=0))
            delays[sub] = (best + q_best + 1) * bw
            diagnostics.update({"n_lags": L, "lag_window": wl, "n_windows": n_win})
            te[sub] = 0.5 * np.log1p(np.maximum(dRSS, 0) / rss[:, None])
            diagnostics.update({"n_bins": int(X.shape[0]), "dof": int(dof),
                                "residual_variance": rss / T})
        # pairs without enough usable surrogates (a handful of units only) are undecided
        status = np.where((status == 0) & np.isnan(pvals), np.int8(4), status).astype(np.int8)
        ctx.pair_status = status
        tested = status == 0
        weights = np.where(tested, weights, 0.0)
        delays = np.where(tested, delays, np.nan)
        pvals = np.where(tested, pvals, np.nan)
        scores = np.where(tested & np.isfinite(pvals),
                          -np.log10(np.maximum(np.nan_to_num(pvals, nan=1.0), 1e-300)), 0.0)
        diagnostics["transfer_entropy"] = np.where(tested, te, 0.0)
        return ctx.estimate(self, weights=weights,
                            weight_unit="post spikes per bin per pre spike (sum over the "
                                        "best window's lags)",
                            pvalues=pvals, scores=scores, delays=delays,
                            diagnostics=diagnostics)
