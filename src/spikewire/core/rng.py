"""A small counter-free PRNG (xoshiro256**) for compiled kernels.

Numba kernels cannot take a ``numpy.random.Generator``; they take the 4-word state of
this generator instead. The state is drawn from the user's seeded ``Generator``, so every
random number still derives from the spec's seed, and two runs with the same seed are
bit-identical regardless of what else ran in the process.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

import spikewire.core.jit  # noqa: F401  (numba cache folder, before any @njit)

__all__ = ["integer_cdf", "new_state", "next_u64", "normal", "poisson", "poisson_guided",
           "poisson_table", "randbelow", "substream", "to_unit", "uniform", "xo_next"]


def new_state(rng: np.random.Generator) -> np.ndarray:
    """Draw a fresh xoshiro256** state (4 × uint64, not all zero) from ``rng``."""
    state = rng.integers(1, np.iinfo(np.uint64).max, size=4, dtype=np.uint64, endpoint=True)
    return state


@nb.njit(inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@nb.njit
def next_u64(s):
    """Next 64-bit output; advances ``s`` in place."""
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


# --- the same generator with its state in four local variables --------------------------
# Passing the state as scalars (and getting it back in the returned tuple) lets LLVM keep it
# in registers inside a hot loop; reading/writing a 4-element array on every draw costs a
# store-to-load round trip per word. The sequence is identical to ``next_u64``.


@nb.njit(inline="always")
def xo_next(s0, s1, s2, s3):
    """``(x, s0, s1, s2, s3)``: next output of xoshiro256** and the advanced state."""
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@nb.njit(inline="always")
def to_unit(x):
    """Uniform double in [0, 1) from a 64-bit output (same mapping as :func:`uniform`)."""
    return (x >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit
def uniform(s):
    """Uniform double in [0, 1)."""
    return (next_u64(s) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit
def randbelow(s, n):
    """Uniform integer in [0, n) (n < 2**32) by Lemire's multiply-shift."""
    return np.int64(((next_u64(s) >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@nb.njit
def normal(s):
    """Standard normal deviate (Box–Muller, one value per call)."""
    u1 = uniform(s)
    while u1 <= 0.0:
        u1 = uniform(s)
    u2 = uniform(s)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@nb.njit
def poisson(s, lam, exp_neg_lam):
    """Poisson deviate with mean ``lam``; ``exp_neg_lam`` = exp(-lam) precomputed.

    Sequential inversion for lam < 30 (expected lam + 1 iterations), normal approximation
    with continuity correction above (error in the tails far below the shot noise of the
    30+ inputs it stands for).
    """
    if lam <= 0.0:
        return 0
    if lam < 30.0:
        u = uniform(s)
        p = exp_neg_lam
        cdf = p
        k = 0
        while u > cdf:
            k += 1
            p *= lam / k
            cdf += p
            if k > 1000:
                break
        return k
    x = lam + math.sqrt(lam) * normal(s) + 0.5
    return max(0, np.int64(math.floor(x)))


def poisson_table(lam: float, n_guide: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """CDF and guide table for fast inversion sampling of Poisson(lam) (Chen & Asau 1974).

    ``k = guide[int(u * n_guide)]`` starts the search at the right bucket so that the
    while-loop in :func:`poisson_guided` rarely runs.
    """
    from scipy.stats import poisson as _p

    kmax = int(lam + 12 * math.sqrt(lam) + 12)
    cdf = _p.cdf(np.arange(kmax + 1), lam)
    cdf[-1] = 1.0
    guide = np.searchsorted(cdf, np.arange(n_guide) / n_guide, side="left").astype(np.int64)
    return cdf, guide


def integer_cdf(cdf: np.ndarray) -> np.ndarray:
    """``floor(cdf · 2^53)`` as uint64, for comparisons without floating point.

    With ``m = x >> 11`` (the 53 bits that :func:`to_unit` turns into ``u = m · 2^-53``),
    ``u > cdf[k]`` holds exactly when ``m > floor(cdf[k] · 2^53)`` (scaling by a power of
    two is exact and ``m`` is an integer), so sampling with this table gives the same
    deviates as :func:`poisson_guided`, draw for draw.
    """
    return np.floor(np.asarray(cdf, np.float64) * 2.0**53).astype(np.uint64)


@nb.njit
def poisson_guided(s, cdf, guide):
    """Poisson deviate by guide-table inversion (see :func:`poisson_table`)."""
    u = uniform(s)
    k = guide[np.int64(u * guide.shape[0])]
    while u > cdf[k]:
        k += 1
    return k


@nb.njit(inline="always")
def _splitmix(z):
    """splitmix64: ``(output, advanced counter)``."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    x = z
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31)), z


@nb.njit(inline="always")
def substream(key, j):
    """xoshiro256** state ``(s0, s1, s2, s3)`` of substream ``j`` of ``key`` (uint64s).

    The four words are splitmix64 outputs at counter positions ``4j + 1 .. 4j + 4`` after
    ``key``, so different ``j`` never share a counter; this is how procedural connectivity
    regenerates neuron ``j``'s targets from a per-neuron seed at every spike.
    """
    z = key + np.uint64(j) * np.uint64(4) * np.uint64(0x9E3779B97F4A7C15)
    s0, z = _splitmix(z)
    s1, z = _splitmix(z)
    s2, z = _splitmix(z)
    s3, z = _splitmix(z)
    if s0 == 0 and s1 == 0 and s2 == 0 and s3 == 0:
        s0 = np.uint64(1)
    return s0, s1, s2, s3
