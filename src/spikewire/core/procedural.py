"""Procedural connectivity (fixed connection probability, as GeNN's procedural mode).

Presynaptic neuron ``j``'s targets are a Bernoulli(p) subset of the ``n_post`` neurons,
drawn by geometric skipping from its own substream of a 64-bit key
(:func:`spikewire.core.rng.substream`). The simulation kernel regenerates them at each
spike of ``j`` instead of storing them; :func:`procedural_csc` stores the very same targets
(same draws, same order) for the stored-connectivity engine and for checks.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

import spikewire.core.jit  # noqa: F401  (numba cache folder, before any @njit)
from spikewire.core.rng import substream, xo_next

__all__ = ["next_target", "procedural_csc", "procedural_log1mp"]


@nb.njit(inline="always")
def next_target(i, log1mp, s0, s1, s2, s3):
    """Next target after ``i`` (start from -1): ``i + 1 + Geometric`` skip, and the state.

    ``log1mp`` is ``log(1 - p)`` (negative; -inf for p = 1, every neuron a target).
    """
    x, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
    u = np.float64((x >> np.uint64(11)) + np.uint64(1)) * (1.0 / 9007199254740992.0)  # (0, 1]
    skip = math.log(u) / log1mp  # >= 0
    if skip > 4.0e18:
        return np.int64(4e18), s0, s1, s2, s3
    return i + 1 + np.int64(skip), s0, s1, s2, s3


@nb.njit(cache=True, nogil=True)
def _procedural_pass(n_post, n_pre, key, log1mp, autapses, indptr, indices):
    """Count (``indices`` empty: out-degrees into ``indptr[j + 1]``) or fill the targets."""
    counting = indices.shape[0] == 0
    for j in range(n_pre):
        if log1mp == 0.0:
            continue
        s0, s1, s2, s3 = substream(key, j)
        i = np.int64(-1)
        q = indptr[j]
        while True:
            i, s0, s1, s2, s3 = next_target(i, log1mp, s0, s1, s2, s3)
            if i >= n_post:
                break
            if i == j and not autapses:
                continue
            if counting:
                indptr[j + 1] += 1
            else:
                indices[q] = i
                q += 1


def procedural_log1mp(p: float) -> float:
    """``log(1 - p)`` for :func:`next_target` (0.0 when p = 0: no synapses)."""
    return -math.inf if p >= 1.0 else math.log1p(-p)


def procedural_csc(n_post: int, n_pre: int, p: float, key: int,
                   autapses: bool) -> tuple[np.ndarray, np.ndarray]:
    """Store the procedural connectivity: CSC ``(indptr, indices)`` (int64, int32), each
    column's targets in increasing order, exactly those the simulation regenerates."""
    log1mp = procedural_log1mp(p)
    key = np.uint64(key)
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    _procedural_pass(n_post, n_pre, key, log1mp, bool(autapses), indptr,
                     np.zeros(0, dtype=np.int32))
    np.cumsum(indptr, out=indptr)
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    _procedural_pass(n_post, n_pre, key, log1mp, bool(autapses), indptr, indices)
    return indptr, indices
