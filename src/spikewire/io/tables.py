"""Plain spike tables (CSV / TSV / Parquet / NPZ with one row per spike: unit, time) and the
optional SpikeInterface adapter.

Column names are matched case-insensitively: the unit column is the first of ``unit``,
``unit_id``, ``unit_ids``, ``cluster``, ``cluster_id``, ``neuron``, ``neuron_id``, ``id``,
``label``; the time column the first of ``time``, ``times``, ``t``, ``spike_time``,
``spike_times``, ``timestamp``, ``timestamps``, ``sample``, ``samples``,
``sample_index``. Times in samples (``time_unit="samples"`` or a sample-named column) need
``sampling_rate``. Any further per-unit constant column (e.g. ``area``) goes into the unit
table. NPZ files hold arrays ``times`` and ``unit_ids`` (or spikewire's own
:meth:`SpikeTrains.save` format).
"""

from __future__ import annotations

import csv
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains
from spikewire.io._common import (
    CLEAN_OPTIONS,
    build_recording,
    detect_resolution,
    select_units,
    to_integer_ids,
)
from spikewire.io.quality import DataError

__all__ = ["read_table", "write_table", "from_spikeinterface", "to_spikeinterface",
           "TABLE_SUFFIXES"]

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".npz")
_UNIT_NAMES = ("unit", "unit_id", "unit_ids", "cluster", "cluster_id", "neuron", "neuron_id",
               "id", "label")
_TIME_NAMES = ("time", "times", "t", "spike_time", "spike_times", "timestamp", "timestamps")
_SAMPLE_NAMES = ("sample", "samples", "sample_index", "spike_sample")
_TIME_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def _find(columns, names, path, what):
    low = {str(c).lower(): c for c in columns}
    for n in names:
        if n in low:
            return low[n]
    raise DataError(f"{path}: no {what} column (looked for {', '.join(names)}); the columns are "
                    f"{[str(c) for c in columns][:20]}; name them with unit_column=/time_column=")


def _load_frame(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                keys = list(f.keys())
                arrays = {k: f[k] for k in keys}
            if "format" in arrays and str(arrays["format"]).startswith("spikewire.SpikeTrains"):
                st = SpikeTrains.load(path)
                frame = pd.DataFrame({"time": st.grouped_times,
                                      "unit": np.repeat(st.units, st.counts())})
                frame.attrs["window"] = (st.t_start, st.t_stop)
                return frame
            one_d = {k: np.asarray(v).ravel() for k, v in arrays.items()
                     if np.asarray(v).ndim == 1}
            lengths = {v.size for v in one_d.values()}
            if len(lengths) > 1:
                sizes = {k: v.size for k, v in one_d.items()}
                raise DataError(f"{path}: the arrays have different lengths {sizes}; a spike "
                                "table needs one entry per spike in each")
            return pd.DataFrame(one_d)
        sep = {".csv": ",", ".tsv": "\t"}.get(suffix)     # .txt: sniffed (comma/space)
        return pd.read_csv(path, sep=sep, engine="python" if sep is None else "c",
                           comment="#")
    except DataError:
        raise
    except (ValueError, OSError, EOFError, KeyError, UnicodeDecodeError, csv.Error,
            zipfile.BadZipFile, zlib.error,
            pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path}: cannot read the spike table ({type(err).__name__}: "
                        f"{str(err)[:200]})") from err
    except Exception as err:  # pyarrow raises its own exception types for corrupt files
        if type(err).__module__.startswith("pyarrow"):
            raise DataError(f"{path}: cannot read the Parquet file ({str(err)[:200]})") from err
        raise


def read_table(path: str | Path, *, unit_column: str | None = None,
               time_column: str | None = None, time_unit: str | None = None,
               sampling_rate: float | None = None, labels=None, where: dict | None = None,
               units=None, t_start: float | None = None, t_stop: float | None = None,
               **clean) -> Recording:
    """Read a table with one row per spike (unit, time) into a :class:`~spikewire.Recording`.

    Parameters
    ----------
    path : path
        ``.csv``, ``.tsv``, ``.txt`` (comma or whitespace separated), ``.parquet`` or ``.npz``.
    unit_column, time_column : str, optional
        Column names (default: matched from the common names in the module docstring).
    time_unit : {"s", "ms", "us", "samples"}, optional
        Unit of the time column (default: "samples" for a sample-named column, else "s").
    sampling_rate : float, optional
        Time resolution in Hz (required for samples); default: the detected sampling grid
        of the times, else None.
    labels, where, units
        Unit selection as in :func:`spikewire.io.read_nwb` (per-unit constant columns
        such as ``quality`` or ``area`` are the unit table).
    t_start, t_stop : float, optional
        Declared window in s (spikes outside are dropped and counted).
    **clean
        Messy-data rules of :func:`spikewire.io.quality.clean_spikes`.
    """
    bad = [k for k in clean if k not in CLEAN_OPTIONS]
    if bad:
        raise TypeError(f"unknown option(s) {bad}; the cleaning rules are {list(CLEAN_OPTIONS)}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"spike table {path} does not exist")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(f"{path}: unknown table format {path.suffix!r}; use one of "
                         f"{TABLE_SUFFIXES}")
    frame = _load_frame(path)
    window = frame.attrs.get("window")
    if window is not None and t_start is None and t_stop is None:
        t_start, t_stop = window
    ucol = unit_column or _find(frame.columns, _UNIT_NAMES, path, "unit")
    if time_column is None:
        try:
            tcol = _find(frame.columns, _TIME_NAMES, path, "time")
        except DataError:
            tcol = _find(frame.columns, _TIME_NAMES + _SAMPLE_NAMES, path, "time")
    else:
        tcol = time_column
    for c in (ucol, tcol):
        if c not in frame.columns:
            raise DataError(f"{path}: no column {c!r}; the columns are {list(frame.columns)}")
    if time_unit is None:
        time_unit = "samples" if str(tcol).lower() in _SAMPLE_NAMES else "s"
    if frame[tcol].dtype.kind in "cbmM":
        raise DataError(f"{path}: spike times in column {tcol!r} must be real numbers, got "
                        f"dtype {frame[tcol].dtype}")
    raw_t = pd.to_numeric(frame[tcol], errors="coerce").to_numpy(dtype=np.float64)
    n_bad = int(np.isnan(raw_t).sum() - frame[tcol].isna().sum())
    if time_unit == "samples":
        if sampling_rate is None:
            raise ValueError(f"{path}: times are sample indices; pass sampling_rate (Hz)")
        times = raw_t / float(sampling_rate)
    elif time_unit in _TIME_SCALE:
        times = raw_t * _TIME_SCALE[time_unit]
    else:
        raise ValueError(f"time_unit must be one of s, ms, us, samples; got {time_unit!r}")
    if sampling_rate is None:
        sampling_rate = detect_resolution(times)
    uvals = frame[ucol].to_numpy()
    if uvals.dtype == object:
        uvals = uvals.astype(str)
    ids, original = to_integer_ids(uvals, str(path))
    # per-unit constant columns become the unit table
    others = [c for c in frame.columns if c not in (ucol, tcol)]
    meta = pd.DataFrame(index=pd.Index(np.unique(ids), name="unit"))
    if others and len(frame):
        g = frame[others].assign(__u=ids).groupby("__u")
        const = [c for c in others if (g[c].nunique(dropna=False) <= 1).all()]
        if const:
            meta = g[const].first().rename_axis("unit")
    if original is not None:
        meta["original_id"] = original[meta.index.to_numpy()]
    notes = []
    if n_bad:
        notes.append(f"{n_bad} time value(s) in column {tcol!r} are not numbers (counted as "
                     "non-finite)")
    excluded = select_units(meta, labels=labels, where=where, units=units, source=str(path))
    rec, _ = build_recording(times, ids, units=meta.index.to_numpy(dtype=np.int64), meta=meta,
                             sampling_rate=sampling_rate, source=str(path), fmt="table",
                             t_start=t_start, t_stop=t_stop, excluded=excluded, notes=notes,
                             step={"step": "read_table", "path": str(path)}, clean=clean)
    return rec


def write_table(spikes: SpikeTrains, path: str | Path) -> Path:
    """Write spike trains as a (unit, time) table: CSV, TSV, Parquet or NPZ by suffix."""
    path = Path(path)
    frame = pd.DataFrame({"unit": spikes.unit_ids, "time": spikes.times})
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    elif suffix == ".npz":
        np.savez(path, unit_ids=frame["unit"].to_numpy(), times=frame["time"].to_numpy())
    elif suffix in (".csv", ".tsv", ".txt"):
        frame.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False,
                     float_format="%.17g")
    else:
        raise ValueError(f"unknown table format {suffix!r}; use .csv, .tsv, .parquet or .npz")
    return path


# --------------------------------------------------------------------------- SpikeInterface
def from_spikeinterface(sorting, *, segment_index: int | None = None, labels=None,
                        where: dict | None = None, units=None, t_start: float = 0.0,
                        t_stop: float | None = None, **clean) -> Recording:
    """A SpikeInterface ``BaseSorting`` as a :class:`~spikewire.Recording`.

    SpikeInterface is optional (``pip install spikeinterface``); this adapter only calls
    the sorting's methods. Unit properties (``quality``, ``brain_area``, ...) become the
    unit table; non-integer unit ids are numbered in sorted order with the originals in
    ``original_id``. The sampling frequency is the recording's ``sampling_rate``.

    Parameters
    ----------
    sorting : spikeinterface.BaseSorting
    segment_index : int, optional
        Segment to read; required when the sorting has several (segments have separate
        clocks).
    labels, where, units, t_start, t_stop, **clean
        As in :func:`read_table`.
    """
    for attr in ("get_sampling_frequency", "get_unit_spike_train", "get_num_segments"):
        if not hasattr(sorting, attr):
            raise TypeError(f"expected a SpikeInterface BaseSorting, got "
                            f"{type(sorting).__name__} (no {attr}())")
    bad = [k for k in clean if k not in CLEAN_OPTIONS]
    if bad:
        raise TypeError(f"unknown option(s) {bad}; the cleaning rules are {list(CLEAN_OPTIONS)}")
    n_seg = int(sorting.get_num_segments())
    if segment_index is None:
        if n_seg > 1:
            raise ValueError(f"the sorting has {n_seg} segments with separate clocks; pick one "
                             "with segment_index=")
        segment_index = 0
    fs = float(sorting.get_sampling_frequency())
    raw_ids = np.asarray(sorting.unit_ids)
    ids, original = to_integer_ids(raw_ids, type(sorting).__name__)
    trains = [np.asarray(sorting.get_unit_spike_train(unit_id=u, segment_index=segment_index),
                         dtype=np.float64) / fs for u in raw_ids]
    meta = pd.DataFrame(index=pd.Index(ids, name="unit"))
    for key in sorting.get_property_keys():
        vals = np.asarray(sorting.get_property(key))
        if vals.ndim == 1 and vals.size == ids.size:
            meta[key] = vals
    if original is not None:
        meta["original_id"] = original[ids]
    excluded = select_units(meta, labels=labels, where=where, units=units,
                            source=type(sorting).__name__)
    times = np.concatenate(trains) if trains else np.zeros(0)
    spike_ids = np.repeat(ids, [t.size for t in trains])
    rec, _ = build_recording(times, spike_ids, units=ids, meta=meta, sampling_rate=fs,
                             source=f"spikeinterface:{type(sorting).__name__}",
                             fmt="spikeinterface", t_start=t_start, t_stop=t_stop,
                             excluded=excluded, step={"step": "from_spikeinterface",
                                                      "segment_index": segment_index},
                             clean=clean)
    return rec


def to_spikeinterface(recording: Recording, *, sampling_rate: float | None = None):
    """A :class:`~spikewire.Recording` as a SpikeInterface ``NumpySorting`` (one segment).

    Times are rounded to samples at ``sampling_rate`` (default: the recording's), measured
    from ``t_start``; unit-table columns become unit properties.
    """
    try:
        from spikeinterface.core import NumpySorting
    except ImportError as err:  # pragma: no cover - optional
        raise ImportError("to_spikeinterface needs spikeinterface: pip install "
                          "spikeinterface") from err
    from spikewire.io._common import unit_table

    fs = sampling_rate or recording.sampling_rate
    if not fs:
        raise ValueError("the recording has no sampling_rate; pass sampling_rate= (Hz)")
    st = recording.spikes
    samples = np.rint((st.times - st.t_start) * fs).astype(np.int64)
    sorting = NumpySorting.from_samples_and_labels([samples], [st.unit_ids], float(fs),
                                                   unit_ids=st.units)
    meta = unit_table(recording)
    for col in meta.columns:
        if col.startswith("qc_"):
            continue
        vals = meta[col].to_numpy()
        if vals.dtype == object:
            vals = np.array([str(v) for v in vals])
        sorting.set_property(col, vals)
    return sorting
