"""Shared pieces of the readers: unit tables, unit selection, time resolution."""

from __future__ import annotations

import numpy as np
import pandas as pd

from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains
from spikewire.io.quality import DataError, QualityReport, clean_spikes

__all__ = ["unit_table", "quality_report", "detect_resolution", "LABEL_COLUMNS",
           "CLEAN_OPTIONS"]

#: Columns searched, in order, for a unit's quality label (``--units good``).
LABEL_COLUMNS = ("quality", "group", "KSLabel", "label", "cluster_group", "quality_label")

#: Keyword arguments of :func:`~spikewire.io.quality.clean_spikes` that readers pass on.
CLEAN_OPTIONS = ("min_spikes", "duplicate_window", "refractory_period", "max_contamination",
                 "clock_jump", "on_clock_reset", "partial_fraction", "drop_partially_active",
                 "gap_threshold")

#: Common acquisition rates (Hz) tried by :func:`detect_resolution`, smallest first.
_CANDIDATE_RATES = (1_000.0, 2_000.0, 2_500.0, 5_000.0, 10_000.0, 20_000.0, 24_414.0625,
                    25_000.0, 30_000.0, 32_000.0, 40_000.0, 48_000.0, 50_000.0, 100_000.0)


def _jsonable_value(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if np.isfinite(v) else None
    return str(v)


def table_to_annotation(meta: pd.DataFrame) -> dict:
    """A unit table (index = unit id) as JSON-friendly column lists."""
    out = {"unit": [int(u) for u in meta.index]}
    for col in meta.columns:
        vals = meta[col].tolist()
        out[str(col)] = [_jsonable_value(v) for v in vals]
    return out


def unit_table(data) -> pd.DataFrame:
    """Unit metadata (labels, brain area, depth, channel, ...) of a recording read by
    :mod:`spikewire.io`, one row per unit in the order of ``spikes.units``.

    The table lives in ``recording.spikes.annotations["unit_table"]`` as column lists with
    a ``"unit"`` column of unit ids, so it survives :meth:`SpikeTrains.select` and saving
    (rows are matched by unit id, not position). Units without metadata get empty rows.

    Parameters
    ----------
    data : Recording or SpikeTrains

    Returns
    -------
    pandas.DataFrame
        Indexed by unit id (``unit``); quality-report columns (``n_spikes``,
        ``contamination``, ...) are added when the data went through the cleaning rules.
    """
    spikes = data.spikes if isinstance(data, Recording) else data
    if not isinstance(spikes, SpikeTrains):
        raise TypeError(f"expected a Recording with spikes or SpikeTrains, got "
                        f"{type(data).__name__}")
    ann = spikes.annotations.get("unit_table")
    if ann:
        meta = pd.DataFrame(ann).set_index("unit")
    else:
        meta = pd.DataFrame(index=pd.Index([], name="unit", dtype=np.int64))
    meta = meta[~meta.index.duplicated()]
    out = meta.reindex(pd.Index(spikes.units.astype(np.int64), name="unit"))
    return out


def quality_report(data) -> dict:
    """The cleaning report stored by the readers (``annotations["quality"]``), or {}."""
    spikes = data.spikes if isinstance(data, Recording) else data
    return dict(spikes.annotations.get("quality", {})) if spikes is not None else {}


def detect_resolution(times, *, min_spikes: int = 100) -> float | None:
    """Sampling rate (Hz) on whose grid all spike times lie, or None.

    Tries common acquisition rates (1 kHz to 100 kHz); a rate is accepted when every one
    of (up to) 10,000 spike times lies within 10⁻³ samples of its grid. For times that are
    not quantized, the chance that ``n`` of them fall that close to a grid by luck is
    0.002ⁿ, so at least ``min_spikes`` spikes are required before a rate is claimed.
    """
    t = np.asarray(times, dtype=np.float64).ravel()
    t = t[np.isfinite(t)]
    if t.size < min_spikes:
        return None
    if t.size > 10_000:
        t = t[np.linspace(0, t.size - 1, 10_000).astype(np.int64)]
    for rate in _CANDIDATE_RATES:
        x = t * rate
        tol = 1e-3 + np.abs(x) * 1e-12   # float64 rounding of k / rate, far below 1e-3
        if np.all(np.abs(x - np.rint(x)) <= tol):
            return rate
    return None


def to_integer_ids(values, source: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer unit ids; non-integer ids (strings) are numbered 0.. in sorted order and the
    originals returned for the unit table's ``original_id`` column."""
    arr = np.asarray(values)
    if arr.size == 0 or np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64), None
    if arr.dtype.kind == "c":
        raise DataError(f"{source}: unit ids must be whole numbers or labels, got complex "
                        "numbers")
    if np.issubdtype(arr.dtype, np.floating):
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(arr) & (np.mod(arr, 1) == 0) & (np.abs(arr) < 2**62)
        if np.all(whole):
            return arr.astype(np.int64), None
        raise DataError(f"{source}: unit ids must be whole numbers or labels, got "
                        f"{arr[~whole][:3].tolist()}")
    labels = arr.astype(str)
    uniq, inv = np.unique(labels, return_inverse=True)
    return inv.astype(np.int64), uniq


def select_units(meta: pd.DataFrame, *, labels=None, where: dict | None = None,
                 units=None, source: str = "") -> dict:
    """Units left out by a selection: unit id → reason.

    Parameters
    ----------
    meta : DataFrame
        Unit table indexed by unit id.
    labels : sequence of str, optional
        Keep units whose quality label (first of :data:`LABEL_COLUMNS` present) is one of
        these; units without a label are kept.
    where : dict, optional
        Column → value or list of values to keep (any unit column, e.g. brain area).
    units : sequence of int, optional
        Keep only these unit ids.
    """
    excluded: dict = {}
    if units is not None:
        wanted = {int(u) for u in np.atleast_1d(units)}
        unknown = wanted - {int(u) for u in meta.index}
        if unknown:
            raise ValueError(f"{source}: unknown unit id(s) {sorted(unknown)[:10]}")
        for u in meta.index:
            if int(u) not in wanted:
                excluded[int(u)] = "not selected: unit id"
    if labels is not None:
        labels = [labels] if isinstance(labels, str) else list(labels)
        col = next((c for c in LABEL_COLUMNS if c in meta.columns), None)
        if col is None:
            raise ValueError(f"{source}: no quality-label column ({', '.join(LABEL_COLUMNS)}) "
                             f"to select units {labels}; the unit columns are "
                             f"{list(meta.columns)}")
        for u, v in meta[col].items():
            if isinstance(v, str) and v and v not in labels and int(u) not in excluded:
                excluded[int(u)] = f"not selected: {col}={v!r}"
    for col, want in (where or {}).items():
        if col not in meta.columns:
            raise ValueError(f"{source}: no unit column {col!r} to select on; the unit columns "
                             f"are {list(meta.columns)}")
        allowed = want if isinstance(want, list | tuple | set | frozenset) else [want]
        allowed_s = {str(a) for a in allowed}
        for u, v in meta[col].items():
            if str(v) not in allowed_s and int(u) not in excluded:
                excluded[int(u)] = f"not selected: {col}={v!r}"
    return excluded


def build_recording(times, ids, *, units, meta: pd.DataFrame | None, sampling_rate,
                    source: str, fmt: str, step: dict, t_start=None, t_stop=None,
                    excluded: dict | None = None, notes=(), clean: dict | None = None,
                    ) -> tuple[Recording, QualityReport]:
    """Clean the spikes, attach the unit table and build the :class:`Recording`."""
    ann = {"source": source, "format": fmt}
    st, report = clean_spikes(times, ids, units=units, t_start=t_start, t_stop=t_stop,
                              source=source, excluded=excluded, annotations=ann,
                              **(clean or {}))
    report.notes.extend(notes)
    st.annotations["quality"] = report.to_dict()
    pu = report.per_unit.set_index("unit")
    table = pd.DataFrame(index=pd.Index(pu.index, name="unit"))
    if meta is not None and len(meta.columns):
        table = meta.reindex(table.index)
    for col in ("n_spikes", "refractory_violations", "contamination", "duplicates",
                "active_fraction", "partially_active", "status"):
        table[f"qc_{col}"] = pu[col].to_numpy()
    st.annotations["unit_table"] = table_to_annotation(table)
    if sampling_rate is not None:
        st.annotations["time_resolution"] = 1.0 / float(sampling_rate)
    rec = Recording(spikes=st, true_index=np.full(st.n_units, -1, dtype=np.int64),
                    sampling_rate=None if sampling_rate is None else float(sampling_rate),
                    history=[{**step, "source": source, **{f"n_{k}": v for k, v in
                                                           report.totals().items()}}])
    return rec, report
