"""Kilosort / phy output folders: ``spike_times.npy``, ``spike_clusters.npy``, ``params.py``.

Spike times in these folders are sample indices at the recording's ``sample_rate``;
spikewire converts them to seconds. Cluster labels come from ``cluster_group.tsv`` (or
``cluster_KSLabel.tsv``) when present, so noise clusters can be dropped.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import numpy as np

from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains

__all__ = ["read_phy", "write_phy"]


def _read_params(folder: Path) -> dict:
    params = {}
    path = folder / "params.py"
    if not path.exists():
        return params
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            try:
                params[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return params


def _read_labels(folder: Path) -> dict[int, str]:
    for name in ("cluster_group.tsv", "cluster_KSLabel.tsv"):
        path = folder / name
        if path.exists():
            with open(path, newline="") as f:
                rows = list(csv.reader(f, delimiter="\t"))
            if not rows:
                return {}
            header = rows[0]
            col = 1 if len(header) > 1 else None
            if col is None:
                return {}
            return {int(r[0]): r[col] for r in rows[1:] if len(r) > col}
    return {}


def read_phy(folder: str | Path, *, sample_rate: float | None = None,
             keep: tuple[str, ...] | None = ("good", "mua"), t_stop: float | None = None,
             ) -> Recording:
    """Read a Kilosort/phy output folder into a :class:`~spikewire.Recording`.

    Parameters
    ----------
    folder : path
        Folder with ``spike_times.npy`` and ``spike_clusters.npy`` (or ``spike_templates.npy``).
    sample_rate : float, optional
        Sampling rate in Hz; read from ``params.py`` when omitted.
    keep : tuple of str or None, default ("good", "mua")
        Cluster labels to keep (from ``cluster_group.tsv``); None keeps every cluster.
        Clusters without a label are kept.
    t_stop : float, optional
        End of the recording in s (default: just after the last spike).

    Returns
    -------
    Recording
        Units are cluster ids; ``true_index`` is -1 (no ground truth);
        ``sampling_rate`` is the acquisition rate.
    """
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
    params = _read_params(folder)
    if sample_rate is None:
        if "sample_rate" not in params:
            raise ValueError(f"sample_rate not given and not found in {folder / 'params.py'}")
        sample_rate = float(params["sample_rate"])
    if not np.isfinite(sample_rate) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0 Hz, got {sample_rate!r}")
    samples = np.load(st_path).ravel()
    clusters = np.load(clu_path).ravel().astype(np.int64)
    if samples.shape != clusters.shape:
        raise ValueError(f"spike_times.npy has {samples.size} spikes but {clu_path.name} has "
                         f"{clusters.size}")
    times = samples.astype(np.float64) / sample_rate
    labels = _read_labels(folder)
    if keep is not None and labels:
        drop = np.array([c for c, lab in labels.items() if lab not in keep], dtype=np.int64)
        mask = ~np.isin(clusters, drop)
        times, clusters = times[mask], clusters[mask]
    st = SpikeTrains.from_times(times, clusters, t_start=0.0, t_stop=t_stop, sort=True,
                                annotations={"source": str(folder), "format": "phy"})
    return Recording(spikes=st, true_index=np.full(st.n_units, -1), sampling_rate=sample_rate,
                     history=[{"step": "read_phy", "folder": str(folder),
                               "sample_rate": sample_rate}])


def write_phy(spikes: SpikeTrains, folder: str | Path, *, sample_rate: float = 30_000.0,
              labels: dict[int, str] | None = None) -> Path:
    """Write spike trains as a minimal phy folder (times rounded to samples)."""
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
    return folder
