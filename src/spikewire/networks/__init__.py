"""Builders of ground-truth networks (all return :class:`spikewire.Network`)."""

from spikewire.networks._connect import available_bytes, estimate_bytes
from spikewire.networks.balanced_binary import (
    BinaryNetwork,
    balanced_activity_linear,
    binary_balanced,
    binary_mean_field,
)
from spikewire.networks.brunel import brunel, brunel_threshold_rate
from spikewire.networks.matrix import delays_from_positions, from_matrix
from spikewire.networks.motifs import MOTIFS, motif

__all__ = ["MOTIFS", "BinaryNetwork", "available_bytes", "balanced_activity_linear",
           "binary_balanced", "binary_mean_field", "brunel", "brunel_threshold_rate",
           "delays_from_positions", "estimate_bytes", "from_matrix", "motif"]
