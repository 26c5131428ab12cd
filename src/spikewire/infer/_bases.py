"""Temporal bases for GLM filters (raised cosines on a log-stretched time axis)."""

from __future__ import annotations

import numpy as np

from spikewire._validation import check_int, check_positive

__all__ = ["raised_cosine_log_basis"]


def raised_cosine_log_basis(n_basis: int, window: float, bin_width: float, *,
                            first_peak: float | None = None, offset: float | None = None,
                            ) -> np.ndarray:
    """Raised-cosine basis on a log-stretched time axis (Pillow et al. 2008).

    Basis function ``b`` at lag ``t`` (s) is ``½ (1 + cos(clip((φ(t) − φ_b) π / Δ,
    −π, π)))`` with ``φ(t) = log(t + offset)``, peaks ``φ_b`` evenly spaced by ``Δ`` from
    ``φ(first_peak)`` such that the last function decays to 0 at ``window``. Neighbouring
    functions overlap by half, so their sum is flat between the first and last peak;
    resolution is fine at short lags and coarse at long ones.

    Parameters
    ----------
    n_basis : int
        Number of basis functions (>= 1).
    window : float
        Longest lag covered, in s.
    bin_width : float
        Lag resolution in s; lags ``1..L`` bins, ``L = round(window / bin_width)``.
    first_peak : float, optional
        Lag of the first peak in s (default: one bin).
    offset : float, optional
        Log-stretch offset in s (default: one bin); larger is closer to linear spacing.

    Returns
    -------
    ndarray of shape (L, n_basis)
        ``B[l - 1, b]``: basis function ``b`` at lag ``l`` bins (lag 0 is excluded, so the
        filters are strictly causal).
    """
    n_basis = check_int("n_basis", n_basis, minimum=1)
    window = check_positive("window", window, unit="s")
    bin_width = check_positive("bin_width", bin_width, unit="s")
    n_lags = int(round(window / bin_width))
    if n_lags < 1:
        raise ValueError(f"window ({window} s) must span at least one bin of {bin_width} s")
    first_peak = bin_width if first_peak is None else check_positive("first_peak", first_peak)
    offset = bin_width if offset is None else check_positive("offset", offset)
    if first_peak >= window:
        raise ValueError(f"first_peak ({first_peak} s) must be below window ({window} s)")
    t = bin_width * np.arange(1, n_lags + 1)
    phi = np.log(t + offset)
    lo, hi = np.log(first_peak + offset), np.log(window + offset)
    spacing = (hi - lo) / n_basis
    peaks = lo + spacing * np.arange(n_basis)
    arg = np.clip((phi[:, None] - peaks[None, :]) * np.pi / spacing, -np.pi, np.pi)
    basis = 0.5 * (1 + np.cos(arg))
    # the first function covers all lags before its peak (flat onset of the filter)
    basis[t <= first_peak, 0] = 1.0
    return basis
