"""Conditional Granger causality / Gaussian transfer entropy on binned spike counts."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import stats
from threadpoolctl import threadpool_limits

from spikewire.core.seeds import rng as seeded_rng
from spikewire.infer._params import Interval, Options, SeedLike
from spikewire.infer._surrogates import (
    LAMBDA_MIN,
    MIN_USABLE,
    auto_max_shift,
    conservative_sparse,
    draw_shifts,
    shift_bins,
    shift_columns,
    slow_decay,
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


def _full_fit(X: sp.csr_array, L: int):
    """OLS of every unit's count on all units' counts at lags 1..L (with intercept).

    Returns the inverse centred Gram matrix ``V``, the centred cross products ``C``, the
    coefficients ``β = V C`` (mL, m) and the residual sums of squares (m,).
    """
    Y, Z = lagged_design(X, L)
    T = Y.shape[0]
    mz = np.asarray(Z.sum(axis=0)).ravel() / T
    my = np.asarray(Y.sum(axis=0)).ravel() / T
    G = (Z.T @ Z).toarray() - T * np.outer(mz, mz)          # centred Zᵀ Z
    C = (Z.T @ Y).toarray() - T * np.outer(mz, my)          # centred Zᵀ Y
    yy = np.asarray(Y.multiply(Y).sum(axis=0)).ravel() - T * my ** 2
    try:
        V = np.linalg.inv(G)
    except np.linalg.LinAlgError as err:
        raise ValueError("the lagged design is singular (a unit is silent or exactly "
                         "repeats another); drop such units or change bin_width") from err
    beta = V @ C
    rss = np.maximum(yy - np.einsum("ki,ki->i", C, beta), 1e-12)
    return V, C, beta, rss


def _circular_lag_sum(X: sp.csr_array, L: int) -> np.ndarray:
    """``Σ_l β`` (post, pre) of the full model fitted to ``X`` taken as circular.

    The centred Gram matrix of the lagged design is block Toeplitz in the lag-``d``
    cross-products ``A_d = Σ_t x(t) x(t − d)ᵀ`` (exactly so for a circular series; the
    design of :func:`_full_fit` differs by its first ``L`` rows, a relative change of order
    ``L / T``), so ``L + 1`` products replace the ``(L + 1)²`` blocks of ``Zᵀ[Z, Y]``.
    """
    T, m = X.shape
    mu = np.asarray(X.sum(axis=0)).ravel() / T
    Xt = X.T.tocsr()
    A = [(Xt @ shift_columns(X, np.full(m, d))).toarray() - T * np.outer(mu, mu)
         for d in range(L + 1)]
    G = np.empty((m * L, m * L))
    for l1 in range(L):
        for l2 in range(L):
            d = l2 - l1
            G[l1 * m:(l1 + 1) * m, l2 * m:(l2 + 1) * m] = A[d] if d >= 0 else A[-d].T
    C = np.concatenate([A[l].T for l in range(1, L + 1)], axis=0)     # (mL, m targets)
    return _lag_sum(np.linalg.solve(G, C), m, L)


def _embed(block: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """An (m, m) block of the analysed units placed in an (n, n) array (NaN elsewhere)."""
    out = np.full((n, n), np.nan)
    out[np.ix_(idx, idx)] = block
    return out


def _lag_sum(beta: np.ndarray, m: int, L: int) -> np.ndarray:
    """``Σ_l β`` per (post, pre): the signed weight, shape (m, m)."""
    return beta.reshape(L, m, m).sum(axis=0).T


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
    n_lags : int, default 3
        Number of lags L.
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
        300 s, 2,450 pairs) it called 0–7 pairs. With ``null="analytic"`` use ``"lfdr"``:
        the analytic p-values are not calibrated under shared input and Bonferroni then
        calls 2,400–3,900 of 9,900 pairs on these networks.

    null : {"shift", "analytic"}, default "shift"
        ``"analytic"``: the F test above (exact for independent Poisson trains). Its null
        assumes independent stationary trains; shared slow input breaks it
        (false-positive rate 0.51 / 0.63 at α = 0.05 on the co-modulated / up-down null
        families, 50 units, 300 s). ``"shift"``: the signed weight ``Σ_l β_{i,j,l}`` of
        every pair is compared with its values on shift surrogates of the counts
        (:mod:`spikewire.infer._surrogates`: every unit's series shifted by its own
        multiple of ``min_shift`` up to ``±max_shift``, keeping each unit's bursts and the
        slow shared input and moving the fine timing between units), a two-sided z test
        with the surrogates' mean and a pooled spread: false-positive rate 0.036–0.061 on all
        five null families (tests/infer/test_calibration.py), at 3.7–6.6× the analytic test's
        time (100 units × 10 min; benchmarks/results/nulls.md). Its z is referred to the
        surrogates' own z-values pooled over the pairs (≈ 11 per pair), scale fixed at the
        normal 5 % point, with a fitted Student t tail beyond their resolution
        (:class:`~spikewire.infer._surrogates.TailReference`;
        ``diagnostics["null_reference"]``; below 1,000 draws, about 11 units, N(0, 1)):
        under N(0, 1) the far tail was too light for the Bonferroni default (false calls
        in 5 of 15 null fits, 40 units, 300 s; 1 of 15 with this reference;
        benchmarks/results/ztail.md). The F test is omnibus over
        the lags; the shift test is directional (the summed weight). Pairs expecting fewer
        than one chance coincidence in the lag window get a conservative Chebyshev p-value
        (``diagnostics["calibrated"]`` is False for them).
    n_surrogates : int, default 20
        Shift surrogates drawn (one full regression each); a pair uses those whose relative
        shift is non-zero and new (about 11 of 20).
    max_shift : float or None, default None (automatic)
        Largest shift of a unit in s. Automatic: 100 ms and at least 10 bins; refused if
        shorter than the data's time resolution or than two ``min_shift`` steps.
    min_shift : float, default 0.02
        Step of the shifts in s (and at least the lag window, ``n_lags + 1`` bins): the
        shortest relative shift a pair uses. Chosen against the synaptic window: a
        postsynaptic effect lasts its delay plus about a membrane time constant (10–20 ms),
        and a shorter shift would keep part of it in the null.
    seed : int or SeedSequence, default 0
        Seed of the surrogates' shifts.

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
        "n_lags": [Interval("int", 1, None)],
        "min_spikes": [Interval("int", 1, None)],
        "alpha": [Interval("real", 0, 1, closed="neither")],
        "correction": [Options(("bh", "bonferroni", "none", "lfdr"))],
        "null": [Options(("shift", "analytic"))],
        "n_surrogates": [Interval("int", MIN_USABLE + 1, None)],
        "max_shift": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "min_shift": [Interval("real", 0, None, closed="left", unit="s")],
        "seed": [SeedLike()],
    }

    def __init__(self, bin_width: float | None = None, n_lags: int = 3, min_spikes: int = 20,
                 alpha: float = 0.05, correction: str = "bonferroni", null: str = "shift",
                 n_surrogates: int = 20, max_shift: float | None = None,
                 min_shift: float = 0.02, seed: int = 0):
        self.bin_width = bin_width
        self.n_lags = n_lags
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
        L = int(self.n_lags)
        # spike times, or continuous signals (smoothed rates) averaged into bins
        spikes = ctx.data
        n = spikes.n_units
        ok = ctx.unit_ok
        status = ctx.pair_status
        idx = np.flatnonzero(ok)
        m = idx.size
        warn_if_short(self.name, ctx.counts, ctx.want, float(spikes.duration), L * bw,
                      float(self.alpha), self.correction)
        weights = np.zeros((n, n))
        pvals = np.full((n, n), np.nan)
        te = np.zeros((n, n))
        diagnostics: dict = {}
        shift = self.null == "shift"
        # relative shifts shorter than the synaptic window would keep the interaction: the
        # test's own window (lags 1..L and the synchronous bin) and ``min_shift`` (a
        # postsynaptic effect outlasts its delay by about a membrane time constant)
        min_sep = max(L + 1, int(np.ceil(float(self.min_shift) / bw - 1e-9)))
        if shift:
            D = shift_bins(auto_max_shift(self.max_shift, bw), bw, min_sep, ctx.time_resolution,
                           "te")
        diagnostics["null"] = self.null
        if m >= 2:
            X = spikes.select(idx).binned(bw, sparse=True).T.tocsr().astype(np.float64)
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
            bsum = _lag_sum(beta, m, L)
            sub = np.ix_(idx, idx)
            if shift:
                rng = seeded_rng(self.seed, "method")
                K = int(self.n_surrogates)
                shifts = draw_shifts(rng, m, D, K, step=min_sep)
                sur = np.empty((K, m, m))
                # one BLAS thread: these solves are small, and a busy thread pool on a
                # loaded machine made each one 100× slower than its single-thread time
                with threadpool_limits(1):
                    for k in range(K):
                        sur[k] = _circular_lag_sum(shift_columns(X, shifts[k]), L)
                steps = np.arange(1, 2 * (D // min_sep) + 1) * min_sep
                phi = slow_decay(X, steps)
                c = np.asarray(ctx.counts, dtype=float)[idx]
                lam = np.outer(c, c) * L / X.shape[0]
                p, zstat, mean, sd, k_use, ref = surrogate_test(
                    bsum, sur, shifts, min_sep, decay=lambda r: np.interp(r, steps, phi),
                    pool=lam >= LAMBDA_MIN)
                p, calibrated = conservative_sparse(p, zstat, lam)
                pvals[sub] = p
                diagnostics["calibrated"] = _embed(calibrated, idx, n) == 1
                diagnostics.update({k: _embed(v, idx, n) for k, v in
                                    (("null_z", zstat), ("null_mean", mean), ("null_sd", sd),
                                     ("n_surrogates_used", k_use))})
                diagnostics["max_shift_bins"] = D
                diagnostics["null_reference"] = ref
            else:
                F = (np.maximum(dRSS, 0) / L) / (rss[:, None] / dof)
                pvals[sub] = stats.f.sf(F, L, dof)
            weights[sub] = bsum
            te[sub] = 0.5 * np.log1p(np.maximum(dRSS, 0) / rss[:, None])
            diagnostics.update({"n_bins": int(X.shape[0]), "dof": int(dof),
                                "residual_variance": rss / T})
        # pairs without enough usable surrogates (a handful of units only) are undecided
        status = np.where((status == 0) & np.isnan(pvals), np.int8(4), status).astype(np.int8)
        ctx.pair_status = status
        tested = status == 0
        weights = np.where(tested, weights, 0.0)
        pvals = np.where(tested, pvals, np.nan)
        scores = np.where(tested & np.isfinite(pvals),
                          -np.log10(np.maximum(np.nan_to_num(pvals, nan=1.0), 1e-300)), 0.0)
        diagnostics["transfer_entropy"] = np.where(tested, te, 0.0)
        return ctx.estimate(self, weights=weights,
                            weight_unit="post spikes per bin per pre spike (sum over lags)",
                            pvalues=pvals, scores=scores, diagnostics=diagnostics)
