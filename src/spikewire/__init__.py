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
from spikewire.networks.balanced_binary import BinaryNetwork
from spikewire.score import score
from spikewire.simulate import simulate, simulate_binary

__version__ = "0.1.0"

__all__ = ["BinaryNetwork", "DaleViolation", "Estimate", "LIFParams", "Network", "PoissonDrive",
           "Recording", "SpikeTrains", "WhiteNoiseDrive", "__version__", "infer", "list_methods",
           "networks", "score", "simulate", "simulate_binary"]
