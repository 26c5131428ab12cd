"""NWB files (``pynwb``, in the ``nwb`` extra): the Units table to and from recordings.

Reading keeps every scalar unit column (quality, brain area, depth, ...) in the unit
table (:func:`spikewire.io.unit_table`), the first electrode's ``location`` as
``electrode_location``, honours ``obs_intervals`` (times a unit was not observed are not
read as silence) and epochs / interval tables, and carries the Units table's
``resolution`` (or the detected sampling grid) into ``Recording.sampling_rate``.

Simulations are written with their ground truth in a documented layout (see
:func:`write_simulation_nwb`) that :func:`read_simulation_nwb` reads back exactly.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
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

__all__ = ["read_nwb", "write_nwb", "write_simulation_nwb", "read_simulation_nwb",
           "GROUND_TRUTH_MODULE"]

#: Name of the processing module holding a simulation's ground truth.
GROUND_TRUTH_MODULE = "spikewire_ground_truth"

_SKIP_COLUMNS = {"spike_times", "obs_intervals", "electrodes", "waveform_mean", "waveform_sd",
                 "waveforms", "electrode_group"}


def _pynwb():
    try:
        import pynwb
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("reading NWB files needs pynwb: pip install 'spikewire[nwb]'") from err
    return pynwb


def _open_error(path: Path, err: Exception) -> DataError:
    return DataError(f"{path}: cannot read as an NWB file ({type(err).__name__}: "
                     f"{str(err)[:300]})")


def _ragged(table, name: str):
    """Flat data and row ends of a ragged column, or (None, None) if absent / not ragged."""
    from hdmf.common.table import VectorIndex

    if name not in table.colnames:
        return None, None
    idx = table[name]
    if not isinstance(idx, VectorIndex):
        return None, None
    return np.asarray(idx.target.data[:]), np.asarray(idx.data[:], dtype=np.int64)


def _unit_meta(units_table, nwb) -> pd.DataFrame:
    """Scalar columns of the Units table (plus the first electrode's location)."""
    ids = np.asarray(units_table.id[:])
    cols = {}
    for name in units_table.colnames:
        if name in _SKIP_COLUMNS or name.endswith("_index"):
            continue
        try:
            col = units_table[name]
            if type(col).__name__ in ("VectorIndex", "DynamicTableRegion"):
                continue
            vals = np.asarray(col.data[:])
        except (TypeError, ValueError, KeyError):
            continue
        if vals.ndim != 1 or vals.shape[0] != ids.size:
            continue
        if vals.dtype.kind in "SO":
            vals = np.array([v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                             for v in vals], dtype=object)
        cols[name] = vals
    if "electrodes" in units_table.colnames and nwb.electrodes is not None:
        try:
            flat, ends = _ragged(units_table, "electrodes")
            starts = np.concatenate([[0], ends[:-1]])
            first = np.where(ends > starts, flat[np.minimum(starts, max(flat.size - 1, 0))], -1)
            cols["electrode"] = first
            if "location" in nwb.electrodes.colnames:
                loc = np.asarray(nwb.electrodes["location"].data[:], dtype=object)
                cols["electrode_location"] = np.array(
                    [loc[e] if 0 <= e < loc.size else None for e in first], dtype=object)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            pass
    return pd.DataFrame(cols, index=pd.Index(ids, name="unit"))


def _epoch_interval(nwb, epoch: str, path: Path) -> tuple[float, float, list[str]]:
    """The span of an epoch: rows of ``epochs`` tagged ``epoch``, or an intervals table."""
    notes = []
    rows = None
    if nwb.epochs is not None and len(nwb.epochs):
        df = nwb.epochs.to_dataframe()
        if "tags" in df.columns:
            hit = df[df["tags"].apply(lambda t: epoch in list(t))]
            if len(hit):
                rows = hit
    if rows is None and nwb.intervals is not None and epoch in nwb.intervals:
        rows = nwb.intervals[epoch].to_dataframe()
    if rows is None or not len(rows):
        names = sorted(nwb.intervals) if nwb.intervals is not None else []
        raise ValueError(f"{path}: no epoch tagged {epoch!r} and no interval table of that "
                         f"name (interval tables: {names})")
    a, b = float(rows["start_time"].min()), float(rows["stop_time"].max())
    if len(rows) > 1:
        notes.append(f"epoch {epoch!r} has {len(rows)} rows; using their span {a:g}-{b:g} s")
    return a, b, notes


def _obs_rule(ends, data, ids, t0, t1, min_coverage, excluded):
    """Drop units observed in less than ``min_coverage`` of [t0, t1); shrink the window to
    where every kept unit was observed. Returns (t0, t1, notes)."""
    notes = []
    starts = np.concatenate([[0], ends[:-1]])
    length = max(t1 - t0, 1e-12)
    lo_all, hi_all, interior = [], [], 0.0
    for k, u in enumerate(ids):
        iv = np.asarray(data[starts[k]:ends[k]], dtype=float).reshape(-1, 2)
        if iv.size == 0:          # no intervals stored: observed throughout
            continue
        a = np.clip(iv[:, 0], t0, t1)
        b = np.clip(iv[:, 1], t0, t1)
        cov = float(np.sum(np.maximum(b - a, 0.0))) / length
        if cov < min_coverage:
            if int(u) not in excluded:
                excluded[int(u)] = f"observed in only {100 * cov:.0f}% of the interval " \
                                   "(obs_intervals)"
            continue
        lo_all.append(float(a.min()))
        hi_all.append(float(b.max()))
        interior += (float(b.max() - a.min()) - float(np.sum(np.maximum(b - a, 0.0))))
    if lo_all:
        n0, n1 = max(lo_all), min(hi_all)
        if n1 > n0 and (n0 > t0 or n1 < t1):
            notes.append(f"window shrunk to {n0:g}-{n1:g} s where every kept unit was "
                         "observed (obs_intervals)")
            t0, t1 = n0, n1
    if interior > 0:
        notes.append(f"kept units have {interior:g} unit-seconds of unobserved time inside "
                     "their observed span (obs_intervals); those stretches read as silence")
    return t0, t1, notes


def read_nwb(path: str | Path, *, labels=None, where: dict | None = None, units=None,
             interval: tuple[float, float] | None = None, epoch: str | None = None,
             t_start: float | None = None, t_stop: float | None = None,
             min_coverage: float = 0.9, sampling_rate: float | None = None,
             **clean) -> Recording:
    """Read the ``units`` table of an NWB file into a :class:`~spikewire.Recording`.

    Parameters
    ----------
    path : path
        NWB (HDF5) file.
    labels : str or sequence of str, optional
        Keep units whose quality label (column ``quality``, ``group``, ``KSLabel`` or
        ``label``) is one of these, e.g. ``"good"``.
    where : dict, optional
        Selection by any unit column, e.g. ``{"location": "CA1"}`` or
        ``{"electrode_location": ["CA1", "CA3"]}``.
    units : sequence of int, optional
        Keep only these unit ids.
    interval : (float, float), optional
        Analysis window in s; spikes outside are dropped and counted.
    epoch : str, optional
        Use the span of the ``epochs`` rows tagged ``epoch`` (or of the interval table of
        that name) as the window.
    t_start, t_stop : float, optional
        Declared recording window in s when no interval/epoch is given (default:
        ``min(0, first spike)`` to just after the last spike).
    min_coverage : float, default 0.9
        Units whose ``obs_intervals`` cover less than this fraction of the window are
        dropped (reason given); the window is then shrunk to where every kept unit was
        observed, so unobserved time is not read as silence.
    sampling_rate : float, optional
        Time resolution in Hz; default: ``1 / units.resolution`` when stored, else the
        detected sampling grid (:func:`spikewire.io.detect_resolution`), else None.
    **clean
        Messy-data rules of :func:`spikewire.io.quality.clean_spikes`.

    Returns
    -------
    Recording
        Unit ids from the table's ids (labels are numbered, originals in ``original_id``),
        ``true_index`` -1; metadata in :func:`spikewire.io.unit_table`.
    """
    bad = [k for k in clean if k not in CLEAN_OPTIONS]
    if bad:
        raise TypeError(f"unknown option(s) {bad}; the cleaning rules are {list(CLEAN_OPTIONS)}")
    pynwb = _pynwb()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"NWB file {path} does not exist")
    notes: list[str] = []
    try:
        io = pynwb.NWBHDF5IO(str(path), "r")
    except Exception as err:   # h5py / hdmf raise many types for a corrupt file
        raise _open_error(path, err) from err
    with io:
        try:
            nwb = io.read()
            table = nwb.units
            if table is None or len(table) == 0:
                raise DataError(f"{path} has no units table (no sorted spikes to read)")
            raw_ids = np.asarray(table.id[:])
            flat, ends = _ragged(table, "spike_times")
            if flat is None:
                raise DataError(f"{path}: the units table has no spike_times column")
            meta = _unit_meta(table, nwb)
            resolution = getattr(table, "resolution", None)
            obs_data, obs_ends = _ragged(table, "obs_intervals")
            if epoch is not None:
                a, b, more = _epoch_interval(nwb, epoch, path)
                notes.extend(more)
                interval = (a, b) if interval is None else interval
        except DataError:
            raise
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, OSError) as err:
            raise _open_error(path, err) from err
    ids, original = to_integer_ids(raw_ids, str(path))
    if original is not None:
        meta.index = pd.Index(ids, name="unit")
        meta["original_id"] = original[ids]
    if np.unique(ids).size != ids.size:
        raise DataError(f"{path}: duplicate unit ids in the units table")
    flat = np.asarray(flat).ravel()
    if ends.size != ids.size or (ends.size and (ends[-1] != flat.size or
                                                np.any(np.diff(ends) < 0) or ends[0] < 0)):
        raise DataError(f"{path}: spike_times_index does not match spike_times "
                        f"({ends.size} rows for {ids.size} units, {flat.size} spikes)")
    counts = np.diff(np.concatenate([[0], ends]))
    spike_ids = np.repeat(ids, counts)
    if sampling_rate is None:
        if resolution is not None and np.isfinite(resolution) and resolution > 0:
            sampling_rate = 1.0 / float(resolution)
        else:
            sampling_rate = detect_resolution(flat)
            notes.append("time resolution " + (f"detected: {sampling_rate:g} Hz grid"
                                               if sampling_rate else "unknown (not stored, "
                                               "no sampling grid detected)"))
    excluded = select_units(meta, labels=labels, where=where, units=units, source=str(path))
    if interval is not None:
        t_start, t_stop = (float(interval[0]), float(interval[1]))
        if not t_stop > t_start:
            raise ValueError(f"interval must be (start, stop) with stop > start, got {interval}")
    if obs_data is not None:
        t0 = t_start if t_start is not None else (min(0.0, float(np.nanmin(flat)))
                                                  if flat.size else 0.0)
        t1 = t_stop if t_stop is not None else (float(np.nextafter(np.nanmax(flat), np.inf))
                                                if flat.size else t0)
        t_start, t_stop, more = _obs_rule(obs_ends, obs_data, ids, t0, t1, min_coverage,
                                          excluded)
        notes.extend(more)
    rec, _ = build_recording(
        flat, spike_ids, units=ids, meta=meta, sampling_rate=sampling_rate, source=str(path),
        fmt="nwb", t_start=t_start, t_stop=t_stop, excluded=excluded, notes=notes,
        step={"step": "read_nwb", "path": str(path), "interval": None if interval is None
              else list(interval), "epoch": epoch}, clean=clean)
    return rec


def _new_nwbfile(pynwb, path: Path, description: str):
    return pynwb.NWBFile(session_description=description, identifier=path.stem,
                         session_start_time=datetime.now(timezone.utc))


def _add_units(pynwb, nwb, spikes: SpikeTrains, columns: dict, resolution, obs_intervals):
    """The Units table built from whole arrays (fast: no per-unit ``add_unit`` lists)."""
    from hdmf.common import VectorData, VectorIndex
    from pynwb.misc import Units

    times = VectorData(name="spike_times", description="the spike times for each unit in "
                       "seconds", data=np.ascontiguousarray(spikes.grouped_times))
    cols = [times, VectorIndex(name="spike_times_index", data=spikes.indptr[1:].copy(),
                               target=times)]
    if obs_intervals is not None:
        ivs = [np.asarray(iv, dtype=float).reshape(-1, 2) for iv in obs_intervals]
        obs = VectorData(name="obs_intervals", description="the observation intervals for "
                         "each unit", data=np.concatenate(ivs) if ivs else np.zeros((0, 2)))
        cols += [obs, VectorIndex(name="obs_intervals_index",
                                  data=np.cumsum([iv.shape[0] for iv in ivs]), target=obs)]
    for name, vals in columns.items():
        cols.append(VectorData(name=name, description=name, data=vals))
    nwb.units = Units(name="units", description="sorted units (spikewire)",
                      id=[int(u) for u in spikes.units], columns=cols, resolution=resolution)


def _column_values(vals, n: int, name: str) -> list:
    arr = np.asarray(vals)
    if arr.shape != (n,):
        raise ValueError(f"unit column {name!r} must have one value per unit ({n}), got shape "
                         f"{arr.shape}")
    if arr.dtype.kind in "OUS":
        return [str(v) for v in arr]
    return arr.tolist()


def write_nwb(spikes: SpikeTrains, path: str | Path, *, description: str = "spikewire",
              cell_type=None, unit_table: pd.DataFrame | None = None,
              sampling_rate: float | None = None, obs_intervals=None) -> Path:
    """Write spike trains to an NWB file's units table.

    Parameters
    ----------
    spikes : SpikeTrains
        Spike times in s; unit ids become the table's ids.
    path : path
        File to create (overwritten).
    description : str
        ``session_description``.
    cell_type : sequence of str, optional
        A ``cell_type`` column (e.g. "E"/"I").
    unit_table : DataFrame, optional
        Further scalar unit columns (one row per unit, in the order of ``spikes.units``).
    sampling_rate : float, optional
        Stored as the Units table's ``resolution`` (1 / rate, s).
    obs_intervals : sequence of (k, 2) arrays, optional
        Observation intervals (s) per unit.
    """
    pynwb = _pynwb()
    path = Path(path)
    n = spikes.n_units
    cols = {}
    if cell_type is not None:
        cols["cell_type"] = _column_values(cell_type, n, "cell_type")
    if unit_table is not None:
        if len(unit_table) != n:
            raise ValueError(f"unit_table has {len(unit_table)} rows for {n} units")
        for c in unit_table.columns:
            cols[str(c)] = _column_values(unit_table[c].to_numpy(), n, str(c))
    if obs_intervals is not None and len(obs_intervals) != n:
        raise ValueError(f"obs_intervals must have one entry per unit ({n}), got "
                         f"{len(obs_intervals)}")
    nwb = _new_nwbfile(pynwb, path, description)
    _add_units(pynwb, nwb, spikes, cols, None if sampling_rate is None
               else 1.0 / float(sampling_rate), obs_intervals)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


# --------------------------------------------------------------------------- simulations
def write_simulation_nwb(path: str | Path, spikes: SpikeTrains, network, *,
                         recording: Recording | None = None, spec: dict | None = None,
                         description: str = "spikewire simulation") -> Path:
    """Write a simulation's spikes and its ground truth to an NWB file.

    Layout (all times in s, weights in mV):

    * ``units``: one row per recorded unit; ids = unit ids, ``spike_times``, columns
      ``true_index`` (neuron of the network, -1 unknown) and ``cell_type`` ("E"/"I" of that
      neuron); ``resolution`` = the recording's time resolution when known.
    * processing module ``spikewire_ground_truth`` with three tables:

      - ``synapses``: one row per synapse in the network's CSC order, columns ``pre``,
        ``post`` (neuron indices), ``weight`` (mV), ``delay`` (s; NaN when the network has
        a single or the one-step delay);
      - ``neurons``: one row per neuron, ``cell_type`` and the LIF parameters ``tau_m``,
        ``theta``, ``v_reset``, ``v_rest``, ``tau_ref``, ``tau_syn`` (NaN = delta synapses),
        and ``x``, ``y``, ``z`` positions (mm) when the network has them;
      - ``network``: one row with ``network_name``, ``n_neurons``, ``delay`` (scalar s, or NaN),
        ``delay_kind`` ("none", "scalar", "per_synapse"), ``params_json`` (the LIFParams,
        one set or per type), ``drive_json``, ``spec_json`` (the network's spec and the
        ``spec`` argument), ``t_start``, ``t_stop``, ``history_json``.

    :func:`read_simulation_nwb` rebuilds the spike trains and the network exactly.

    Parameters
    ----------
    path : path
    spikes : SpikeTrains
        Recorded (or all) spike trains.
    network : Network
        The ground truth.
    recording : Recording, optional
        When given, its ``true_index`` maps units to neurons and its history is stored;
        otherwise unit ids are the neuron indices.
    spec : dict, optional
        The experiment spec (JSON-serialisable).
    description : str
    """
    import dataclasses

    from hdmf.common import DynamicTable

    pynwb = _pynwb()
    path = Path(path)
    n = network.n_neurons
    true_index = (recording.true_index if recording is not None
                  else np.asarray(spikes.units, dtype=np.int64))
    if np.any((true_index >= n) | (true_index < -1)):
        raise ValueError(f"true_index must lie in -1..{n - 1} for a network of {n} neurons")
    ct = np.where(true_index >= 0, network.cell_type[np.clip(true_index, 0, n - 1)], "?")
    resolution = None
    if recording is not None and recording.time_resolution:
        resolution = recording.time_resolution
    elif spikes.annotations.get("dt"):
        resolution = float(spikes.annotations["dt"])
    nwb = _new_nwbfile(pynwb, path, description)
    _add_units(pynwb, nwb, spikes, {"true_index": true_index.tolist(), "cell_type":
                                    [str(c) for c in ct]}, resolution, None)
    mod = nwb.create_processing_module(GROUND_TRUTH_MODULE,
                                       "ground truth of the simulated network (spikewire)")
    w = network.weights
    post = w.indices.astype(np.int64)
    pre = np.repeat(np.arange(n, dtype=np.int64), np.diff(w.indptr))
    if network.delays is None:
        kind, scalar, per = "none", np.nan, np.full(w.nnz, np.nan)
    elif np.ndim(network.delays) == 0:
        kind, scalar, per = "scalar", float(network.delays), np.full(w.nnz, np.nan)
    else:
        kind, scalar, per = "per_synapse", np.nan, np.asarray(network.delays, dtype=float)
    syn = DynamicTable(name="synapses", description="synapses in CSC order (post x pre)",
                       id=np.arange(w.nnz))
    for name, desc, vals in (("pre", "presynaptic neuron", pre),
                             ("post", "postsynaptic neuron", post),
                             ("weight", "PSP amplitude (mV)", w.data.astype(float)),
                             ("delay", "transmission delay (s); NaN: network-wide", per)):
        syn.add_column(name=name, description=desc, data=np.asarray(vals))
    mod.add(syn)

    npar = network.neuron_params()
    neu = DynamicTable(name="neurons", description="neuron types and LIF parameters",
                       id=np.arange(n))
    neu.add_column(name="cell_type", description="E or I", data=[str(c) for c in
                                                                 network.cell_type])
    for key in ("tau_m", "theta", "v_reset", "v_rest", "tau_ref", "tau_syn"):
        vals = np.asarray(npar[key], dtype=float) if key in npar else np.full(n, np.nan)
        neu.add_column(name=key, description=key, data=np.nan_to_num(vals, nan=np.nan))
    if network.positions is not None:
        pos = np.asarray(network.positions, dtype=float)
        for d, name in enumerate("xyz"[: pos.shape[1]]):
            neu.add_column(name=name, description=f"{name} position (mm)", data=pos[:, d])
    mod.add(neu)

    def _params_dict(p):
        d = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
             for k, v in dataclasses.asdict(p).items()}
        if getattr(p, "synapse", None) is not None:
            d["synapse"] = p.synapse.spec()
        d["model"] = type(p).__name__  # LIFParams, IzhikevichParams or AdExParams
        return d

    def _params_json(p):
        if isinstance(p, dict):
            return json.dumps({k: _params_dict(v) for k, v in p.items()})
        return json.dumps(_params_dict(p))

    drive = None
    if network.drive is not None:
        drive = {"kind": type(network.drive).__name__,
                 **{k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v)
                    for k, v in dataclasses.asdict(network.drive).items()}}
    from spikewire.core.spiketrains import jsonable

    net_t = DynamicTable(name="network", description="network-wide settings", id=[0])
    row = {"network_name": str(network.name), "n_neurons": int(n), "delay": scalar,
           "delay_kind": kind, "params_json": _params_json(network.params),
           "drive_json": json.dumps(drive),
           "spec_json": json.dumps(jsonable({"network": network.spec, "experiment": spec})),
           "t_start": float(spikes.t_start), "t_stop": float(spikes.t_stop),
           "sampling_rate": float(recording.sampling_rate) if recording is not None and
           recording.sampling_rate else np.nan,
           "dt": float(spikes.annotations["dt"]) if spikes.annotations.get("dt") else np.nan,
           "history_json": json.dumps(jsonable(recording.history if recording else []))}
    for k, v in row.items():
        net_t.add_column(name=k, description=k, data=[v])
    mod.add(net_t)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def read_simulation_nwb(path: str | Path):
    """Read a file written by :func:`write_simulation_nwb`.

    Returns
    -------
    recording : Recording
        Spike trains (exact float64 times), ``true_index`` and history.
    network : Network
        The ground-truth network (weights, cell types, delays, parameters, drive,
        positions, spec).
    """
    import scipy.sparse as sp

    from spikewire.core.network import LIFParams, Network, PoissonDrive, WhiteNoiseDrive
    from spikewire.core.neurons import AdExParams, IzhikevichParams
    from spikewire.core.synapses import synapse_from_spec

    pynwb = _pynwb()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"NWB file {path} does not exist")
    try:
        io = pynwb.NWBHDF5IO(str(path), "r")
    except Exception as err:
        raise _open_error(path, err) from err
    with io:
        try:
            nwb = io.read()
            if GROUND_TRUTH_MODULE not in nwb.processing:
                raise DataError(f"{path} has no {GROUND_TRUTH_MODULE!r} processing module; "
                                "it was not written by write_simulation_nwb (use read_nwb)")
            mod = nwb.processing[GROUND_TRUTH_MODULE]
            syn = {c: np.asarray(mod["synapses"][c].data[:]) for c in
                   ("pre", "post", "weight", "delay")}
            neu = mod["neurons"]
            neu_cols = {c: np.asarray(neu[c].data[:]) for c in neu.colnames}
            net_row = {c: mod["network"][c].data[0] for c in mod["network"].colnames}
            table = nwb.units
            ids = np.asarray(table.id[:], dtype=np.int64)
            flat, ends = _ragged(table, "spike_times")
            true_index = np.asarray(table["true_index"].data[:], dtype=np.int64)
        except DataError:
            raise
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, OSError) as err:
            raise _open_error(path, err) from err
    n = int(net_row["n_neurons"])
    weights = sp.csc_array((syn["weight"], (syn["post"], syn["pre"])), shape=(n, n))
    kind = str(net_row["delay_kind"])
    delays = (None if kind == "none" else float(net_row["delay"]) if kind == "scalar"
              else syn["delay"].astype(float))
    pj = json.loads(net_row["params_json"])

    models = {"LIFParams": LIFParams, "IzhikevichParams": IzhikevichParams,
              "AdExParams": AdExParams}

    def _neuron(d):
        d = dict(d)
        cls = models[d.pop("model", "LIFParams")]  # files written before the tag are LIF
        if isinstance(d.get("synapse"), dict):
            d["synapse"] = synapse_from_spec(d["synapse"])
        d = {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in d.items()}
        return cls(**d)

    single = "model" in pj or "tau_m" in pj
    params = _neuron(pj) if single else {k: _neuron(v) for k, v in pj.items()}
    dj = json.loads(net_row["drive_json"])
    drive = None
    if dj is not None:
        cls = {"PoissonDrive": PoissonDrive, "WhiteNoiseDrive": WhiteNoiseDrive}[dj.pop("kind")]
        drive = cls(**{k: (np.asarray(v) if isinstance(v, list) else v) for k, v in dj.items()})
    positions = None
    if "x" in neu_cols:
        positions = np.column_stack([neu_cols[c] for c in "xyz" if c in neu_cols])
    spec = json.loads(net_row["spec_json"])
    cell_type = np.array([c.decode() if isinstance(c, bytes) else str(c)
                          for c in neu_cols["cell_type"]])
    network = Network(weights=weights, cell_type=cell_type, delays=delays, params=params,
                      drive=drive, positions=positions, name=str(net_row["network_name"]),
                      spec=spec.get("network") or {}, check_dale=False)
    counts = np.diff(np.concatenate([[0], ends]))
    st = SpikeTrains(np.asarray(flat, dtype=np.float64), np.concatenate([[0], np.cumsum(counts)]),
                     ids, float(net_row["t_start"]), float(net_row["t_stop"]),
                     {"source": str(path), "format": "nwb-simulation",
                      "experiment_spec": spec.get("experiment")})
    # the network row holds the exact sampling rate and simulation step
    rate = float(net_row["sampling_rate"])
    rate = rate if np.isfinite(rate) else None
    dt = float(net_row["dt"])
    if np.isfinite(dt):
        st.annotations["dt"] = dt
    rec = Recording(spikes=st, true_index=true_index, sampling_rate=rate,
                    history=json.loads(net_row["history_json"]) or
                    [{"step": "read_simulation_nwb", "path": str(path)}])
    return rec, network
