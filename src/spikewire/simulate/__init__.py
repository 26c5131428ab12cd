"""Simulation engines.

:func:`simulate` dispatches on the neuron model of ``network.params``: LIF
(:func:`spikewire.simulate.lif.simulate`), Izhikevich (:func:`simulate_izhikevich`) or
AdEx (:func:`simulate_adex`).

Procedural connectivity (GeNN-style: each neuron's targets regenerated from a seed at
each of its spikes instead of stored, so 10^9 synapses fit in well under a GiB):
:class:`ProceduralConnectivity` describes the random connectivity and
:func:`simulate_procedural` runs a LIF network with it; the result equals :func:`simulate`
of ``network.replace(weights=connectivity.to_weights())`` spike for spike.
:class:`ProceduralPopulations` adds per-(target population, source) weights and, optionally,
per-synapse delays drawn from a range (E/I networks with ``J_EE != J_IE``).
"""

from __future__ import annotations

import numpy as np

from spikewire.core.procedural import ProceduralPopulations
from spikewire.simulate import lif as _lif
from spikewire.simulate.adex import simulate_adex
from spikewire.simulate.binary import BinaryActivity, simulate_binary
from spikewire.simulate.comodulation import slow_comodulation
from spikewire.simulate.inputs import (
    ArrayGain,
    HiddenStates,
    Pulses,
    Schedule,
    combine,
    inputs_from_spec,
    population_groups,
)
from spikewire.simulate.izhikevich import simulate_izhikevich
from spikewire.simulate.lif import (
    DriveModulation,
    ProceduralConnectivity,
    Stimulation,
    delay_steps,
    simulate_procedural,
)

__all__ = ["ArrayGain", "BinaryActivity", "DriveModulation", "HiddenStates",
           "ProceduralConnectivity", "ProceduralPopulations", "Pulses", "Schedule",
           "Stimulation", "combine",
           "delay_steps", "inputs_from_spec", "population_groups", "simulate",
           "simulate_adex", "simulate_binary", "simulate_izhikevich",
           "simulate_procedural", "slow_comodulation"]

_DEFAULT_DT = {"lif": 1e-4, "izhikevich": 1e-3, "adex": 1e-4}


def simulate(network, duration: float, *, dt: float | None = None, seed=0,
             v_init: str | np.ndarray | None = None,
             modulation: DriveModulation | None = None,
             stimulation: Stimulation | None = None, progress: bool = False, **options):
    """Simulate ``network`` for ``duration`` s with the engine of its neuron model.

    Parameters
    ----------
    network : Network
        LIF (``LIFParams``), Izhikevich (``IzhikevichParams``) or AdEx (``AdExParams``).
    duration : float
        Biological time in s.
    dt : float, optional
        Time step in s; default 0.1 ms for LIF and AdEx, 1 ms for Izhikevich (the
        resolution of Izhikevich's published networks).
    seed : int, SeedSequence or Generator, default 0
        Root of the ``"simulation"`` stream (:mod:`spikewire.core.seeds`) from which every
        random draw derives (never the numbers a builder drew from the same integer).
    v_init : str or ndarray, optional
        Initial membrane potentials (each engine's default when omitted; see the engines).
    modulation, stimulation, progress
        See :func:`spikewire.simulate.lif.simulate`; ``modulation`` multiplies the
        external drive in every engine.
    **options
        Engine-specific options (e.g. ``chunk_steps``).

    Returns
    -------
    SpikeTrains
        Times in s on the grid ``k·dt``; ``annotations`` record ``engine``, ``dt``, ``seed``.
    """
    model = getattr(network, "neuron_model", "lif")
    engines = {"lif": _lif.simulate, "izhikevich": simulate_izhikevich, "adex": simulate_adex}
    if model not in engines:
        raise TypeError(f"no simulation engine for neuron model {model!r}")
    kw = dict(options)
    kw["dt"] = _DEFAULT_DT.get(model, 1e-4) if dt is None else dt
    if v_init is not None:
        kw["v_init"] = v_init
    return engines[model](network, duration, seed=seed, modulation=modulation,
                          stimulation=stimulation, progress=progress, **kw)
