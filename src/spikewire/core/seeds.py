"""The seed tree: one ``SeedSequence`` per job, split into named, independent streams.

Every stage that draws random numbers (network construction, simulation inputs, the
simulation's drive, each observation step, an inference method's surrogates, an
export) derives its stream from the user's seed *through its domain name*::

    child(seed, "network")          # what brunel(seed=...) draws from
    child(seed, "simulation")       # what simulate(seed=...) draws from
    child(seed, "observation", 2)   # step 2 of an observation chain

A name maps to a fixed 32-bit word of the ``spawn_key`` (the first four bytes of its
SHA-256), so the mapping is stable across versions and processes and a new domain never
shifts the streams of the existing ones. Because of that, passing the *same* integer to
``brunel(seed=0)`` and ``simulate(seed=0)`` still gives two independent streams: the
drive never replays the numbers that drew the connectivity.

Accepted seeds
--------------
int (>= 0)
    ``SeedSequence(seed)``; ``seed=s`` and ``seed=SeedSequence(s)`` are the same stream.
``numpy.random.SeedSequence``
    Used as the root; the domain is appended to its ``spawn_key``.
``numpy.random.Generator``
    The caller's own stream: :func:`rng` returns it unchanged (numbers are consumed from
    it in call order), :func:`as_seed_sequence` draws fresh entropy from it.
None
    Fresh OS entropy (not reproducible); functions that must be reproducible refuse it.

Examples
--------
>>> from spikewire.core.seeds import child, seed_tree
>>> tree = seed_tree(3)
>>> sorted(tree)
['inputs', 'method', 'network', 'simulation']
>>> child(3, "network").spawn_key == tree["network"].spawn_key
True
"""

from __future__ import annotations

import hashlib
from numbers import Integral

import numpy as np

__all__ = ["DOMAINS", "SeedLike", "as_seed_sequence", "child", "domain_key", "rng",
           "seed_repr", "seed_tree"]

SeedLike = int | np.random.SeedSequence | np.random.Generator | None

#: The named streams of one job (observation steps add ``("observation", k)``).
DOMAINS = ("network", "inputs", "simulation", "method")


def domain_key(name: str) -> int:
    """The ``spawn_key`` word of a domain name: first 4 bytes of SHA-256(name), big endian.

    Parameters
    ----------
    name : str
        Domain name such as ``"network"`` or ``"simulation"``.

    Returns
    -------
    int
        A stable integer in ``[0, 2**32)``.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"a seed domain must be a non-empty string, got {name!r}")
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def _check_int_seed(seed) -> int:
    if isinstance(seed, bool | np.bool_):
        raise TypeError(f"seed must be an int, a numpy SeedSequence or Generator, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}; use a non-negative integer")
    return int(seed)


def as_seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """The root ``SeedSequence`` of ``seed`` (see the module docstring for the accepted types).

    A ``Generator`` gives a new ``SeedSequence`` from 128 bits drawn from it (so the
    caller's generator advances); ``None`` gives fresh OS entropy.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**32, size=4, dtype=np.uint64).tolist())
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, Integral | np.integer):
        return np.random.SeedSequence(_check_int_seed(seed))
    raise TypeError(f"seed must be an int, a numpy SeedSequence or Generator, got "
                    f"{type(seed).__name__} {seed!r}")


def child(seed: SeedLike, domain: str, *index: int) -> np.random.SeedSequence:
    """The ``SeedSequence`` of ``domain`` (and optional integer ``index``, e.g. a step
    number) under ``seed``: ``spawn_key = root.spawn_key + (domain_key(domain), *index)``.

    Parameters
    ----------
    seed : int, SeedSequence, Generator or None
        The root (see the module docstring).
    domain : str
        Stream name, e.g. ``"network"``, ``"simulation"``, ``"observation"``.
    *index : int
        Further non-negative integers appended to the key (step ``k`` of a chain).

    Returns
    -------
    numpy.random.SeedSequence
    """
    root = as_seed_sequence(seed)
    for i in index:
        if isinstance(i, bool) or not isinstance(i, Integral | np.integer) or i < 0:
            raise ValueError(f"seed index must be a non-negative int, got {i!r}")
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, domain_key(domain),
                                                           *(int(i) for i in index)),
                                  pool_size=root.pool_size)


def rng(seed: SeedLike, domain: str, *index: int) -> np.random.Generator:
    """A ``Generator`` on the ``domain`` stream of ``seed``; a ``Generator`` is returned
    unchanged (the caller owns its stream)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(child(seed, domain, *index))


def seed_tree(seed: SeedLike, *, n_observation_steps: int = 0) -> dict[str, np.random.SeedSequence]:
    """The named streams of one job.

    Parameters
    ----------
    seed : int, SeedSequence, Generator or None
        The job's seed.
    n_observation_steps : int, default 0
        Adds ``"observation.0"`` … ``"observation.{n-1}"`` (``child(seed, "observation", k)``).

    Returns
    -------
    dict of str to numpy.random.SeedSequence
        ``"network"``, ``"inputs"``, ``"simulation"``, ``"method"`` and the observation steps.
    """
    root = as_seed_sequence(seed)
    tree = {name: child(root, name) for name in DOMAINS}
    for k in range(int(n_observation_steps)):
        tree[f"observation.{k}"] = child(root, "observation", k)
    return tree


def seed_repr(seed: SeedLike):
    """A JSON-friendly description of ``seed`` (for annotations and histories)."""
    if isinstance(seed, np.random.Generator):
        return "generator"
    if isinstance(seed, np.random.SeedSequence):
        return {"entropy": seed.entropy, "spawn_key": [int(k) for k in seed.spawn_key]}
    if isinstance(seed, np.integer):
        return int(seed)
    return seed
