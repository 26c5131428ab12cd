"""Barabási–Albert (scale-free) connectivity with heavy-tailed in- and out-degrees."""

from __future__ import annotations

import numba as nb
import numpy as np
import scipy.sparse as sp

from spikewire._validation import check_choice, check_int
from spikewire.core.rng import new_state, xo_next
from spikewire.core.seeds import rng as seeded_rng

__all__ = ["barabasi_albert_edges", "scale_free_connectivity"]


@nb.njit(cache=True, nogil=True)
def _ba_edges(n, m, state):
    """Edges (new node, old node) of the Barabási–Albert growth process.

    Node ``m`` joins the ``m`` initial nodes; every later node ``t`` attaches to ``m``
    distinct earlier nodes drawn with probability proportional to their degree (uniform
    draws from the list in which each node appears once per edge end).
    """
    n_edges = m * (n - m)
    src = np.empty(n_edges, np.int64)
    dst = np.empty(n_edges, np.int64)
    rep = np.empty(2 * n_edges, np.int64)
    mark = np.full(n, -1, np.int64)
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    e = 0
    n_rep = 0
    for j in range(m):
        src[e] = m
        dst[e] = j
        e += 1
        rep[n_rep] = j
        rep[n_rep + 1] = m
        n_rep += 2
    sh = np.uint64(32)
    chosen = np.empty(m, np.int64)
    for t in range(m + 1, n):
        c = 0
        while c < m:
            x, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
            j = rep[np.int64(((x >> sh) * np.uint64(n_rep)) >> sh)]
            if mark[j] != t:
                mark[j] = t
                chosen[c] = j
                c += 1
        for c in range(m):
            src[e] = t
            dst[e] = chosen[c]
            e += 1
            rep[n_rep] = chosen[c]
            rep[n_rep + 1] = t
            n_rep += 2
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return src, dst


def barabasi_albert_edges(n_nodes: int, m: int, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges of a Barabási–Albert graph (Barabási & Albert 1999).

    Parameters
    ----------
    n_nodes : int
        Number of nodes (> m).
    m : int
        Edges added with each new node (>= 1); the mean degree is about ``2 m`` and the
        degree distribution has a power-law tail ``P(k) ~ k^-3``.
    seed : int, SeedSequence or Generator, default 0

    Returns
    -------
    new, old : ndarray of int64, shape (m · (n_nodes - m),)
        Each edge joins a node to an older one; no repeated edges, no self-loops.
    """
    n = check_int("n_nodes", n_nodes, minimum=2)
    m = check_int("m", m, minimum=1)
    if m >= n:
        raise ValueError(f"m ({m}) must be smaller than n_nodes ({n})")
    rng = seeded_rng(seed, "network")
    return _ba_edges(n, m, new_state(rng))


def scale_free_connectivity(n_neurons: int, m: int, *, direction: str = "random",
                            seed=0) -> sp.csc_array:
    """Directed scale-free connectivity pattern (post × pre, boolean CSC).

    A Barabási–Albert graph on the neurons (node labels randomly permuted, so hubs are
    spread over the index range and over the E and I populations of any builder), each
    undirected edge turned into a synapse.

    Parameters
    ----------
    n_neurons : int
        Number of neurons.
    m : int
        Edges per new node in the BA process. With ``direction="random"`` the mean in- and
        out-degree are both about ``m``; with ``"both"`` about ``2 m``.
    direction : {"random", "both"}, default "random"
        ``"random"``: each edge becomes one synapse of random direction (in- and
        out-degrees are then both heavy-tailed, about half the BA degree each);
        ``"both"``: each edge becomes two reciprocal synapses (in-degree = out-degree =
        BA degree).
    seed : int, SeedSequence or Generator, default 0

    Returns
    -------
    scipy.sparse.csc_array of bool, shape (n_neurons, n_neurons)
        ``pattern[i, j]`` is True when neuron ``j`` projects to neuron ``i``. Combine it
        with weights of the presynaptic sign to keep Dale's law (as
        :func:`spikewire.networks.izhikevich` does; for LIF networks pass the signed
        matrix to :func:`spikewire.networks.from_matrix`).
    """
    check_choice("direction", direction, {"random", "both"})
    rng = seeded_rng(seed, "network")
    new, old = barabasi_albert_edges(n_neurons, m, rng)
    perm = rng.permutation(n_neurons)
    new, old = perm[new], perm[old]
    if direction == "random":
        flip = rng.random(new.size) < 0.5
        pre = np.where(flip, new, old)
        post = np.where(flip, old, new)
    else:
        pre = np.concatenate([new, old])
        post = np.concatenate([old, new])
    pattern = sp.csc_array((np.ones(pre.size, bool), (post, pre)),
                           shape=(n_neurons, n_neurons))
    pattern.sum_duplicates()
    pattern.sort_indices()
    return pattern
