"""Spike trains: sorted spike times per unit, in seconds.

The storage is ragged (CSR-like): one flat ``float64`` array of spike times grouped by
unit and sorted within each unit, and an index pointer of length ``n_units + 1``. Flat
``(times, unit_ids)`` arrays ordered by time are produced on demand for rasters and for
methods that consume the whole population at once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from spikewire._validation import check_finite, check_positive

__all__ = ["SpikeTrains"]


class SpikeTrains:
    """Spike times of a population of units.

    Parameters
    ----------
    spike_times : ndarray of float64
        All spike times in seconds, grouped by unit (unit 0 first) and sorted within each
        unit.
    indptr : ndarray of int64, shape (n_units + 1,)
        ``spike_times[indptr[k]:indptr[k + 1]]`` are the spikes of unit ``k``.
    units : ndarray of int64, shape (n_units,)
        Identifier of each unit (for simulations: the neuron index in the network).
    t_start, t_stop : float
        Observation window in seconds; every spike lies in ``[t_start, t_stop)``.
    annotations : dict, optional
        Free-form metadata (e.g. the simulation settings, a stimulus log).

    Notes
    -----
    Use :meth:`from_times` or :meth:`from_lists` to build validated instances; the
    constructor trusts its input (it is the internal fast path).
    """

    __slots__ = ("_spike_times", "_indptr", "_units", "t_start", "t_stop", "annotations",
                 "_flat_cache")

    def __init__(self, spike_times, indptr, units, t_start: float, t_stop: float,
                 annotations: dict | None = None):
        self._spike_times = np.asarray(spike_times, dtype=np.float64)
        self._indptr = np.asarray(indptr, dtype=np.int64)
        self._units = np.asarray(units, dtype=np.int64)
        self.t_start = float(t_start)
        self.t_stop = float(t_stop)
        self.annotations = dict(annotations or {})
        self._flat_cache = None

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_times(cls, times, unit_ids, *, t_start: float = 0.0, t_stop: float | None = None,
                   units: Sequence[int] | None = None, sort: bool = False,
                   annotations: dict | None = None) -> SpikeTrains:
        """Build spike trains from flat arrays of spike times and unit ids.

        Parameters
        ----------
        times : array_like of float
            Spike times in seconds.
        unit_ids : array_like of int
            Unit of each spike, same length as ``times``.
        t_start : float, default 0.0
            Start of the recording in seconds.
        t_stop : float, optional
            End of the recording in seconds (exclusive). Defaults to just after the last
            spike.
        units : sequence of int, optional
            All units of the recording, including silent ones, in the order to keep.
            Defaults to the sorted distinct values of ``unit_ids``.
        sort : bool, default False
            If False, the spikes of each unit must already be in time order in the input
            and an error names the first unit that is not; if True they are sorted.
        annotations : dict, optional
            Metadata kept with the spike trains.

        Raises
        ------
        ValueError
            For NaN/inf times, times outside ``[t_start, t_stop)``, mismatched lengths,
            unsorted spikes (with ``sort=False``), duplicate ``units`` or spikes of units
            not listed in ``units``.
        """
        times = np.asarray(times, dtype=np.float64).ravel()
        ids = np.asarray(unit_ids).ravel()
        if times.shape != ids.shape:
            raise ValueError(
                f"times and unit_ids must have the same length, got {times.size} and {ids.size}")
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            if np.issubdtype(ids.dtype, np.floating) and np.all(np.mod(ids, 1) == 0):
                ids = ids.astype(np.int64)
            else:
                raise TypeError(f"unit_ids must be integers, got dtype {ids.dtype}")
        ids = ids.astype(np.int64, copy=False)
        t_start = check_finite("t_start", t_start, unit="s")
        _check_times_finite(times, ids)
        if t_stop is None:
            t_stop = float(np.nextafter(times.max(), np.inf)) if times.size else t_start
        t_stop = check_finite("t_stop", t_stop, unit="s")
        if t_stop < t_start:
            raise ValueError(f"t_stop ({t_stop} s) must be >= t_start ({t_start} s)")
        if units is None:
            unit_arr = np.unique(ids)
        else:
            unit_arr = _check_units(units)
            missing = np.setdiff1d(np.unique(ids), unit_arr)
            if missing.size:
                raise ValueError(
                    f"spikes of unit(s) {missing[:10].tolist()} are not in `units`; add them "
                    "to `units` or drop those spikes")
        _check_range(times, ids, t_start, t_stop)
        # map ids -> positions in unit_arr
        order_units = np.argsort(unit_arr, kind="stable")
        pos = order_units[np.searchsorted(unit_arr[order_units], ids)] if ids.size else ids
        if sort:
            order = np.lexsort((times, pos))
        else:
            order = np.argsort(pos, kind="stable")
            grouped = times[order]
            gpos = pos[order]
            bad = np.flatnonzero((np.diff(grouped) < 0) & (gpos[1:] == gpos[:-1]))
            if bad.size:
                k = bad[0]
                raise ValueError(
                    f"spike times of unit {int(unit_arr[gpos[k]])} are not sorted "
                    f"({float(grouped[k])!r} s comes before {float(grouped[k + 1])!r} s); pass "
                    "sort=True to sort them")
        counts = np.bincount(pos, minlength=unit_arr.size) if ids.size else np.zeros(
            unit_arr.size, dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return cls(times[order], indptr, unit_arr, t_start, t_stop, annotations)

    @classmethod
    def from_lists(cls, trains: Sequence, *, units: Sequence[int] | None = None,
                   t_start: float = 0.0, t_stop: float | None = None, sort: bool = False,
                   annotations: dict | None = None) -> SpikeTrains:
        """Build spike trains from one array of spike times (seconds) per unit.

        ``units`` defaults to ``0 .. len(trains) - 1``; see :meth:`from_times` for the
        other parameters and the checks.
        """
        trains = [np.asarray(t, dtype=np.float64).ravel() for t in trains]
        if units is None:
            unit_arr = np.arange(len(trains), dtype=np.int64)
        else:
            unit_arr = _check_units(units)
            if unit_arr.size != len(trains):
                raise ValueError(
                    f"units has {unit_arr.size} entries but {len(trains)} spike trains were "
                    "given")
        times = np.concatenate(trains) if trains else np.zeros(0)
        ids = np.repeat(unit_arr, [t.size for t in trains]) if trains else np.zeros(0, int)
        return cls.from_times(times, ids, t_start=t_start, t_stop=t_stop, units=unit_arr,
                              sort=sort, annotations=annotations)

    # ------------------------------------------------------------------ access
    @property
    def units(self) -> np.ndarray:
        """Unit identifiers, shape (n_units,)."""
        return self._units

    @property
    def n_units(self) -> int:
        """Number of units (silent units included)."""
        return int(self._units.size)

    @property
    def n_spikes(self) -> int:
        """Total number of spikes."""
        return int(self._spike_times.size)

    @property
    def duration(self) -> float:
        """Length of the observation window in seconds."""
        return self.t_stop - self.t_start

    @property
    def indptr(self) -> np.ndarray:
        """Index pointer into :attr:`grouped_times`, shape (n_units + 1,)."""
        return self._indptr

    @property
    def grouped_times(self) -> np.ndarray:
        """All spike times in seconds, grouped by unit and sorted within each unit."""
        return self._spike_times

    def _flat(self):
        if self._flat_cache is None:
            pos = np.repeat(np.arange(self.n_units), np.diff(self._indptr))
            order = np.lexsort((pos, self._spike_times))
            self._flat_cache = (self._spike_times[order], self._units[pos[order]])
        return self._flat_cache

    @property
    def times(self) -> np.ndarray:
        """All spike times in seconds, in time order (ties by unit position)."""
        return self._flat()[0]

    @property
    def unit_ids(self) -> np.ndarray:
        """Unit id of each spike in :attr:`times`."""
        return self._flat()[1]

    def train(self, index: int) -> np.ndarray:
        """Spike times (seconds) of the unit at position ``index`` (not its id)."""
        return self._spike_times[self._indptr[index]:self._indptr[index + 1]]

    def __getitem__(self, index: int) -> np.ndarray:
        return self.train(index)

    def __len__(self) -> int:
        return self.n_units

    def __iter__(self):
        for k in range(self.n_units):
            yield self.train(k)

    def counts(self) -> np.ndarray:
        """Number of spikes of each unit, shape (n_units,)."""
        return np.diff(self._indptr)

    def rates(self) -> np.ndarray:
        """Mean firing rate of each unit in Hz over the observation window."""
        if self.duration <= 0:
            raise ValueError("the recording has zero duration; rates are undefined")
        return self.counts() / self.duration

    def position_of(self, unit_ids) -> np.ndarray:
        """Positions (0..n_units-1) of the given unit ids; raises for unknown ids."""
        ids = np.atleast_1d(np.asarray(unit_ids, dtype=np.int64))
        order = np.argsort(self._units, kind="stable")
        idx = np.searchsorted(self._units[order], ids)
        idx = np.clip(idx, 0, max(self.n_units - 1, 0))
        found = self.n_units > 0 and np.all(self._units[order][idx] == ids) if ids.size else True
        if not found:
            known = set(self._units.tolist())
            bad = [int(u) for u in ids if int(u) not in known]
            raise ValueError(f"unknown unit id(s) {bad[:10]}; known ids are {self.n_units} "
                             f"units from {self._units.min() if self.n_units else None}")
        return order[idx]

    def select(self, positions) -> SpikeTrains:
        """Spike trains of a subset of units, given by position, in the given order."""
        positions = np.asarray(positions, dtype=np.int64)
        lengths = self._indptr[positions + 1] - self._indptr[positions]
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        if positions.size:
            idx = np.concatenate([np.arange(self._indptr[p], self._indptr[p + 1])
                                  for p in positions]) if lengths.sum() else np.zeros(0, int)
        else:
            idx = np.zeros(0, int)
        return SpikeTrains(self._spike_times[idx], indptr, self._units[positions],
                           self.t_start, self.t_stop, self.annotations)

    def restrict(self, t_start: float, t_stop: float) -> SpikeTrains:
        """Spikes within ``[t_start, t_stop)`` only, with that window."""
        t_start = check_finite("t_start", t_start, unit="s")
        t_stop = check_finite("t_stop", t_stop, unit="s")
        if not self.t_start <= t_start <= t_stop <= self.t_stop:
            raise ValueError(
                f"window [{t_start}, {t_stop}) s must lie inside the recording "
                f"[{self.t_start}, {self.t_stop}) s")
        keep = (self._spike_times >= t_start) & (self._spike_times < t_stop)
        pos = np.repeat(np.arange(self.n_units), np.diff(self._indptr))
        counts = np.bincount(pos[keep], minlength=self.n_units)
        return SpikeTrains(self._spike_times[keep], np.concatenate([[0], np.cumsum(counts)]),
                           self._units, t_start, t_stop, self.annotations)

    # ------------------------------------------------------------------ binning
    def n_bins(self, bin_width: float) -> int:
        """Number of bins of width ``bin_width`` (s) covering the window (last one partial)."""
        bin_width = check_positive("bin_width", bin_width, unit="s")
        return max(int(math.ceil(self.duration / bin_width - 1e-9)), 1 if self.duration else 0)

    def bin_edges(self, bin_width: float) -> np.ndarray:
        """Bin edges in seconds for :meth:`binned`."""
        return self.t_start + bin_width * np.arange(self.n_bins(bin_width) + 1)

    def bin_indices(self, bin_width: float) -> np.ndarray:
        """Bin index of every spike in :attr:`grouped_times` order."""
        bin_width = check_positive("bin_width", bin_width, unit="s")
        nb = self.n_bins(bin_width)
        # a millionth of a bin of tolerance: spikes on a simulation grid (k*dt) that fall on
        # a bin edge up to rounding belong to the bin that starts there
        idx = np.floor((self._spike_times - self.t_start) / bin_width + 1e-6).astype(np.int64)
        return np.clip(idx, 0, max(nb - 1, 0))

    def binned(self, bin_width: float, *, sparse: bool | None = None, dtype=np.int32):
        """Spike counts per unit and time bin.

        Parameters
        ----------
        bin_width : float
            Bin width in seconds (> 0).
        sparse : bool, optional
            Return a ``scipy.sparse.csr_array`` instead of a dense array. By default the
            result is sparse when fewer than 5 % of the bins hold a spike.
        dtype : numpy dtype, default int32

        Returns
        -------
        ndarray or scipy.sparse.csr_array, shape (n_units, n_bins)
            Bins start at ``t_start``; the last bin may be partial. See :meth:`bin_edges`.
        """
        nb = self.n_bins(bin_width)
        idx = self.bin_indices(bin_width)
        if sparse is None:
            sparse = self.n_units * nb > 0 and self.n_spikes < 0.05 * self.n_units * nb
        if sparse:
            data = np.ones(idx.size, dtype=dtype)
            out = sp.csr_array((data, idx, self._indptr.copy()), shape=(self.n_units, nb))
            out.sum_duplicates()
            return out
        out = np.zeros((self.n_units, nb), dtype=dtype)
        pos = np.repeat(np.arange(self.n_units), np.diff(self._indptr))
        np.add.at(out, (pos, idx), 1) if idx.size < 1_000 else _bincount_2d(out, pos, idx)
        return out

    # ------------------------------------------------------------------ io
    def save(self, path: str | Path) -> Path:
        """Write to a compressed ``.npz`` file (spikewire's native format)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(
                ".npz")
        np.savez_compressed(path, spike_times=self._spike_times, indptr=self._indptr,
                            units=self._units, window=np.array([self.t_start, self.t_stop]),
                            format=np.array("spikewire.SpikeTrains/1"),
                            annotations=np.array(json.dumps(jsonable(self.annotations))))
        return path

    @classmethod
    def load(cls, path: str | Path) -> SpikeTrains:
        """Read spike trains written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as f:
            if "format" not in f or not str(f["format"]).startswith("spikewire.SpikeTrains"):
                raise ValueError(f"{path} is not a spikewire SpikeTrains file")
            w = f["window"]
            ann = json.loads(str(f["annotations"])) if "annotations" in f else {}
            return cls(f["spike_times"], f["indptr"], f["units"], float(w[0]), float(w[1]), ann)

    def __eq__(self, other) -> bool:
        if not isinstance(other, SpikeTrains):
            return NotImplemented
        return (self.t_start == other.t_start and self.t_stop == other.t_stop
                and np.array_equal(self._units, other._units)
                and np.array_equal(self._indptr, other._indptr)
                and np.array_equal(self._spike_times, other._spike_times))

    __hash__ = None  # mutable annotations; equality is by content

    def __repr__(self) -> str:
        rate = self.n_spikes / self.n_units / self.duration if self.n_units and self.duration else 0
        return (f"SpikeTrains(n_units={self.n_units}, n_spikes={self.n_spikes}, "
                f"window=[{self.t_start:g}, {self.t_stop:g}) s, mean rate={rate:.3g} Hz)")


def jsonable(obj):
    """Annotations reduced to what JSON can hold (arrays become lists, others strings)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist() if obj.size <= 10_000 else f"<array {obj.shape}>"
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return repr(obj)


def _bincount_2d(out, rows, cols):
    n_cols = out.shape[1]
    flat = np.bincount(rows * n_cols + cols, minlength=out.size)
    out += flat.reshape(out.shape).astype(out.dtype, copy=False)


def _check_times_finite(times, ids):
    bad = ~np.isfinite(times)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"spike time {float(times[k])!r} of unit {int(ids[k])} is not finite; "
                         "remove NaN/inf spike times")


def _check_range(times, ids, t_start, t_stop):
    if not times.size:
        return
    bad = (times < t_start) | (times >= t_stop)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        neg = " (negative)" if times[k] < 0 else ""
        raise ValueError(
            f"spike time {float(times[k])!r} s{neg} of unit {int(ids[k])} lies outside the "
            f"recording window [{t_start}, {t_stop}) s; drop it or widen t_start/t_stop")


def _check_units(units) -> np.ndarray:
    arr = np.asarray(units)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"unit ids must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64).ravel()
    uniq, counts = np.unique(arr, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(f"duplicate unit ids {uniq[counts > 1][:10].tolist()}; every unit id "
                         "must be unique")
    return arr
