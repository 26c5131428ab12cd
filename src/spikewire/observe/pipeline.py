"""Compose observation models in an explicit order, from Python or from TOML/dict specs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from spikewire.core.recording import Recording
from spikewire.core.seeds import as_seed_sequence, child
from spikewire.observe._base import Step, as_recording, make_rng

__all__ = ["observe", "from_spec", "to_spec", "attach_truth"]


def from_spec(spec: Sequence[dict | str | Step]) -> list[Step]:
    """Build observation steps from their dict form (as written in TOML experiment files).

    Parameters
    ----------
    spec : sequence of dict, str or Step
        Each dict is ``{"step": name, **settings}`` with ``name`` one of
        ``spikewire.observe.STEPS`` ("subsample", "quantize", "bin", "jitter", "calcium",
        "deconvolve", "smooth") and the settings of the function of that name; a bare
        string is a step with default settings. Order is the order of application.

    Returns
    -------
    list of Step
        Validated steps; a bad setting raises here, before any data is touched.

    Examples
    --------
    In a TOML file::

        [[observe]]
        step = "subsample"
        fraction = 0.2
        [[observe]]
        step = "calcium"
        indicator = "GCaMP6s"
        frame_rate = 30.0

    >>> from spikewire.observe import from_spec
    >>> steps = from_spec([{"step": "subsample", "fraction": 0.2},
    ...                    {"step": "calcium", "indicator": "GCaMP6s"}])
    >>> [s.name for s in steps]
    ['subsample', 'calcium']
    """
    if isinstance(spec, dict | str | Step):
        spec = [spec]
    steps = []
    for k, item in enumerate(spec):
        try:
            if isinstance(item, Step):
                steps.append(item)
            elif isinstance(item, str):
                steps.append(Step(item, {}))
            else:
                steps.append(Step.from_dict(item))
        except (ValueError, TypeError) as err:
            raise type(err)(f"observation step {k} ({item!r}): {err}") from err
    return steps


def to_spec(steps: Iterable[Step]) -> list[dict]:
    """The dict form of steps (inverse of :func:`from_spec`)."""
    return [s.to_dict() for s in from_spec(list(steps))]


def observe(data, steps: Sequence[dict | str | Step] = (), *, seed=0, network=None,
            inputs: Iterable = ()) -> Recording:
    """Observe simulated truth through a sequence of observation models.

    Parameters
    ----------
    data : SpikeTrains or Recording
        The truth, e.g. the output of :func:`spikewire.simulate`.
    steps : sequence of Step, dict or str
        Applied in the given order, e.g. ``[subsample(fraction=0.1),
        quantize(sampling_rate=1000), calcium(indicator="GCaMP6f")]`` or their dict forms
        (see :func:`from_spec`).
    seed : int, SeedSequence or Generator, default 0
        Master seed. Step ``k`` draws from ``spikewire.core.seeds.child(seed,
        "observation", k)``, so adding a step later in the list does not change the
        randomness of earlier ones, and the observation never replays the numbers of the
        network or the simulation drawn from the same integer.
    network : Network, optional
        The simulated network, for steps that need cell types or positions (e.g.
        ``subsample(population="E")`` or ``layout="block"``).
    inputs : iterable, optional
        Input objects used in the simulation (:class:`HiddenStates`,
        :class:`Pulses`, ...); their ground truth (state sequence, stimulus log) is stored
        in ``hidden_truth`` under their ``truth_key``.

    Returns
    -------
    Recording
        With the full ``history`` (each step, its settings and seed) and ``true_index``.

    Examples
    --------
    >>> import spikewire as sw
    >>> from spikewire.observe import observe, subsample, quantize
    >>> st = sw.SpikeTrains.from_lists([[0.0101, 0.5], [0.2], [0.3]], t_stop=1.0)
    >>> rec = observe(st, [subsample(count=2), quantize(sampling_rate=100)], seed=3)
    >>> [h["step"] for h in rec.history]
    ['simulate', 'subsample', 'quantize']
    """
    steps = from_spec(steps)
    if not isinstance(seed, np.random.Generator):
        make_rng(seed)  # validates the seed (None and negative ints are refused)
    root = as_seed_sequence(seed)
    rec = attach_truth(as_recording(data), inputs)
    for k, step in enumerate(steps):
        rec = step(rec, seed=child(root, "observation", k), network=network)
    return rec


def attach_truth(data, inputs: Iterable = ()) -> Recording:
    """A copy of ``data`` (as a Recording) with the inputs' ground truth in ``hidden_truth``."""
    rec = as_recording(data)
    inputs = [inputs] if hasattr(inputs, "truth") else list(inputs)
    if not inputs:
        return rec
    truth = dict(rec.hidden_truth)
    for obj in inputs:
        if not hasattr(obj, "truth") or not hasattr(obj, "truth_key"):
            raise TypeError(f"inputs must be spikewire.observe input objects with .truth(), "
                            f"got {type(obj).__name__}")
        truth[obj.truth_key] = obj.truth()
    return Recording(spikes=rec.spikes, true_index=rec.true_index, signals=rec.signals,
                     signal_rate=rec.signal_rate, signal_kind=rec.signal_kind,
                     sampling_rate=rec.sampling_rate, history=list(rec.history),
                     hidden_truth=truth)
