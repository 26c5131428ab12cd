"""Barabási–Albert (scale-free) connectivity with heavy-tailed in- and out-degrees."""

from __future__ import annotations

from collections.abc import Sequence

import numba as nb
import numpy as np
import scipy.sparse as sp

from spikewire._validation import check_choice, check_fraction, check_int, check_positive
from spikewire.core.network import LIFParams, Network, PoissonDrive
from spikewire.core.rng import new_state, xo_next
from spikewire.core.seeds import rng as seeded_rng

__all__ = ["barabasi_albert_edges", "scale_free_connectivity", "scale_free_lif"]


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
        :func:`spikewire.networks.izhikevich`, :func:`spikewire.networks.adex` and
        :func:`scale_free_lif` do).
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


def scale_free_lif(n_neurons: int = 1000, *, m: int = 50, J: float = 0.5, g: float = 8.0,
                   eta: float = 0.9, delay: float | Sequence[float] | None = 1.5e-3,
                   delay_step: float = 1e-4, tau_m: float = 0.020, theta: float = 20.0,
                   v_reset: float = 10.0, tau_ref: float = 0.002,
                   excitatory_fraction: float = 0.8, direction: str = "random", seed=0,
                   name: str | None = None) -> Network:
    """Brunel-style LIF network (model A) on Barabási–Albert connectivity.

    Parameters
    ----------
    n_neurons : int, default 1000
        E neurons first (``round(excitatory_fraction · N)`` of them).
    m : int, default 50
        BA edges per new node (see :func:`scale_free_connectivity`): mean in-degree
        ``≈ m`` with random directions.
    J : float, default 0.5
        E PSP amplitude in mV; I synapses have ``-g J``.
    g, eta : float, default 8.0 and 0.9
        As in :func:`spikewire.networks.brunel`; the external Poisson drive is
        ``η ν_thr`` per input with ``ν_thr = θ / (J C̄_E τ_m)``, ``C̄_E`` the mean E
        in-degree, on ``C̄_E`` inputs of weight ``J``.
    delay : float, (float, float) or None, default 1.5e-3
        One delay in s, a (min, max) range drawn uniformly per synapse on the
        ``delay_step`` grid, or None (one time step).
    delay_step : float, default 1e-4
    tau_m, theta, v_reset, tau_ref
        :class:`~spikewire.core.LIFParams` (s, mV).
    excitatory_fraction : float, default 0.8
    direction : {"random", "both"}, default "random"
    seed : int, SeedSequence or Generator, default 0
    name : str, optional

    Returns
    -------
    Network
        With the defaults (N = 1000) E and I fire at about 10 Hz; hubs receive
        proportionally more inhibition, so rates are not higher at hubs (in-degree and rate
        correlate weakly and negatively, r ≈ -0.3).
    """
    n = check_int("n_neurons", n_neurons, minimum=3)
    frac = check_fraction("excitatory_fraction", excitatory_fraction)
    J = check_positive("J", J, unit="mV")
    g = check_positive("g", g, allow_zero=True)
    eta = check_positive("eta", eta, allow_zero=True)
    params = LIFParams(tau_m=tau_m, theta=theta, v_reset=v_reset, tau_ref=tau_ref)
    n_e = int(round(frac * n))
    if n_e < 1:
        raise ValueError(f"n_neurons={n} with excitatory_fraction={frac} leaves no E neuron")
    rng = seeded_rng(seed, "network")
    pattern = scale_free_connectivity(n, m, direction=direction, seed=rng)
    pre = np.repeat(np.arange(n), np.diff(pattern.indptr))
    data = np.where(pre < n_e, J, -g * J)
    if delay is None or np.ndim(delay) == 0:
        delays = None if delay is None else check_positive("delay", delay, unit="s")
    else:
        if len(delay) != 2:
            raise ValueError(f"delay must be a value or (min, max) in s, got {delay!r}")
        step = check_positive("delay_step", delay_step, unit="s")
        lo, hi = (int(round(check_positive("delay", x, unit="s") / step)) for x in delay)
        if lo < 1 or hi < lo:
            raise ValueError(f"delay range {delay!r} must satisfy delay_step <= min <= max")
        delays = rng.integers(lo, hi + 1, size=data.size) * step
    weights = sp.csc_array((data, pattern.indices.copy(), pattern.indptr.copy()),
                           shape=(n, n))
    c_e = max(float(np.count_nonzero(pre < n_e)) / n, 1.0)
    nu_thr = theta / (J * c_e * tau_m)
    n_inputs = max(int(round(c_e)), 1)
    drive = PoissonDrive(rate=eta * nu_thr * c_e / n_inputs, n_inputs=n_inputs, weight=J)
    spec = dict(builder="scale_free_lif", n_neurons=n, m=m, J=J, g=g, eta=eta,
                delay=list(delay) if isinstance(delay, Sequence) else delay,
                delay_step=delay_step, tau_m=tau_m, theta=theta, v_reset=v_reset,
                tau_ref=tau_ref, excitatory_fraction=frac, direction=direction,
                seed=seed if isinstance(seed, int | None) else repr(seed))
    return Network(weights=weights, cell_type=np.array(["E"] * n_e + ["I"] * (n - n_e)),
                   delays=delays, params=params, drive=drive,
                   name=name or f"scale_free_lif(N={n}, m={m})", spec=spec)
