"""Second stage of :class:`~spikewire.infer.ccg.CCG`: explain away indirect peaks.

A pairwise test calibrated against independence also calls real *indirect* dependence:
a chain ``j → k → i`` or a shared input ``k → i``, ``k → j`` with unequal delays makes a
directed peak in the correlogram of ``(i, j)``. Where the intermediate unit ``k`` is
recorded, such a peak is explained by ``k``'s own spikes. This module tests, for every
pair the first stage calls, whether the coupling survives conditioning on the other
units the first stage calls onto the same postsynaptic unit.

Model (one per postsynaptic unit ``i`` with candidates ``C_i``): a Poisson regression of
``i``'s spike count per bin of width ``bw`` on, for every candidate ``j ∈ C_i``, two
covariates — the number of ``j``'s spikes at lags within ``±span`` bins of its estimated
delay ("narrow") and the number at the remaining lags within ``±flank`` bins of it
("flank") — plus an intercept (log link). The flank covariate carries every dependence
on time scales longer than the synaptic peak (slow co-modulation, broad network
synchrony), as the spike-jitter null of the first stage does; the test of ``j → i`` is
the Wald test of the contrast ``β_narrow − β_flank`` (the log rate ratio of the peak over
its own surroundings), one-sided in the direction of the first stage's call. The
regression is fitted by Newton's method on the distinct covariate rows (bins without any
candidate spike nearby collapse into one row), so its cost grows with the number of
candidate spikes, not with the recording's length in bins.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy import sparse, special
from threadpoolctl import threadpool_limits

__all__ = ["conditional_pvalues"]

#: Newton iterations of the conditional regression (converges in 5–8 on data).
_MAX_ITER = 30


@numba.njit(cache=True)
def _weighted_gram(indptr, indices, data, mu, p):  # pragma: no cover - compiled
    """``X^T diag(mu) X`` of a CSR matrix with few non-zeros per row, dense (p, p)."""
    out = np.zeros((p, p))
    for r in range(indptr.size - 1):
        m = mu[r]
        for a in range(indptr[r], indptr[r + 1]):
            va = data[a] * m
            ia = indices[a]
            for b in range(indptr[r], indptr[r + 1]):
                out[ia, indices[b]] += va * data[b]
    return out


def _fit_poisson(X: np.ndarray, w: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson regression with log link on grouped rows.

    ``X`` (g, p) sparse distinct covariate rows (first column the intercept), ``w`` (g,) bins per
    row, ``y`` (g,) summed counts per row. Returns the coefficients and their covariance
    (inverse Fisher information). Damped Newton steps with a small ridge keep separated
    covariates (a column without any post spike) finite.
    """
    p = X.shape[1]
    X = sparse.csr_matrix(X)
    X.sum_duplicates()
    Xt = X.T.tocsr()

    def gram(mu):
        return _weighted_gram(X.indptr, X.indices, X.data, mu, p)

    beta = np.zeros(p)
    beta[0] = math.log(max(y.sum(), 0.5) / w.sum())
    ridge = 1e-6 * np.eye(p)
    ridge[0, 0] = 0.0

    def nll(b):
        eta = X @ b
        return float(np.sum(w * np.exp(eta)) - np.sum(y * eta))

    f = nll(beta)
    info = None
    for _ in range(_MAX_ITER):
        mu = w * np.exp(X @ beta)
        grad = Xt @ (y - mu) - ridge @ beta
        info = gram(mu) + ridge
        step = np.linalg.solve(info, grad)
        t = 1.0
        while t > 1e-4:
            cand = np.clip(beta + t * step, -30.0, 30.0)
            fc = nll(cand) + 0.5 * cand @ ridge @ cand
            if fc <= f + 1e-12:
                break
            t *= 0.5
        beta, f_new = cand, fc
        if abs(f - f_new) < 1e-9 * max(abs(f), 1.0) and np.max(np.abs(t * step)) < 1e-7:
            f = f_new
            break
        f = f_new
    mu = w * np.exp(X @ beta)
    info = gram(mu) + ridge
    return beta, np.linalg.pinv(info)


def _bins_of(times: np.ndarray, t_start: float, bw: float) -> np.ndarray:
    return np.floor((times - t_start) / bw + 1e-9).astype(np.int64)


def conditional_pvalues(times: np.ndarray, indptr: np.ndarray, t_start: float, t_stop: float,
                        bw: float, candidates: np.ndarray, delays: np.ndarray,
                        excitatory: np.ndarray, span: int, flank: int,
                        width: int = 1) -> np.ndarray:
    """One-sided p-values of each candidate coupling conditioned on the post unit's other
    candidates (see the module docstring).

    Parameters
    ----------
    times, indptr : ndarray
        Spike times in s grouped by unit (``times[indptr[k]:indptr[k + 1]]``: unit ``k``).
    t_start, t_stop : float
        Recording interval in s.
    bw : float
        Bin width in s (the correlogram's).
    candidates : ndarray of bool, shape (n, n)
        Post × pre pairs called by the first stage.
    delays : ndarray, shape (n, n)
        Estimated delay of each candidate in s (> 0).
    excitatory : ndarray of bool, shape (n, n)
        Sign of each candidate's first-stage call (True: excitatory).
    span : int
        Half-width of the narrow lag window in bins (≥ 0).
    flank : int
        Half-width of the flank lag window in bins (> ``span``).
    width : int, default 1
        Width in bins of the blocks of adjacent narrow lags tested besides the single lags
        (1: single lags only), for peaks and troughs spread over several bins.

    Returns
    -------
    ndarray, shape (n, n)
        p-value of each candidate (NaN elsewhere): the one-sided Wald test that the
        narrow-window rate exceeds (excitatory) or falls below (inhibitory) the flank's,
        given the other candidates.
    """
    n = candidates.shape[0]
    if flank <= span or span < 0:
        raise ValueError(f"flank ({flank} bins) must exceed span ({span} bins) >= 0")
    out = np.full((n, n), np.nan)
    n_bins = int(math.floor((t_stop - t_start) / bw + 1e-9)) + 1
    offs = np.arange(-flank, flank + 1)
    is_narrow = np.abs(offs) <= span
    n_col = 2 * span + 2           # per candidate: one column per narrow lag, one flank
    col_of = np.where(is_narrow, offs + span, 2 * span + 1)
    m = 2 * span + 1
    # tests of a candidate: its m narrow lags, and blocks of `width` adjacent lags
    w_b = min(max(int(width), 1), m)
    tests = np.vstack([np.eye(m)] + [np.r_[np.zeros(s0), np.ones(w_b), np.zeros(m - s0 - w_b)]
                                     [None, :] for s0 in range(m - w_b + 1) if w_b > 1])
    # fixed hash weights of the covariate columns (not a statistical draw)
    hash_w = np.random.default_rng(12345).uniform(1.0, 2.0, n_col * int(candidates.sum(1).max(
        initial=0)))
    for i in np.nonzero(candidates.any(axis=1))[0]:
        pres = np.nonzero(candidates[i])[0]
        c = pres.size
        y_bins = _bins_of(times[indptr[i]:indptr[i + 1]], t_start, bw)
        rows, cols = [], []
        for q, j in enumerate(pres):
            sb = _bins_of(times[indptr[j]:indptr[j + 1]], t_start, bw)
            lag = max(int(round(delays[i, j] / bw)), 1)
            # causal lags only (>= 1 bin): the reverse direction's peak or trough and
            # zero-lag synchrony stay out of both windows
            use = lag + offs >= 1
            b = (sb[:, None] + (lag + offs[use])[None, :]).ravel()
            col = np.broadcast_to(n_col * q + col_of[use], (sb.size, int(use.sum()))).ravel()
            ok = b < n_bins
            rows.append(b[ok])
            cols.append(col[ok])
        rows = np.concatenate(rows)
        cols = np.concatenate(cols)
        # each bin's covariate row, hashed: the sum of its counts times random weights
        # (distinct small-integer rows get distinct keys almost surely); bins without any
        # candidate spike nearby have key 0 and form one all-zero row
        key = np.bincount(rows, weights=hash_w[cols], minlength=n_bins)
        nz = np.nonzero(key)[0]
        uk, first, ginv = np.unique(key[nz], return_index=True, return_inverse=True)
        g = uk.size
        # the distinct rows, rebuilt from the events of each group's first bin
        grp = np.full(n_bins, -1, dtype=np.int64)
        grp[nz[first]] = np.arange(g)
        rep = grp[rows]
        sel = rep >= 0
        # sparse rows: intercept, then each candidate's narrow lags and flank
        r_all = np.r_[np.arange(g + 1), rep[sel] + 1]
        c_all = np.r_[np.zeros(g + 1, dtype=np.int64), cols[sel] + 1]
        Xg = sparse.coo_matrix((np.ones(r_all.size), (r_all, c_all)),
                               shape=(g + 1, n_col * c + 1))
        wg = np.bincount(ginv, minlength=g).astype(float)
        gy = np.full(n_bins, -1, dtype=np.int64)
        gy[nz] = ginv
        gyi = gy[y_bins[y_bins < n_bins]]
        yg = np.bincount(gyi[gyi >= 0], minlength=g).astype(float)
        X = Xg.tocsr()
        w = np.r_[float(n_bins - nz.size), wg]
        y = np.r_[float(np.sum(gyi < 0)), yg]
        keep = w > 0
        # small dense problems: one BLAS thread (threaded BLAS on a shared machine spins
        # for ~50× longer than the work)
        with threadpool_limits(1):
            beta, cov = _fit_poisson(X[keep], w[keep], y[keep])
        for q, j in enumerate(pres):
            # each narrow lag's and each block's log rate against the flank's (blocks: mean
            # log rate over `width` adjacent lags, equal weights as the lags' exposures are
            # equal; weights from the fitted information would favour the bins a trough
            # leaves nearly empty least), one-sided in the direction of the first stage's
            # call; the most extreme test, Šidák-corrected over the tests
            base = 1 + n_col * q
            idx = np.r_[np.arange(base, base + m), base + m]
            sub = cov[np.ix_(idx, idx)]
            C = np.zeros((tests.shape[0], m + 1))
            C[:, :m] = tests / tests.sum(axis=1, keepdims=True)
            C[:, m] = -1.0
            d = C @ beta[idx]
            var = np.einsum("tk,kl,tl->t", C, sub, C)
            z = d / np.sqrt(np.maximum(var, 1e-300))
            p_t = special.ndtr(-z if excitatory[i, j] else z)
            k = tests.shape[0]
            out[i, j] = float(-np.expm1(k * np.log1p(-min(float(p_t.min()), 1 - 1e-16))))
    return out
