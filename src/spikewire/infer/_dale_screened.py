"""Screened, per-target solver of ``dale_glm`` for many units and long recordings.

The full solver (:class:`spikewire.infer.dale_glm._Problem`) fits every target on every
recorded unit jointly and forms a dense ``(n_units · n_basis)²`` Hessian per target for
the Wald step: at 1,000 units × 1 h that is ≈ 250 CPU-hours and ≈ 50 GiB
(``benchmarks/results/dale5.md``). This solver (``solver="screened"``) keeps the model,
the label step and the tests of the full one, on a sparse model per target:

1. **Screen.** On a screening part of the recording (``screen_duration`` s: evenly spaced
   10 s chunks, or all of it when shorter) each target gets a null model (intercept,
   self-history filter, population covariates; Newton), and every presynaptic unit ``j``
   a score test of its summed filter: ``U_ij = Σ_t (y_i(t) − μ_i(t)) x_j(t)``,
   ``V_ij = Σ_t μ_i(t) x_j(t)²``, ``x_j(t) = Σ_l y_j(t − l) c(l)`` with ``c`` the summed
   basis (the lag profile of the tested contrast), ``z_ij = U_ij / √V_ij`` (one compiled
   pass over the screening block's presynaptic spikes × lags × targets). The
   ``n_candidates`` inputs of largest ``|z_ij|`` are the target's candidates.
2. **Sparse fit.** Each target's model (intercept, self-history, population covariates,
   its candidates' filters) is fitted on all bins by Newton's method with the exact
   Hessian, computed event-driven in lag space (cost ``Σ_t nnz_t²`` over bins with
   ``nnz_t`` ≈ the candidates' spikes in the window: ≈ 7 at 40 candidates × 7 Hz × 25 ms),
   then projected on the basis. Targets run one after the other (or on ``n_jobs``
   threads; the kernels release the GIL); memory is one target's design at a time.
3. **Wald step on the candidates** (model or time-block-robust sandwich, as in the full
   solver; floored at the model variance), **score z for the rest**: a non-candidate
   pair keeps its screening z. Labels (:func:`~spikewire.infer.dale_glm.label_units`),
   the global null scale and the p-values then follow the full solver on the merged
   z-matrix. Calibration argument: a candidate's Wald z and its screening z estimate the
   same standardised coupling (the screening block is part of the data), so the merged
   z-scores have the null distribution of either; measured in
   ``benchmarks/results/dalescale.md``.
4. **Sign-constrained refits** per target (projected Newton, bounds from the labels):
   on the training part (held-out bits per spike on the rest) and on all bins (the
   reported weights), warm-started.

Not supported here (the full solver does them): state ``covariates``, ``prior`` /
``weight_scale`` penalties, ``empirical_null``, :meth:`fit_sessions`.
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit
from scipy.special import gammaln

from spikewire.infer._bases import population_covariates
from spikewire.infer.glm import MIN_UNITS_FOR_POPULATION, build_design

log = logging.getLogger("spikewire.infer.dale_glm")

#: Candidate inputs kept per target by default (see :class:`DaleGLM`'s ``n_candidates``).
DEFAULT_CANDIDATES = 40
#: Seconds of the recording the screen uses by default.
DEFAULT_SCREEN_DURATION = 300.0
#: ``solver="auto"`` uses the screened solver from this many fitted units on.
AUTO_SCREENED_UNITS = 150
#: Length in s of the chunks the screening part is made of.
SCREEN_CHUNK = 10.0


# ============================================================================ kernels
@njit(cache=True, nogil=True)
def _screen_scores(u_ptr, u_bins, u_counts, csum_lag, keep, resid, mu, U, V):
    """Score statistics of every presynaptic unit on every target over the kept bins.

    ``x_j(t) = Σ_l y_j(t − l) csum_lag[l − 1]``; ``U[j, i] += x_j(t) resid[r(t), i]``,
    ``V[j, i] += x_j(t)² mu[r(t), i]`` for bins ``t`` with ``keep[t] = r(t) ≥ 0`` (the row
    of ``t`` in ``resid``/``mu``). ``x_j(t)`` is formed exactly (overlapping spikes of one
    unit add up) by walking each unit's spikes in time order.
    """
    n_units = u_ptr.size - 1
    L = csum_lag.size
    n_bins = keep.size
    nt = resid.shape[1]
    for j in range(n_units):
        a, b = u_ptr[j], u_ptr[j + 1]
        last = -1                         # last bin whose x_j was already used
        for q in range(a, b):
            s = u_bins[q]
            t0 = max(s + 1, last + 1)
            t1 = min(s + L, n_bins - 1)
            for t in range(t0, t1 + 1):
                r = keep[t]
                if r < 0:
                    continue
                x = 0.0
                # spikes of j at bins t − L .. t − 1: walk back from q (and forward
                # spikes of j before t beyond q are impossible: q is the latest ≤ t − 1
                # only if the next spike is at ≥ t)
                qq = q
                while qq + 1 < b and u_bins[qq + 1] < t:
                    qq += 1
                while qq >= a and u_bins[qq] >= t - L:
                    x += u_counts[qq] * csum_lag[t - u_bins[qq] - 1]
                    qq -= 1
                if x == 0.0:
                    continue
                x2 = x * x
                for i in range(nt):
                    U[j, i] += x * resid[r, i]
                    V[j, i] += x2 * mu[r, i]
            if t1 > last:
                last = t1


@njit(cache=True, nogil=True)
def _local_rows(u_ptr, u_bins, u_counts, units, n_lags, n_bins):
    """Lag-space design of one target as CSR over bins: column ``k · L + l − 1`` of
    ``units[k]`` holds ``y_{units[k]}(t − l)``. Returns (indptr, cols, vals)."""
    cnt = np.zeros(n_bins + 1, dtype=np.int64)
    for k in range(units.size):
        j = units[k]
        for q in range(u_ptr[j], u_ptr[j + 1]):
            s = u_bins[q]
            for l in range(1, n_lags + 1):
                t = s + l
                if t >= n_bins:
                    break
                cnt[t + 1] += 1
    indptr = np.cumsum(cnt)
    nnz = indptr[-1]
    cols = np.empty(nnz, dtype=np.int32)
    vals = np.empty(nnz, dtype=np.float64)
    fill = indptr[:-1].copy()
    for k in range(units.size):
        j = units[k]
        for q in range(u_ptr[j], u_ptr[j + 1]):
            s = u_bins[q]
            for l in range(1, n_lags + 1):
                t = s + l
                if t >= n_bins:
                    break
                p = fill[t]
                cols[p] = k * n_lags + l - 1
                vals[p] = u_counts[q]
                fill[t] = p + 1
    return indptr, cols, vals


@njit(cache=True, nogil=True)
def _local_pass(indptr, cols, vals, D, y, rw, kl, cd, hess, block_bins, scores):
    """One pass of a target's Poisson model over its bins.

    ``η_t = D_t · cd + Σ_q vals_q kl[cols_q]`` over row ``t``'s lag-space entries. Returns
    the weighted loss ``Σ_t rw_t (μ_t − y_t η_t)``, its gradient in lag space (p,) and on
    the dense columns (nd,), and with ``hess`` the Hessian blocks ``H_ll`` (p, p),
    ``H_ld`` (p, nd), ``H_dd`` (nd, nd). With ``block_bins > 0`` the score
    ``Σ_{t∈b} rw_t (y_t − μ_t) [x_t, D_t]`` of each block of ``block_bins`` bins is
    added into ``scores`` (n_blocks, p + nd).
    """
    n = indptr.size - 1
    p = kl.size
    nd = D.shape[1]
    loss = 0.0
    gl = np.zeros(p)
    gd = np.zeros(nd)
    hp = p if hess else 1
    hd = nd if hess else 1
    Hll = np.zeros((hp, hp))
    Hld = np.zeros((hp, hd))
    Hdd = np.zeros((hd, hd))
    for t in range(n):
        w = rw[t]
        if w == 0.0:
            continue
        e = 0.0
        for k in range(nd):
            e += D[t, k] * cd[k]
        for q in range(indptr[t], indptr[t + 1]):
            e += vals[q] * kl[cols[q]]
        if e > 50.0:
            e = 50.0
        mu = math.exp(e)
        yt = y[t]
        loss += w * (mu - yt * e)
        r = w * (mu - yt)
        for q in range(indptr[t], indptr[t + 1]):
            gl[cols[q]] += r * vals[q]
        for k in range(nd):
            gd[k] += r * D[t, k]
        if block_bins > 0:
            b = t // block_bins
            for q in range(indptr[t], indptr[t + 1]):
                scores[b, cols[q]] -= r * vals[q]
            for k in range(nd):
                scores[b, p + k] -= r * D[t, k]
        if hess:
            wm = w * mu
            for q in range(indptr[t], indptr[t + 1]):
                cq = cols[q]
                vq = wm * vals[q]
                for q2 in range(indptr[t], indptr[t + 1]):
                    Hll[cq, cols[q2]] += vq * vals[q2]
                for k in range(nd):
                    Hld[cq, k] += vq * D[t, k]
            for k in range(nd):
                dk = wm * D[t, k]
                for k2 in range(nd):
                    Hdd[k, k2] += dk * D[t, k2]
    return loss, gl, gd, Hll, Hld, Hdd


@njit(cache=True, nogil=True)
def _local_eta(indptr, cols, vals, D, kl, cd, out):
    """Linear predictor of one target at every bin (no clipping)."""
    n = indptr.size - 1
    nd = D.shape[1]
    for t in range(n):
        e = 0.0
        for k in range(nd):
            e += D[t, k] * cd[k]
        for q in range(indptr[t], indptr[t + 1]):
            e += vals[q] * kl[cols[q]]
        out[t] = e


# ============================================================================ target
class _Target:
    """One target's sparse problem: units ``[own, candidates...]`` through the basis,
    dense columns ``[1, population covariates...]``, ridge per coefficient."""

    def __init__(self, design, pos, cands, D, y, rw, ridge, history_ridge):
        self.units = np.concatenate([[pos], cands]).astype(np.int64)
        self.m = self.units.size
        self.L, self.nb = design.n_lags, design.n_basis
        self.B = design.basis
        self.indptr, self.cols, self.vals = _local_rows(
            design.u_ptr, design.u_bins, design.u_counts, self.units, self.L, design.n_bins)
        self.D, self.y, self.rw = D, y, rw
        self.nd = D.shape[1]
        self.nw = self.m * self.nb
        self.lam = np.concatenate([np.full(self.nb, history_ridge),
                                   np.full(self.nw - self.nb, ridge), np.zeros(self.nd)])

    def lag(self, theta):
        """Lag-space kernel (m · L,) of the basis coefficients in ``theta``."""
        w = theta[:self.nw].reshape(self.m, self.nb)
        return np.ascontiguousarray((w @ self.B.T).ravel())

    def evaluate(self, theta, rw, hess=True, block_bins=0):
        kl = self.lag(theta)
        cd = np.ascontiguousarray(theta[self.nw:])
        nbk = (self.rw.size + block_bins - 1) // block_bins if block_bins > 0 else 1
        scores = np.zeros((nbk, kl.size + self.nd)) if block_bins > 0 else np.zeros((1, 1))
        f, gl, gd, Hll, Hld, Hdd = _local_pass(self.indptr, self.cols, self.vals, self.D,
                                               self.y, rw, kl, cd, hess, block_bins, scores)
        f += 0.5 * float(np.sum(self.lam * theta * theta))
        gw = (gl.reshape(self.m, self.L) @ self.B).ravel()
        g = np.concatenate([gw, gd]) + self.lam * theta
        H = None
        if hess:
            m, L = self.m, self.L
            H4 = Hll.reshape(m, L, m, L)
            Hww = np.einsum("alcm,lb,md->abcd", H4, self.B, self.B, optimize=True).reshape(
                self.nw, self.nw)
            Hwd = np.einsum("ald,lb->abd", Hld.reshape(m, L, self.nd), self.B).reshape(
                self.nw, self.nd)
            H = np.block([[Hww, Hwd], [Hwd.T, Hdd]])
            H[np.diag_indices_from(H)] += self.lam
        if block_bins > 0:
            sl = scores[:, :kl.size].reshape(nbk, self.m, self.L)
            sw = np.einsum("gml,lb->gmb", sl, self.B).reshape(nbk, self.nw)
            scores = np.hstack([sw, scores[:, kl.size:]])
        return f, g, H, scores

    def newton(self, theta, rw, lo=None, hi=None, max_iter=50, tol=1e-7):
        """(Projected) Newton with backtracking; returns (theta, converged, iterations)."""
        bounded = lo is not None
        if bounded:
            theta = np.clip(theta, lo, hi)
        f, g, H, _ = self.evaluate(theta, rw)
        for it in range(1, max_iter + 1):
            free = np.ones(theta.size, dtype=bool)
            if bounded:
                at_lo = (theta <= lo) & (g > 0)
                at_hi = (theta >= hi) & (g < 0)
                free = ~(at_lo | at_hi)
            d = np.zeros_like(theta)
            Hf = H[np.ix_(free, free)]
            Hf[np.diag_indices_from(Hf)] += 1e-10 * (np.trace(Hf) / max(Hf.shape[0], 1))
            try:
                d[free] = -np.linalg.solve(Hf, g[free])
            except np.linalg.LinAlgError:
                d[free] = -g[free]
            dec = -float(g @ d)
            if dec < 2 * tol:
                return theta, True, it
            step = 1.0
            for _ in range(40):
                tn = theta + step * d
                if bounded:
                    tn = np.clip(tn, lo, hi)
                fn, gn, Hn, _ = self.evaluate(tn, rw, hess=False)
                if np.isfinite(fn) and fn <= f + 1e-4 * float(g @ (tn - theta)):
                    break
                step *= 0.5
            else:
                return theta, False, it
            theta = tn
            f_old, f = f, fn
            f, g, H, _ = self.evaluate(theta, rw)
            if abs(f_old - f) < tol * 1e-2 and not bounded:
                return theta, True, it
        return theta, False, max_iter

    def loglik(self, theta, rw):
        """Poisson log-likelihood (nats, log y! included) on rows weighted by ``rw``."""
        e = np.empty(self.y.size)
        _local_eta(self.indptr, self.cols, self.vals, self.D, self.lag(theta),
                   np.ascontiguousarray(theta[self.nw:]), e)
        mu = np.exp(np.minimum(e, 50.0))
        return float(-np.sum(rw * (mu - self.y * e + gammaln(self.y + 1.0))))


# ============================================================================ driver
def _screen_rows(n_bins: int, bw: float, screen_duration: float) -> np.ndarray:
    """Row index of each bin in the screening part (−1 outside): evenly spaced chunks of
    :data:`SCREEN_CHUNK` s, or every bin when the recording is not longer than
    ``screen_duration``."""
    keep = np.full(n_bins, -1, dtype=np.int64)
    if n_bins * bw <= screen_duration:
        keep[:] = np.arange(n_bins)
        return keep
    chunk = max(int(round(SCREEN_CHUNK / bw)), 1)
    n_chunks = max(int(screen_duration / (chunk * bw)), 1)
    starts = np.linspace(0, n_bins - chunk, n_chunks).astype(np.int64)
    mask = np.zeros(n_bins, dtype=bool)
    for s in starts:
        mask[s:s + chunk] = True
    keep[mask] = np.arange(int(mask.sum()))
    return keep


class ScreenedSolver:
    """Runs the screened solver for one :class:`~spikewire.infer.dale_glm.DaleGLM`."""

    def __init__(self, method, design, tpos, bw):
        self.mth = method
        self.d = design
        self.tpos = np.asarray(tpos, dtype=np.int64)
        self.bw = bw
        self.nu, self.nt = design.n_units, self.tpos.size
        self.csum = design.basis.sum(axis=0)
        self.csum_lag = np.ascontiguousarray(design.basis @ self.csum)
        n_bins = design.n_bins
        self.pop = np.bincount(design.s_bins, weights=design.s_counts,
                               minlength=n_bins)[:n_bins]
        self.taus = method._timescales() if self.nu >= MIN_UNITS_FOR_POPULATION else ()
        self.K = min(int(method.n_candidates), self.nu - 1)
        self.cut = int(round(n_bins * (1 - method.validation_fraction)))
        self.rb = (max(int(round(method.robust_block / bw)), 1)
                   if method.variance == "robust" else 0)
        self.n_jobs = method._n_jobs()

    # -------------------------------------------------------------- per-target data
    def _dense(self, i):
        """Counts, refractory row weights and dense columns of target position ``i``."""
        d = self.d
        y = d.counts(i)
        D = [np.ones(d.n_bins)]
        if self.taus:
            gap = int(round(self.mth.population_gap / self.bw))
            P = population_covariates(np.arange(d.n_bins), self.pop - y, d.n_bins, self.bw,
                                      self.taus, gap=gap, two_sided=False)
            D.extend(P.T)
        rw = np.ones(d.n_bins)
        r_bins = int(round(self.mth.refractory / self.bw))
        sb = d.u_bins[d.u_ptr[i]:d.u_ptr[i + 1]]
        for k in range(1, r_bins + 1):
            idx = sb + k
            rw[idx[idx < d.n_bins]] = 0.0
        n_ref = int(np.sum((rw == 0) & (y > 0)))
        rw[y > 0] = 1.0
        return y, rw, np.ascontiguousarray(np.stack(D, axis=1)), n_ref

    def _map(self, fn, items):
        if self.n_jobs > 1 and len(items) > 1:
            with ThreadPoolExecutor(self.n_jobs) as ex:
                return list(ex.map(fn, items))
        return [fn(x) for x in items]

    # -------------------------------------------------------------- 1. screen
    def screen(self):
        """Screening z (nu pre, nt post) and candidate positions (nt, K)."""
        d = self.d
        keep = _screen_rows(d.n_bins, self.bw, self.mth.screen_duration)
        rows = np.flatnonzero(keep >= 0)
        n_s = rows.size
        U = np.zeros((self.nu, self.nt))
        V = np.zeros((self.nu, self.nt))
        block = max(1, min(self.nt, int(2e8 // max(16 * n_s, 1))))   # ≤ ~200 MB / block
        for a in range(0, self.nt, block):
            ids = np.arange(a, min(a + block, self.nt))

            def null(r):
                i = self.tpos[r]
                y, rw, D, _ = self._dense(i)
                rw = rw * (keep >= 0)                 # the screening rows only
                t = _Target(d, i, np.zeros(0, np.int64), D, y, rw, self.mth.ridge,
                            self.mth.history_ridge)
                th0 = np.zeros(t.nw + t.nd)
                th0[t.nw] = math.log(max(y[rows].sum() / max(rw.sum(), 1.0), 1e-8))
                th, _, _ = t.newton(th0, rw, max_iter=30)
                e = np.empty(d.n_bins)
                _local_eta(t.indptr, t.cols, t.vals, t.D, t.lag(th),
                           np.ascontiguousarray(th[t.nw:]), e)
                mu = (np.exp(np.minimum(e, 50.0)) * rw)[rows]
                return rw[rows] * (y[rows] - mu), mu

            out = self._map(null, list(ids))
            resid = np.ascontiguousarray(np.stack([o[0] for o in out], axis=1))
            mu = np.ascontiguousarray(np.stack([o[1] for o in out], axis=1))
            Ub = np.zeros((self.nu, ids.size))
            Vb = np.zeros((self.nu, ids.size))
            _screen_scores(d.u_ptr, d.u_bins, d.u_counts, self.csum_lag, keep, resid, mu,
                           Ub, Vb)
            U[:, ids], V[:, ids] = Ub, Vb
            log.info("dale_glm screened: screen %d/%d targets", ids[-1] + 1, self.nt)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(V > 0, U / np.sqrt(V), 0.0)
        z[self.tpos, np.arange(self.nt)] = 0.0
        a = np.abs(z)
        a[self.tpos, np.arange(self.nt)] = -1.0
        cand = np.argsort(-a, axis=0, kind="stable")[:self.K].T          # (nt, K)
        return z, np.sort(cand, axis=1), n_s * self.bw

    # -------------------------------------------------------------- 2./3. fit + Wald
    def _stage1(self, r, cand):
        i = self.tpos[r]
        y, rw, D, n_ref = self._dense(i)
        t = _Target(self.d, i, cand, D, y, rw, self.mth.ridge, self.mth.history_ridge)
        th0 = np.zeros(t.nw + t.nd)
        th0[t.nw] = math.log(max(y.sum() / max(rw.sum(), 1.0), 1e-8))
        th, ok, it = t.newton(th0, rw, max_iter=self.mth.max_iter)
        _, _, H, S = t.evaluate(th, rw, block_bins=self.rb)
        nb = t.nb
        C = np.zeros((th.size, t.m - 1))
        for c in range(t.m - 1):
            C[(c + 1) * nb:(c + 2) * nb, c] = self.csum
        wsum = C.T @ th
        try:
            sol = np.linalg.solve(H, C)
            var = np.einsum("fj,fj->j", C, sol)
        except np.linalg.LinAlgError:
            sol, var = None, np.full(t.m - 1, np.inf)
        if self.rb and sol is not None:
            live = rw > 0
            starts = np.arange(0, rw.size, self.rb)
            n_blocks = int(np.count_nonzero(np.add.reduceat(live, starts)))
            n_rows = int(np.count_nonzero(live))
            dim = th.size
            if n_blocks > 1 and n_rows > dim:
                gb = S @ sol
                rob = np.einsum("bj,bj->j", gb, gb) * (n_blocks / (n_blocks - 1.0)) * (
                    (n_rows - 1.0) / (n_rows - dim))
                var = np.maximum(var, rob)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(var > 0, wsum / np.sqrt(var), 0.0)
        return dict(theta=th, ok=ok, it=it, z=np.nan_to_num(z), n_ref=n_ref)

    def _stage3(self, r, cand, theta, signs):
        i = self.tpos[r]
        y, rw, D, _ = self._dense(i)
        t = _Target(self.d, i, cand, D, y, rw, self.mth.ridge, self.mth.history_ridge)
        nb = t.nb
        s = np.concatenate([[0.0], signs[cand]])
        sc = np.concatenate([np.repeat(s, nb), np.zeros(t.nd)])
        lo = np.where(sc > 0, 0.0, -np.inf)
        hi = np.where(sc < 0, 0.0, np.inf)
        train = rw.copy()
        train[self.cut:] = 0.0
        val = rw.copy()
        val[:self.cut] = 0.0
        th2, ok2, it2 = t.newton(theta, train, lo, hi, max_iter=self.mth.max_iter)
        ll_val = t.loglik(th2, val)
        yv = float(np.sum(y * val))
        n_tr, y_tr, n_va = float(train.sum()), float(np.sum(y * train)), float(val.sum())
        lgam = float(np.sum(gammaln(y + 1.0) * val))
        r_tr = max(y_tr / max(n_tr, 1.0), 1e-12)
        hom = yv * math.log(r_tr) - r_tr * n_va - lgam
        th3, ok3, it3 = t.newton(th2, rw, lo, hi, max_iter=self.mth.max_iter)
        w = th3[:t.nw].reshape(t.m, nb)
        return dict(wsum=w[1:] @ self.csum, kern=w[1:] @ self.d.basis.T, ok=ok2 and ok3,
                    it=(it2, it3), ll_val=ll_val, hom=hom, yv=yv)

    def run(self):
        """All stages; returns the dict ``DaleGLM`` places into the estimate."""
        from spikewire.infer.dale_glm import label_units, null_scale

        m = self.mth
        t0 = time.perf_counter()
        z_screen, cand, screen_s = self.screen()
        t_screen = time.perf_counter() - t0
        nu, nt = self.nu, self.nt
        s1 = []
        done = [0]

        def one(r):
            out = self._stage1(r, cand[r])
            done[0] += 1
            if done[0] % max(nt // 10, 1) == 0:
                log.info("dale_glm screened: unconstrained fits %d/%d", done[0], nt)
            return out

        s1 = self._map(one, list(range(nt)))
        t_fit1 = time.perf_counter() - t0 - t_screen
        z = z_screen.copy()
        is_cand = np.zeros((nu, nt), dtype=bool)
        for r in range(nt):
            z[cand[r], r] = s1[r]["z"]
            is_cand[cand[r], r] = True
        own = np.zeros((nu, nt), dtype=bool)
        own[self.tpos, np.arange(nt)] = True
        tested = ~own
        lab = label_units(np.where(own, 0.0, z), tested, m.excitatory_fraction,
                          m.min_label_confidence)
        signs = lab["signs"]
        zscale = null_scale(z, tested) if m.null_scale else 1.0

        def three(r):
            return self._stage3(r, cand[r], s1[r]["theta"], signs)

        s3 = self._map(three, list(range(nt)))
        wsum = np.zeros((nt, nu))
        kern = np.zeros((nt, nu, self.d.n_lags))
        for r in range(nt):
            wsum[r, cand[r]] = s3[r]["wsum"]
            kern[r, cand[r]] = s3[r]["kern"]
        ll_val = sum(o["ll_val"] for o in s3)
        hom = sum(o["hom"] for o in s3)
        yv = sum(o["yv"] for o in s3)
        bits = float((ll_val - hom) / max(yv, 1.0) / math.log(2))
        ok = all(o["ok"] for o in s1) and all(o["ok"] for o in s3)
        return dict(
            z=z / zscale, z_raw=z, zscale=zscale, signs=signs, lab=lab["labels"],
            Z=lab["log_odds"], p_e=lab["p_excitatory"], label_conf=lab["confidence"],
            label_stat=lab["statistic"], wsum=wsum, kern=kern, ok=True, converged=ok,
            bits=bits, ll_val=float(ll_val), candidates=is_cand, z_screen=z_screen,
            screen_s=screen_s, n_ref=int(sum(o["n_ref"] for o in s1)),
            iterations={"unconstrained": [o["it"] for o in s1],
                        "train": [o["it"][0] for o in s3],
                        "final": [o["it"][1] for o in s3]},
            time={"screen_s": t_screen, "unconstrained_s": t_fit1,
                  "constrained_s": time.perf_counter() - t0 - t_screen - t_fit1})


def fit_screened(method, ctx):
    """``DaleGLM._fit`` with the screened solver (see the module docstring)."""
    from types import SimpleNamespace

    from spikewire.infer.dale_glm import DaleGLM

    st = ctx.data
    n = st.n_units
    bw = ctx.settings["bin_width"]
    status = ctx.pair_status
    active = np.flatnonzero(ctx.unit_ok)
    cell_type = np.full(n, "?", dtype=object)
    conf = np.zeros(n)
    targets = np.array([i for i in active if np.any(status[i] == 0)], dtype=np.int64)
    if active.size < 3 or targets.size == 0:
        return None                                  # the full solver handles it
    t_fit = time.perf_counter()
    if st.duration < 5 * method.window:
        raise ValueError(f"dale_glm: the recording ({st.duration:g} s) is shorter than 5 "
                         f"filter windows ({5 * method.window:g} s); use a longer recording")
    design = build_design(st, bin_width=bw, window=method.window, n_basis=method.n_basis,
                          units=active)
    tpos = np.searchsorted(active, targets)
    res = ScreenedSolver(method, design, tpos, bw).run()
    res["prob"] = SimpleNamespace(together=np.ones((active.size, tpos.size), dtype=bool))
    weights, pvals, scores, delays = DaleGLM._place(method, res, active[tpos], active,
                                                    status, bw)
    cell_type[active] = res["lab"]
    conf[active] = res["label_conf"]
    it = res["iterations"]
    diag = dict(
        solver="screened", heldout_bits_per_spike=res["bits"],
        heldout_loglik=res["ll_val"],
        p_excitatory=dict(zip(np.asarray(st.units[active]).tolist(), res["p_e"].tolist(),
                              strict=True)),
        label_log_odds=res["Z"].tolist(), label_statistic=res["label_stat"],
        label_confidence=res["label_conf"], labelled=np.asarray(res["signs"]) != 0,
        wald_z_unconstrained=res["z_raw"].T, screen_z=res["z_screen"].T,
        candidates=res["candidates"].T, n_candidates=int(res["candidates"].sum(0).max()),
        screen_duration_s=res["screen_s"], converged=res["converged"],
        iterations={k: int(np.max(v)) if len(v) else 0 for k, v in it.items()},
        n_bins=design.n_bins, filters=res["kern"], basis=design.basis,
        population_covariate=bool(method._timescales()
                                  and active.size >= MIN_UNITS_FOR_POPULATION),
        variance=method.variance, null_scale=float(res["zscale"]),
        spikes_in_refractory_period=res["n_ref"], timings=res["time"],
        time_fit_s=time.perf_counter() - t_fit)
    return method._estimate(ctx, weights, pvals, scores, delays, cell_type, conf, diag)
