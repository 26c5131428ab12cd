"""Compiled kernels for all-pairs cross-correlograms (numba).

Lag convention: for a presynaptic unit with spike times ``a`` and a postsynaptic unit
with spike times ``b`` the lag of a spike pair is ``x = b - a`` (positive when the post
spike follows the pre spike). Bin ``k`` is centred on ``k * bw``; a lag goes to bin
``sign(x) · floor(|x| / bw + 0.5)``, i.e. lags exactly half-way between two centres go to
the bin farther from zero. The rule is odd in ``x``, so the correlogram of the reverse pair
is exactly this one reversed (which the all-pairs kernel uses to count each pair once).

Two counting strategies, chosen per presynaptic unit by their cost:

- *pair merge*: for each requested post unit a two-pointer sweep over the sorted
  trains, ``O(n_pre + n_post + coincidences)`` per pair (best for few pairs);
- *population scan*: for each pre spike, a binary search into the time-ordered spikes
  of all units and a scan over the ``[-L, L]`` neighbourhood,
  ``O(n_pre log N + coincidences)`` for all post units at once (best for all pairs).

Neither ever forms all ``n_pre × n_post`` spike differences.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _first_geq(arr, lo, hi, x):
    """First index in ``arr[lo:hi]`` (sorted) whose value is >= x."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if arr[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, inline="always")
def _gallop_geq(arr, lo, n, x):
    """First index >= lo with ``arr[idx] >= x`` (sorted ``arr``), by galloping from ``lo``.

    Successive pre spikes move the window start by a short distance, so probing
    ``lo + 1, lo + 2, lo + 4, ...`` stays in nearby memory (a plain binary search over the
    whole array would touch ~log2(n) distant cache lines per pre spike)."""
    if lo >= n or arr[lo] >= x:
        return lo
    step = 1
    prev = lo
    cur = lo + 1
    while cur < n and arr[cur] < x:
        prev = cur
        step *= 2
        cur = lo + step
    if cur > n:
        cur = n
    return _first_geq(arr, prev + 1, cur, x)


@njit(cache=True, inline="always")
def _lag_bin(x, inv_bw):
    """Lag bin of ``x`` (odd rule, see the module docstring)."""
    return int(math.copysign(math.floor(abs(x) * inv_bw + 0.5), x))


@njit(cache=True)
def _count_pair(a, b, bw, kmin, kmax, out):
    """Add the lag counts ``b - a`` in bins ``kmin..kmax`` to ``out`` (length kmax-kmin+1)."""
    lo_lag = (kmin - 1.5) * bw  # one spare bin on each side; the bin test decides
    hi_lag = (kmax + 1.5) * bw
    inv = 1.0 / bw
    nk = kmax - kmin + 1
    nb = b.size
    j0 = 0
    for t in a:
        lo = t + lo_lag
        while j0 < nb and b[j0] < lo:
            j0 += 1
        hi = t + hi_lag
        j = j0
        while j < nb and b[j] < hi:
            k = _lag_bin(b[j] - t, inv) - kmin
            if 0 <= k < nk:
                out[k] += 1
            j += 1


@njit(cache=True)
def _count_pre_scan(a, ftimes, fpos, want, bw, kmin, kmax, out):
    """Lag counts of pre train ``a`` against every unit (population scan).

    ``ftimes``/``fpos`` are all spikes in time order and their unit positions; ``out`` has
    shape (n_units, kmax - kmin + 1). Rows of units with ``want[pos]`` False are filled too
    (and ignored by the caller): a branch-free inner loop is about twice as fast as one that
    tests ``want`` per spike, whose outcome the CPU cannot predict.
    """
    lo_lag = (kmin - 1.5) * bw
    hi_lag = (kmax + 1.5) * bw
    inv = 1.0 / bw
    nk = kmax - kmin + 1
    n = ftimes.size
    p = 0
    for t in a:
        p = _gallop_geq(ftimes, p, n, t + lo_lag)
        hi = t + hi_lag
        q = p
        while q < n and ftimes[q] < hi:
            k = _lag_bin(ftimes[q] - t, inv) - kmin
            if 0 <= k < nk:
                out[fpos[q], k] += 1
            q += 1


@njit(cache=True)
def _count_one_pre(j, times, indptr, ftimes, fpos, want, use_scan, bw, kmin, kmax, buf):
    a = times[indptr[j]:indptr[j + 1]]
    if use_scan:
        _count_pre_scan(a, ftimes, fpos, want, bw, kmin, kmax, buf)
    else:
        for i in range(want.size):
            if want[i]:
                _count_pair(a, times[indptr[i]:indptr[i + 1]], bw, kmin, kmax, buf[i])


@njit(cache=True, parallel=True)
def ccg_all(times, indptr, ftimes, fpos, want_t, use_scan, bw, kmin, kmax, out):
    """Full correlograms ``out[post, pre, k - kmin]`` of the pairs with ``want_t[pre, post]``."""
    n = indptr.size - 1
    nk = kmax - kmin + 1
    for j in prange(n):
        if not want_t[j].any():
            continue
        buf = np.zeros((n, nk), dtype=np.int64)
        _count_one_pre(j, times, indptr, ftimes, fpos, want_t[j], use_scan[j], bw, kmin,
                       kmax, buf)
        for i in range(n):
            if want_t[j, i]:
                for k in range(nk):
                    out[i, j, k] = buf[i, k]


@njit(cache=True, fastmath=True)
def _dot(w, x):
    s = 0.0
    for k in range(x.size):
        s += w[k] * x[k]
    return s


@njit(cache=True)
def _pair_stats(row, rev, i, j, win_idx, anti_idx, base_w, win_counts, win_base, anti_counts,
                keep, ccg_out, xf):
    # row: correlogram of (post i, pre j); rev=True reads it backwards (the reverse pair).
    # xf: scratch float64 array of the row's length
    nk = row.size
    nw = win_idx.size
    for k in range(nk):
        xf[k] = row[nk - 1 - k] if rev else row[k]
    for m in range(nw):
        win_base[i, j, m] = _dot(base_w[m], xf)
        win_counts[i, j, m] = xf[win_idx[m]]
        anti_counts[i, j, m] = xf[anti_idx[m]]
    if keep:
        for k in range(nk):
            ccg_out[i, j, k] = xf[k]


@njit(cache=True, parallel=True)
def ccg_window_stats(times, indptr, ftimes, fpos, count_t, use_scan, bw, kmax, want_t,
                     win_idx, anti_idx, base_w, win_counts, win_base, anti_counts,
                     keep, ccg_out):
    """Per requested pair: counts and baseline in the window bins (symmetric counting).

    Each unordered pair is counted once, by its lower-indexed unit ``j`` (``count_t[j, i]``
    is True only for ``i > j`` where ``(i, j)`` or ``(j, i)`` is requested): the lag range
    ``-kmax..kmax`` is symmetric, so the correlogram of (post ``j``, pre ``i``) is that of
    (post ``i``, pre ``j``) reversed. Iteration ``r`` handles units ``r`` and ``n-1-r`` so
    that the parallel chunks get equal work. ``want_t[pre, post]`` marks requested pairs.

    ``win_idx``/``anti_idx`` index the causal window bins and their anticausal mirror in
    the lag range. ``base_w`` (n_window × n_lags) maps a correlogram to the baseline of each
    window bin (see :func:`spikewire.infer.ccg.baseline_matrix`). Results go to
    ``win_counts[post, pre, m]``, ``win_base[post, pre, m]``, ``anti_counts[post, pre, m]``
    and, if ``keep``, the full correlogram to ``ccg_out[post, pre, :]``.
    """
    n = indptr.size - 1
    nk = 2 * kmax + 1
    half = (n + 1) // 2
    for rp in prange(half):
        r = np.int64(rp)  # prange indices may be unsigned; keep the arithmetic in int64
        for side in range(2):
            j = r if side == 0 else np.int64(n - 1) - r
            if side == 1 and j == r:
                continue
            if not count_t[j].any():
                continue
            buf = np.zeros((n, nk), dtype=np.int32)
            xf = np.empty(nk)
            _count_one_pre(j, times, indptr, ftimes, fpos, count_t[j], use_scan[j], bw,
                           -kmax, kmax, buf)
            for i in range(n):
                if not count_t[j, i]:
                    continue
                row = buf[i]
                if want_t[j, i]:
                    _pair_stats(row, False, i, j, win_idx, anti_idx, base_w, win_counts,
                                win_base, anti_counts, keep, ccg_out, xf)
                if want_t[i, j]:
                    _pair_stats(row, True, j, i, win_idx, anti_idx, base_w, win_counts,
                                win_base, anti_counts, keep, ccg_out, xf)


@njit(cache=True)
def _pair_bins(row, rev, i, j, idx, base_w, cnt, base, keep, ccg_out, xf):
    # as _pair_stats, for one list of selected bins (any positions in the lag range)
    nk = row.size
    for k in range(nk):
        xf[k] = row[nk - 1 - k] if rev else row[k]
    for m in range(idx.size):
        base[i, j, m] = _dot(base_w[m], xf)
        cnt[i, j, m] = xf[idx[m]]
    if keep:
        for k in range(nk):
            ccg_out[i, j, k] = xf[k]


@njit(cache=True, parallel=True)
def ccg_bin_stats(times, indptr, ftimes, fpos, count_t, use_scan, bw, kmax, want_t, idx,
                  base_w, cnt, base, keep, ccg_out):
    """As :func:`ccg_window_stats`, for any list of lag bins: ``cnt[post, pre, m]`` is the
    count in bin ``idx[m]`` of the lag range ``-kmax..kmax`` and ``base[post, pre, m]`` its
    baseline ``base_w[m] @ ccg`` (the ccg method passes the causal window, its anticausal
    mirror and the zero-lag bin). Each unordered pair is counted once."""
    n = indptr.size - 1
    nk = 2 * kmax + 1
    half = (n + 1) // 2
    for rp in prange(half):
        r = np.int64(rp)
        for side in range(2):
            j = r if side == 0 else np.int64(n - 1) - r
            if side == 1 and j == r:
                continue
            if not count_t[j].any():
                continue
            buf = np.zeros((n, nk), dtype=np.int32)
            xf = np.empty(nk)
            _count_one_pre(j, times, indptr, ftimes, fpos, count_t[j], use_scan[j], bw,
                           -kmax, kmax, buf)
            for i in range(n):
                if not count_t[j, i]:
                    continue
                row = buf[i]
                if want_t[j, i]:
                    _pair_bins(row, False, i, j, idx, base_w, cnt, base, keep, ccg_out, xf)
                if want_t[i, j]:
                    _pair_bins(row, True, j, i, idx, base_w, cnt, base, keep, ccg_out, xf)


@njit(cache=True, nogil=True)
def _scan_lag_major(a, ftimes, fpos, bw, kmax, buf_t):
    """Population scan of train ``a`` into ``buf_t[k + kmax, unit]`` (lag-major layout).

    Same bins and range test as :func:`_count_pre_scan` with ``kmin = -kmax``. In the lag-
    major layout the neighbours of one spike, met in time order, fall into one lag row after
    the other, so the scattered increments stay within a row of ``n_units`` counters
    (cache-resident) instead of touching a different correlogram for each neighbour.
    """
    lo_lag = (-kmax - 1.5) * bw
    hi_lag = (kmax + 1.5) * bw
    inv = 1.0 / bw
    nk = 2 * kmax + 1
    n = ftimes.size
    p = 0
    for t in a:
        p = _gallop_geq(ftimes, p, n, t + lo_lag)
        hi = t + hi_lag
        q = p
        while q < n and ftimes[q] < hi:
            k = _lag_bin(ftimes[q] - t, inv) + kmax
            if 0 <= k < nk:
                buf_t[k, fpos[q]] += 1
            q += 1


@njit(cache=True, nogil=True)
def _count_rows_unit(j, partners, times, indptr, ftimes, fpos, use_scan, bw, kmax, buf_t):
    """Correlograms of (post ``i``, pre ``j``) for every ``i`` with ``partners[i]`` into the
    zeroed lag-major ``buf_t`` (column ``i``): a population scan of ``j``'s spikes or a
    merge per partner, as chosen by ``use_scan[j]``."""
    a = times[indptr[j]:indptr[j + 1]]
    if use_scan[j]:
        _scan_lag_major(a, ftimes, fpos, bw, kmax, buf_t)
    else:
        for i in range(partners.size):
            if partners[i]:
                _count_pair(a, times[indptr[i]:indptr[i + 1]], bw, -kmax, kmax, buf_t[:, i])


@njit(cache=True, nogil=True)
def ccg_rows_bin_stats(times, indptr, ftimes, fpos, rows, want_rows, use_scan, bw, kmax, idx,
                       base_w, cnt, base, keep, ccg_out):
    """Per post unit ``j = rows[r]`` and pre unit ``i`` with ``want_rows[r, i]``: the count
    ``cnt[r, i, m]`` in bin ``idx[m]`` of the lag range ``-kmax..kmax`` of the correlogram
    of (post ``j``, pre ``i``) and its baseline ``base[r, i, m] = base_w[m] @ ccg`` (as
    :func:`ccg_bin_stats`, for a block of post units; serial, releases the GIL so that
    blocks can run on several threads).

    Unit ``j``'s own spikes are scanned (it plays the pre role of the counting kernels), and
    the correlogram of (post ``i``, pre ``j``) is read backwards: the lag rule is odd, so
    this is exactly the correlogram of (post ``j``, pre ``i``). So a block needs only its
    own units' scans and the blocks together scan every unit once, as the unblocked kernel
    does. With ``keep`` the full correlogram goes to ``ccg_out[j, i, :]``.
    """
    n = indptr.size - 1
    nk = 2 * kmax + 1
    buf_t = np.zeros((nk, n), dtype=np.int32)
    xf = np.empty(nk)
    for r in range(rows.size):
        j = rows[r]
        partners = want_rows[r]
        if not partners.any():
            continue
        buf_t[:] = 0
        _count_rows_unit(j, partners, times, indptr, ftimes, fpos, use_scan, bw, kmax, buf_t)
        for i in range(n):
            if not partners[i]:
                continue
            for k in range(nk):
                xf[k] = buf_t[nk - 1 - k, i]
            for m in range(idx.size):
                base[r, i, m] = _dot(base_w[m], xf)
                cnt[r, i, m] = xf[idx[m]]
            if keep:
                for k in range(nk):
                    ccg_out[j, i, k] = xf[k]


@njit(cache=True, nogil=True)
def ccg_rows_counts(times, indptr, ftimes, fpos, rows, want_rows, use_scan, bw, kmax, idx,
                    acc):
    """Add the counts in bins ``idx`` of the correlograms of (post ``rows[r]``, pre ``i``)
    for ``want_rows[r, i]`` to ``acc[r, i, :]`` (jitter surrogates, a block of post units;
    serial, releases the GIL)."""
    n = indptr.size - 1
    nk = 2 * kmax + 1
    buf_t = np.zeros((nk, n), dtype=np.int32)
    for r in range(rows.size):
        j = rows[r]
        partners = want_rows[r]
        if not partners.any():
            continue
        buf_t[:] = 0
        _count_rows_unit(j, partners, times, indptr, ftimes, fpos, use_scan, bw, kmax, buf_t)
        for i in range(n):
            if partners[i]:
                for m in range(idx.size):
                    acc[r, i, m] += buf_t[nk - 1 - idx[m], i]


@njit(cache=True, parallel=True)
def ccg_window_counts(times, indptr, ftimes, fpos, want_t, use_scan, bw, kmin, kmax, out):
    """Counts in bins ``kmin..kmax`` only (jitter surrogates), accumulated into ``out``."""
    n = indptr.size - 1
    nk = kmax - kmin + 1
    for j in prange(n):
        if not want_t[j].any():
            continue
        buf = np.zeros((n, nk), dtype=np.int64)
        _count_one_pre(j, times, indptr, ftimes, fpos, want_t[j], use_scan[j], bw, kmin,
                       kmax, buf)
        for i in range(n):
            if want_t[j, i]:
                for k in range(nk):
                    out[i, j, k] += buf[i, k]


@njit(cache=True)
def interval_jitter(times, indptr, width, t_start, t_stop, u):
    """Interval jitter (Amarasingham et al. 2012): each spike is redrawn uniformly in its
    own window ``[t_start + w·floor((t - t_start)/w), + w)`` (clipped to the recording);
    ``u`` are uniform(0, 1) draws, one per spike. Returns the new grouped, sorted times."""
    out = np.empty_like(times)
    for s in range(times.size):
        w0 = t_start + width * math.floor((times[s] - t_start) / width)
        w1 = min(w0 + width, t_stop)
        out[s] = w0 + u[s] * (w1 - w0)
        if out[s] >= t_stop:
            out[s] = times[s]
    for k in range(indptr.size - 1):
        out[indptr[k]:indptr[k + 1]].sort()
    return out


@njit(cache=True, nogil=True)
def deviance_residuals(n, lam, out):
    """Signed Poisson deviance residuals ``sign(n − λ)·sqrt(2(n log(n/λ) − n + λ))`` of
    2-D arrays, written to ``out``; ``λ`` is floored at 1e-300. Serial and GIL-free: the
    ``ccg`` method runs blocks of post units on several threads, each calling this."""
    rows, cols = n.shape
    for a in range(rows):
        for k in range(cols):
            x = n[a, k]
            m = max(lam[a, k], 1e-300)
            t = x * math.log(x / m) if x > 0 else 0.0
            d = max(2.0 * (t - x + m), 0.0)
            r = math.sqrt(d)
            out[a, k] = r if x > m else (-r if x < m else 0.0)
