"""The ring-attractor network type (dense Mexican-hat weights and the rate dynamics'
parameters); builders are in :mod:`spikewire.networks.ring`, the simulator in
:mod:`spikewire.simulate.ring`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["RingNetwork"]


@dataclass(frozen=True)
class RingNetwork:
    """A ring network and its dynamics' parameters.

    Attributes
    ----------
    weights : ndarray, shape (n, n)
        True weights ``W``, post × pre, dimensionless, zero diagonal.
    profile : ndarray, shape (n,)
        ``W`` of neuron 0 by offset: ``weights[i, (i + k) % n] == profile[k]``.
    r : float
        Recurrent gain (input = ``r·W·s``).
    b : float
        Constant input.
    tau : float
        Decay time constant of the synaptic activation ``s`` (s).
    sigma_xi : float
        Noise intensity of the threshold model: ξ per step ~ N(0, σ_ξ²·Δt/1 s) (see
        :func:`~spikewire.simulate.ring.simulate_ring`).
    g_th : float
        Firing threshold.
    spiking : {"threshold", "lnp"}
        Deterministic threshold on the noisy input, or Poisson counts (no ξ).
    lnp_gain : float
        LNP counts per step are Poisson with mean ``lnp_gain·ReLU(g − g_th)``.
    input_amplitude : float
        Amplitude of the rotating external input ``A·cos(φ_i − θ(t))`` (0 = none).
    input_frequency : float
        θ(t) = ``input_swing``·sin(2π·``input_frequency``·t) (Hz).
    input_swing : float
        Amplitude of θ(t) (rad).
    name : str
    spec : dict
        The builder's arguments.
    """

    weights: np.ndarray
    profile: np.ndarray
    r: float = 2.5e-2
    b: float = 1e-3
    tau: float = 1e-2
    sigma_xi: float = 0.3
    g_th: float = 7.35e-4
    spiking: str = "threshold"
    lnp_gain: float = 100.0
    input_amplitude: float = 0.0
    input_frequency: float = 0.5
    input_swing: float = np.pi
    name: str = "ring"
    spec: dict = field(default_factory=dict)

    @property
    def n_neurons(self) -> int:
        return int(self.weights.shape[0])

    @property
    def phases(self) -> np.ndarray:
        """Preferred angle of each neuron (rad), ``2π·i/n``."""
        return 2 * np.pi * np.arange(self.n_neurons) / self.n_neurons

    def replace(self, **changes) -> RingNetwork:
        """A copy with some parameters changed (the weights are not rebuilt)."""
        return replace(self, **changes)

    def theta(self, t: np.ndarray) -> np.ndarray:
        """Angle of the external input at times ``t`` (s), rad."""
        return self.input_swing * np.sin(2 * np.pi * self.input_frequency * np.asarray(t))
