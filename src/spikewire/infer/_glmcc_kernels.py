"""Compiled kernels of GLMCC (Kobayashi et al. 2019): cross-correlogram statistics and the
penalised Newton fit of the cross-correlogram GLM, vectorised over pairs with numba.

Model (lags ``t`` in s, ``t = t_j - t_i`` for the unordered pair ``(i, j)``, ``i < j``)::

    λ(t) = exp(a(t) + J⁺ f(t − d) + J⁻ f(−t − d)),   f(s) = exp(−s/τ) for s > 0 else 0

on ``[−W, W)``; ``a`` is piecewise constant on ``M = 2W/δ`` bins. Positive lags carry the
effect of ``i`` on ``j`` (``J⁺``), negative lags that of ``j`` on ``i`` (``J⁻``).
The negative log posterior minimised per pair is::

    F = −Σ_k c_k a_k − J⁺ S⁺ − J⁻ S⁻ + Σ_k exp(a_k) I_k(J) + (1/(2γδ)) Σ_k (a_{k+1} − a_k)²

with ``c_k`` the CCG counts, ``S^± = Σ_lags f(±t − d)`` and ``I_k(J) = ∫_bin k exp(J f)``
computed exactly: ``I_k = δ + τ (E(J f_hi,k) − E(J f_lo,k))`` with the entire function
``E(x) = Σ_{n≥1} xⁿ/(n·n!)`` (``E'(x) = (eˣ − 1)/x``) and ``f_hi, f_lo`` the kernel at the
two ends of the part of bin ``k`` beyond the delay. ``F`` is convex; the Hessian is
tridiagonal in ``a`` with a two-column border (the ``J``), so a Newton step costs O(M).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: Tolerance (s) below the delay within which a lag still counts as after the delay.
LAG_EPS = 1e-9


# ----------------------------------------------------------------------------- statistics
@njit(cache=True, nogil=True)
def _pair_stats(a, b, window, delta, n_bins, tau, thresholds, counts, acc_pos, acc_neg,
                edge_pos, edge_neg):
    """CCG counts of lags ``b − a`` in ``[−W, W)``; ``acc_*[q]`` sums ``exp(−|lag|/τ)`` of
    the lags with ``thresholds[q] < |lag| <= thresholds[q + 1]`` (thresholds ascending,
    last one +inf) on each side."""
    nb = b.size
    j0 = 0
    n_d = thresholds.size - 1
    for t in a:
        lo = t - window
        while j0 < nb and b[j0] < lo:
            j0 += 1
        hi = t + window
        j = j0
        while j < nb and b[j] < hi:
            lag = b[j] - t
            k = int(math.floor((lag + window + LAG_EPS) / delta))
            if k >= n_bins:
                k = n_bins - 1
            elif k < 0:
                k = 0
            counts[k] += 1
            al = abs(lag)
            if al > thresholds[0]:
                q = 0
                while q < n_d - 1 and al > thresholds[q + 1]:
                    q += 1
                el = math.exp(-al / tau)
                on_edge = al <= thresholds[q] + 2.0 * LAG_EPS
                if lag >= 0.0:
                    acc_pos[q] += el
                    if on_edge:
                        edge_pos[q] += el
                if lag <= 0.0:
                    acc_neg[q] += el
                    if on_edge:
                        edge_neg[q] += el
            j += 1


@njit(cache=True, parallel=True)
def ccg_stats(times, indptr, pi, pj, window, delta, n_bins, tau, delays):
    """Sufficient statistics of all requested unordered pairs ``(pi[p], pj[p])``.

    ``delays`` must be sorted ascending. Returns ``counts`` (n_pairs, n_bins) and
    ``s_pos``, ``s_neg`` (n_pairs, n_delays) with ``s_pos[p, q] = Σ_{lag > d_q}
    exp(−(lag − d_q)/τ)`` and ``s_neg`` the same for ``−lag``. A lag within ``LAG_EPS`` of
    ``d_q`` counts with weight ½ (the trapezoid rule: on spike times quantised to ``r`` the
    sum over the lags after the delay then matches the model's integral to O(r²); with full
    weight it was ``r/(1 − exp(−r/τ))`` per ``τ``, +5 % at r = 0.1 ms, τ = 1 ms, enough for
    spurious links in long recordings); a lag of exactly 0 (no direction) counts ½ on
    each side at ``d = 0``. A lag within ``LAG_EPS`` below a bin edge is binned above it
    (lags of quantised data at exact multiples of ``delta`` otherwise fall on either
    side of the edge by floating-point rounding, a spurious period pattern in the counts).
    Lags are binned on ``[−window, window)``; pass ``window = W + delta/2`` and
    ``n_bins = 2W/delta + 1`` for bins centred on multiples of ``delta``.
    """
    n_pairs = pi.size
    n_d = delays.size
    counts = np.zeros((n_pairs, n_bins), dtype=np.int64)
    s_pos = np.zeros((n_pairs, n_d))
    s_neg = np.zeros((n_pairs, n_d))
    exp_d = np.exp(delays / tau)
    thresholds = np.empty(n_d + 1)
    for q in range(n_d):
        thresholds[q] = delays[q] - LAG_EPS
    thresholds[n_d] = np.inf
    for p in prange(n_pairs):
        i = pi[p]
        j = pj[p]
        acc_p = np.zeros(n_d)
        acc_n = np.zeros(n_d)
        edge_p = np.zeros(n_d)
        edge_n = np.zeros(n_d)
        _pair_stats(times[indptr[i]:indptr[i + 1]], times[indptr[j]:indptr[j + 1]], window,
                    delta, n_bins, tau, thresholds, counts[p], acc_p, acc_n, edge_p, edge_n)
        cp = 0.0
        cn = 0.0
        for q in range(n_d - 1, -1, -1):
            cp += acc_p[q]
            cn += acc_n[q]
            s_pos[p, q] = (cp - 0.5 * edge_p[q]) * exp_d[q]
            s_neg[p, q] = (cn - 0.5 * edge_n[q]) * exp_d[q]
    return counts, s_pos, s_neg


@njit(cache=True, parallel=True)
def ccg_stats_scan(ftimes, fpos, times, indptr, pair_index, n_pairs, window, delta, n_bins,
                   tau, delays):
    """Same output as :func:`ccg_stats`, by a population scan instead of pair merges.

    ``ftimes``/``fpos`` are all spikes in time order with their unit positions;
    ``pair_index[i, j]`` is the row of the unordered pair ``(i, j)`` (``i < j``, lag
    ``t_j − t_i``) or −1. For each spike of ``i`` the spikes of every unit within
    ``±window`` are visited once (threads over ``i``), so the cost is the number of
    coincidences, without the per-pair ``O(n_i + n_j)`` merge.
    """
    n_units = indptr.size - 1
    n_d = delays.size
    counts = np.zeros((n_pairs, n_bins), dtype=np.int64)
    acc_p = np.zeros((n_pairs, n_d))
    acc_n = np.zeros((n_pairs, n_d))
    edge_p = np.zeros((n_pairs, n_d))
    edge_n = np.zeros((n_pairs, n_d))
    thresholds = np.empty(n_d + 1)
    for q in range(n_d):
        thresholds[q] = delays[q] - LAG_EPS
    thresholds[n_d] = np.inf
    nf = ftimes.size
    for i in prange(n_units):
        row = pair_index[i]
        k0 = 0
        for m in range(indptr[i], indptr[i + 1]):
            t = times[m]
            lo = t - window
            while k0 < nf and ftimes[k0] < lo:
                k0 += 1
            hi = t + window
            k = k0
            while k < nf and ftimes[k] < hi:
                p = row[fpos[k]]
                if p >= 0:
                    lag = ftimes[k] - t
                    b = int(math.floor((lag + window + LAG_EPS) / delta))
                    if b >= n_bins:
                        b = n_bins - 1
                    elif b < 0:
                        b = 0
                    counts[p, b] += 1
                    al = abs(lag)
                    if al > thresholds[0]:
                        q = 0
                        while q < n_d - 1 and al > thresholds[q + 1]:
                            q += 1
                        el = math.exp(-al / tau)
                        on_edge = al <= thresholds[q] + 2.0 * LAG_EPS
                        if lag >= 0.0:
                            acc_p[p, q] += el
                            if on_edge:
                                edge_p[p, q] += el
                        if lag <= 0.0:
                            acc_n[p, q] += el
                            if on_edge:
                                edge_n[p, q] += el
                k += 1
    exp_d = np.exp(delays / tau)
    s_pos = np.zeros((n_pairs, n_d))
    s_neg = np.zeros((n_pairs, n_d))
    for p in prange(n_pairs):
        cp = 0.0
        cn = 0.0
        for q in range(n_d - 1, -1, -1):
            cp += acc_p[p, q]
            cn += acc_n[p, q]
            s_pos[p, q] = (cp - 0.5 * edge_p[p, q]) * exp_d[q]
            s_neg[p, q] = (cn - 0.5 * edge_n[p, q]) * exp_d[q]
    return counts, s_pos, s_neg


def bin_geometry(window: float, delta: float, n_bins: int, tau: float, delay: float,
                 lattice: bool = False):
    """Per-bin side (+1: J⁺, −1: J⁻, 0: none) and kernel values at the two ends.

    With ``lattice`` the lags are quantised to the bin centres (bins centred on multiples of
    ``delta``, ``window = W + delta/2``): each bin is one possible lag ``t_k`` and the model
    is the discrete Poisson GLM ``c_k ~ Poisson(δ exp(a_k + J f(t_k − d)))``. Then
    ``f_hi = f(t_k − d)`` (1 at ``t_k = d``, the convention of the sufficient statistics)
    and ``f_lo = −1`` marks the bin for :func:`_bin_integral`; the lag-0 bin has no side.
    The continuous model on lattice data is biased: with a 4 ms kernel and 1 ms lags the
    expected ``S`` at a delay on the lattice is ``Σ_k exp(−k/4) = 4.52`` bins' worth of
    coincidences against the model's 4, so every pair got ``J ≈ +0.13`` at such delays.
    """
    if lattice:
        centres = -window + delta * (np.arange(n_bins) + 0.5)
        side = np.zeros(n_bins, dtype=np.int64)
        f_hi = np.zeros(n_bins)
        f_lo = np.zeros(n_bins)
        tol = LAG_EPS + 1e-6 * delta
        pos = (centres > 0.5 * delta) & (centres > delay - tol)
        neg = (centres < -0.5 * delta) & (centres < -delay + tol)
        side[pos] = 1
        side[neg] = -1
        f_hi[pos] = np.exp(-np.maximum(centres[pos] - delay, 0.0) / tau)
        f_hi[neg] = np.exp(-np.maximum(-centres[neg] - delay, 0.0) / tau)
        f_lo[pos | neg] = -1.0
        return side, f_hi, f_lo
    edges = -window + delta * np.arange(n_bins + 1)
    t0, t1 = edges[:-1], edges[1:]
    side = np.zeros(n_bins, dtype=np.int64)
    f_hi = np.zeros(n_bins)
    f_lo = np.zeros(n_bins)
    pos = t1 > delay
    ta = np.maximum(t0[pos], delay)
    side[pos] = 1
    f_hi[pos] = np.exp(-(ta - delay) / tau)
    f_lo[pos] = np.exp(-(t1[pos] - delay) / tau)
    neg = t0 < -delay
    tb = np.minimum(t1[neg], -delay)
    side[neg] = -1
    f_hi[neg] = np.exp((tb + delay) / tau)
    f_lo[neg] = np.exp((t0[neg] + delay) / tau)
    return side, f_hi, f_lo


# ----------------------------------------------------------------------------- special fns
@njit(cache=True, inline="always")
def _e_funcs(x):
    """E(x) = Σ xⁿ/(n n!), E'(x) = (eˣ−1)/x, E''(x) = (x eˣ − eˣ + 1)/x² (series, all x)."""
    if x == 0.0:
        return 0.0, 1.0, 0.5
    e0 = 0.0
    e1 = 1.0
    e2 = 0.0
    p = 1.0  # x^n / n!
    n = 1
    ax = abs(x)
    while True:
        p = p * x / n          # x^n / n!
        e0 += p / n
        # E'(x) = Σ_{n≥1} x^{n-1}/n!  -> term for index n+1 is x^n/(n+1)!
        t1 = p / (n + 1)
        e1 += t1
        # E''(x) = Σ_{m≥0} x^m/(m! (m+2))
        e2 += p / (n + 2)
        n += 1
        if n > ax + 2 and abs(p) < 1e-17 * (1.0 + abs(e0)):
            break
        if n > 200:
            break
    e2 += 0.5  # the n = 2 term of E''
    return e0, e1, e2


@njit(cache=True, inline="always")
def _bin_integral(J, fhi, flo, delta, tau):
    """I(J) = ∫_bin exp(J f) dt, dI/dJ and d²I/dJ² for one bin.

    ``flo < 0`` marks a lattice bin (quantised lags, see :func:`bin_geometry`): the bin holds
    one possible lag, with kernel value ``fhi``, and ``I = δ exp(J fhi)``.
    """
    if flo < 0.0:
        e = math.exp(J * fhi)
        return delta * e, delta * fhi * e, delta * fhi * fhi * e
    h0, h1, h2 = _e_funcs(J * fhi)
    l0, l1, l2 = _e_funcs(J * flo)
    val = delta + tau * (h0 - l0)
    d1 = tau * (fhi * h1 - flo * l1)
    d2 = tau * (fhi * fhi * h2 - flo * flo * l2)
    return val, d1, d2


# ----------------------------------------------------------------------------- objective
@njit(cache=True, nogil=True)
def _objective(a, jp, jn, js, counts, sp, sn, ss, side, fhi, flo, gsym, delta, tau, lam,
               ints):
    """Negative log posterior; fills ``ints[k] = I_k`` as a by-product.

    ``js`` is the coefficient of the symmetric synchrony term ``js·g_k`` (``gsym``, constant
    on each bin; ``ss = Σ_k c_k g_k``)."""
    m = a.size
    f = -jp * sp - jn * sn - js * ss
    for k in range(m):
        if side[k] == 1:
            v, _, _ = _bin_integral(jp, fhi[k], flo[k], delta, tau)
        elif side[k] == -1:
            v, _, _ = _bin_integral(jn, fhi[k], flo[k], delta, tau)
        else:
            v = delta
        ints[k] = v
        f += math.exp(a[k] + js * gsym[k]) * v - counts[k] * a[k]
    pen = 0.0
    for k in range(m - 1):
        dd = a[k + 1] - a[k]
        pen += dd * dd
    return f + 0.5 * lam * pen


@njit(cache=True, nogil=True)
def _thomas(lower, diag, upper, rhs, out, cp, dp):
    """Solve a tridiagonal system (constant off-diagonals ``lower``, ``upper``)."""
    m = diag.size
    cp[0] = upper / diag[0]
    dp[0] = rhs[0] / diag[0]
    for k in range(1, m):
        den = diag[k] - lower * cp[k - 1]
        cp[k] = upper / den
        dp[k] = (rhs[k] - lower * dp[k - 1]) / den
    out[m - 1] = dp[m - 1]
    for k in range(m - 2, -1, -1):
        out[k] = dp[k] - cp[k] * out[k + 1]


@njit(cache=True, nogil=True)
def _solve3(S, r, free):
    """Solve the 3×3 system ``S x = r`` on the free coordinates (others 0); ``x``, the
    inverse's diagonal and success."""
    x = np.zeros(3)
    inv_diag = np.full(3, np.nan)
    idx = np.empty(3, dtype=np.int64)
    n = 0
    for c in range(3):
        if free[c]:
            idx[n] = c
            n += 1
    if n == 0:
        return x, inv_diag, True
    A = np.empty((n, n))
    b = np.empty(n)
    for u in range(n):
        b[u] = r[idx[u]]
        for w in range(n):
            A[u, w] = S[idx[u], idx[w]]
    # Cholesky (A is positive definite at a proper Newton step)
    L = np.zeros((n, n))
    for u in range(n):
        acc = A[u, u]
        for w in range(u):
            acc -= L[u, w] * L[u, w]
        if not acc > 1e-300:
            return x, inv_diag, False
        L[u, u] = math.sqrt(acc)
        for v in range(u + 1, n):
            acc2 = A[v, u]
            for w in range(u):
                acc2 -= L[v, w] * L[u, w]
            L[v, u] = acc2 / L[u, u]
    Linv = np.zeros((n, n))
    for u in range(n):
        Linv[u, u] = 1.0 / L[u, u]
        for v in range(u + 1, n):
            acc = 0.0
            for w in range(u, v):
                acc -= L[v, w] * Linv[w, u]
            Linv[v, u] = acc / L[v, v]
    for u in range(n):
        xu = 0.0
        dinv = 0.0
        for v in range(n):
            # (A⁻¹)_{u,v} = Σ_w Linv[w, u] Linv[w, v]
            aij = 0.0
            for w in range(max(u, v), n):
                aij += Linv[w, u] * Linv[w, v]
            xu += aij * b[v]
            if v == u:
                dinv = aij
        x[idx[u]] = xu
        inv_diag[idx[u]] = dinv
    return x, inv_diag, True


@njit(cache=True, nogil=True)
def fit_one(counts, sp, sn, side, fhi, flo, delta, tau, lam, j_max, max_iter, tol, a0,
            free_p=True, free_n=True, gsym=None, ss=0.0, use_s=False):
    """Newton fit of one pair at one delay.

    Returns ``(a, J⁺, J⁻, F, var_J⁺, var_J⁻, n_iter, converged, J_s)``; ``var`` are the
    diagonal entries of the inverse Hessian of ``F`` for the ``J`` (posterior variances).
    ``free_p`` / ``free_n`` False keep ``J⁺`` / ``J⁻`` at 0 (null models of the LR test).
    With ``use_s``, ``gsym`` (per-bin values of the symmetric synchrony term) and ``ss =
    Σ_k c_k g_k`` add the free coefficient ``J_s`` (also fitted in the null models).
    """
    m = counts.size
    g_s = gsym if use_s else np.zeros(m)
    a = a0.copy()
    jp = 0.0
    jn = 0.0
    js = 0.0
    ints = np.empty(m)
    g = np.empty(m)
    diag = np.empty(m)
    bp = np.zeros(m)
    bn = np.zeros(m)
    bs = np.zeros(m)
    y = np.empty(m)
    zp = np.empty(m)
    zn = np.empty(m)
    zs = np.zeros(m)
    cp = np.empty(m)
    dp = np.empty(m)
    a_new = np.empty(m)
    S = np.zeros((3, 3))
    r = np.zeros(3)
    free = np.zeros(3, dtype=np.bool_)
    f = _objective(a, jp, jn, js, counts, sp, sn, ss, side, fhi, flo, g_s, delta, tau, lam,
                   ints)
    converged = False
    var_p = np.nan
    var_n = np.nan
    it = 0
    while it < max_iter:
        it += 1
        gp = -sp
        gn = -sn
        gs = -ss
        cpp = 0.0
        cnn = 0.0
        css = 0.0
        cps = 0.0
        cns = 0.0
        for k in range(m):
            ea = math.exp(a[k] + js * g_s[k])
            bp[k] = 0.0
            bn[k] = 0.0
            if side[k] == 1:
                v, d1, d2 = _bin_integral(jp, fhi[k], flo[k], delta, tau)
                bp[k] = ea * d1
                gp += ea * d1
                cpp += ea * d2
                cps += g_s[k] * ea * d1
            elif side[k] == -1:
                v, d1, d2 = _bin_integral(jn, fhi[k], flo[k], delta, tau)
                bn[k] = ea * d1
                gn += ea * d1
                cnn += ea * d2
                cns += g_s[k] * ea * d1
            else:
                v = delta
            mu = ea * v
            g[k] = mu - counts[k]
            diag[k] = mu
            bs[k] = g_s[k] * mu
            gs += g_s[k] * mu
            css += g_s[k] * g_s[k] * mu
        for k in range(m):
            if k > 0:
                g[k] += lam * (a[k] - a[k - 1])
                diag[k] += lam
            if k < m - 1:
                g[k] -= lam * (a[k + 1] - a[k])
                diag[k] += lam
        # Schur complement on the J
        _thomas(-lam, diag, -lam, g, y, cp, dp)
        _thomas(-lam, diag, -lam, bp, zp, cp, dp)
        _thomas(-lam, diag, -lam, bn, zn, cp, dp)
        if use_s:
            _thomas(-lam, diag, -lam, bs, zs, cp, dp)
        S[0, 0] = cpp
        S[1, 1] = cnn
        S[2, 2] = css
        S[0, 1] = 0.0
        S[0, 2] = cps
        S[1, 2] = cns
        r[0] = gp
        r[1] = gn
        r[2] = gs
        for k in range(m):
            S[0, 0] -= bp[k] * zp[k]
            S[1, 1] -= bn[k] * zn[k]
            S[0, 1] -= bp[k] * zn[k]
            r[0] -= bp[k] * y[k]
            r[1] -= bn[k] * y[k]
            if use_s:
                S[2, 2] -= bs[k] * zs[k]
                S[0, 2] -= bp[k] * zs[k]
                S[1, 2] -= bn[k] * zs[k]
                r[2] -= bs[k] * y[k]
        S[1, 0] = S[0, 1]
        S[2, 0] = S[0, 2]
        S[2, 1] = S[1, 2]
        free[0] = S[0, 0] > 1e-300
        free[1] = S[1, 1] > 1e-300
        free[2] = use_s and S[2, 2] > 1e-300
        _, inv_d, ok0 = _solve3(S, r, free)
        if ok0 and free[0] and free[1]:
            var_p = inv_d[0]
            var_n = inv_d[1]
        # J at its bound with the gradient pushing outwards is held there this step
        free[0] = free[0] and free_p and not ((jp >= j_max and gp < 0.0)
                                              or (jp <= -j_max and gp > 0.0))
        free[1] = free[1] and free_n and not ((jn >= j_max and gn < 0.0)
                                              or (jn <= -j_max and gn > 0.0))
        free[2] = free[2] and not ((js >= j_max and gs < 0.0) or (js <= -j_max and gs > 0.0))
        x, _, ok = _solve3(S, r, free)
        if not ok:
            break
        xp = x[0]
        xn = x[1]
        xs = x[2]
        # Newton decrement for the stopping rule
        dec = xp * gp + xn * gn + xs * gs
        for k in range(m):
            dec += (y[k] - zp[k] * xp - zn[k] * xn - zs[k] * xs) * g[k]
        if dec < 0.0:
            dec = 0.0
        if 0.5 * dec < tol:
            converged = True
            break
        step = 1.0
        accepted = False
        for _ in range(40):
            for k in range(m):
                a_new[k] = a[k] - step * (y[k] - zp[k] * xp - zn[k] * xn - zs[k] * xs)
            jp_new = min(max(jp - step * xp, -j_max), j_max)
            jn_new = min(max(jn - step * xn, -j_max), j_max)
            js_new = min(max(js - step * xs, -j_max), j_max)
            f_new = _objective(a_new, jp_new, jn_new, js_new, counts, sp, sn, ss, side, fhi,
                               flo, g_s, delta, tau, lam, ints)
            if f_new <= f - 1e-4 * step * dec or (abs(f_new - f) <= 1e-12 * abs(f)
                                                   and f_new <= f):
                accepted = True
                break
            step *= 0.5
        if not accepted:
            # no decrease along the Newton direction: at the optimum up to rounding
            converged = 0.5 * dec < 1e3 * tol
            break
        for k in range(m):      # element-wise: a slice copy compiles a shape check
            a[k] = a_new[k]
        jp = jp_new
        jn = jn_new
        js = js_new
        f = f_new
    return a, jp, jn, f, var_p, var_n, it, converged, js


@njit(cache=True, parallel=True)
def fit_pairs(counts, s_pos, s_neg, sides, fhis, flos, delta, tau, lam, j_max, max_iter,
              tol, window, cbar_lo, cbar_n, null_fits, gsym, use_s):
    """Fit every pair at every candidate delay; keep the delay of highest posterior.

    ``sides, fhis, flos`` have shape (n_delays, n_bins) (see :func:`bin_geometry`);
    ``cbar_lo[q, 0/1]`` is the first bin of the window used for the mean coincidence rate
    after delay ``q`` on the positive / negative side, ``cbar_n`` its length in bins.
    ``gsym`` (n_bins,): the symmetric synchrony term, used with ``use_s`` (see
    :func:`fit_one`).

    With ``null_fits`` the two null models (``J⁺ = 0`` resp. ``J⁻ = 0``) are also fitted
    at the chosen delay, for the likelihood-ratio test.

    Returns an (n_pairs, 11) array: J⁺, J⁻, var J⁺, var J⁻, c̄⁺ (1/s), c̄⁻ (1/s),
    best delay index, −F (log posterior), converged flag, −F with J⁺ = 0, −F with
    J⁻ = 0; and the Newton iterations per pair.
    """
    n_pairs, m = counts.shape
    n_d = sides.shape[0]
    out = np.empty((n_pairs, 11))
    iters = np.zeros(n_pairs, dtype=np.int64)
    for p in prange(n_pairs):
        c = counts[p]
        tot = 0.0
        ss = 0.0
        for k in range(m):
            tot += c[k]
            if use_s:
                ss += c[k] * gsym[k]
        a0 = np.empty(m)
        base = math.log(max(tot, 0.5) / (2.0 * window))
        for k in range(m):
            a0[k] = base
        best = -np.inf
        out[p, :] = np.nan
        out[p, 8] = 0.0
        for q in range(n_d):
            a, jp, jn, f, vp, vn, it, conv, js = fit_one(
                c, s_pos[p, q], s_neg[p, q], sides[q], fhis[q], flos[q], delta, tau, lam,
                j_max, max_iter, tol, a0, True, True, gsym, ss, use_s)
            iters[p] += it
            if conv and -f > best:
                best = -f
                cpos = 0.0
                cneg = 0.0
                for u in range(cbar_n):
                    kp = min(cbar_lo[q, 0] + u, m - 1)
                    kn = max(cbar_lo[q, 1] - u, 0)
                    if use_s:
                        cpos += math.exp(a[kp] + js * gsym[kp])
                        cneg += math.exp(a[kn] + js * gsym[kn])
                    else:
                        cpos += math.exp(a[kp])
                        cneg += math.exp(a[kn])
                out[p, 0] = jp
                out[p, 1] = jn
                out[p, 2] = vp
                out[p, 3] = vn
                out[p, 4] = cpos / cbar_n
                out[p, 5] = cneg / cbar_n
                out[p, 6] = q
                out[p, 7] = -f
                out[p, 8] = 1.0
        if null_fits and out[p, 8] == 1.0:
            q = int(out[p, 6])
            for side_fixed in range(2):
                res = fit_one(c, s_pos[p, q], s_neg[p, q], sides[q], fhis[q], flos[q], delta,
                              tau, lam, j_max, max_iter, tol, a0, side_fixed == 1,
                              side_fixed == 0, gsym, ss, use_s)
                iters[p] += res[6]
                out[p, 9 + side_fixed] = -res[3] if res[7] else np.nan
    return out, iters
