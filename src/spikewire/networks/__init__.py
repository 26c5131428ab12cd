"""Builders of ground-truth networks (all return :class:`spikewire.Network`)."""

from spikewire.networks.brunel import brunel, brunel_threshold_rate
from spikewire.networks.matrix import delays_from_positions, from_matrix

__all__ = ["brunel", "brunel_threshold_rate", "delays_from_positions", "from_matrix"]
