"""Compiled kernels for all-pairs cross-correlograms (numba).

Lag convention: for a presynaptic unit with spike times ``a`` and a postsynaptic unit
with spike times ``b`` the lag of a spike pair is ``b - a`` (positive when the post
spike follows the pre spike). The lag bin of a pair is ``k = floor((b - a) / bw + 0.5)``,
i.e. bin ``k`` is centred on ``k * bw`` and covers ``[(k - 0.5) bw, (k + 0.5) bw)``.

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


@njit(cache=True)
def _count_pair(a, b, bw, kmin, kmax, out):
    """Add the lag counts ``b - a`` in bins ``kmin..kmax`` to ``out`` (length kmax-kmin+1)."""
    lo_lag = (kmin - 1.5) * bw  # one spare bin on each side; the bin test decides
    hi_lag = (kmax + 1.5) * bw
    nb = b.size
    j0 = 0
    for t in a:
        lo = t + lo_lag
        while j0 < nb and b[j0] < lo:
            j0 += 1
        hi = t + hi_lag
        j = j0
        while j < nb and b[j] < hi:
            k = int(math.floor((b[j] - t) / bw + 0.5))
            if kmin <= k <= kmax:
                out[k - kmin] += 1
            j += 1


@njit(cache=True)
def _count_pre_scan(a, ftimes, fpos, want, bw, kmin, kmax, out):
    """Lag counts of pre train ``a`` against every unit with ``want[pos]`` (population scan).

    ``ftimes``/``fpos`` are all spikes in time order and their unit positions; ``out`` has
    shape (n_units, kmax - kmin + 1).
    """
    lo_lag = (kmin - 1.5) * bw
    hi_lag = (kmax + 1.5) * bw
    n = ftimes.size
    p = 0
    for t in a:
        p = _first_geq(ftimes, p, n, t + lo_lag)
        hi = t + hi_lag
        q = p
        while q < n and ftimes[q] < hi:
            u = fpos[q]
            if want[u]:
                k = int(math.floor((ftimes[q] - t) / bw + 0.5))
                if kmin <= k <= kmax:
                    out[u, k - kmin] += 1
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


@njit(cache=True, parallel=True)
def ccg_window_stats(times, indptr, ftimes, fpos, want_t, use_scan, bw, kmin, kmax,
                     win_idx, anti_idx, base_w, win_counts, win_base, anti_counts,
                     keep, ccg_out):
    """Per requested pair: counts and baseline in the window bins.

    ``win_idx``/``anti_idx`` index the causal window bins and their anticausal mirror in
    the ``kmin..kmax`` range. ``base_w`` (n_window × n_lags) maps a correlogram to the
    baseline of each window bin (the hollowed-Gaussian convolution, see
    :func:`spikewire.infer.ccg.baseline_matrix`). Results go to ``win_counts[post, pre, m]``,
    ``win_base[post, pre, m]``, ``anti_counts[post, pre, m]`` and, if ``keep``, the full
    correlogram to ``ccg_out[post, pre, :]``.
    """
    n = indptr.size - 1
    nk = kmax - kmin + 1
    nw = win_idx.size
    for j in prange(n):
        if not want_t[j].any():
            continue
        buf = np.zeros((n, nk), dtype=np.int64)
        _count_one_pre(j, times, indptr, ftimes, fpos, want_t[j], use_scan[j], bw, kmin,
                       kmax, buf)
        for i in range(n):
            if not want_t[j, i]:
                continue
            row = buf[i]
            for m in range(nw):
                s = 0.0
                for k in range(nk):
                    s += base_w[m, k] * row[k]
                win_counts[i, j, m] = row[win_idx[m]]
                win_base[i, j, m] = s
                anti_counts[i, j, m] = row[anti_idx[m]]
            if keep:
                for k in range(nk):
                    ccg_out[i, j, k] = row[k]


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
