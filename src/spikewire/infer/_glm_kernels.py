"""Compiled kernels of the coupled Poisson GLM on binned spikes.

The design matrix is never formed densely. In lag space it is the sparse matrix of
shifted spike trains, ``X_lag[t, (j, l)] = y_j[t − l]`` (``l = 1..L`` bins), and the
basis-space design is ``X = X_lag (I ⊗ B)``; it is shared by every target. Products with
it run over the spikes: ``η = X W`` costs ``n_spikes · L · n_targets`` and ``Xᵀ R`` the same,
for a block of targets at once (inner loops over targets are contiguous). The kernels
release the GIL so that blocks of targets run in parallel threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def linear_predictor(s_bins, s_units, s_counts, kern, bias, n_bins, out):
    """``out[t, i] = bias[i] + Σ_j Σ_l y_j[t − l] kern[j, l − 1, i]``.

    ``s_bins, s_units, s_counts`` list every non-empty (unit, bin) in any order;
    ``kern`` has shape (n_units, L, n_targets); ``out`` (n_bins, n_targets) is overwritten.
    """
    n_t = bias.size
    n_lags = kern.shape[1]
    for t in range(n_bins):
        for i in range(n_t):
            out[t, i] = bias[i]
    for q in range(s_bins.size):
        s = s_bins[q]
        j = s_units[q]
        c = s_counts[q]
        for l in range(n_lags):
            t = s + 1 + l
            if t >= n_bins:
                break
            for i in range(n_t):
                out[t, i] += c * kern[j, l, i]


@njit(cache=True, nogil=True)
def poisson_loss_residual(eta, y_ptr, y_bins, y_counts, row_w, with_logfact):
    """Weighted Poisson negative log-likelihood; overwrites ``eta`` with the residual.

    ``loss = Σ_t row_w[t] Σ_i (exp(η_ti) − y_ti η_ti [+ log y_ti!])`` and on return
    ``eta[t, i] = row_w[t] (exp(η_ti) − y_ti)``. Target ``i``'s counts are
    ``y_counts[y_ptr[i]:y_ptr[i + 1]]`` at bins ``y_bins[...]``. Returns (loss, per-target
    losses). (Reference path for evaluation; the optimiser uses the chunked
    :func:`chunk_predict` + numpy ``exp`` + :func:`chunk_gradient`.)
    """
    n_bins, n_t = eta.shape
    per = np.zeros(n_t)
    for i in range(n_t):
        for q in range(y_ptr[i], y_ptr[i + 1]):
            s = y_bins[q]
            w = row_w[s]
            if w != 0.0:
                c = y_counts[q]
                per[i] -= w * c * eta[s, i]
                if with_logfact:
                    per[i] += w * math.lgamma(c + 1.0)
    for t in range(n_bins):
        w = row_w[t]
        if w == 0.0:
            for i in range(n_t):
                eta[t, i] = 0.0
        else:
            for i in range(n_t):
                mu = math.exp(eta[t, i])
                per[i] += w * mu
                eta[t, i] = w * mu
    for i in range(n_t):
        for q in range(y_ptr[i], y_ptr[i + 1]):
            s = y_bins[q]
            eta[s, i] -= row_w[s] * y_counts[q]
    return per.sum(), per


@njit(cache=True, nogil=True)
def chunk_predict(s_bins, s_units, s_counts, kern, bias, row_w, tindex, t0, t1, eta, lin):
    """Rows ``t0..t1`` of the predictor into ``eta[:t1 - t0]``; adds the targets' data term
    ``Σ_t w_t y_ti η_ti`` of these rows to ``lin``. ``s_*`` in time order."""
    n_units, n_lags, n_t = kern.shape
    nrow = t1 - t0
    for r in range(nrow):
        for i in range(n_t):
            eta[r, i] = bias[i]
    lo = np.searchsorted(s_bins, t0 - n_lags)
    hi = np.searchsorted(s_bins, t1 - 1)
    for q in range(lo, hi):
        s = s_bins[q]
        j = s_units[q]
        c = s_counts[q]
        for l in range(n_lags):
            t = s + 1 + l
            if t >= t1:
                break
            if t >= t0:
                r = t - t0
                for i in range(n_t):
                    eta[r, i] += c * kern[j, l, i]
    lo2 = np.searchsorted(s_bins, t0)
    hi2 = np.searchsorted(s_bins, t1)
    for q in range(lo2, hi2):
        i = tindex[s_units[q]]
        if i >= 0:
            s = s_bins[q]
            lin[i] += row_w[s] * s_counts[q] * eta[s - t0, i]


@njit(cache=True, nogil=True)
def _weight_rows(mu, row_w, t0, t1, smu):
    """``mu[r] *= row_w[t0 + r]`` for the rows ``t0..t1`` and their sums added to ``smu``."""
    n_t = mu.shape[1]
    for r in range(t1 - t0):
        w = row_w[t0 + r]
        for i in range(n_t):
            v = w * mu[r, i]
            mu[r, i] = v
            smu[i] += v


@njit(cache=True, nogil=True)
def chunk_gradient(s_bins, s_units, s_counts, mu, row_w, t0, t1, n_lags, smu, g):
    """With ``mu[:t1 - t0] = exp(η)`` of rows ``t0..t1``: adds ``Σ_t w_t μ_ti`` to ``smu``
    and ``Σ_t y_j(t − l) w_t μ_ti`` to ``g[j, l − 1, i]``."""
    n_t = mu.shape[1]
    _weight_rows(mu, row_w, t0, t1, smu)
    lo = np.searchsorted(s_bins, t0 - n_lags)
    hi = np.searchsorted(s_bins, t1 - 1)
    for q in range(lo, hi):
        s = s_bins[q]
        j = s_units[q]
        c = s_counts[q]
        for l in range(n_lags):
            t = s + 1 + l
            if t >= t1:
                break
            if t >= t0:
                r = t - t0
                for i in range(n_t):
                    g[j, l, i] += c * mu[r, i]


@njit(cache=True, nogil=True)
def chunk_counts(s_bins, s_units, s_counts, tindex, t0, t1, out):
    """Targets' spike counts of rows ``t0..t1`` into ``out[:t1 - t0]`` (dense chunk)."""
    n_t = out.shape[1]
    for r in range(t1 - t0):
        for i in range(n_t):
            out[r, i] = 0.0
    lo = np.searchsorted(s_bins, t0)
    hi = np.searchsorted(s_bins, t1)
    for q in range(lo, hi):
        i = tindex[s_units[q]]
        if i >= 0:
            out[s_bins[q] - t0, i] += s_counts[q]


@njit(cache=True, nogil=True)
def block_fisher_cross(u_ptr, u_bins, u_counts, w, n_lags, out_hh, out_hx):
    """The Wald step's Fisher blocks and cross terms of one target in one pass over spikes.

    ``w[t, m] = μ_t a_m(t)`` with ``a_0 = 1`` (the intercept column first), so
    ``out_hx[j, l, m] = Σ_t y_j[t − 1 − l] w[t, m]`` (presynaptic unit ``j``'s lagged
    counts against the weighted covariates; ``out_hx[..., 0]`` is the cross term with the
    intercept) and ``out_hh[j, l, l'] = Σ_t μ_t y_j[t − 1 − l] y_j[t − 1 − l']`` (unit
    ``j``'s own block) reads ``μ_t = w[t, 0]`` from the same rows: one cache line per bin
    and one pass over the spikes for both.
    """
    n_units = u_ptr.size - 1
    n_bins, n_m = w.shape
    out_hh[:] = 0.0
    out_hx[:] = 0.0
    for j in range(n_units):
        lo = u_ptr[j]
        hi = u_ptr[j + 1]
        for q in range(lo, hi):
            s1 = u_bins[q]
            c1 = u_counts[q]
            for l in range(n_lags):
                t = s1 + 1 + l
                if t >= n_bins:
                    break
                for m in range(n_m):
                    out_hx[j, l, m] += c1 * w[t, m]
            q2 = q
            while q2 > lo and u_bins[q2 - 1] > s1 - n_lags:
                q2 -= 1
            while q2 < hi and u_bins[q2] < s1 + n_lags:
                s2 = u_bins[q2]
                c2 = u_counts[q2]
                for l in range(n_lags):
                    t = s1 + 1 + l
                    if t >= n_bins:
                        break
                    l2 = t - s2 - 1
                    if 0 <= l2 < n_lags:
                        out_hh[j, l, l2] += c1 * c2 * w[t, 0]
                q2 += 1


@njit(cache=True, nogil=True)
def chunk_predict_self(s_bins, s_units, s_counts, kern, bias, row_w, tindex, t0, t1, eta,
                       lin):
    """:func:`chunk_predict` with the targets' own spike-history filters only.

    ``eta[r, i] = bias[i] + Σ_l y_i[t − l] kern[u_i, l − 1, i]`` for the design unit ``u_i``
    of target ``i`` (``tindex[u_i] = i``); every coupling filter is taken as zero, so the
    cost is ``n_target_spikes · L`` instead of ``n_spikes · L · n_targets`` (the null model
    of the penalty path).
    """
    n_t = kern.shape[2]
    n_lags = kern.shape[1]
    nrow = t1 - t0
    for r in range(nrow):
        for i in range(n_t):
            eta[r, i] = bias[i]
    lo = np.searchsorted(s_bins, t0 - n_lags)
    hi = np.searchsorted(s_bins, t1 - 1)
    for q in range(lo, hi):
        j = s_units[q]
        i = tindex[j]
        if i < 0:
            continue
        s = s_bins[q]
        c = s_counts[q]
        for l in range(n_lags):
            t = s + 1 + l
            if t >= t1:
                break
            if t >= t0:
                eta[t - t0, i] += c * kern[j, l, i]
    lo2 = np.searchsorted(s_bins, t0)
    hi2 = np.searchsorted(s_bins, t1)
    for q in range(lo2, hi2):
        i = tindex[s_units[q]]
        if i >= 0:
            s = s_bins[q]
            lin[i] += row_w[s] * s_counts[q] * eta[s - t0, i]


@njit(cache=True, nogil=True)
def chunk_gradient_self(s_bins, s_units, s_counts, tindex, mu, row_w, t0, t1, n_lags, smu,
                        g):
    """:func:`chunk_gradient` restricted to the targets' own history blocks: adds
    ``Σ_t w_t μ_ti`` to ``smu`` and ``Σ_t y_i(t − l) w_t μ_ti`` to ``g[u_i, l − 1, i]``;
    the coupling blocks of ``g`` are left untouched."""
    _weight_rows(mu, row_w, t0, t1, smu)
    lo = np.searchsorted(s_bins, t0 - n_lags)
    hi = np.searchsorted(s_bins, t1 - 1)
    for q in range(lo, hi):
        j = s_units[q]
        i = tindex[j]
        if i < 0:
            continue
        s = s_bins[q]
        c = s_counts[q]
        for l in range(n_lags):
            t = s + 1 + l
            if t >= t1:
                break
            if t >= t0:
                g[j, l, i] += c * mu[t - t0, i]


@njit(cache=True, nogil=True)
def chunk_add_covariates(z, gam_t, t0, t1, eta):
    """``eta[r, i] += Σ_k z[t0 + r, k] gam_t[k, i]`` for rows ``t0..t1`` (the covariate
    part of the predictor; numpy's ``z @ gam_t`` with two columns is ~20× slower)."""
    n_c, n_t = gam_t.shape
    for r in range(t1 - t0):
        for k in range(n_c):
            v = z[t0 + r, k]
            for i in range(n_t):
                eta[r, i] += v * gam_t[k, i]


@njit(cache=True, nogil=True)
def block_score_var(u_ptr, u_bins, u_counts, resid, kv, kq, q_blocks, block_bins, out):
    """Sum over time blocks of the squared block score of a linear combination of every
    presynaptic block's coefficients: the meat ``vᵀ M v`` of a cluster-robust variance.

    For unit ``j`` and time block ``k`` (bins ``k·block_bins`` to ``(k + 1)·block_bins −
    1``) the block score is

        ``s_jk = Σ_{t ∈ k} Σ_l kv[j, l − 1] y_j[t − l] r_t − kq[j] · q_blocks[k]``,

    with ``kv[j]`` the lag-space filter ``B v_j`` of the combination, ``r = resid`` the
    target's residual ``y − μ`` per bin, ``q_blocks[k] = Σ_{t ∈ k} a(t) r_t`` the nuisance
    columns' block scores and ``kq[j] = (C_j N⁻¹)ᵀ v_j`` their profiling weights. Sets
    ``out[j] = Σ_k s_jk² − Σ_k (kq[j] · q_blocks[k])²``: the blocks without a spike of
    ``j`` (whose ``s_jk = −kq[j] · q_k``) are added by the caller as the quadratic form
    ``kq[j]ᵀ (QᵀQ) kq[j]``. Needs ``block_bins ≥ L`` (a spike's lags then reach at most
    the next block). Cost ``n_spikes · L``.
    """
    n_units = u_ptr.size - 1
    n_bins = resid.size
    n_lags = kv.shape[1]
    n_m = q_blocks.shape[1]
    for j in range(n_units):
        total = 0.0
        cur = -1
        a0 = 0.0          # score of block `cur`
        a1 = 0.0          # ... and of block `cur + 1`
        live1 = False
        for q in range(u_ptr[j], u_ptr[j + 1]):
            s = u_bins[q]
            if s + 1 >= n_bins:                  # a spike in the last bin drives no lag
                break
            c = u_counts[q]
            kb = (s + 1) // block_bins          # block of the spike's first lag
            if kb != cur:
                if cur >= 0:
                    kqb = 0.0
                    for m in range(n_m):
                        kqb += kq[j, m] * q_blocks[cur, m]
                    total += (a0 - kqb) ** 2 - kqb * kqb
                    a0 = 0.0
                    if live1:
                        if kb == cur + 1:
                            a0 = a1
                        else:
                            kqb = 0.0
                            for m in range(n_m):
                                kqb += kq[j, m] * q_blocks[cur + 1, m]
                            total += (a1 - kqb) ** 2 - kqb * kqb
                    a1 = 0.0
                live1 = False
                cur = kb
            lim = min(s + 1 + n_lags, n_bins)
            edge = min((cur + 1) * block_bins, lim)
            for t in range(s + 1, edge):
                a0 += c * kv[j, t - s - 1] * resid[t]
            for t in range(edge, lim):
                a1 += c * kv[j, t - s - 1] * resid[t]
                live1 = True
        if cur >= 0:
            kqb = 0.0
            for m in range(n_m):
                kqb += kq[j, m] * q_blocks[cur, m]
            total += (a0 - kqb) ** 2 - kqb * kqb
            if live1:
                kqb = 0.0
                for m in range(n_m):
                    kqb += kq[j, m] * q_blocks[cur + 1, m]
                total += (a1 - kqb) ** 2 - kqb * kqb
        out[j] = total


@njit(cache=True, nogil=True)
def block_score_cov(u_ptr, u_bins, u_counts, resid, kv, kq, q_blocks, block_bins, out):
    """:func:`block_score_var` for three combinations at once: the meat ``Vᵀ M V``.

    ``kv[j, l, a]`` (shape ``(n_units, L, 3)``, the combinations last) is the lag-space
    filter of combination ``a`` of unit ``j``'s coefficients, ``kq[j, a]`` its profiling
    weights (``(n_units, 3, n_m)``); pad with zeros for fewer combinations. Sets
    ``out[j, a, b] = Σ_k s_jka s_jkb − Σ_k (kq[j, a] · q_k)(kq[j, b] · q_k)`` over the
    blocks ``k`` holding a lag of a spike of ``j``; the caller adds the blocks without one
    as ``kq[j] (QᵀQ) kq[j]ᵀ``. Each spike's three partial sums are accumulated in
    registers and added to its block's score once (the same sums as
    :func:`block_score_var` per combination, grouped by spike). Cost ``n_spikes · L · 3``.
    """
    n_units = u_ptr.size - 1
    n_bins = resid.size
    n_lags = kv.shape[1]
    a0 = np.zeros(3)
    a1 = np.zeros(3)
    kqb = np.zeros(3)
    for j in range(n_units):
        for a in range(3):
            for b in range(3):
                out[j, a, b] = 0.0
            a0[a] = 0.0
            a1[a] = 0.0
        cur = -1
        live1 = False
        for q in range(u_ptr[j], u_ptr[j + 1]):
            s = u_bins[q]
            if s + 1 >= n_bins:                  # a spike in the last bin drives no lag
                break
            c = u_counts[q]
            kb = (s + 1) // block_bins          # block of the spike's first lag
            if kb != cur:
                if cur >= 0:
                    _close_block(j, cur, a0, kq, q_blocks, kqb, out)
                    for a in range(3):
                        a0[a] = 0.0
                    if live1:
                        if kb == cur + 1:
                            for a in range(3):
                                a0[a] = a1[a]
                        else:
                            _close_block(j, cur + 1, a1, kq, q_blocks, kqb, out)
                    for a in range(3):
                        a1[a] = 0.0
                live1 = False
                cur = kb
            lim = min(s + 1 + n_lags, n_bins)
            edge = min((cur + 1) * block_bins, lim)
            x0 = 0.0
            x1 = 0.0
            x2 = 0.0
            for t in range(s + 1, edge):
                r = resid[t]
                l = t - s - 1
                x0 += kv[j, l, 0] * r
                x1 += kv[j, l, 1] * r
                x2 += kv[j, l, 2] * r
            a0[0] += c * x0
            a0[1] += c * x1
            a0[2] += c * x2
            if edge < lim:
                x0 = 0.0
                x1 = 0.0
                x2 = 0.0
                for t in range(edge, lim):
                    r = resid[t]
                    l = t - s - 1
                    x0 += kv[j, l, 0] * r
                    x1 += kv[j, l, 1] * r
                    x2 += kv[j, l, 2] * r
                a1[0] += c * x0
                a1[1] += c * x1
                a1[2] += c * x2
                live1 = True
        if cur >= 0:
            _close_block(j, cur, a0, kq, q_blocks, kqb, out)
            if live1:
                _close_block(j, cur + 1, a1, kq, q_blocks, kqb, out)


@njit(cache=True, nogil=True)
def _close_block(j, blk, acc, kq, q_blocks, kqb, out):
    """Add block ``blk``'s score outer product of unit ``j`` to ``out[j]`` (see
    :func:`block_score_cov`)."""
    n_c = acc.size
    n_m = q_blocks.shape[1]
    for a in range(n_c):
        v = 0.0
        for m in range(n_m):
            v += kq[j, a, m] * q_blocks[blk, m]
        kqb[a] = v
    for a in range(n_c):
        for b in range(n_c):
            out[j, a, b] += (acc[a] - kqb[a]) * (acc[b] - kqb[b]) - kqb[a] * kqb[b]


@njit(cache=True, nogil=True)
def _norm_tail(x):
    """``P(N(0, 1) ≥ x)``."""
    return 0.5 * math.erfc(x * 0.7071067811865476)


@njit(cache=True, nogil=True)
def _scan_term4(mm, L, e1, e2, mu3, l33, nodes, weights):
    """``∫ φ(e_3) P(|z_4| ≥ m | e_1, e_2, e_3) de_3`` over ``|z_3| < m`` (clipped to ±9):
    the innermost integral of :func:`scan_tail`'s 4th term."""
    c = 1.0 / math.sqrt(2.0 * math.pi)
    lo = max((-mm - mu3) / l33, -9.0)
    hi = min((mm - mu3) / l33, 9.0)
    if hi < lo:
        hi = lo
    half = 0.5 * (hi - lo)
    mid = 0.5 * (hi + lo)
    l44 = L[3, 3]
    base = L[3, 0] * e1 + L[3, 1] * e2
    acc = 0.0
    for q in range(nodes.size):
        e3 = mid + half * nodes[q]
        mu4 = base + L[3, 2] * e3
        acc += (half * weights[q] * c * math.exp(-0.5 * e3 * e3)
                * (_norm_tail((mm - mu4) / l44) + _norm_tail((mm + mu4) / l44)))
    return acc


@njit(cache=True, nogil=True)
def scan_tail(m, chol, nodes, weights, out):
    """``P(max_a |z_a| ≥ m[n])`` for ``z = L e``, ``L = chol[n]`` (k = 2, 3 or 4), ``e``
    iid standard normal: ``P(|z_1| ≥ m) + P(|z_1| < m, |z_2| ≥ m) [+ P(|z_1|, |z_2| < m,
    |z_3| ≥ m)] [+ P(|z_1|, |z_2|, |z_3| < m, |z_4| ≥ m)]``, each an integral of normal
    tails over ``e_1 ∈ [−m, m]`` (``e_2`` over ``|z_2| < m``, ``e_3`` over ``|z_3| < m``,
    both clipped to ±9) by Gauss–Legendre ``nodes`` / ``weights`` on [−1, 1] (see
    :func:`spikewire.infer.glm.scan_pvalue`). The k = 2 and 3 terms are computed in the
    same order whatever k, so adding the 4th term leaves them bit-for-bit."""
    k = chol.shape[1]
    nq = nodes.size
    c = 1.0 / math.sqrt(2.0 * math.pi)
    for n in range(m.size):
        mm = m[n]
        l21 = chol[n, 1, 0]
        l22 = chol[n, 1, 1]
        total = 2.0 * _norm_tail(mm)
        total4 = 0.0
        for a in range(nq):
            e1 = mm * nodes[a]
            w1 = mm * weights[a] * c * math.exp(-0.5 * e1 * e1)
            mu2 = l21 * e1
            total += w1 * (_norm_tail((mm - mu2) / l22) + _norm_tail((mm + mu2) / l22))
            if k >= 3:
                l31 = chol[n, 2, 0]
                l32 = chol[n, 2, 1]
                l33 = chol[n, 2, 2]
                lo = max((-mm - mu2) / l22, -9.0)
                hi = min((mm - mu2) / l22, 9.0)
                if hi < lo:
                    hi = lo
                half = 0.5 * (hi - lo)
                mid = 0.5 * (hi + lo)
                inner = 0.0
                inner4 = 0.0
                for b in range(nq):
                    e2 = mid + half * nodes[b]
                    w2 = half * weights[b] * c * math.exp(-0.5 * e2 * e2)
                    mu3 = l31 * e1 + l32 * e2
                    inner += w2 * (_norm_tail((mm - mu3) / l33)
                                   + _norm_tail((mm + mu3) / l33))
                    if k == 4:
                        inner4 += w2 * _scan_term4(mm, chol[n], e1, e2, mu3, l33,
                                                   nodes, weights)
                total += w1 * inner
                total4 += w1 * inner4
        if k == 4:
            total += total4
        out[n] = total


@njit(cache=True, nogil=True)
def csr_weighted_gram(indptr, indices, data, w, out):
    """``out += Xᵀ diag(w) X`` for a CSR matrix ``X`` (``indptr, indices, data``) of
    n_rows rows and ``out.shape[0]`` columns: the Fisher information of one target's
    coupling block. Each row adds the products of its non-zeros once per unordered pair
    (half of a sparse–sparse product's work and no sparse result) into whichever
    triangle its column order gives; the full symmetric matrix is then ``out + outᵀ``
    less the diagonal, which :func:`symmetrise_gram` forms in place. Rows with
    ``w == 0`` are skipped."""
    for t in range(indptr.size - 1):
        wt = w[t]
        if wt == 0.0:
            continue
        a1 = indptr[t + 1]
        for p in range(indptr[t], a1):
            ca = indices[p]
            va = wt * data[p]
            for q in range(p, a1):
                out[ca, indices[q]] += va * data[q]


@njit(cache=True, nogil=True)
def symmetrise_gram(out):
    """``out ← out + outᵀ − diag(out)``: the symmetric Gram matrix from the one-sided
    accumulation of :func:`csr_weighted_gram`."""
    n = out.shape[0]
    for a in range(n):
        for b in range(a + 1, n):
            v = out[a, b] + out[b, a]
            out[a, b] = v
            out[b, a] = v
