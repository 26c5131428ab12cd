"""Time resolution: quantize spike times to a sampling rate, bin to counts, add jitter.

Sampling convention (shared with :mod:`spikewire.observe.calcium`): sample ``k`` of a
recording at rate ``fs`` covers ``[t_start + k/fs, t_start + (k+1)/fs)`` and a spike inside
it is reported at the start of that window, ``t_start + k/fs`` (a spike detector reports
the sample in which the threshold was crossed).
"""

from __future__ import annotations

from typing import Literal

import numba
import numpy as np

from spikewire._validation import check_choice, check_positive
from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains
from spikewire.observe._base import Step, register_step, run_step

__all__ = ["quantize", "bin", "jitter", "resolution", "sample_index"]

# A spike time t = k·dt computed in floating point may land a hair below a sample
# boundary; this tolerance (in samples) keeps such spikes in the sample they belong to.
_EPS = 1e-6


def resolution(rec: Recording) -> float | None:
    """Finest time resolution (Hz) of a recording's spike times, None if unknown.

    The minimum of ``rec.sampling_rate`` and ``1 / spikes.annotations["dt"]`` (the
    simulation step, stored by :func:`spikewire.simulate`).
    """
    rates = []
    if rec.sampling_rate is not None:
        rates.append(float(rec.sampling_rate))
    if rec.spikes is not None and rec.spikes.annotations.get("dt"):
        rates.append(1.0 / float(rec.spikes.annotations["dt"]))
    return min(rates) if rates else None


def sample_index(times: np.ndarray, t_start: float, rate: float, n_samples: int) -> np.ndarray:
    """Index of the sample (window of width 1/rate from ``t_start``) holding each time."""
    idx = np.floor((times - t_start) * rate + _EPS).astype(np.int64)
    return np.clip(idx, 0, max(n_samples - 1, 0))


def n_samples_of(duration: float, rate: float) -> int:
    """Number of samples (last one possibly partial) covering ``duration`` s at ``rate`` Hz."""
    return max(int(np.ceil(duration * rate - 1e-9)), 1 if duration > 0 else 0)


def _require_spikes(rec: Recording, step: str) -> SpikeTrains:
    if rec.spikes is None:
        raise ValueError(f"{step} needs spike times, but this recording only has signals "
                         f"({rec.signal_kind}); apply {step} before calcium/smooth, or "
                         "deconvolve first")
    return rec.spikes


# --------------------------------------------------------------------------- quantize
def quantize(data=None, *, sampling_rate: float) -> Recording | Step:
    """Quantize spike times to the samples of an acquisition system.

    Parameters
    ----------
    data : SpikeTrains or Recording, optional
        The spikes; if omitted a :class:`Step` is returned.
    sampling_rate : float
        Acquisition rate in Hz, e.g. 30000 (extracellular) down to 10 (slow imaging). It
        may not exceed the resolution of the input: ``1/dt`` of the simulation
        (``spikes.annotations["dt"]``) or an earlier ``sampling_rate``.

    Returns
    -------
    Recording or Step
        Spike times moved to the start of their sample, ``t_start + k / sampling_rate``;
        spike counts are unchanged (several spikes of a unit may share a sample).
        ``sampling_rate`` is set on the recording.

    Raises
    ------
    ValueError
        If ``sampling_rate`` is not > 0 or exceeds the input's resolution.
    """
    settings = dict(sampling_rate=sampling_rate)
    if data is None:
        return Step("quantize", settings)
    return run_step("quantize", data, settings)


def _check_quantize(sampling_rate) -> dict:
    return dict(sampling_rate=check_positive("sampling_rate", sampling_rate, unit="Hz"))


def _check_rate_vs_resolution(name: str, rate: float, rec: Recording) -> None:
    res = resolution(rec)
    if res is not None and rate > res * (1 + 1e-9):
        raise ValueError(
            f"{name} = {rate:g} Hz exceeds the resolution of the input spikes ({res:g} Hz, "
            f"i.e. a time step of {1e3 / res:g} ms); use {name} <= {res:g} Hz or simulate "
            f"with dt <= {1.0 / rate:g} s")


def _quantized_spikes(st: SpikeTrains, rate: float) -> SpikeTrains:
    ns = n_samples_of(st.duration, rate)
    idx = sample_index(st.grouped_times, st.t_start, rate, ns)
    times = st.t_start + idx / rate
    ann = dict(st.annotations)
    ann["sampling_rate"] = rate
    return SpikeTrains(times, st.indptr, st.units, st.t_start, st.t_stop, ann)


def _apply_quantize(rec: Recording, rng, context, *, sampling_rate) -> dict:
    st = _require_spikes(rec, "quantize")
    _check_rate_vs_resolution("sampling_rate", sampling_rate, rec)
    return dict(spikes=_quantized_spikes(st, sampling_rate), sampling_rate=sampling_rate)


register_step("quantize", _check_quantize, _apply_quantize, random=False)


# --------------------------------------------------------------------------- bin
def bin(data=None, *, bin_width: float, dtype=None,
        keep_spikes: bool = True) -> Recording | Step:
    """Count spikes in time bins (what count-based methods and slow recordings see).

    Parameters
    ----------
    data : SpikeTrains or Recording, optional
        The spikes; if omitted a :class:`Step` is returned.
    bin_width : float
        Bin width in s (> 0). Bins start at ``t_start``; the last one may be partial.
    dtype : numpy integer dtype, optional
        Dtype of the counts. By default the smallest unsigned type holding the largest
        count (uint8 for most recordings: 1,000 neurons × 1 h in 33 ms bins is 108 MB).
    keep_spikes : bool, default True
        Also keep the spikes, quantized to the bin starts (as :func:`quantize` at
        ``1 / bin_width``), so spike-based methods see the same resolution.

    Returns
    -------
    Recording or Step
        ``signals`` of shape (n_units, n_bins) with ``signal_kind="counts"`` and
        ``signal_rate = 1 / bin_width``; ``sampling_rate = 1 / bin_width`` (or the
        input's, if that is coarser).

    Raises
    ------
    ValueError
        If ``bin_width <= 0``.
    """
    settings = dict(bin_width=bin_width, dtype=dtype, keep_spikes=keep_spikes)
    if data is None:
        return Step("bin", settings)
    return run_step("bin", data, settings)


def _check_bin(bin_width, dtype=None, keep_spikes=True) -> dict:
    bin_width = check_positive("bin_width", bin_width, unit="s")
    if dtype is not None:
        dt_ = np.dtype(dtype)
        if not np.issubdtype(dt_, np.integer):
            raise TypeError(f"dtype must be an integer dtype for counts, got {dt_}")
        dtype = dt_.name
    return dict(bin_width=bin_width, dtype=dtype, keep_spikes=bool(keep_spikes))


@numba.njit(cache=True)
def _max_bin_count(idx, indptr):
    best = 0
    for u in range(indptr.size - 1):
        run = 0
        for p in range(indptr[u], indptr[u + 1]):
            if p > indptr[u] and idx[p] == idx[p - 1]:
                run += 1
            else:
                run = 1
            if run > best:
                best = run
    return best


@numba.njit(cache=True, parallel=True)
def _fill_counts(idx, indptr, out):
    for u in numba.prange(indptr.size - 1):
        for p in range(indptr[u], indptr[u + 1]):
            out[u, idx[p]] += 1


def count_matrix(st: SpikeTrains, bin_width: float, dtype=None) -> np.ndarray:
    """Dense (n_units, n_bins) spike counts in the smallest sufficient integer dtype."""
    rate = 1.0 / bin_width
    nb = n_samples_of(st.duration, rate)
    idx = sample_index(st.grouped_times, st.t_start, rate, nb)
    if dtype is None:
        m = _max_bin_count(idx, st.indptr) if idx.size else 0
        dtype = np.min_scalar_type(m) if m < 2**32 else np.uint64
    out = np.zeros((st.n_units, nb), dtype=dtype)
    if idx.size:
        if np.iinfo(out.dtype).max < _max_bin_count(idx, st.indptr):
            raise ValueError(f"dtype {out.dtype} cannot hold the largest bin count; use a "
                             "wider integer dtype or dtype=None")
        _fill_counts(idx, st.indptr, out)
    return out


def _apply_bin(rec: Recording, rng, context, *, bin_width, dtype, keep_spikes) -> dict:
    st = _require_spikes(rec, "bin")
    counts = count_matrix(st, bin_width, dtype)
    rate = 1.0 / bin_width
    # bins finer than an earlier sampling grid do not make the spike times finer
    res = rate if rec.sampling_rate is None else min(rate, float(rec.sampling_rate))
    return dict(signals=counts, signal_rate=rate, signal_kind="counts", sampling_rate=res,
                spikes=_quantized_spikes(st, rate) if keep_spikes else None,
                _info={"n_bins": counts.shape[1], "count_dtype": counts.dtype.name})


register_step("bin", _check_bin, _apply_bin, random=False)


# --------------------------------------------------------------------------- jitter
def jitter(data=None, *, sigma: float, distribution: Literal["gaussian", "uniform"] = "gaussian",
           seed=0) -> Recording | Step:
    """Add spike-timing noise such as spike sorting adds (template alignment error).

    Parameters
    ----------
    data : SpikeTrains or Recording, optional
        The spikes; if omitted a :class:`Step` is returned.
    sigma : float
        Standard deviation of the timing error in s (>= 0), e.g. 1e-4 to 5e-4 for
        spike sorting. The same for both distributions.
    distribution : {"gaussian", "uniform"}, default "gaussian"
        Shape of the error (uniform on ``±sigma·√3``).
    seed : int, SeedSequence or Generator, default 0

    Returns
    -------
    Recording or Step
        Jittered spikes, re-sorted within each unit; times pushed outside the window are
        reflected back in. If the input has a ``sampling_rate``, jittered times are put
        back on that sampling grid (nearest sample).
    """
    settings = dict(sigma=sigma, distribution=distribution)
    if data is None:
        return Step("jitter", settings)
    return run_step("jitter", data, settings, seed=seed)


def _check_jitter(sigma, distribution="gaussian") -> dict:
    check_choice("distribution", distribution, {"gaussian", "uniform"})
    return dict(sigma=check_positive("sigma", sigma, allow_zero=True, unit="s"),
                distribution=distribution)


@numba.njit(cache=True, parallel=True)
def _sort_segments(x, indptr):
    for u in numba.prange(indptr.size - 1):
        a, b = indptr[u], indptr[u + 1]
        if b - a > 1:
            x[a:b] = np.sort(x[a:b])


def _apply_jitter(rec: Recording, rng, context, *, sigma, distribution) -> dict:
    st = _require_spikes(rec, "jitter")
    t = st.grouped_times
    if distribution == "gaussian":
        noise = rng.standard_normal(t.size) * sigma
    else:
        noise = rng.uniform(-np.sqrt(3.0) * sigma, np.sqrt(3.0) * sigma, t.size)
    x = t + noise
    t0, t1 = st.t_start, st.t_stop
    x = np.where(x < t0, 2 * t0 - x, x)
    x = np.where(x >= t1, np.nextafter(2 * t1 - x, -np.inf), x)
    x = np.clip(x, t0, np.nextafter(t1, -np.inf))  # jitter larger than the window
    if rec.sampling_rate is not None:
        fs = rec.sampling_rate
        ns = n_samples_of(st.duration, fs)
        x = t0 + np.clip(np.rint((x - t0) * fs), 0, ns - 1) / fs
    x = np.ascontiguousarray(x)
    _sort_segments(x, st.indptr)
    return dict(spikes=SpikeTrains(x, st.indptr, st.units, t0, t1, st.annotations))


register_step("jitter", _check_jitter, _apply_jitter, random=True)
