"""The low-rank rate network type (rank-R loadings, J = M Nᵀ / N); builders and presets
are in :mod:`spikewire.networks.lowrank`, the simulator in :mod:`spikewire.simulate.lowrank`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["LowRankNetwork"]


@dataclass
class LowRankNetwork:
    """A low-rank rate network: per-unit loadings and the latent time constant.

    Attributes
    ----------
    m : ndarray, shape (N, R)
        Output loadings (unit ``i`` reads the latent through ``m_i``; dimensionless).
    n : ndarray, shape (N, R)
        Input loadings (unit ``i`` writes ``n_i φ_i / N`` into the latent update).
    b : ndarray, shape (N, U)
        Input weights of the ``U`` external inputs (``U`` may be 0).
    d : ndarray, shape (N,)
        Biases.
    alpha : float
        ``Δt / τ`` (dimensionless, in (0, 1]).
    dt : float
        Time step Δt in s (the bin of the observations).
    name : str
    spec : dict
        How the loadings were drawn (preset, covariances, seed).
    """

    m: np.ndarray
    n: np.ndarray
    b: np.ndarray
    d: np.ndarray
    alpha: float = 0.2
    dt: float = 0.01
    name: str = "lowrank"
    spec: dict = field(default_factory=dict)

    def __post_init__(self):
        self.m = np.atleast_2d(np.asarray(self.m, dtype=float))
        self.n = np.atleast_2d(np.asarray(self.n, dtype=float))
        N, R = self.m.shape
        if self.n.shape != (N, R):
            raise ValueError(f"n must have the shape of m {(N, R)}, got {self.n.shape}")
        self.b = np.zeros((N, 0)) if self.b is None else np.asarray(self.b, dtype=float)
        if self.b.ndim != 2 or self.b.shape[0] != N:
            raise ValueError(f"b must have shape (N={N}, n_inputs), got {self.b.shape}")
        self.d = np.zeros(N) if self.d is None else np.asarray(self.d, dtype=float)
        if self.d.shape != (N,):
            raise ValueError(f"d must have shape (N={N},), got {self.d.shape}")
        if not 0 < float(self.alpha) <= 1:
            raise ValueError(f"alpha={self.alpha!r} must be in (0, 1] (α = Δt/τ)")
        if not float(self.dt) > 0:
            raise ValueError(f"dt={self.dt!r} must be > 0 s")
        for key in ("m", "n", "b", "d"):
            if not np.all(np.isfinite(getattr(self, key))):
                raise ValueError(f"loadings {key} contain non-finite values")

    @property
    def n_neurons(self) -> int:
        return int(self.m.shape[0])

    @property
    def rank(self) -> int:
        return int(self.m.shape[1])

    @property
    def n_inputs(self) -> int:
        return int(self.b.shape[1])

    @property
    def tau(self) -> float:
        """Latent time constant τ = Δt / α in s."""
        return float(self.dt / self.alpha)

    def weights(self) -> np.ndarray:
        """Dense connectivity ``J = M Nᵀ / N``, shape (N, N), post × pre (dimensionless)."""
        return self.m @ self.n.T / self.n_neurons

    def activity(self, z: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """Unit activities ``φ(m_i·z + b_i·u + d_i)`` for latents ``z`` of shape (..., R)."""
        x = np.asarray(z) @ self.m.T + self.d
        if u is not None and self.n_inputs:
            x = x + np.asarray(u) @ self.b.T
        return np.tanh(x)

    def step(self, z: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """One latent update ``z → z + α(−z + (1/N) Nᵀ φ)`` for ``z`` of shape (..., R)."""
        z = np.asarray(z, dtype=float)
        return z + self.alpha * (-z + self.activity(z, u) @ self.n / self.n_neurons)
