"""Observe a simulation like an experiment: inputs, perturbations and observation models.

Inputs (passed to :func:`spikewire.simulate`; defined in :mod:`spikewire.simulate.inputs`
and re-exported here)
    :class:`Schedule` and :class:`ArrayGain` (time-varying external drive per population,
    group or neuron), :class:`HiddenStates` (Markov chain of brain states; the state
    sequence is kept as ground truth), :func:`combine` (product of modulations) and
    :class:`Pulses` (stimulation of chosen or random neurons, with the stimulus log).

Observation models (truth → :class:`~spikewire.Recording`)
    :func:`subsample` (hidden neurons), :func:`quantize` and :func:`bin` (time resolution),
    :func:`jitter` (spike-sorting timing noise), :func:`calcium` and :func:`deconvolve`
    (imaging and the road back to spikes), :func:`smooth` (rates). Each is a pure
    function of its input and seed, appends itself to ``Recording.history`` and keeps
    ``true_index`` (observed unit → true neuron).

Composition
    Called without data, every observation function returns a :class:`Step`;
    :func:`observe` applies a list of steps in order::

        rec = observe(spikes, [subsample(fraction=0.1), quantize(sampling_rate=1000),
                               calcium(indicator="GCaMP6s")], seed=1, network=net)

    The same pipeline as plain dicts (e.g. ``[[observe]]`` tables in a TOML experiment
    file) goes through :func:`from_spec`::

        steps = from_spec([{"step": "subsample", "fraction": 0.1},
                           {"step": "quantize", "sampling_rate": 1000},
                           {"step": "calcium", "indicator": "GCaMP6s"}])
        rec = observe(spikes, steps, seed=1, network=net)

    Settings are validated when a step is built; step ``k`` of a pipeline draws its
    randomness from ``spikewire.core.seeds.child(seed, "observation", k)``. Inputs have a
    dict form too, :func:`inputs_from_spec` (``{"input": "hidden_states", "gains": [1.5, 0.5],
    "dwell_times": [2.0, 1.0]}``, ``{"input": "pulses", ...}``, ...), returning the
    ``modulation`` and ``stimulation`` for :func:`spikewire.simulate` and the objects whose
    ground truth ``observe(..., inputs=...)`` keeps.
"""

from spikewire.observe._base import STEPS, Step
from spikewire.observe.calcium import INDICATORS, Indicator, calcium, deconvolve, kernel
from spikewire.observe.pipeline import attach_truth, from_spec, observe, to_spec
from spikewire.observe.smooth import smooth
from spikewire.observe.subsample import subsample
from spikewire.observe.timing import bin, jitter, quantize, resolution
from spikewire.simulate.inputs import (  # defined with the simulation, kept importable here
    ArrayGain,
    HiddenStates,
    Pulses,
    Schedule,
    combine,
    inputs_from_spec,
    population_groups,
)

__all__ = ["INDICATORS", "STEPS", "ArrayGain", "HiddenStates", "Indicator", "Pulses",
           "Schedule", "Step", "attach_truth", "bin", "calcium", "combine", "deconvolve",
           "from_spec", "inputs_from_spec", "jitter", "kernel", "observe",
           "population_groups", "quantize", "resolution", "smooth", "subsample", "to_spec"]
