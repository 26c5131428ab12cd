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
from spikewire.core.rng import _splitmix, substream, xo_next

__all__ = ["ProceduralPopulations", "next_target", "procedural_csc", "procedural_log1mp",
           "synapse_delay"]


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


@nb.njit(inline="always")
def synapse_delay(dkey, j, i, n, d0, nd):
    """Delay in steps of the procedural synapse ``j -> i``: ``d0 + h`` with ``h`` uniform in
    ``0 .. nd - 1``, a splitmix64 hash of ``(dkey, j·n + i)`` (the same at every spike of
    ``j``, independent of the target draws)."""
    z = dkey + (np.uint64(j) * np.uint64(n) + np.uint64(i)) * np.uint64(0x9E3779B97F4A7C15)
    x, _ = _splitmix(z)
    return d0 + np.int64(((x >> np.uint64(32)) * np.uint64(nd)) >> np.uint64(32))


@nb.njit(cache=True)
def _delays_of(dkey, cols, rows, n, d0, nd):
    out = np.empty(cols.shape[0], dtype=np.int64)
    for q in range(cols.shape[0]):
        out[q] = synapse_delay(dkey, cols[q], rows[q], n, d0, nd)
    return out


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


class ProceduralPopulations:
    """Procedural connectivity whose weights depend on the target's group as well.

    Every ordered pair ``(post i, pre j)`` is connected with probability ``p``, with the
    targets of ``j`` drawn exactly as for :class:`spikewire.simulate.ProceduralConnectivity`
    with the same ``seed`` (same key, same substreams): only the weights differ. A synapse
    from ``j`` onto ``i`` has weight ``weights[groups[i], j]``, so an E/I network with
    population-pair PSPs ``j_XY`` (E and I columns, different for E and I targets) needs a
    ``(2, N)`` table, still O(N) memory whatever the number of synapses.

    Parameters
    ----------
    p : float
        Connection probability in [0, 1].
    weights : ndarray, shape (G, N)
        ``weights[g, j]`` is the weight (mV) of presynaptic neuron ``j``'s synapses onto the
        neurons of group ``g``. float32 weights give the engine's float32 delivery buffer.
    groups : ndarray of int, shape (N,)
        Group of each neuron as a target, in ``0 .. G - 1`` (e.g. 0 for E, 1 for I).
    seed : int
        Seed of the connectivity (independent of the simulation seed).
    autapses : bool, default False
        Allow self-connections.
    delays : (float, float), optional
        ``(d_min, d_max)`` in s: each synapse gets its own delay, uniform on the ``dt`` grid
        from ``d_min`` to ``d_max`` (inclusive), fixed by a hash of the seed and the pair
        (the jittered delays of ``theory.build_ei_network``). Default: none here, the
        network's one delay applies.
    dt : float, optional
        The simulation step (s) the delays are counted in; required with ``delays`` (and
        :func:`spikewire.simulate.simulate_procedural` must then run with this ``dt``).
    """

    def __init__(self, p: float, weights, groups, seed: int, autapses: bool = False, *,
                 delays=None, dt: float | None = None):
        if isinstance(p, bool) or not isinstance(p, int | float | np.floating) \
                or not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        w = np.asarray(weights)
        if w.ndim != 2 or not np.issubdtype(w.dtype, np.floating) \
                or not np.all(np.isfinite(w)):
            raise ValueError("weights must be a 2-D array (groups, N) of finite float weights "
                             f"(mV); got shape {w.shape}, dtype {w.dtype}")
        g = np.asarray(groups)
        if g.shape != (w.shape[1],) or not np.issubdtype(g.dtype, np.integer):
            raise ValueError(f"groups must be {w.shape[1]} integers (one per neuron, the "
                             f"columns of weights); got shape {g.shape}, dtype {g.dtype}")
        if g.size and (g.min() < 0 or g.max() >= w.shape[0]):
            raise ValueError(f"groups must lie in 0..{w.shape[0] - 1} (rows of weights); got "
                             f"{g.min()}..{g.max()}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.p = float(p)
        self.weights = w
        self.groups = g.astype(np.int64)
        self.seed = int(seed)
        self.autapses = bool(autapses)
        self.delay_steps = None
        self.dt = None
        if delays is not None:
            try:
                lo, hi = (float(x) for x in delays)
            except (TypeError, ValueError):
                raise TypeError(f"delays must be (d_min, d_max) in s, got {delays!r}") from None
            if dt is None or not (np.isscalar(dt) and np.isfinite(dt) and dt > 0):
                raise ValueError(f"delays need the simulation step dt > 0 s, got dt={dt!r}")
            d0, d1 = round(lo / dt), round(hi / dt)
            if abs(d0 * dt - lo) > 1e-6 * dt or abs(d1 * dt - hi) > 1e-6 * dt:
                raise ValueError(f"delays {delays!r} s are not multiples of dt = {dt} s")
            if not 1 <= d0 <= d1 <= 32_000:
                raise ValueError(f"delays must satisfy dt <= d_min <= d_max (<= 32,000 steps); "
                                 f"got {delays!r} s with dt = {dt} s")
            self.delay_steps = (int(d0), int(d1))
            self.dt = float(dt)

    def __repr__(self) -> str:
        d = "" if self.delay_steps is None else \
            f", delays={self.delay_steps[0]}..{self.delay_steps[1]} steps of {self.dt} s"
        return (f"ProceduralPopulations(p={self.p}, n_neurons={self.n_neurons}, "
                f"groups={self.weights.shape[0]}, seed={self.seed}, autapses={self.autapses}"
                f"{d})")

    @property
    def n_neurons(self) -> int:
        """Number of neurons N."""
        return int(self.weights.shape[1])

    @property
    def key(self) -> np.uint64:
        """64-bit substream key, derived from :attr:`seed` as for ``ProceduralConnectivity``."""
        from spikewire.core.seeds import rng as seeded_rng

        g = seeded_rng(int(self.seed), "procedural-connectivity")
        return np.uint64(g.integers(0, np.iinfo(np.uint64).max, dtype=np.uint64,
                                    endpoint=True))

    def expected_synapses(self) -> float:
        """Expected number of synapses, ``p · N · (N - 1)`` (``p · N²`` with autapses)."""
        n = self.n_neurons
        return self.p * n * (n if self.autapses else n - 1)

    @property
    def delay_key(self) -> np.uint64:
        """64-bit key of the per-synapse delay hash, derived from :attr:`seed`."""
        from spikewire.core.seeds import rng as seeded_rng

        g = seeded_rng(int(self.seed), "procedural-delays")
        return np.uint64(g.integers(0, np.iinfo(np.uint64).max, dtype=np.uint64,
                                    endpoint=True))

    def to_delays(self) -> np.ndarray:
        """Per-synapse delays (s) aligned with ``to_weights().data`` (needs ``delays``)."""
        if self.delay_steps is None:
            raise ValueError("this connectivity has no per-synapse delays (delays=None); the "
                             "network's one delay applies")
        n = self.n_neurons
        indptr, indices = procedural_csc(n, n, self.p, int(self.key), self.autapses)
        cols = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        d0, d1 = self.delay_steps
        steps = _delays_of(self.delay_key, cols, indices.astype(np.int64), n, d0, d1 - d0 + 1)
        return steps * self.dt

    def to_weights(self):
        """The same connectivity stored: a post × pre ``scipy.sparse.csc_array`` (mV).

        For checks against the stored-connectivity engine and small networks only (it
        holds every synapse); :meth:`to_delays` gives the matching per-synapse delays.
        """
        import scipy.sparse as sp

        n = self.n_neurons
        indptr, indices = procedural_csc(n, n, self.p, int(self.key), self.autapses)
        cols = np.repeat(np.arange(n), np.diff(indptr))
        data = self.weights[self.groups[indices], cols]
        return sp.csc_array((data, indices, indptr), shape=(n, n))
