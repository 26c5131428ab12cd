"""One entry point for every format: :func:`read_recording` detects it from the path."""

from __future__ import annotations

from pathlib import Path

from spikewire.core.recording import Recording
from spikewire.io.tables import TABLE_SUFFIXES

__all__ = ["detect_format", "read_recording"]

_NWB_SUFFIXES = (".nwb", ".h5", ".hdf5")


def detect_format(path: str | Path) -> str:
    """``"phy"`` (a folder with ``spike_times.npy``), ``"nwb"`` (``.nwb``/``.h5`` or an
    HDF5 signature) or ``"table"`` (CSV / TSV / Parquet / NPZ)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        if (path / "spike_times.npy").exists():
            return "phy"
        raise ValueError(f"{path} is a folder without spike_times.npy; spikewire reads "
                         "Kilosort/phy folders, NWB files and spike tables (CSV, TSV, "
                         "Parquet, NPZ)")
    suffix = path.suffix.lower()
    if suffix in _NWB_SUFFIXES:
        return "nwb"
    if suffix in TABLE_SUFFIXES:
        return "table"
    with open(path, "rb") as f:
        if f.read(8) == b"\x89HDF\r\n\x1a\n":
            return "nwb"
    raise ValueError(f"{path}: cannot tell the format from the name {path.name!r}; use .nwb, a "
                     f"phy folder, or one of {TABLE_SUFFIXES}")


def read_recording(path: str | Path, *, labels=None, interval=None, **options) -> Recording:
    """Read any supported format (see :func:`detect_format`) into a Recording.

    Parameters
    ----------
    path : path
    labels : str or sequence of str, optional
        Keep units with these quality labels (e.g. ``"good"``).
    interval : (float, float), optional
        Analysis window in s.
    **options
        Passed to the format's reader (selection and messy-data rules).
    """
    from spikewire.io.nwb import read_nwb
    from spikewire.io.phy import read_phy
    from spikewire.io.tables import read_table

    fmt = detect_format(path)
    if fmt == "nwb":
        return read_nwb(path, labels=labels, interval=interval, **options)
    window = {} if interval is None else {"t_start": float(interval[0]),
                                          "t_stop": float(interval[1])}
    if fmt == "phy":
        if labels is not None:
            options["keep"] = (labels,) if isinstance(labels, str) else tuple(labels)
        return read_phy(path, **window, **options)
    return read_table(path, labels=labels, **window, **options)
