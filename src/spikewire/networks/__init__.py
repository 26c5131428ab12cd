"""Builders of ground-truth networks (all return :class:`spikewire.Network`)."""

from spikewire.networks._connect import available_bytes, estimate_bytes
from spikewire.networks.adex import adex
from spikewire.networks.balanced_binary import (
    BinaryNetwork,
    balanced_activity_linear,
    binary_balanced,
    binary_mean_field,
)
from spikewire.networks.brunel import brunel, brunel_threshold_rate
from spikewire.networks.izhikevich import izhikevich
from spikewire.networks.matrix import delays_from_positions, from_matrix
from spikewire.networks.motifs import MOTIFS, motif
from spikewire.networks.ring import lif_ring
from spikewire.networks.scale_free import (
    barabasi_albert_edges,
    scale_free_connectivity,
    scale_free_lif,
)

__all__ = ["MOTIFS", "BinaryNetwork", "adex", "available_bytes", "balanced_activity_linear",
           "barabasi_albert_edges", "binary_balanced", "binary_mean_field", "brunel",
           "brunel_threshold_rate", "delays_from_positions", "estimate_bytes", "from_matrix",
           "izhikevich", "lif_ring", "motif", "scale_free_connectivity", "scale_free_lif"]
