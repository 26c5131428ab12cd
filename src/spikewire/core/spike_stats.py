"""Spike-train statistics with one convention: firing rates, ISI CV and Fano factors.

Conventions (every function here, and every caller in spikewire, uses them):

- Statistics are per unit, in the order of ``spikes.units`` (position ``k`` is unit
  ``spikes.units[k]``), computed over the observation window ``[t_start, t_stop)``.
- A statistic that is undefined for a unit (too few spikes or intervals) is ``NaN``, never 0:
  population summaries use ``np.nanmean`` and count the defined units explicitly.
- Rates are spike counts divided by the window length (Hz).
- The ISI coefficient of variation is ``std(ISI) / mean(ISI)`` with the population standard
  deviation (``ddof=0``, the maximum-likelihood form used by Brunel 2000 and by the earlier
  spikewire functions), defined for units with at least ``min_spikes`` (>= 3) spikes.
- The Fano factor is ``Var(N) / E(N)`` of the counts ``N`` in consecutive non-overlapping
  windows of width ``window`` starting at ``t_start`` (an incomplete last window is
  dropped), with the unbiased variance (``ddof=1``, so that a Poisson process has expected
  Fano factor 1 at any number of windows); undefined for units without spikes in those
  windows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["firing_rates", "isi_cv", "fano_factor"]


def _spiketrains(spikes):
    from spikewire.core.spiketrains import SpikeTrains

    if not isinstance(spikes, SpikeTrains):
        raise TypeError(f"spikes must be a spikewire SpikeTrains, got {type(spikes).__name__}; "
                        "build one with SpikeTrains.from_times or SpikeTrains.from_lists")
    return spikes


def firing_rates(spikes) -> np.ndarray:
    """Mean firing rate of each unit (Hz) over the observation window.

    Parameters
    ----------
    spikes : SpikeTrains
        Spike trains with a window of positive length.

    Returns
    -------
    ndarray of float, shape (n_units,)
        ``count / (t_stop - t_start)`` in Hz.
    """
    st = _spiketrains(spikes)
    dur = st.t_stop - st.t_start
    if not dur > 0:
        raise ValueError(f"the observation window [{st.t_start}, {st.t_stop}) s has no length; "
                         "rates are undefined")
    return st.counts() / dur


def isi_cv(spikes, *, min_spikes: int = 3) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals of each unit.

    Parameters
    ----------
    spikes : SpikeTrains
    min_spikes : int, default 3
        Units with fewer spikes get ``NaN`` (at least 3 spikes, i.e. 2 intervals, are
        needed for a spread).

    Returns
    -------
    ndarray of float, shape (n_units,)
        ``std(ISI) / mean(ISI)`` (``ddof=0``); ``NaN`` where undefined. A Poisson process
        gives 1, a periodic one 0.
    """
    st = _spiketrains(spikes)
    if isinstance(min_spikes, bool) or not isinstance(min_spikes, (int, np.integer)) \
            or min_spikes < 3:
        raise ValueError(f"min_spikes must be an integer >= 3 (two intervals), got "
                         f"{min_spikes!r}")
    t, ptr = st.grouped_times, st.indptr
    counts = np.diff(ptr)
    out = np.full(st.n_units, np.nan)
    ok = counts >= min_spikes
    if not ok.any() or t.size < 2:
        return out
    d = np.diff(t)
    # interval j (between spikes j and j+1) belongs to a unit iff both spikes do: drop the
    # differences that straddle two units (at positions ptr[k+1] - 1)
    unit_of = np.repeat(np.arange(st.n_units), counts)
    same = unit_of[1:] == unit_of[:-1]
    d, u = d[same], unit_of[:-1][same]
    n = np.bincount(u, minlength=st.n_units).astype(float)
    s1 = np.bincount(u, weights=d, minlength=st.n_units)
    mean = np.divide(s1, n, out=np.zeros_like(s1), where=n > 0)
    # two-pass variance (stable for the long trains of high-rate units)
    s2 = np.bincount(u, weights=(d - mean[u]) ** 2, minlength=st.n_units)
    sd = np.sqrt(np.divide(s2, n, out=np.zeros_like(s2), where=n > 0))
    good = ok & (mean > 0)
    out[good] = sd[good] / mean[good]
    return out


def fano_factor(spikes, window: float) -> np.ndarray:
    """Fano factor of the spike counts of each unit in windows of ``window`` s.

    Parameters
    ----------
    spikes : SpikeTrains
    window : float
        Counting window in s; the observation window must hold at least two of them.

    Returns
    -------
    ndarray of float, shape (n_units,)
        ``Var(N) / E(N)`` over the windows (``ddof=1``); ``NaN`` for units without spikes in
        the counted windows. A Poisson process gives 1 at every window size.
    """
    st = _spiketrains(spikes)
    try:
        w = float(window)
    except (TypeError, ValueError):
        raise TypeError(f"window must be a duration in s, got {window!r}") from None
    if not (np.isfinite(w) and w > 0):
        raise ValueError(f"window must be a positive finite duration in s, got {window!r}")
    n_win = int(np.floor((st.t_stop - st.t_start) / w + 1e-9))
    if n_win < 2:
        raise ValueError(f"window = {w} s leaves {n_win} counting window(s) in "
                         f"[{st.t_start}, {st.t_stop}) s; use a window at most half as long "
                         "as the recording")
    t, ptr = st.grouped_times, st.indptr
    unit_of = np.repeat(np.arange(st.n_units), np.diff(ptr))
    b = np.floor((t - st.t_start) / w).astype(np.int64)
    keep = (b >= 0) & (b < n_win)
    counts = np.zeros((st.n_units, n_win))
    np.add.at(counts, (unit_of[keep], b[keep]), 1.0)
    mean = counts.mean(axis=1)
    var = counts.var(axis=1, ddof=1)
    out = np.full(st.n_units, np.nan)
    pos = mean > 0
    out[pos] = var[pos] / mean[pos]
    return out
