"""Core data types: networks, spike trains and recordings."""

from spikewire.core.binary import BinaryNetwork
from spikewire.core.network import DaleViolation, LIFParams, Network, PoissonDrive, WhiteNoiseDrive
from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains

__all__ = ["BinaryNetwork", "DaleViolation", "LIFParams", "Network", "PoissonDrive", "Recording",
           "SpikeTrains", "WhiteNoiseDrive"]
