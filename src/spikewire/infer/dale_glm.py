"""Coupled Poisson GLM fitted under Dale's law, with refractoriness, a delay basis, state
covariates and cell-type priors (``dale_glm``).

The model
---------
Spikes are binned at ``bin_width``. The count of target unit ``i`` in bin ``t`` is Poisson
with log-mean

    ``η_i(t) = b_i + Σ_j Σ_l k_ij(l) y_j(t − l) + Σ_c β_ic x_c(t) + γ_i p_{−i}(t)``,

``k_ij = B w_ij`` with ``B`` the raised-cosine basis of :mod:`spikewire.infer._bases` over
lags ``1 .. window/bin_width`` bins (a *delay basis*: the filter may peak anywhere in the
window, so each connection gets its own delay), ``k_ii`` the relative-refractory
self-history filter, ``x_c`` the user's state covariates (standardised) and ``p_{−i}`` an
optional population-activity covariate (the summed spikes of all *other* units smoothed by
a Gaussian of ``population_tau``, standardised) that stands in for unmeasured shared slow
input. Absolute refractoriness: the ``refractory`` s after each of its own spikes carry no
information about a target (its rate is ~0 there), so those bins are left out of its
likelihood.

Dale's law while fitting (alternation)
-------------------------------------
1. Fit without sign constraints (ridge ``ridge`` on the coupling coefficients).
2. Label every presynaptic unit by the summed evidence of its outgoing links. With the Wald
   z-scores ``z_ij`` of its summed filters, the profile log-likelihood ratio of "all its
   links ≥ 0" against "all ≤ 0" is ``Σ_i z_ij |z_ij| / 2`` (normal approximation: a pair
   of the wrong sign costs ``z²/2``); adding the prior log-odds
   ``log(excitatory_fraction / (1 − excitatory_fraction))`` gives the posterior log-odds
   ``Z_j`` of E. Label ``E`` if ``Z_j ≥ 0``; confidence ``max(P(E), 1 − P(E))``,
   ``P(E) = 1 / (1 + exp(−Z_j))``. A unit with no outgoing evidence gets the prior.
3. Refit with every coupling coefficient of unit ``j`` bounded to the sign of its label
   (``scipy.optimize.minimize(method="L-BFGS-B", bounds=...)``). The basis functions are
   non-negative, so this makes each whole filter, and the summed weight, one-signed: every
   column of the weight matrix has one sign. Under the sign constraint an L1 penalty is
   linear, so the type-dependent prior penalty (``prior``) costs nothing extra.

p-values are one-sided Wald tests of the step-1 summed filter in the direction of the
presynaptic unit's label (uniform under no connection, up to the small dependence of the
label on the pair itself); ``scores`` are ``s_j z_ij``. Held-out bits per spike are those of
the constrained model fitted on the first ``1 − validation_fraction`` of the recording and
scored on the rest, against a homogeneous Poisson model with the training rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import minimize
from scipy.special import gammaln
from scipy.stats import norm

from spikewire.infer._params import Boolean, Constraint, Interval, Options
from spikewire.infer.base import FitContext, InferenceMethod, register
from spikewire.infer.estimate import Estimate
from spikewire.infer.glm import build_design

__all__ = ["DaleGLM", "resample_covariates", "prior_penalties", "CELL_TYPES"]

#: Cell types a prior may name (the labels Dale's law assigns).
CELL_TYPES = ("E", "I")


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


class _PriorLike(Constraint):
    """None or a dict {(pre_type, post_type): connection probability in (0, 1]}."""

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
            if not (0.0 < float(v) <= 1.0):
                return False
        return True

    def describe(self) -> str:
        return ("None or a dict {(pre_type, post_type): connection probability in (0, 1]}, "
                "e.g. {('E', 'E'): 0.1, ('I', 'E'): 0.4}")

    def invalid_examples(self) -> list:
        return ["EE", {("E", "E"): 1.5}, {"E": 0.1}]


# ============================================================================ helpers
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


class _Problem:
    """The joint (separable over targets) penalised Poisson problem."""

    def __init__(self, X, C, P, Y, R, tpos, nb, ridge, history_ridge):
        self.X, self.C, self.P, self.Y, self.R = X, C, P, Y, R
        self.tpos = tpos
        self.n_bins, self.F = X.shape
        self.nt = Y.shape[1]
        self.nc = C.shape[1]
        self.nb = nb
        self.m = np.asarray(X.mean(axis=0)).ravel()                   # column means
        unit_of = np.repeat(np.arange(self.F // nb), nb)
        self.hist = unit_of[:, None] == tpos[None, :]                 # (F, nt) history coefs
        self.lam2 = np.where(self.hist, history_ridge, ridge)
        rate = np.maximum((Y * R).sum(0) / np.maximum(R.sum(0), 1), 1e-8)
        colsq = np.asarray(X.multiply(X).sum(axis=0)).ravel()
        self.s_w = np.sqrt(np.maximum(rate[None, :] * colsq[:, None], 1e-6))
        self.s_o = np.sqrt(rate * self.n_bins)                        # bias, covariates
        self.rate = rate
        self.has_p = P is not None

    def unpack(self, x):
        nt, F, nc = self.nt, self.F, self.nc
        b = x[:nt] / self.s_o
        W = x[nt:nt + F * nt].reshape(F, nt) / self.s_w
        k = nt + F * nt
        Bc = x[k:k + nc * nt].reshape(nc, nt) / self.s_o[None]
        g = x[k + nc * nt:] / self.s_o if self.has_p else np.zeros(nt)
        return b, W, Bc, g

    def pack(self, b, W, Bc, g):
        parts = [b * self.s_o, (W * self.s_w).ravel(), (Bc * self.s_o[None]).ravel()]
        if self.has_p:
            parts.append(g * self.s_o)
        return np.concatenate(parts)

    def eta(self, b, W, Bc, g):
        # centred coupling columns: the intercept is the log-rate at the mean design
        e = np.asarray(self.X @ W)
        e += (b - self.m @ W)[None, :]
        if self.nc:
            e += self.C @ Bc
        if self.has_p:
            e += self.P * g[None, :]
        return e

    def objective(self, row_w, l1):
        """f(x), ∇f(x) on rows weighted by ``row_w`` (n_bins, nt) with linear L1 term
        ``l1`` (F, nt) (already signed: the penalty is Σ l1 ⊙ W)."""
        yw = self.Y * row_w        # fixed per objective: one temporary less per call

        def fun(x):
            b, W, Bc, g = self.unpack(x)
            e = self.eta(b, W, Bc, g)
            f = -float(np.vdot(yw, e))
            np.minimum(e, 50.0, out=e)
            np.exp(e, out=e)
            e *= row_w                 # e now holds w ⊙ μ
            f += float(e.sum())
            f += 0.5 * float(np.sum(self.lam2 * W * W)) + float(np.sum(l1 * W))
            e -= yw                    # residual r = w ⊙ (μ − y)
            r = e
            rs = r.sum(0)
            gW = np.asarray(self.X.T @ r) - self.m[:, None] * rs[None, :]
            gW += self.lam2 * W + l1
            parts = [rs / self.s_o, (gW / self.s_w).ravel()]
            if self.nc:
                parts.append(((self.C.T @ r) / self.s_o[None]).ravel())
            if self.has_p:
                parts.append((self.P * r).sum(0) / self.s_o)
            if not np.isfinite(f):
                return 1e300, np.zeros_like(x)
            return f, np.concatenate(parts)

        return fun

    def fit(self, x0, row_w, *, signs=None, l1=None, max_iter=300):
        """L-BFGS-B; ``signs`` (n_units,) of ±1 bounds every coupling coefficient of a
        presynaptic unit to its sign (history coefficients stay free)."""
        nt, F = self.nt, self.F
        lo = np.full(x0.size, -np.inf)
        hi = np.full(x0.size, np.inf)
        if signs is not None:
            s = np.repeat(signs, self.nb)[:, None] * np.ones((1, nt))
            s = np.where(self.hist, 0.0, s).ravel()
            lo[nt:nt + F * nt][s > 0] = 0.0
            hi[nt:nt + F * nt][s < 0] = 0.0
        l1 = np.zeros((F, nt)) if l1 is None else l1
        x0 = np.clip(x0, lo, hi)
        res = minimize(self.objective(row_w, l1), x0, jac=True, method="L-BFGS-B",
                       bounds=list(zip(lo, hi, strict=True)),
                       options={"maxiter": max_iter, "ftol": 1e-10, "gtol": 1e-6,
                                "maxcor": 20})
        ok = bool(np.isfinite(res.fun)) and res.fun < 1e299 and (
            bool(res.success) or "ABNORMAL" not in str(res.message))
        return res.x, ok, int(res.nit), str(res.message)

    def loglik(self, x, row_w):
        """Per-target Poisson log-likelihood (nats, log y! included) on weighted rows."""
        e = self.eta(*self.unpack(x))
        with np.errstate(over="ignore"):
            mu = np.exp(np.minimum(e, 50.0))
        return -np.sum(row_w * (mu - self.Y * e + gammaln(self.Y + 1.0)), axis=0)

    def wald(self, x, row_w, csum):
        """Wald z of every summed filter ``w_ij · csum`` (F/nb units × nt targets)."""
        b, W, Bc, g = self.unpack(x)
        e = self.eta(b, W, Bc, g)
        mu = np.exp(np.minimum(e, 50.0)) * row_w
        nu = self.F // self.nb
        z = np.zeros((nu, self.nt))
        for i in range(self.nt):
            w = mu[:, i]
            Xw = self.X.multiply(w[:, None]).tocsc()
            cols = [np.ones((self.n_bins, 1))]
            if self.nc:
                cols.append(self.C)
            if self.has_p:
                cols.append(self.P[:, i:i + 1])
            D = np.hstack(cols)                                    # dense extras
            Hxx = (self.X.T @ Xw).toarray()
            Hxd = np.asarray(Xw.T @ D)
            Hdd = D.T @ (D * w[:, None])
            H = np.block([[Hxx, Hxd], [Hxd.T, Hdd]])
            H[np.arange(self.F), np.arange(self.F)] += self.lam2[:, i]
            H += 1e-10 * np.trace(H) / H.shape[0] * np.eye(H.shape[0])
            # contrast: the summed filter of each presynaptic unit
            Cm = np.zeros((H.shape[0], nu))
            for j in range(nu):
                Cm[j * self.nb:(j + 1) * self.nb, j] = csum
            try:
                sol = np.linalg.solve(H, Cm)
                var = np.einsum("fj,fj->j", Cm, sol)
            except np.linalg.LinAlgError:
                var = np.full(nu, np.inf)
            wsum = W[:, i].reshape(nu, self.nb) @ csum
            with np.errstate(divide="ignore", invalid="ignore"):
                z[:, i] = np.where(var > 0, wsum / np.sqrt(var), 0.0)
        return np.nan_to_num(z, nan=0.0)


# ============================================================================ method
@register
class DaleGLM(InferenceMethod):
    """Coupled Poisson GLM under Dale's law with refractoriness, delays, covariates, priors.

    Coupled point-process model of Pillow, J. W. et al. (2008) Nature 454, 995–999, fitted
    with every presynaptic unit's outgoing filters constrained to one sign, its E/I label
    inferred jointly by alternation (unconstrained fit → label by summed outgoing evidence
    → sign-bounded refit), as proposed for constrained, realistic E/I models of recorded
    spikes (see the module docstring for the model and the tests).

    Parameters
    ----------
    bin_width : float or None, default None (automatic: 2 ms, not finer than the data)
        Bin width in s.
    window : float, default 0.025
        Longest coupling / history lag in s (delay basis over 0–``window``).
    n_basis : int, default 4
        Raised-cosine basis functions per filter.
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
        callable ``f(t)`` of times in s.
    covariate_rate : float, optional
        Sampling rate of a covariate array in Hz.
    population_covariate : bool, default True
        Add the smoothed summed activity of the other units as a covariate (a proxy for
        unmeasured shared slow input).
    population_tau : float, default 0.1
        Gaussian smoothing width of that covariate in s.
    prior : dict, optional
        Connection probability per (pre_type, post_type), e.g. ``{("E", "E"): 0.1}``;
        becomes a type-dependent L1 penalty (:func:`prior_penalties`) on the sign-
        constrained refit, with types from step 2's labels.
    prior_strength : float, default 1.0
        Scale of that penalty per unit of log prior odds.
    excitatory_fraction : float, default 0.8
        Prior probability that a unit is excitatory (E/I label prior).
    validation_fraction : float, default 0.2
        Final part of the recording held out to score bits per spike.
    alpha : float, default 0.05
    correction : {"bh", "bonferroni", "none"}, default "bh"
    min_spikes : int, default 20
    max_iter : int, default 300
        L-BFGS-B iterations per stage.
    """

    in_all = False  # a joint constrained fit (minutes per recording): named explicitly
    name = "dale_glm"
    reference = ("Pillow et al. (2008) Nature 454:995 (coupled GLM), fitted under Dale's "
                 "law with inferred E/I labels")
    bin_settings = {"bin_width": 0.002}
    settings_constraints = {
        "bin_width": [None, Interval("real", 0, None, closed="neither", unit="s")],
        "window": [Interval("real", 0, 1.0, closed="right", unit="s")],
        "n_basis": [Interval("int", 1, 20)],
        "refractory": [Interval("real", 0, 0.1, unit="s")],
        "ridge": [Interval("real", 0, None)],
        "history_ridge": [Interval("real", 0, None)],
        "covariates": [_CovariateLike()],
        "covariate_rate": [None, Interval("real", 0, None, closed="neither", unit="Hz")],
        "population_covariate": [Boolean()],
        "population_tau": [Interval("real", 0, None, closed="neither", unit="s")],
        "prior": [_PriorLike()],
        "prior_strength": [Interval("real", 0, None)],
        "excitatory_fraction": [Interval("real", 0, 1, closed="neither")],
        "validation_fraction": [Interval("real", 0, 0.5, closed="neither")],
        "alpha": [Interval("real", 0, 1, closed="neither")],
        "correction": [Options(["bh", "bonferroni", "none"])],
        "min_spikes": [Interval("int", 1, None)],
        "max_iter": [Interval("int", 1, None)],
    }

    def __init__(self, bin_width: float | None = None, window: float = 0.025,
                 n_basis: int = 4, refractory: float = 0.002, ridge: float = 1.0,
                 history_ridge: float = 1.0,
                 covariates: np.ndarray | Callable | None = None,
                 covariate_rate: float | None = None, population_covariate: bool = True,
                 population_tau: float = 0.1, prior: dict | None = None,
                 prior_strength: float = 1.0, excitatory_fraction: float = 0.8,
                 validation_fraction: float = 0.2,
                 alpha: float = 0.05, correction: str = "bh", min_spikes: int = 20,
                 max_iter: int = 300):
        self.bin_width = bin_width
        self.window = window
        self.n_basis = n_basis
        self.refractory = refractory
        self.ridge = ridge
        self.history_ridge = history_ridge
        self.covariates = covariates
        self.covariate_rate = covariate_rate
        self.population_covariate = population_covariate
        self.population_tau = population_tau
        self.prior = prior
        self.prior_strength = prior_strength
        self.excitatory_fraction = excitatory_fraction
        self.validation_fraction = validation_fraction
        self.alpha = alpha
        self.correction = correction
        self.min_spikes = min_spikes
        self.max_iter = max_iter

    def _check_combination(self, bins: dict) -> None:
        bw = bins["bin_width"]
        if bw is not None and bw > self.window:
            raise ValueError(f"dale_glm: the delay window ({self.window * 1e3:g} ms) is "
                             f"shorter than bin_width ({bw * 1e3:g} ms), the time resolution "
                             "of the fit; use a longer window or a smaller bin_width")
        if self.prior is not None:
            for key in self.prior:
                for t in key:
                    if t not in CELL_TYPES:
                        raise ValueError(
                            f"dale_glm: prior names cell type {t!r}, which does not exist; "
                            f"the types are {list(CELL_TYPES)} (keys are (pre_type, "
                            "post_type) pairs such as ('E', 'I'))")
        if (self.covariates is not None and not callable(self.covariates)
                and self.covariate_rate is None):
            raise ValueError("dale_glm: covariate_rate (Hz) is needed with a covariate array")

    # ------------------------------------------------------------------ fit
    def _fit(self, ctx: FitContext) -> Estimate:
        st = ctx.data
        n = st.n_units
        bw = ctx.settings["bin_width"]
        status = ctx.pair_status
        active = np.flatnonzero(ctx.unit_ok)
        weights = np.zeros((n, n))
        pvals = np.full((n, n), np.nan)
        scores = np.full((n, n), np.nan)
        delays = np.full((n, n), np.nan)
        cell_type = np.full(n, "?", dtype=object)
        conf = np.zeros(n)
        diag: dict = {}
        targets = np.array([i for i in active if np.any(status[i] == 0)], dtype=np.int64)
        if active.size < 2 or targets.size == 0:
            diag["message"] = (f"nothing to fit: {int((~ctx.unit_ok).sum())} of {n} units "
                               f"have fewer than min_spikes={self.min_spikes} spikes")
            return self._estimate(ctx, weights, pvals, scores, delays, cell_type, conf, diag)
        if st.duration < 5 * self.window:
            raise ValueError(f"dale_glm: the recording ({st.duration:g} s) is shorter than 5 "
                             f"filter windows ({5 * self.window:g} s); use a longer recording")
        t_fit = time.perf_counter()
        design = build_design(st, bin_width=bw, window=self.window, n_basis=self.n_basis,
                              units=active)
        nb, nu, n_bins = design.n_basis, design.n_units, design.n_bins
        tpos = np.searchsorted(active, targets)
        nt = tpos.size
        X = _sparse_design(design)
        Y = np.stack([design.counts(i) for i in tpos], axis=1)
        centres = st.t_start + (np.arange(n_bins) + 0.5) * bw
        # covariates (standardised)
        cov = np.zeros((0, n_bins))
        if self.covariates is not None:
            cov = resample_covariates(self.covariates, self.covariate_rate, st.t_start,
                                      st.duration, centres)
        sd = cov.std(axis=1, keepdims=True)
        C = ((cov - cov.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)).T
        C = np.ascontiguousarray(C[:, sd.ravel() > 0])
        P = None
        if self.population_covariate and nu > 2:
            allc = np.stack([design.counts(i) for i in range(nu)], axis=1)
            tot = allc.sum(1)
            P = tot[:, None] - Y
            P = gaussian_filter1d(P, self.population_tau / bw, axis=0, mode="nearest")
            psd = P.std(0)
            P = (P - P.mean(0)) / np.where(psd > 0, psd, 1.0)
        # absolute refractoriness: drop the bins right after a target's own spikes
        R = np.ones((n_bins, nt))
        r_bins = int(round(self.refractory / bw))
        for r, i in enumerate(tpos):
            sb = design.u_bins[design.u_ptr[i]:design.u_ptr[i + 1]]
            for k in range(1, r_bins + 1):
                idx = sb + k
                R[idx[idx < n_bins], r] = 0.0
        n_ref_spikes = int(np.sum((R == 0) & (Y > 0)))
        R[Y > 0] = 1.0    # a spike inside the stated refractory period is still data
        prob = _Problem(X, C, P, Y, R, tpos, nb, float(self.ridge), float(self.history_ridge))
        csum = design.basis.sum(axis=0)
        # stage 1: unconstrained
        x0 = prob.pack(np.log(prob.rate) - 0.0, np.zeros((prob.F, nt)),
                       np.zeros((prob.nc, nt)), np.zeros(nt))
        x1, ok1, it1, msg1 = prob.fit(x0, R, max_iter=self.max_iter)
        z = prob.wald(x1, R, csum)                                  # (nu pre, nt post)
        # stage 2: labels from the summed outgoing evidence (own history excluded)
        own = np.zeros((nu, nt), dtype=bool)
        own[tpos, np.arange(nt)] = True
        zc = np.where(own, 0.0, z)
        prior_lo = math.log(self.excitatory_fraction / (1.0 - self.excitatory_fraction))
        Z = 0.5 * np.sum(zc * np.abs(zc), axis=1) + prior_lo      # posterior log-odds of E
        signs = np.where(Z >= 0, 1.0, -1.0)
        lab = np.where(signs > 0, "E", "I")
        p_e = 1.0 / (1.0 + np.exp(-np.clip(Z, -700, 700)))
        # type-dependent L1 (prior), linear under the sign constraint
        l1 = np.zeros((prob.F, nt))
        if self.prior is not None:
            lam_pp = prior_penalties(self.prior, float(self.prior_strength), lab)  # post×pre
            lam_t = lam_pp[tpos].T                                    # (nu pre, nt post)
            l1 = (np.repeat(lam_t, nb, axis=0) * np.repeat(signs, nb)[:, None])
            l1 = np.where(prob.hist, 0.0, l1)
        # stage 3: constrained, first on the training part (held-out score), then on all
        cut = int(round(n_bins * (1 - self.validation_fraction)))
        train = R.copy()
        train[cut:] = 0.0
        val = R.copy()
        val[:cut] = 0.0
        x2, ok2, it2, msg2 = prob.fit(x1, train, signs=signs, l1=l1, max_iter=self.max_iter)
        ll_val = prob.loglik(x2, val)
        yv = (Y * val).sum(0)
        r_tr = np.maximum((Y * train).sum(0) / np.maximum(train.sum(0), 1), 1e-12)
        hom = yv * np.log(r_tr) - r_tr * val.sum(0) - (gammaln(Y + 1) * val).sum(0)
        bits = float(np.sum(ll_val - hom) / max(yv.sum(), 1) / math.log(2))
        x3, ok3, it3, msg3 = prob.fit(x2, R, signs=signs, l1=l1, max_iter=self.max_iter)
        ok = ok1 and ok3
        b, W, Bc, g = prob.unpack(x3)
        Wr = W.reshape(nu, nb, nt)
        wsum = np.einsum("jbi,b->ij", Wr, csum)                       # (nt post, nu pre)
        kern = np.einsum("lb,jbi->ijl", design.basis, Wr)            # (nt, nu, L)
        peak = np.argmax(kern * signs[None, :, None], axis=2) + 1    # lag in bins
        sz = (signs[:, None] * z).T                                  # (nt, nu)
        pv = norm.sf(sz)
        rows = active[tpos]
        for r, i in enumerate(rows):
            for c, j in enumerate(active):
                if i == j or status[i, j] != 0:
                    continue
                if not ok:
                    status[i, j] = 5
                    continue
                weights[i, j] = wsum[r, c]
                pvals[i, j] = pv[r, c]
                scores[i, j] = sz[r, c]
                delays[i, j] = peak[r, c] * bw
        cell_type[active] = lab
        conf[active] = np.maximum(p_e, 1 - p_e)
        diag.update(
            heldout_bits_per_spike=bits, heldout_loglik=float(ll_val.sum()),
            p_excitatory=dict(zip(st.units[active].tolist(), p_e.tolist(), strict=True)),
            label_log_odds=Z.tolist(), wald_z_unconstrained=z.T, converged=bool(ok and ok2),
            iterations={"unconstrained": it1, "train": it2, "final": it3},
            messages=[msg1, msg2, msg3], n_bins=n_bins, basis=design.basis,
            filters=kern, intercepts=b, covariate_coefs=Bc, population_coef=g,
            n_covariates=int(prob.nc), population_covariate=P is not None,
            spikes_in_refractory_period=n_ref_spikes,
            unconstrained_weights=np.einsum(
                "jbi,b->ij", prob.unpack(x1)[1].reshape(nu, nb, nt), csum),
            time_fit_s=time.perf_counter() - t_fit)
        if n_ref_spikes:
            diag["message"] = (f"{n_ref_spikes} target spikes fall within refractory="
                               f"{self.refractory:g} s of the previous one; the stated "
                               "refractory period is longer than the data's")
        if not ok:
            diag["message"] = f"the optimiser failed ({msg1}; {msg3}); rows are fit_failed"
        return self._estimate(ctx, weights, pvals, scores, delays, cell_type, conf, diag)

    def _estimate(self, ctx, weights, pvals, scores, delays, cell_type, conf, diag):
        return ctx.estimate(self, weights=weights,
                            weight_unit="summed coupling filter (log-rate gain, dimensionless)",
                            pvalues=pvals, scores=scores, delays=delays,
                            cell_type=np.asarray(cell_type).astype(str),
                            cell_type_confidence=conf, diagnostics=diag)
