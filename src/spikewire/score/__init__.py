"""Scores of connectivity estimates against the ground truth (flat, table-ready records)."""

from spikewire.score.metrics import Truth, classify_links, score
from spikewire.score.ring import aligned_profile, bits_per_spike, l1_scale, profile_error

__all__ = ["Truth", "aligned_profile", "bits_per_spike", "classify_links", "l1_scale",
           "profile_error", "score"]
