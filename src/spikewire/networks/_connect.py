"""Compiled construction of fixed in-degree connectivity directly in CSC (pre-major) form.

Two passes with the same random stream: the first counts each presynaptic neuron's
out-degree, the second fills the postsynaptic indices. No (pre, post) pair list is ever
held, so 10^8 synapses need only the final int32 index array plus the weights.
"""

from __future__ import annotations

import numba as nb
import numpy as np

import spikewire.core.jit  # noqa: F401  (numba cache folder, before any @njit)
from spikewire.core.rng import new_state, xo_next
from spikewire.core.seeds import rng as seeded_rng


@nb.njit(cache=True, nogil=True)
def _pass(n_post, blocks_lo, blocks_hi, blocks_k, n_pre, state, autapses, fill, indices):
    """One pass over the random stream.

    ``fill`` is None-like (length 0): count out-degrees into ``indices`` (length n_pre + 1,
    shifted by one). Otherwise write each post index at ``fill[pre]`` and advance it.
    The generator state lives in local variables (see ``_rng.xo_next``); the draws are the
    same as ``randbelow`` on the array state.
    """
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    counting = fill.shape[0] == 0
    mark = np.full(n_pre, -1, dtype=np.int32)
    sh = np.uint64(32)
    for i in range(n_post):
        if not autapses and i < n_pre:
            mark[i] = i
        for b in range(blocks_lo.shape[0]):
            lo = blocks_lo[b]
            span = np.uint64(blocks_hi[b] - lo)
            for _ in range(blocks_k[b]):
                x, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
                j = lo + np.int64(((x >> sh) * span) >> sh)
                while mark[j] == i:
                    x, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
                    j = lo + np.int64(((x >> sh) * span) >> sh)
                mark[j] = i
                if counting:
                    indices[j + 1] += 1
                else:
                    indices[fill[j]] = i
                    fill[j] += 1


@nb.njit(cache=True, nogil=True)
def _count(n_post, blocks_lo, blocks_hi, blocks_k, n_pre, state, autapses):
    counts = np.zeros(n_pre + 1, dtype=np.int64)
    no_fill = np.zeros(0, dtype=np.int64)
    _pass(n_post, blocks_lo, blocks_hi, blocks_k, n_pre, state, autapses, no_fill, counts)
    return np.cumsum(counts)


@nb.njit(cache=True, nogil=True)
def _fill(n_post, blocks_lo, blocks_hi, blocks_k, n_pre, state, autapses, indptr, indices):
    fill = indptr[:-1].copy()
    _pass(n_post, blocks_lo, blocks_hi, blocks_k, n_pre, state, autapses, fill, indices)


def fixed_indegree_csc(n_post, blocks_lo, blocks_hi, blocks_k, n_pre, state, autapses):
    """Return (indptr, indices) of a CSC post × pre pattern with fixed in-degrees.

    For each postsynaptic neuron and each block b, ``blocks_k[b]`` distinct presynaptic
    neurons are drawn uniformly from ``[blocks_lo[b], blocks_hi[b])`` (self-connections
    excluded unless ``autapses``). Both arrays are int32 when the synapse count allows
    (scipy then keeps them as they are instead of up-casting the indices to int64).
    """
    args = (n_post, np.asarray(blocks_lo, np.int64), np.asarray(blocks_hi, np.int64),
            np.asarray(blocks_k, np.int64), n_pre, np.asarray(state, np.uint64), bool(autapses))
    indptr = _count(*args)
    # allocated by numpy (not inside numba) so that Linux backs it with transparent huge
    # pages: the fill pass writes to N_pre places at once, and with 4 KiB pages nearly every
    # write misses the TLB (construction of N = 50,000 is ~2x faster this way)
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    _fill(*args, indptr, indices)
    if indptr[-1] < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    return indptr, indices


def estimate_bytes(n_neurons: int, n_synapses: int, weight_bytes: int = 4,
                   per_synapse_delays: bool = False) -> int:
    """Approximate peak memory (bytes) to build and simulate a network of this size."""
    per_syn = 4 + weight_bytes + (2 if per_synapse_delays else 0)
    return int(n_synapses * per_syn + n_neurons * 200 + 64 * 2**20)


def available_bytes() -> int:
    """Memory currently available on this machine in bytes (Linux /proc/meminfo)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


def check_memory(n_neurons: int, n_synapses: int, max_memory: float | None, **kw) -> int:
    """Raise ``MemoryError`` with an estimate if the network would not fit."""
    need = estimate_bytes(n_neurons, n_synapses, **kw)
    limit = available_bytes() * 0.9 if max_memory is None else float(max_memory)
    if need > limit:
        raise MemoryError(
            f"a network of {n_neurons:,} neurons and {n_synapses:,} synapses needs about "
            f"{need / 2**30:.2f} GiB, more than the {limit / 2**30:.2f} GiB allowed; reduce N or "
            "the in-degree, or raise max_memory")
    return need


def as_state(seed_or_rng) -> np.ndarray:
    """xoshiro256** state of the ``"network"`` stream of a seed (int, SeedSequence or
    Generator; see :mod:`spikewire.core.seeds`)."""
    return new_state(seeded_rng(seed_or_rng, "network"))
