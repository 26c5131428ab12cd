"""Core data types: networks, spike trains and recordings."""

from spikewire.core.network import DaleViolation, LIFParams, Network, PoissonDrive, WhiteNoiseDrive
from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains

__all__ = ["DaleViolation", "LIFParams", "Network", "PoissonDrive", "Recording", "SpikeTrains",
           "WhiteNoiseDrive"]
