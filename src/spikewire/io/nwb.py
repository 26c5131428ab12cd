"""NWB files (``pynwb``, in the ``nwb`` extra): the Units table to and from spike trains."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains

__all__ = ["read_nwb", "write_nwb"]


def _pynwb():
    try:
        import pynwb
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("reading NWB files needs pynwb: pip install 'spikewire[nwb]'") from err
    return pynwb


def read_nwb(path: str | Path, *, t_start: float | None = None, t_stop: float | None = None,
             ) -> Recording:
    """Read the ``units`` table of an NWB file into a :class:`~spikewire.Recording`.

    Spike times are in seconds (NWB's convention). Unit ids come from the table's ids.
    The recording window defaults to ``[min(0, first spike), last spike]``.
    """
    pynwb = _pynwb()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"NWB file {path} does not exist")
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        if nwb.units is None or len(nwb.units) == 0:
            raise ValueError(f"{path} has no units table (no sorted spikes to read)")
        ids = np.asarray(nwb.units.id[:], dtype=np.int64)
        trains = [np.asarray(nwb.units.get_unit_spike_times(k), dtype=float)
                  for k in range(len(ids))]
        # the Units table's "smallest possible difference between two spike times" (s)
        resolution = getattr(nwb.units, "resolution", None)
    allt = np.concatenate(trains) if trains else np.zeros(0)
    t0 = min(0.0, float(allt.min())) if t_start is None and allt.size else (t_start or 0.0)
    t1 = t_stop if t_stop is not None else (float(np.nextafter(allt.max(), np.inf))
                                            if allt.size else t0)
    st = SpikeTrains.from_lists(trains, units=ids, t_start=t0, t_stop=t1, sort=True,
                                annotations={"source": str(path), "format": "nwb"})
    rate = 1.0 / float(resolution) if resolution and float(resolution) > 0 else None
    return Recording(spikes=st, true_index=np.full(st.n_units, -1), sampling_rate=rate,
                     history=[{"step": "read_nwb", "path": str(path)}])


def write_nwb(spikes: SpikeTrains, path: str | Path, *, description: str = "spikewire",
              cell_type=None) -> Path:
    """Write spike trains to an NWB file's units table (optionally with a cell_type column)."""
    pynwb = _pynwb()
    path = Path(path)
    nwb = pynwb.NWBFile(session_description=description, identifier=path.stem,
                        session_start_time=datetime.now(timezone.utc))
    ann = spikes.annotations
    steps = [float(ann["dt"])] if ann.get("dt") else []
    if ann.get("sampling_rate"):
        steps.append(1.0 / float(ann["sampling_rate"]))
    if steps:   # time resolution of the spike times (s), read back by read_nwb
        nwb.units = pynwb.misc.Units(name="units", description="spike times",
                                     resolution=max(steps))
    if cell_type is not None:
        nwb.add_unit_column(name="cell_type", description="E or I")
    for k in range(spikes.n_units):
        kw = {"cell_type": str(cell_type[k])} if cell_type is not None else {}
        nwb.add_unit(id=int(spikes.units[k]), spike_times=spikes.train(k), **kw)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path
