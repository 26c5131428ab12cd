"""spikewire: recover synaptic weight matrices from spikes.

Pipeline: build a :class:`Network` (``spikewire.networks``), :func:`simulate` it to
:class:`SpikeTrains`, observe it as an experiment would (``spikewire.observe``) to get a
:class:`Recording`, :func:`infer` the weights and :func:`score` the estimate.
Conventions: time in seconds, voltages and weights in mV, matrices post × pre.
"""

from spikewire import networks
from spikewire.core import (
    DaleViolation,
    LIFParams,
    Network,
    PoissonDrive,
    Recording,
    SpikeTrains,
    WhiteNoiseDrive,
)
from spikewire.infer import Estimate, infer, list_methods
from spikewire.simulate import simulate

__version__ = "0.1.0"

__all__ = ["DaleViolation", "Estimate", "LIFParams", "Network", "PoissonDrive", "Recording",
           "SpikeTrains", "WhiteNoiseDrive", "__version__", "infer", "list_methods", "networks",
           "simulate"]
