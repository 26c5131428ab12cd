"""Cross-correlograms: the one implementation used by ``ccg``, ``glmcc`` and the report.

Lag convention: the correlogram of the pair (post ``i``, pre ``j``) counts spike pairs at
lag ``t_post − t_pre``; bin ``k`` is centred on lag ``k · bin_width`` (a lag exactly half-way
between two centres goes to the bin farther from zero, so the correlogram of the reverse
pair is exactly this one reversed). All-pairs counting runs in compiled, threaded kernels
(:mod:`spikewire.infer._ccg_kernels`) that pick, per presynaptic unit, the cheaper of a
scan over the whole population's spikes and a merge per requested pair. ``glmcc`` uses the
same pair enumeration (:func:`_flat_positions`, :func:`numba_threads`) for its fused
kernel, which adds exact-lag exponential sums to the counts.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from spikewire._validation import check_int, check_positive
from spikewire.core.spiketrains import SpikeTrains
from spikewire.infer import _ccg_kernels as K
from spikewire.infer.base import as_recording, resolve_pairs

__all__ = ["cross_correlograms", "pair_correlogram", "numba_threads"]


@contextmanager
def numba_threads(n_jobs: int | None):
    """Temporarily set numba's thread count (``n_jobs`` = -1 or None: all threads)."""
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    if n_jobs is None or n_jobs == -1:
        n = limit
    else:
        n = check_int("n_jobs", n_jobs, minimum=1)
        n = min(n, limit)
    prev = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(prev)


def _flat_positions(spikes: SpikeTrains) -> tuple[np.ndarray, np.ndarray]:
    """All spike times in time order and the position (not id) of their unit."""
    grouped = spikes.grouped_times
    pos = np.repeat(np.arange(spikes.n_units, dtype=np.int64), spikes.counts())
    order = np.argsort(grouped, kind="stable")
    return np.ascontiguousarray(grouped[order]), np.ascontiguousarray(pos[order])


def _choose_strategy(counts: np.ndarray, want_t: np.ndarray, duration: float,
                     span: float) -> np.ndarray:
    """Per pre unit: True = population scan, False = per-pair merge (cheaper one)."""
    counts = counts.astype(float)
    total = counts.sum()
    rates = counts / max(duration, 1e-12)
    n_req = want_t.sum(axis=1)
    cost_scan = counts * (math.log2(total + 2) + rates.sum() * span)
    cost_pair = want_t @ counts + n_req * counts + counts * span * (want_t @ rates)
    return cost_scan < cost_pair


def _prepare(spikes: SpikeTrains, want: np.ndarray, span: float):
    want_t = np.ascontiguousarray(want.T)
    ftimes, fpos = _flat_positions(spikes)
    use_scan = _choose_strategy(spikes.counts(), want_t, spikes.duration, span)
    return (np.ascontiguousarray(spikes.grouped_times), np.ascontiguousarray(spikes.indptr),
            ftimes, fpos, want_t, use_scan)


def cross_correlograms(spikes: SpikeTrains, bin_width: float = 5e-4, max_lag: float = 0.02,
                       pairs=None, n_jobs: int | None = 1) -> tuple[np.ndarray, np.ndarray]:
    """Cross-correlograms of all (or some) pairs of units.

    Parameters
    ----------
    spikes : SpikeTrains
        Spike times in s.
    bin_width : float, default 0.5 ms
        Lag bin width in s; bin ``k`` is centred on lag ``k · bin_width`` (a lag exactly
        half-way between two centres goes to the bin farther from zero, so that the
        correlogram of the reverse pair is exactly this one reversed).
    max_lag : float, default 20 ms
        Largest lag in s (rounded up to whole bins).
    pairs : sequence of (post_id, pre_id), optional
        Pairs to compute; others stay 0. Default: all ordered pairs (diagonal excluded).
    n_jobs : int, default 1
        Threads (pre units are processed in parallel); -1 uses all.

    Returns
    -------
    ccg : ndarray of int64, shape (n_units, n_units, n_lags)
        ``ccg[i, j, k]``: number of spike pairs with ``t_i − t_j`` in lag bin ``k``, i.e.
        post unit ``i`` firing after pre unit ``j`` at positive lags.
    lags : ndarray, shape (n_lags,)
        Bin centres in s.
    """
    if not isinstance(spikes, SpikeTrains):
        raise TypeError(f"spikes must be SpikeTrains, got {type(spikes).__name__}")
    bw = check_positive("bin_width", bin_width, unit="s")
    max_lag = check_positive("max_lag", max_lag, unit="s")
    kmax = int(math.ceil(max_lag / bw - 1e-9))
    want = resolve_pairs(as_recording(spikes), pairs)
    nk = 2 * kmax + 1
    out = np.zeros((spikes.n_units, spikes.n_units, nk), dtype=np.int64)
    args = _prepare(spikes, want, (nk + 2) * bw)
    with numba_threads(n_jobs):
        K.ccg_all(*args, bw, -kmax, kmax, out)
    return out, np.arange(-kmax, kmax + 1) * bw


def pair_correlogram(pre, post, bin_width: float = 5e-4, max_lag: float = 0.02,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Correlogram of one pair of spike trains (same kernel and bins as
    :func:`cross_correlograms`).

    Parameters
    ----------
    pre, post : array_like
        Spike times in s.
    bin_width : float, default 0.5 ms
        Lag bin width in s.
    max_lag : float, default 20 ms
        Largest lag in s (rounded up to whole bins).

    Returns
    -------
    lags : ndarray, shape (n_lags,)
        Bin centres in s.
    counts : ndarray of int64, shape (n_lags,)
        Number of spike pairs with ``t_post − t_pre`` in each bin.
    """
    pre = np.sort(np.asarray(pre, dtype=float).ravel())
    post = np.sort(np.asarray(post, dtype=float).ravel())
    both = np.concatenate([pre, post])
    t0 = float(both.min()) if both.size else 0.0
    t1 = float(np.nextafter(both.max(), np.inf)) if both.size else 1.0
    st = SpikeTrains.from_lists([post, pre], t_start=t0, t_stop=t1)
    ccg, lags = cross_correlograms(st, bin_width, max_lag, pairs=[(0, 1)])
    return lags, ccg[0, 1]
