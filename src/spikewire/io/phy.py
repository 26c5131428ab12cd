"""Kilosort / phy output folders: ``spike_times.npy``, ``spike_clusters.npy``, ``params.py``,
``cluster_group.tsv`` / ``cluster_KSLabel.tsv`` and ``cluster_info.tsv``.

Spike times in these folders are sample indices at the recording's ``sample_rate``;
spikewire converts them to seconds and keeps the rate as the recording's
``sampling_rate``. ``params.py`` is parsed with :mod:`ast` and only literal assignments
are read: the file is never executed. ``.npy`` files are loaded without pickles.
Labels: a manual ``cluster_group.tsv`` overrides Kilosort's ``cluster_KSLabel.tsv``;
every column of ``cluster_info.tsv`` (depth, channel, amplitude, ...) goes into the unit
table (:func:`spikewire.io.unit_table`).
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import numpy as np
import pandas as pd

from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains
from spikewire.io._common import CLEAN_OPTIONS, build_recording, select_units
from spikewire.io.quality import DataError

__all__ = ["read_phy", "write_phy", "read_params"]

_MAX_PARAMS_BYTES = 1_000_000
_MAX_TSV_BYTES = 200_000_000


def read_params(path: str | Path) -> dict:
    """Literal assignments of a phy ``params.py``, read without executing it.

    Only ``name = <literal>`` statements are kept (numbers, strings, tuples, lists, dicts);
    anything else (calls, imports, expressions) is ignored.

    Raises
    ------
    DataError
        If the file is not valid Python or larger than 1 MB.
    """
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_PARAMS_BYTES:
            raise DataError(f"{path}: params.py is larger than 1 MB; not a phy params file")
        text = path.read_bytes().decode("utf-8", "replace")
        tree = ast.parse(text, filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError, OSError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"{path}: cannot parse params.py ({type(err).__name__}: "
                        f"{str(err)[:200]})") from err
    params = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            try:
                params[node.targets[0].id] = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                continue
    return params


def _read_tsv(path: Path) -> pd.DataFrame:
    """A phy TSV (first column: cluster id) as a DataFrame indexed by cluster id."""
    try:
        if path.stat().st_size > _MAX_TSV_BYTES:
            raise DataError(f"{path}: larger than 200 MB; not a phy cluster table")
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            rows = list(csv.reader(f, delimiter="\t"))
    except (OSError, csv.Error) as err:
        raise DataError(f"{path}: cannot read the table ({err})") from err
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return pd.DataFrame(index=pd.Index([], name="unit", dtype=np.int64))
    header = [h.strip() for h in rows[0]]
    if len(header) < 2:
        raise DataError(f"{path}: expected a header with a cluster-id column and at least one "
                        f"more tab-separated column, got {rows[0][:5]!r}")
    ids, body = [], []
    for k, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise DataError(f"{path}: line {k} has {len(r)} fields but the header has "
                            f"{len(header)}")
        try:
            ids.append(int(r[0]))
        except ValueError as err:
            raise DataError(f"{path}: line {k}: cluster id {r[0][:40]!r} is not an "
                            "integer") from err
        body.append(r[1:])
    if len(set(ids)) != len(ids):
        raise DataError(f"{path}: duplicate cluster ids")
    frame = pd.DataFrame(body, columns=header[1:], index=pd.Index(ids, name="unit"))
    for col in frame.columns:
        num = pd.to_numeric(frame[col], errors="coerce")
        if num.notna().sum() == (frame[col].str.strip() != "").sum():
            frame[col] = num
    return frame


def _cluster_table(folder: Path) -> pd.DataFrame:
    """cluster_info.tsv columns, with labels from cluster_KSLabel / cluster_group on top."""
    meta = pd.DataFrame(index=pd.Index([], name="unit", dtype=np.int64))
    info = folder / "cluster_info.tsv"
    if info.exists():
        meta = _read_tsv(info)
    for name, col in (("cluster_KSLabel.tsv", "KSLabel"), ("cluster_group.tsv", "group")):
        path = folder / name
        if path.exists():
            t = _read_tsv(path)
            if len(t.columns):
                lab = t.iloc[:, 0].astype(str).rename(col)
                meta = meta.drop(columns=[col], errors="ignore").join(lab, how="outer")
    # the label used for selection: manual (group) over Kilosort's
    if "group" in meta.columns or "KSLabel" in meta.columns:
        g = meta["group"] if "group" in meta.columns else pd.Series(np.nan, index=meta.index)
        k = meta["KSLabel"] if "KSLabel" in meta.columns else pd.Series(np.nan,
                                                                         index=meta.index)
        g = g.where(g.astype(str).str.strip().ne("") & g.notna(), k)
        meta["quality"] = g
    return meta


def _load_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode=None)
    except (ValueError, OSError, EOFError) as err:
        raise DataError(f"{path}: cannot read the array ({str(err)[:200]}); the file is "
                        "truncated, not a .npy file, or holds Python objects") from err
    if not isinstance(arr, np.ndarray):
        raise DataError(f"{path}: expected one array, got {type(arr).__name__}")
    if arr.ndim > 2 or (arr.ndim == 2 and 1 not in arr.shape):
        raise DataError(f"{path}: expected a 1-D array (or n × 1), got shape {arr.shape}")
    return arr.ravel()


def read_phy(folder: str | Path, *, sample_rate: float | None = None,
             keep: tuple[str, ...] | None = ("good", "mua"), where: dict | None = None,
             units=None, t_start: float = 0.0, t_stop: float | None = None,
             **clean) -> Recording:
    """Read a Kilosort/phy output folder into a :class:`~spikewire.Recording`.

    Parameters
    ----------
    folder : path
        Folder with ``spike_times.npy`` and ``spike_clusters.npy`` (or ``spike_templates.npy``).
    sample_rate : float, optional
        Sampling rate in Hz; read from ``params.py`` when omitted.
    keep : tuple of str or None, default ("good", "mua")
        Cluster labels to keep (manual ``cluster_group.tsv`` over ``cluster_KSLabel.tsv``);
        None keeps every cluster. Clusters without a label are kept.
    where : dict, optional
        Further selection on ``cluster_info.tsv`` columns, e.g. ``{"ch": [3, 4]}``.
    units : sequence of int, optional
        Keep only these cluster ids.
    t_start, t_stop : float, optional
        Declared interval in s (default: 0 to just after the last spike); spikes outside
        are dropped and counted.
    **clean
        Messy-data rules passed to :func:`spikewire.io.quality.clean_spikes`
        (``min_spikes``, ``duplicate_window``, ``refractory_period``, ...).

    Returns
    -------
    Recording
        Units are cluster ids; ``true_index`` is -1 (no ground truth); ``sampling_rate`` is
        the acquisition rate. Unit metadata: :func:`spikewire.io.unit_table`; the cleaning
        report: :func:`spikewire.io.quality_report`.

    Raises
    ------
    FileNotFoundError
        If the folder or ``spike_times.npy`` is missing.
    DataError
        For unreadable or inconsistent files (the message names the file).
    """
    _check_clean(clean)
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"phy folder {folder} does not exist")
    st_path = folder / "spike_times.npy"
    if not st_path.exists():
        raise FileNotFoundError(f"{st_path} is missing; is {folder} a Kilosort/phy output folder?")
    clu_path = folder / "spike_clusters.npy"
    if not clu_path.exists():
        clu_path = folder / "spike_templates.npy"
        if not clu_path.exists():
            raise FileNotFoundError(f"neither spike_clusters.npy nor spike_templates.npy in "
                                    f"{folder}")
    params = read_params(folder / "params.py") if (folder / "params.py").exists() else {}
    if sample_rate is None:
        if "sample_rate" not in params:
            raise ValueError(f"sample_rate not given and not found in {folder / 'params.py'}")
        sample_rate = params["sample_rate"]
    try:
        sample_rate = float(sample_rate)
    except (TypeError, ValueError) as err:
        raise DataError(f"{folder / 'params.py'}: sample_rate must be a number of Hz, got "
                        f"{sample_rate!r}") from err
    if not np.isfinite(sample_rate) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0 Hz, got {sample_rate!r}")
    samples = _load_npy(st_path)
    clusters = _load_npy(clu_path)
    if samples.shape != clusters.shape:
        raise DataError(f"{st_path} has {samples.size} spikes but {clu_path} has "
                        f"{clusters.size}; the files are truncated or from different sorts")
    if samples.size and (not np.issubdtype(samples.dtype, np.number) or
                         np.issubdtype(samples.dtype, np.complexfloating) or
                         samples.dtype == np.bool_):
        raise DataError(f"{st_path}: sample indices must be numbers, got dtype {samples.dtype}")
    if clusters.size and not np.issubdtype(clusters.dtype, np.integer):
        raise DataError(f"{clu_path}: cluster ids must be integers, got dtype {clusters.dtype}")
    times = samples.astype(np.float64) / sample_rate
    clusters = clusters.astype(np.int64)
    meta = _cluster_table(folder)
    all_units = np.union1d(np.unique(clusters), meta.index.to_numpy(dtype=np.int64))
    full = meta.reindex(pd.Index(all_units, name="unit"))
    excluded = select_units(full, labels=keep if keep is not None and "quality" in
                            full.columns else None, where=where, units=units, source=str(folder))
    rec, _ = build_recording(
        times, clusters, units=all_units, meta=full, sampling_rate=sample_rate,
        source=str(folder), fmt="phy", t_start=t_start, t_stop=t_stop, excluded=excluded,
        step={"step": "read_phy", "folder": str(folder), "sample_rate": sample_rate},
        clean=clean)
    return rec


def _check_clean(clean: dict) -> None:
    bad = [k for k in clean if k not in CLEAN_OPTIONS]
    if bad:
        raise TypeError(f"unknown option(s) {bad}; the cleaning rules are {list(CLEAN_OPTIONS)}")


def write_phy(spikes: SpikeTrains, folder: str | Path, *, sample_rate: float = 30_000.0,
              labels: dict[int, str] | None = None, info: pd.DataFrame | None = None) -> Path:
    """Write spike trains as a phy folder (times rounded to samples).

    Parameters
    ----------
    spikes : SpikeTrains
    folder : path
    sample_rate : float, default 30 kHz
    labels : dict, optional
        Cluster id → label, written to ``cluster_group.tsv``.
    info : DataFrame, optional
        Indexed by cluster id; written to ``cluster_info.tsv``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    samples = np.rint((spikes.times - spikes.t_start) * sample_rate).astype(np.uint64)
    np.save(folder / "spike_times.npy", samples)
    np.save(folder / "spike_clusters.npy", spikes.unit_ids.astype(np.int32))
    (folder / "params.py").write_text(f"sample_rate = {float(sample_rate)!r}\n")
    if labels:
        with open(folder / "cluster_group.tsv", "w", newline="") as f:
            w = csv.writer(f, delimiter="\t")
            w.writerow(["cluster_id", "group"])
            for k, v in sorted(labels.items()):
                w.writerow([k, v])
    if info is not None:
        info.rename_axis("cluster_id").to_csv(folder / "cluster_info.tsv", sep="\t")
    return folder
