"""Networks from a user-supplied weight matrix."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from spikewire._validation import check_positive
from spikewire.core.network import LIFParams, Network, PoissonDrive, WhiteNoiseDrive

__all__ = ["from_matrix", "delays_from_positions"]


def from_matrix(weights, cell_type, *, delays=None, params: LIFParams | None = None,
                drive: PoissonDrive | WhiteNoiseDrive | None = None, positions=None,
                name: str = "custom", check_dale: bool = True) -> Network:
    """Build a network from a post × pre weight matrix (mV) and E/I labels.

    Parameters
    ----------
    weights : array_like or scipy.sparse matrix, shape (N, N)
        ``weights[i, j]`` is the synapse from ``j`` onto ``i`` in mV.
    cell_type : sequence of {"E", "I"} or bool array (True = E), length N
    delays : None, float, or array
        Delays in s: None (one time step), one value, a dense (N, N) matrix aligned with
        ``weights`` (only entries at synapses are used), or one value per synapse in CSC
        order.
    params : LIFParams, optional
    drive : PoissonDrive or WhiteNoiseDrive, optional
    positions : array (N, d), optional
        Neuron positions in mm.
    check_dale : bool, default True
        Raise if a neuron's outgoing weights disagree with its type.
    """
    ct = np.asarray(cell_type)
    if ct.dtype == bool:
        ct = np.where(ct, "E", "I")
    if sp.issparse(weights):
        w = sp.csc_array(weights, dtype=np.float64)
    else:
        arr = np.asarray(weights, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise ValueError(f"weights must be a square post x pre matrix, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("weights contain NaN or inf")
        w = sp.csc_array(arr)
    w.eliminate_zeros()
    w.sort_indices()
    if delays is not None and np.ndim(delays) == 2:
        dm = np.asarray(delays, dtype=np.float64)
        if dm.shape != w.shape:
            raise ValueError(f"a delay matrix must have the weights' shape {w.shape}")
        cols = np.repeat(np.arange(w.shape[1]), np.diff(w.indptr))
        delays = dm[w.indices, cols]
    return Network(weights=w, cell_type=ct, delays=delays, params=params or LIFParams(),
                   drive=drive, positions=None if positions is None else np.asarray(positions),
                   name=name, spec={"builder": "from_matrix", "n_neurons": int(w.shape[0])},
                   check_dale=check_dale)


def delays_from_positions(weights, positions, *, velocity: float, min_delay: float = 5e-4,
                          resolution: float = 1e-4) -> np.ndarray:
    """Per-synapse delays (s) from distances and an axonal conduction velocity.

    ``delay = min_delay + distance / velocity``, rounded to a multiple of ``resolution``
    (so that a simulation with ``dt`` dividing ``resolution`` can represent it exactly).

    Parameters
    ----------
    weights : scipy.sparse matrix, shape (N, N)
        Post × pre pattern; delays are returned in its CSC order.
    positions : array, shape (N, d)
        Neuron positions in mm.
    velocity : float
        Conduction velocity in mm/s (e.g. 300 mm/s = 0.3 m/s for unmyelinated axons).
    min_delay : float, default 0.5 ms
        Synaptic delay added to the conduction time, in s.
    resolution : float, default 0.1 ms
    """
    velocity = check_positive("velocity", velocity, unit="mm/s")
    check_positive("min_delay", min_delay, unit="s")
    resolution = check_positive("resolution", resolution, unit="s")
    w = sp.csc_array(weights)
    pos = np.asarray(positions, dtype=float)
    if pos.ndim == 1:
        pos = pos[:, None]
    if pos.shape[0] != w.shape[0]:
        raise ValueError(f"positions must have one row per neuron ({w.shape[0]})")
    cols = np.repeat(np.arange(w.shape[1]), np.diff(w.indptr))
    dist = np.linalg.norm(pos[w.indices] - pos[cols], axis=1)
    d = min_delay + dist / velocity
    return np.maximum(np.rint(d / resolution), 1) * resolution
