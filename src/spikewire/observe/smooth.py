"""Smoothing: spikes to continuous firing rates (the "rate" version of a spiking network)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import lfilter

from spikewire._validation import check_choice, check_positive
from spikewire.core.recording import Recording
from spikewire.observe._base import Step, register_step, run_step
from spikewire.observe.timing import _check_rate_vs_resolution, _require_spikes, count_matrix

__all__ = ["smooth"]

_ROWS = 64  # units filtered per block (bounds the float64 work array)


def smooth(data=None, *, width: float, kernel: Literal["gaussian", "exponential"] = "gaussian",
           sampling_rate: float = 100.0, keep_spikes: bool = False) -> Recording | Step:
    """Firing rates from spikes by kernel smoothing.

    Parameters
    ----------
    data : SpikeTrains or Recording, optional
        The spikes; if omitted a :class:`Step` is returned.
    width : float
        Kernel width in s: the standard deviation of the Gaussian, or the time constant
        of the causal exponential.
    kernel : {"gaussian", "exponential"}, default "gaussian"
        ``"gaussian"``: symmetric, non-causal. ``"exponential"``: causal,
        ``(1/τ) exp(-t/τ)`` for ``t >= 0`` (a synaptic-current-like filter).
    sampling_rate : float, default 100.0
        Rate of the output samples in Hz (spikes are first counted in bins of
        ``1 / sampling_rate``). Memory: n_units × duration × sampling_rate × 4 bytes.
    keep_spikes : bool, default False
        Keep the spike trains next to the rates (by default the observer sees rates only).

    Returns
    -------
    Recording or Step
        ``signals`` float32 (n_units, n_samples) in Hz, ``signal_kind="rate"``. Each
        kernel integrates to one over the output grid, so the mean rate is preserved
        (up to edge effects of one kernel width).
    """
    settings = dict(width=width, kernel=kernel, sampling_rate=sampling_rate,
                    keep_spikes=keep_spikes)
    if data is None:
        return Step("smooth", settings)
    return run_step("smooth", data, settings)


def _check(width, kernel="gaussian", sampling_rate=100.0, keep_spikes=False) -> dict:
    width = check_positive("width", width, unit="s")
    check_choice("kernel", kernel, {"gaussian", "exponential"})
    sampling_rate = check_positive("sampling_rate", sampling_rate, unit="Hz")
    return dict(width=width, kernel=kernel, sampling_rate=sampling_rate,
                keep_spikes=bool(keep_spikes))


def _apply(rec: Recording, rng, context, *, width, kernel, sampling_rate, keep_spikes) -> dict:
    st = _require_spikes(rec, "smooth")
    _check_rate_vs_resolution("sampling_rate", sampling_rate, rec)
    counts = count_matrix(st, 1.0 / sampling_rate)
    out = np.empty(counts.shape, dtype=np.float32)
    w = width * sampling_rate  # kernel width in samples
    for a in range(0, counts.shape[0], _ROWS):
        block = counts[a:a + _ROWS].astype(np.float64) * sampling_rate  # Hz per bin
        if kernel == "gaussian":
            block = gaussian_filter1d(block, w, axis=1, mode="constant", truncate=5.0)
        else:
            g = np.exp(-1.0 / w)
            block = lfilter([1.0 - g], [1.0, -g], block, axis=1)
        out[a:a + _ROWS] = block
    return dict(signals=out, signal_rate=sampling_rate, signal_kind="rate",
                spikes=st if keep_spikes else None)


register_step("smooth", _check, _apply, random=False)
