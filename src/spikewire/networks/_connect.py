"""Compiled construction of fixed in-degree connectivity directly in CSC (pre-major) form.

Two passes with the same random stream: the first counts each presynaptic neuron's
out-degree, the second fills the postsynaptic indices. No (pre, post) pair list is ever
held, so 10^8 synapses need only the final int32 index array plus the weights.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from spikewire.simulate._rng import randbelow


@nb.njit(cache=True)
def _draw_inputs(s, i, lo, hi, k, mark, out):
    """Draw ``k`` distinct presynaptic indices in [lo, hi) for post ``i`` into ``out``."""
    span = hi - lo
    for m in range(k):
        j = lo + randbelow(s, span)
        while mark[j] == i:
            j = lo + randbelow(s, span)
        mark[j] = i
        out[m] = j


@nb.njit(cache=True)
def fixed_indegree_csc(n_post, blocks_lo, blocks_hi, blocks_k, n_pre, state, autapses):
    """Return (indptr, indices) of a CSC post × pre pattern with fixed in-degrees.

    For each postsynaptic neuron and each block b, ``blocks_k[b]`` distinct presynaptic
    neurons are drawn uniformly from ``[blocks_lo[b], blocks_hi[b])`` (self-connections
    excluded unless ``autapses``).
    """
    n_blocks = blocks_lo.shape[0]
    kmax = 0
    for b in range(n_blocks):
        kmax = max(kmax, blocks_k[b])
    buf = np.empty(kmax, dtype=np.int64)
    counts = np.zeros(n_pre + 1, dtype=np.int64)
    s = state.copy()
    mark = np.full(n_pre, -1, dtype=np.int64)
    for i in range(n_post):
        if not autapses and i < n_pre:
            mark[i] = i
        for b in range(n_blocks):
            _draw_inputs(s, i, blocks_lo[b], blocks_hi[b], blocks_k[b], mark, buf)
            for m in range(blocks_k[b]):
                counts[buf[m] + 1] += 1
    indptr = np.cumsum(counts)
    fill = indptr[:-1].copy()
    indices = np.empty(indptr[-1], dtype=np.int32)
    s = state.copy()
    mark[:] = -1
    for i in range(n_post):
        if not autapses and i < n_pre:
            mark[i] = i
        for b in range(n_blocks):
            _draw_inputs(s, i, blocks_lo[b], blocks_hi[b], blocks_k[b], mark, buf)
            for m in range(blocks_k[b]):
                j = buf[m]
                indices[fill[j]] = i
                fill[j] += 1
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
    from spikewire.simulate._rng import new_state

    rng = seed_or_rng if isinstance(seed_or_rng, np.random.Generator) else \
        np.random.default_rng(seed_or_rng)
    return new_state(rng)
