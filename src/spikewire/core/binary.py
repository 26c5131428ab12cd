"""Binary networks: neurons with states σ ∈ {0, 1} and asynchronous stochastic updates.

The network type lives in ``core`` (built by :func:`spikewire.networks.binary_balanced`,
simulated by :func:`spikewire.simulate.simulate_binary`), so that neither of those packages
imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikewire.core.network import Network

__all__ = ["TIE_TOLERANCE", "BinaryNetwork"]

TIE_TOLERANCE = 1e-9
"""Inputs within this distance of the threshold count as "at threshold" (Θ(0) = 0), so that
lattice-valued inputs (all weights multiples of 1/√K) give the same state regardless of the
floating-point rounding accumulated by the incremental input updates."""


@dataclass(eq=False)
class BinaryNetwork(Network):
    """A network of binary neurons (σ ∈ {0, 1}) with asynchronous stochastic updates.

    Extends :class:`~spikewire.core.Network` (same ``weights`` post × pre, ``cell_type``,
    ``spec``); the LIF fields ``params``, ``delays`` and ``drive`` are not used.

    Parameters
    ----------
    threshold : ndarray, shape (N,)
        Threshold θ of each neuron (dimensionless); ``σ ← 1`` iff input > θ.
    tau : ndarray, shape (N,)
        Mean time between updates of each neuron in s (updates at Poisson times).
    external : ndarray, shape (N,)
        Constant external input of each neuron (dimensionless), ``√K E_k m0``.
    """

    threshold: np.ndarray | None = None
    tau: np.ndarray | None = None
    external: np.ndarray | None = None

    def __post_init__(self):
        super().__post_init__()
        n = self.n_neurons
        for name in ("threshold", "tau", "external"):
            val = getattr(self, name)
            if val is None:
                val = np.full(n, 0.010 if name == "tau" else 0.0)
            arr = np.broadcast_to(np.asarray(val, dtype=np.float64), (n,)).copy()
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} must be finite, got a non-finite value")
            setattr(self, name, arr)
        if np.any(self.tau <= 0):
            bad = int(np.flatnonzero(self.tau <= 0)[0])
            raise ValueError(f"tau must be > 0 s; neuron {bad} has tau = {float(self.tau[bad])!r}")

    def __repr__(self) -> str:
        return (f"BinaryNetwork(name={self.name!r}, N={self.n_neurons} ({self.n_excitatory} E, "
                f"{self.n_inhibitory} I), synapses={self.n_synapses})")
