"""Predictive likelihood of spike counts: what methods that predict spikes report and what
scores compare (held-out bits per spike)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bits_per_spike"]


def bits_per_spike(rate: np.ndarray, counts: np.ndarray,
                   baseline: np.ndarray | None = None) -> float:
    """Poisson log-likelihood gain of predicted rates over homogeneous rates, per spike.

    Parameters
    ----------
    rate : ndarray, shape (n_units, n_bins)
        Predicted mean counts per bin (> 0).
    counts : ndarray, shape (n_units, n_bins)
        Observed counts.
    baseline : ndarray, shape (n_units,), optional
        Homogeneous mean count per bin of each unit (default: each unit's mean of
        ``counts``).

    Returns
    -------
    float
        ``(log L(rate) − log L(baseline)) / (n_spikes · ln 2)`` in bits/spike (the
        ``log y!`` terms cancel); ``nan`` without spikes.
    """
    lam = np.asarray(rate, dtype=float)
    y = np.asarray(counts, dtype=float)
    if lam.shape != y.shape or lam.ndim != 2:
        raise ValueError(f"rate and counts must be (n_units, n_bins) arrays of the same shape, "
                         f"got {lam.shape} and {y.shape}")
    if not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise ValueError("rate must be finite and > 0 in every bin")
    if np.any(y < 0):
        raise ValueError("counts must be >= 0")
    base = y.mean(axis=1) if baseline is None else np.asarray(baseline, dtype=float)
    if base.shape != (y.shape[0],):
        raise ValueError(f"baseline must have one rate per unit ({y.shape[0]}), got "
                         f"{base.shape}")
    n_spikes = float(y.sum())
    if n_spikes == 0:
        return math.nan
    ll = float(np.sum(y * np.log(lam) - lam))
    b = np.broadcast_to(base[:, None], y.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll0 = float(np.sum(np.where(y > 0, y * np.log(b), 0.0) - b))
    return (ll - ll0) / (n_spikes * math.log(2))
