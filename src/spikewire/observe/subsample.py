"""Partial observation: which neurons the experimenter records; the rest become hidden."""

from __future__ import annotations

from typing import Literal

import numpy as np

from spikewire._validation import check_choice, check_fraction, check_int
from spikewire.core.recording import Recording
from spikewire.observe._base import Step, register_step, run_step

__all__ = ["subsample"]


def subsample(data=None, *, fraction: float | None = None, count: int | None = None,
              population: Literal["E", "I"] | None = None, cell_type=None,
              layout: Literal["random", "block"] = "random", positions=None,
              center=None, neurons=None, shuffle: bool = False, seed=0,
              network=None) -> Recording | Step:
    """Record a subset of the neurons; the others become hidden.

    Parameters
    ----------
    data : SpikeTrains or Recording, optional
        The truth (or an earlier observation). If omitted, a :class:`Step` with these
        settings is returned for :func:`~spikewire.observe.observe`.
    fraction : float, optional
        Fraction in (0, 1] of the candidate neurons to record (rounded, at least one).
    count : int, optional
        Number of neurons to record (>= 1, at most the number of candidates). Give
        ``fraction`` or ``count``, not both; with neither, every candidate is recorded.
    population : {"E", "I"}, optional
        Record only excitatory or only inhibitory neurons (candidates are then that
        population; ``fraction`` is a fraction of it). Needs ``cell_type`` or ``network``.
    cell_type : array_like of {"E", "I"}, shape (n_neurons,), optional
        Cell type of every true neuron (defaults to ``network.cell_type``).
    layout : {"random", "block"}, default "random"
        ``"random"``: a uniformly random subset. ``"block"``: a spatially contiguous
        group, as a probe would see: the ``count`` candidates nearest to ``center``
        (``positions`` or ``network.positions``), or, without positions, a contiguous
        run of neuron indices starting at a random index.
    positions : ndarray, shape (n_neurons,) or (n_neurons, d), optional
        Neuron coordinates for ``layout="block"`` (any unit).
    center : array_like, shape (d,), optional
        Centre of the block; default: the position of a randomly chosen candidate.
    neurons : array_like of int, optional
        Record exactly these true neuron indices (overrides the other selectors).
    shuffle : bool, default False
        Present the recorded units in random order instead of by true neuron index (so
        unit order reveals nothing, e.g. the E-before-I layout of Brunel networks).
    seed : int, SeedSequence or Generator, default 0
        Seed of the random choice.
    network : Network, optional
        Source of ``cell_type`` and ``positions`` when these are not given.

    Returns
    -------
    Recording or Step
        The recorded units; ``true_index`` maps each to its true neuron and
        ``hidden_truth["hidden_neurons"]`` lists the true neurons left out.

    Examples
    --------
    >>> import spikewire as sw
    >>> from spikewire.observe import subsample
    >>> st = sw.SpikeTrains.from_lists([[0.1], [0.2, 0.3], [], [0.5]], t_stop=1.0)
    >>> rec = subsample(st, count=2, seed=1)
    >>> rec.n_units, len(rec.hidden_truth["hidden_neurons"])
    (2, 2)
    """
    settings = dict(fraction=fraction, count=count, population=population, cell_type=cell_type,
                    layout=layout, positions=positions, center=center, neurons=neurons,
                    shuffle=shuffle)
    if data is None:
        return Step("subsample", settings)
    return run_step("subsample", data, settings, seed=seed, context={"network": network})


def _check(fraction=None, count=None, population=None, cell_type=None, layout="random",
           positions=None, center=None, neurons=None, shuffle=False) -> dict:
    if fraction is not None and count is not None:
        raise ValueError(f"give fraction or count, not both (got fraction={fraction!r}, "
                         f"count={count!r})")
    if fraction is not None:
        fraction = check_fraction("fraction", fraction)
    if count is not None:
        count = check_int("count", count, minimum=1)
    if population is not None:
        check_choice("population", population, {"E", "I"})
    check_choice("layout", layout, {"random", "block"})
    if cell_type is not None:
        cell_type = np.asarray(cell_type).astype(str)
        bad = set(np.unique(cell_type).tolist()) - {"E", "I"}
        if bad:
            raise ValueError(f"cell_type must hold only 'E' or 'I', found {sorted(bad)}")
    if positions is not None:
        positions = np.asarray(positions, dtype=float)
        if positions.ndim == 1:
            positions = positions[:, None]
        if positions.ndim != 2 or not np.all(np.isfinite(positions)):
            raise ValueError("positions must be a finite array of shape (n_neurons,) or "
                             f"(n_neurons, d), got shape {positions.shape}")
    if center is not None:
        center = np.atleast_1d(np.asarray(center, dtype=float))
    if neurons is not None:
        neurons = np.asarray(neurons)
        if neurons.ndim != 1 or (neurons.size and not np.issubdtype(neurons.dtype, np.integer)):
            raise TypeError(f"neurons must be a 1-D array of neuron indices, got {neurons!r}")
        if np.unique(neurons).size != neurons.size:
            raise ValueError("neurons must not repeat an index")
        neurons = neurons.astype(np.int64)
    if not isinstance(shuffle, bool | np.bool_):
        raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
    return dict(fraction=fraction, count=count, population=population, cell_type=cell_type,
                layout=layout, positions=positions, center=center, neurons=neurons,
                shuffle=bool(shuffle))


def _apply(rec: Recording, rng, context, *, fraction, count, population, cell_type, layout,
           positions, center, neurons, shuffle) -> dict:
    true_idx = rec.true_index
    n_obs = rec.n_units
    network = context.get("network")
    if neurons is not None:
        pos_of = {int(t): k for k, t in enumerate(true_idx)}
        missing = [int(t) for t in neurons if int(t) not in pos_of]
        if missing:
            raise ValueError(f"neurons {missing[:10]} are not among the units of the input "
                             "(already hidden or out of range)")
        chosen = np.array([pos_of[int(t)] for t in neurons], dtype=np.int64)
    else:
        cand = np.arange(n_obs)
        if population is not None:
            ct = cell_type if cell_type is not None else (
                None if network is None else np.asarray(network.cell_type).astype(str))
            if ct is None:
                raise ValueError(f"population={population!r} needs cell_type (one 'E'/'I' per "
                                 "true neuron) or network=")
            _check_index_range("cell_type", ct.shape[0], true_idx)
            cand = cand[ct[true_idx] == population]
            if cand.size == 0:
                raise ValueError(f"no {population} neuron among the {n_obs} input units")
        k = cand.size if count is None and fraction is None else (
            count if count is not None else max(1, int(round(fraction * cand.size))))
        if k > cand.size:
            raise ValueError(f"count = {k} exceeds the {cand.size} candidate units; use "
                             f"count <= {cand.size}")
        if layout == "random":
            chosen = np.sort(rng.choice(cand, size=k, replace=False)) if k < cand.size else cand
        else:
            pos = positions if positions is not None else (
                None if network is None or network.positions is None
                else np.asarray(network.positions, float).reshape(network.n_neurons, -1))
            if pos is None:
                start = int(rng.integers(0, cand.size - k + 1))
                chosen = cand[start:start + k]
            else:
                _check_index_range("positions", pos.shape[0], true_idx)
                p = pos[true_idx[cand]]
                c = p[int(rng.integers(cand.size))] if center is None else center
                if c.shape != (p.shape[1],):
                    raise ValueError(f"center must have {p.shape[1]} coordinates, got "
                                     f"{c.shape[0]}")
                dist = np.linalg.norm(p - c, axis=1)
                chosen = np.sort(cand[np.argsort(dist, kind="stable")[:k]])
    if shuffle:
        chosen = rng.permutation(chosen)
    keep_mask = np.zeros(n_obs, bool)
    keep_mask[chosen] = True
    hidden = np.sort(np.concatenate([
        np.asarray(rec.hidden_truth.get("hidden_neurons", []), dtype=np.int64),
        true_idx[~keep_mask]]))
    truth = dict(rec.hidden_truth)
    truth["hidden_neurons"] = hidden
    changes = dict(true_index=true_idx[chosen], hidden_truth=truth,
                   _info={"n_kept": int(chosen.size), "n_input": int(n_obs)})
    changes["spikes"] = None if rec.spikes is None else rec.spikes.select(chosen)
    if rec.signals is not None:
        changes["signals"] = rec.signals[chosen]
    return changes


def _check_index_range(name, n, true_idx):
    if true_idx.size and (true_idx.min() < 0 or true_idx.max() >= n):
        raise ValueError(f"{name} has {n} entries but the recording refers to true neuron "
                         f"{int(true_idx.max())}; give one entry per true neuron")


register_step("subsample", _check, _apply, random=True)
