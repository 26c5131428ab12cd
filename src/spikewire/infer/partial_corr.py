"""Partial correlations of binned spike counts (shrunk precision matrix): the linear baseline."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy import stats
from threadpoolctl import threadpool_limits

from spikewire.core.seeds import rng as seeded_rng
from spikewire.infer._params import Interval, Options, SeedLike
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
    surrogate_test,
    warn_if_short,
)
from spikewire.infer.base import FitContext, InferenceMethod, register
from spikewire.infer.estimate import Estimate

__all__ = ["PartialCorrelation", "count_moments", "ledoit_wolf_from_moments"]


def count_moments(X: sp.csr_array | np.ndarray) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Mean, centred cross-product ``XcᵀXc / T`` and the Ledoit–Wolf β term of sparse counts.

    Parameters
    ----------
    X : sparse or dense array, shape (T, p)
        Samples in rows (time bins), variables in columns (units).

    Returns
    -------
    mean : ndarray (p,)
    emp_cov : ndarray (p, p)
        Maximum-likelihood covariance (divides by T).
    beta_sum : float
        ``Σ_t (Σ_i x_ti²)²`` of the centred data, the only extra statistic the Ledoit–Wolf
        shrinkage needs.
    T : int
    """
    T, p = X.shape
    if sp.issparse(X):
        X = sp.csr_array(X, dtype=np.float64)
        mean = np.asarray(X.sum(axis=0)).ravel() / T
        cross = (X.T @ X).toarray() / T
        # Σ_i (x_ti − m_i)² = Σ x² − 2 Σ x m + Σ m², per row, from the sparse entries
        sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        xm = X @ mean
    else:
        X = np.asarray(X, dtype=np.float64)
        mean = X.mean(axis=0)
        cross = X.T @ X / T
        sq = np.einsum("ij,ij->i", X, X)
        xm = X @ mean
    emp_cov = cross - np.outer(mean, mean)
    row = sq - 2 * xm + mean @ mean
    return mean, emp_cov, float(np.dot(row, row)), T


def ledoit_wolf_from_moments(emp_cov: np.ndarray, beta_sum: float, T: int,
                             ) -> tuple[np.ndarray, float]:
    """Ledoit–Wolf shrunk covariance from sufficient statistics.

    The same estimator as :func:`sklearn.covariance.ledoit_wolf` (Ledoit & Wolf 2004,
    sklearn's formulation), written in terms of ``emp_cov`` and ``Σ_t ‖x_t‖⁴`` so that sparse
    count matrices never need a dense copy.
    """
    p = emp_cov.shape[0]
    mu = np.trace(emp_cov) / p
    delta_ = np.sum(emp_cov ** 2)           # ‖S‖²_F
    beta_ = beta_sum / T                    # (1/T) Σ_t ‖x_t‖⁴
    beta = (beta_ - delta_) / (p * T)
    delta = (delta_ - 2 * mu * np.trace(emp_cov) + p * mu ** 2) / p
    beta = min(beta, delta)
    shrink = 0.0 if beta <= 0 or delta == 0 else beta / delta
    cov = (1 - shrink) * emp_cov
    cov[np.diag_indices(p)] += shrink * mu
    return cov, float(shrink)


def _lagged(X: sp.csr_array | np.ndarray, lag: int) -> sp.csr_array | np.ndarray:
    """The variables of the test: counts at ``t`` (lag 0), or ``[x_t, x_{t−1}]`` (lag 1)."""
    if lag == 1:
        if isinstance(X, np.ndarray):
            return np.hstack([X[1:], X[:-1]])
        return sp.hstack([X[1:], X[:-1]]).tocsr()
    return X


def _fisher_z(emp: np.ndarray, m: int, lag: int, dof: int) -> np.ndarray:
    """Fisher z statistic ``atanh(ρ̂) · sqrt(dof)`` of the sample partial correlations."""
    R_emp = _partial_from_precision(np.linalg.pinv(emp, hermitian=True))
    block = R_emp[:m, m:] if lag == 1 else R_emp
    return np.arctanh(block) * math.sqrt(dof)


def _partial_from_precision(P: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.clip(np.diag(P), 1e-300, None))
    R = -P / np.outer(d, d)
    R = 0.5 * (R + R.T)              # exactly symmetric (P is, up to rounding)
    np.fill_diagonal(R, 1.0)
    return np.clip(R, -1 + 1e-12, 1 - 1e-12)


@register
class PartialCorrelation(InferenceMethod):
    """Partial correlation of binned spike counts from a shrunk precision matrix.

    Counts in bins of ``bin_width`` are treated as samples of a multivariate variable; the
    covariance is shrunk with Ledoit–Wolf (computed from sparse sufficient statistics,
    identical to :class:`sklearn.covariance.LedoitWolf`) or estimated sparsely with
    :class:`sklearn.covariance.GraphicalLassoCV`, inverted to the precision ``P`` and
    normalised to partial correlations ``ρ_ij = −P_ij / sqrt(P_ii P_jj)``.

    With ``lag=0`` the estimate is **symmetric** (``weights[i, j] = weights[j, i]``): it says
    that two units co-vary beyond what all others explain, not who drives whom. With
    ``lag=1`` the variables are the counts at ``t`` and at ``t − 1`` (2n variables), and
    ``weights[i, j]`` is the partial correlation of post ``i`` at ``t`` with pre ``j`` at
    ``t − 1`` given everything else at both times: a directed (Granger-like) variant.

    Delays: this is a zero-lag (or one-lag) statistic of one bin (5 ms by default); it does
    **not** scan transmission delays and reports none (``delays`` is None). A link whose
    delay exceeds the bin (``lag=0``) or two bins (``lag=1``) leaves little in it. For
    delays up to 25 ms use a spike-timing method that scans them and reports the
    estimated delay (``ccg``, ``glmcc``, ``tspe``, ``te``).

    The statistic is Fisher's ``z = atanh(ρ̂) · sqrt(T − k − 3)`` of the *sample* (unshrunk)
    partial correlation (``k`` conditioning variables); the shrunk estimate is biased towards
    0 and would make the test conservative. Its analytic null (standard normal) assumes
    independent samples, which binned spikes are not under shared slow input or bursts:
    false-positive rate 0.54 / 0.69 / 0.17 at α = 0.05 on the co-modulated / up-down /
    bursting null families (50 units, 300 s). The default ``null="shift"`` refers ``z``
    instead to shift surrogates of the counts (:mod:`spikewire.infer._surrogates`: every
    unit's series shifted by its own multiple of ``min_shift`` up to ``±max_shift``, which
    keeps each unit's bursts and the slow shared input and moves the fine timing between
    units; null level and pooled spread per pair from ``n_surrogates`` refits):
    false-positive rate 0.036–0.057 on all five null families (tests/infer/test_calibration.py)
    at 3.3–6.6× the analytic test's time (100 units × 10 min; benchmarks/results/nulls.md).
    The p-value's reference distribution is not N(0, 1) but the surrogates' own z-values,
    pooled over the pairs (≈ 11 per pair), with their scale fixed at the normal 5 % point
    and a fitted Student t tail beyond their resolution
    (:class:`~spikewire.infer._surrogates.TailReference`; ``diagnostics["null_reference"]``
    holds the fit; below 1,000 draws, about 15 units, N(0, 1)): under N(0, 1)
    the far tail was too light for the Bonferroni default (false calls in 3 of 15 null
    fits, 40 units, 300 s; none with this reference; benchmarks/results/ztail.md). A
    link is reported (``adjacency``) where the test is significant and the weight from the
    chosen estimator is non-zero (graphical lasso zeros are never links). Pairs expecting
    fewer than one chance coincidence per window get a conservative Chebyshev p-value
    (``diagnostics["calibrated"]`` is False for them): their statistic is far from Gaussian
    (one coincidence of two 0.1 Hz units gave p ≈ 10⁻¹⁴).

    Parameters
    ----------
    bin_width : float or None, default None (automatic)
        Bin width in s. Automatic: 5 ms, but never finer than the recording's time
        resolution and a whole multiple of it. A bin finer than the data is refused.
    estimator : {"ledoit_wolf", "graphical_lasso"}, default "ledoit_wolf"
        Covariance estimator (graphical lasso needs a dense copy of the counts; it is
        refused above ``max_dense`` numbers).
    lag : {0, 1}, default 0
        0: symmetric partial correlation at equal times; 1: directed lagged variant.
    min_spikes : int, default 20
        Units with fewer spikes are left out (status 3).
    alpha : float, default 0.05
    correction : {"bonferroni", "bh", "lfdr", "none"}, default "bonferroni"
        Default multiple-comparison control, chosen by measurement with the shift null
        (three 1,000-neuron networks, 100 recorded, 10 min; benchmarks/results/nulls.md):
        MCC with Bonferroni 0.12 / 0.14 / 0.00 (1,927 / 1,261 / 27 links called, each
        unordered pair counted in both directions, of 961 / 961 / 969 directed links) on
        the LIF brunel / co-modulated / Izhikevich random networks, against 0.07 / 0.06 /
        0.00 with Efron's local FDR (56 / 127 / 27) and 0.10 / 0.12 / −0.02 with BH
        (5,158 / 4,068 / 331). The ranking itself is weak on these networks (AUC
        0.48–0.64): a zero-lag partial correlation of 5 ms counts mixes the links with
        shared input. On the five null families (50 units, 300 s) it called 0–6 of 2,450
        pairs. With ``null="analytic"`` use ``"lfdr"`` (its p-values are not calibrated
        under shared input).
    max_dense : float, default 2e8
        Largest dense count matrix (entries) accepted by the graphical lasso.
    null : {"shift", "analytic"}, default "shift"
        Null distribution of the test: shift surrogates (holds under shared slow input and
        bursts) or the analytic Fisher z (independent samples; exact on Poisson trains,
        cheaper).
    n_surrogates : int, default 20
        Shift surrogates drawn (cost: one covariance and inversion each); a pair uses those
        whose relative shift is non-zero and new (about 11 of 20).
    max_shift : float or None, default None (automatic)
        Largest shift of a unit in s. Automatic: 100 ms and at least 10 bins. Short against
        the slow shared input the null must keep; refused if shorter than the data's time
        resolution or than two ``min_shift`` steps.
    min_shift : float, default 0.02
        Step of the shifts in s (and at least the test's window: 2 bins, 3 with ``lag=1``):
        the shortest relative shift a pair uses. Chosen against the synaptic window: a
        postsynaptic effect lasts its delay plus about a membrane time constant (10–20 ms),
        and a shorter shift would keep part of it in the null.
    seed : int or SeedSequence, default 0
        Seed of the surrogates' shifts.
    shared_null : {"auto", "off"}, default "auto"
        ``"auto"``: where the null has failed on a small problem (hidden common input:
        unrecorded neurons correlate most recorded pairs at zero lag; more than 0.3 of
        the distinct pairs at p < 0.05), the decision is Benjamini–Hochberg on the
        p-values referred to the bulk of the pairs (never lowered): the small-problem rule
        of :func:`spikewire.infer.base.check_null`, which every method gets (this setting
        no longer does anything of its own; ``diagnostics["null_check"]``). ``"off"``:
        that rule is not applied to this estimate (the shift or analytic null alone; a
        failed null is only warned about). Kept for saved specs; before session 20
        ``"auto"`` ran a copy of the rule inside the method.

    References
    ----------
    Ledoit O, Wolf M (2004) A well-conditioned estimator for large-dimensional covariance
    matrices. J Multivar Anal 88:365–411. Friedman J, Hastie T, Tibshirani R (2008) Sparse
    inverse covariance estimation with the graphical lasso. Biostatistics 9:432–441.
    """

    name = "partial_corr"
    input_kinds = frozenset({"spikes", "rate"})
    reference = "Ledoit & Wolf 2004, J Multivar Anal 88:365; Friedman et al. 2008, Biostatistics"

    bin_settings = {"bin_width": 5e-3}
    settings_constraints = {
        "bin_width": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "estimator": [Options(("ledoit_wolf", "graphical_lasso"))],
        "lag": [Options((0, 1))],
        "min_spikes": [Interval("int", 1, None)],
        "alpha": [Interval("real", 0, 1, closed="neither")],
        "correction": [Options(("bh", "bonferroni", "none", "lfdr"))],
        "max_dense": [Interval("real", 0, None, closed="neither")],
        "null": [Options(("shift", "analytic"))],
        "n_surrogates": [Interval("int", MIN_USABLE + 1, None)],
        "max_shift": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "min_shift": [Interval("real", 0, None, closed="left", unit="s")],
        "seed": [SeedLike()],
        "shared_null": [Options(("auto", "off"))],
    }

    def __init__(self, bin_width: float | None = None, estimator: str = "ledoit_wolf", lag: int = 0,
                 min_spikes: int = 20, alpha: float = 0.05, correction: str = "bonferroni",
                 max_dense: float = 2e8, null: str = "shift", n_surrogates: int = 20,
                 max_shift: float | None = None,
                 min_shift: float = 0.02, seed: int = 0, shared_null: str = "auto"):
        self.bin_width = bin_width
        self.estimator = estimator
        self.lag = lag
        self.min_spikes = min_spikes
        self.alpha = alpha
        self.correction = correction
        self.max_dense = max_dense
        self.null = null
        self.n_surrogates = n_surrogates
        self.max_shift = max_shift
        self.min_shift = min_shift
        self.seed = seed
        self.shared_null = shared_null

    def _fit(self, ctx: FitContext) -> Estimate:
        """Partial correlations for all requested pairs (post × pre)."""
        bw = ctx.settings["bin_width"]
        lag = int(self.lag)
        # spike times, or continuous signals (smoothed rates) averaged into bins
        spikes = ctx.data
        n = spikes.n_units
        n_bins = spikes.n_bins(bw)
        if n_bins < 10:
            raise ValueError(f"the recording ({spikes.duration:g} s) has only {n_bins} bins of "
                             f"{bw * 1e3:g} ms; record longer or use smaller bins")
        shift = self.null == "shift"
        # relative shifts shorter than the synaptic window would keep the interaction: the
        # test's own window (lag 0 and ±1 bin, one more with lag=1) and ``min_shift`` (a
        # postsynaptic effect outlasts its delay by about a membrane time constant)
        min_sep = max(2 + lag, int(np.ceil(float(self.min_shift) / bw - 1e-9)))
        if shift:
            D = shift_bins(auto_max_shift(self.max_shift, bw), bw, min_sep, ctx.time_resolution,
                           "partial_corr")
        ok = ctx.unit_ok
        status = ctx.pair_status
        idx = np.flatnonzero(ok)
        m = idx.size
        warn_if_short(self.name, ctx.counts, ctx.want, float(spikes.duration), bw,
                      float(self.alpha), self.correction)
        weights = np.zeros((n, n))
        pvals = np.full((n, n), np.nan)
        diagnostics = {"n_bins": n_bins, "null": self.null}
        if m >= 2:
            X0 = spikes.select(idx).binned(bw, sparse=True).T.tocsr()   # (T, m)
            dense = X0.nnz > DENSE_SHARE * X0.shape[0] * X0.shape[1]
            if dense:                 # continuous signals: dense BLAS products (same results)
                X0 = X0.toarray(order="F").astype(np.float64)
            diagnostics["dense"] = bool(dense)
            X = _lagged(X0, lag)
            T = X.shape[0]
            _, emp, beta_sum, T = count_moments(X)
            cov, info = self._covariance(X, emp, beta_sum, T)
            diagnostics.update(info)
            R = _partial_from_precision(np.linalg.pinv(cov, hermitian=True))
            k = R.shape[0] - 2
            dof = T - k - 3
            if dof < 1:
                raise ValueError(f"too few bins ({T}) for {R.shape[0]} variables; record "
                                 "longer or use larger bins")
            block = R[:m, m:] if lag == 1 else R
            # the Fisher test is the theory of the *sample* partial correlation; shrunk
            # estimates are biased towards 0 and would make it conservative, so test the
            # unshrunk one (well defined here since T >> number of variables)
            z = _fisher_z(emp, m, lag, dof)
            if shift:
                p, _, info = self._shift_null(X0, z, lag, dof, D, min_sep, idx, n)
                diagnostics.update(info)
            else:
                p = 2 * stats.norm.sf(np.abs(z))
            sub = np.ix_(idx, idx)
            weights[sub] = block
            pvals[sub] = p
        # pairs without enough usable surrogates (a handful of units only) are undecided
        status = np.where((status == 0) & np.isnan(pvals), np.int8(4), status).astype(np.int8)
        ctx.pair_status = status
        tested = status == 0
        weights = np.where(tested, weights, 0.0)
        pvals = np.where(tested, pvals, np.nan)
        with np.errstate(divide="ignore"):
            scores = np.where(tested, -np.log10(np.maximum(pvals, 1e-300)), 0.0)
        scores = np.nan_to_num(scores, nan=0.0)
        diagnostics["symmetric"] = lag == 0
        # shared_null="off": check_null leaves a failed small problem's correction alone
        diagnostics["small_problem_rule"] = self.shared_null != "off"
        est = ctx.estimate(self, weights=weights, weight_unit="partial correlation",
                           pvalues=pvals, scores=scores, diagnostics=diagnostics)
        return est

    def _shift_null(self, X0, z, lag, dof, D, min_sep, idx, n):
        """Fisher z of every pair on shift surrogates; z test against their level and
        pooled spread (:func:`~spikewire.infer._surrogates.surrogate_test`)."""
        rng = seeded_rng(self.seed, "method")
        m = X0.shape[1]
        K = int(self.n_surrogates)
        shifts = draw_shifts(rng, m, D, K, step=min_sep)
        sur = np.empty((K, m, m))
        # one BLAS thread: the inversions are small, and a busy thread pool on a loaded
        # machine made each one far slower than its single-thread time
        with threadpool_limits(1):
            for k in range(K):
                Xs = _lagged(shift_columns(X0, shifts[k]), lag)
                _, emp_s, _, _ = count_moments(Xs)
                sur[k] = _fisher_z(emp_s, m, lag, dof)
        steps = np.arange(1, 2 * (D // min_sep) + 1) * min_sep
        phi = slow_decay(X0, steps)

        def decay(r):
            return np.interp(r, steps, phi)

        c = np.asarray(X0.sum(axis=0)).ravel()
        lam = np.outer(c, c) * (1 + lag) / X0.shape[0]
        p, t, mean, sd, k_use, ref = surrogate_test(z, sur, shifts, min_sep,
                                                    symmetric=lag == 0, decay=decay,
                                                    pool=lam >= LAMBDA_MIN)
        p, calibrated = conservative_sparse(p, t, lam)

        def embed(block):
            out = np.full((n, n), np.nan)
            out[np.ix_(idx, idx)] = block
            return out

        return p, t, {"calibrated": embed(calibrated) == 1, "null_z": embed(t),
                      "null_mean_z": embed(mean), "null_sd_z": embed(sd),
                      "n_surrogates_used": embed(k_use), "max_shift_bins": D,
                      "null_reference": ref}

    def _covariance(self, X, emp, beta_sum, T):
        if self.estimator == "ledoit_wolf":
            cov, shrink = ledoit_wolf_from_moments(emp, beta_sum, T)
            return cov, {"shrinkage": shrink}
        from sklearn.covariance import GraphicalLassoCV

        if X.shape[0] * X.shape[1] > self.max_dense:
            raise ValueError(f"graphical_lasso needs a dense {X.shape} count matrix "
                             f"({X.shape[0] * X.shape[1]:.3g} entries > max_dense="
                             f"{self.max_dense:.3g}); use estimator='ledoit_wolf', larger "
                             "bins, or raise max_dense")
        Xd = (X.toarray() if sp.issparse(X) else X).astype(np.float64)
        Xd /= np.maximum(Xd.std(axis=0), 1e-12)   # standardise: one penalty fits all units
        model = GraphicalLassoCV().fit(Xd)
        return model.covariance_, {"graphical_lasso_alpha": float(model.alpha_)}
