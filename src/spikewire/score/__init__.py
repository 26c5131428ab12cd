"""Scores of connectivity estimates against the ground truth (flat, table-ready records)."""

from spikewire.score.metrics import Truth, classify_links, score

__all__ = ["Truth", "classify_links", "score"]
