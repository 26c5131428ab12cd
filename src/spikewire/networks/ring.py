"""Ring-attractor networks (ground truth for circuit discovery on patterned activity).

A ring of ``n`` neurons with a rotation-invariant weight profile ``W(d)`` of the ring
distance ``d = min(|i - j|, n - |i - j|)`` (in neurons):

``W(d) = A1·exp(−d²/2σ1²) − a·exp(−d²/2σ2²)``.

With the defaults (Yoon 2025 after Das & Fiete 2020: σ1 = 6.98, σ2 = 7.00, a = 1.0005,
A1 = 1) the profile is a narrow difference of Gaussians that is negative everywhere (a
purely inhibitory ring whose strongest inhibition is at d ≈ 9.5, |W| ≤ 2.3e-3); it forms a
periodic pattern of four bumps. :func:`single_bump_ring` gives the weakly correlated
variant with one bump.

Such profiles are not Dale-compliant in general (a presynaptic neuron may excite some
targets and inhibit others), so they are held in a small :class:`RingNetwork` dataclass
with the dense true matrix instead of a :class:`~spikewire.Network`; its ``weights`` can be
given to :class:`spikewire.score.Truth` and to the ring metrics of
:mod:`spikewire.score.ring`. Weights are dimensionless (the model's ``W``); the input a
neuron receives is ``r·W·s``. Simulate with :func:`spikewire.simulate.ring.simulate_ring`.
"""

from __future__ import annotations

import numpy as np

from spikewire._validation import check_positive
from spikewire.core.ring import RingNetwork

__all__ = ["RingNetwork", "ring_attractor", "ring_distance", "ring_profile", "single_bump_ring"]

_SPIKING = ("threshold", "lnp")


def ring_distance(n: int) -> np.ndarray:
    """(n, n) integer ring distances ``min(|i − j|, n − |i − j|)`` between neurons."""
    idx = np.arange(n)
    d = np.abs(idx[:, None] - idx[None, :])
    return np.minimum(d, n - d)


def ring_profile(d, sigma1: float, sigma2: float, a: float, amplitude: float = 1.0):
    """``amplitude·exp(−d²/2σ1²) − a·exp(−d²/2σ2²)`` (dimensionless) at ring distance d."""
    d = np.asarray(d, dtype=float)
    return amplitude * np.exp(-d ** 2 / (2 * sigma1 ** 2)) - a * np.exp(-d ** 2 / (2 * sigma2 ** 2))


def _build(n, sigma1, sigma2, a, amplitude, name, dynamics) -> RingNetwork:
    if not isinstance(n, int | np.integer) or n < 3:
        raise ValueError(f"n={n!r} must be an integer >= 3 (neurons on the ring)")
    check_positive("sigma1", sigma1)
    check_positive("sigma2", sigma2)
    for key in ("r", "tau", "lnp_gain"):
        check_positive(key, dynamics[key])
    if dynamics["sigma_xi"] < 0:
        raise ValueError(f"sigma_xi={dynamics['sigma_xi']!r} must be >= 0")
    if dynamics["spiking"] not in _SPIKING:
        raise ValueError(f"spiking={dynamics['spiking']!r} must be one of {_SPIKING}")
    n = int(n)
    d = ring_distance(n)
    w = ring_profile(d, sigma1, sigma2, a, amplitude)
    np.fill_diagonal(w, 0.0)
    profile = w[0].copy()
    spec = dict(n=n, sigma1=sigma1, sigma2=sigma2, a=a, amplitude=amplitude, **dynamics)
    return RingNetwork(weights=w, profile=profile, name=name, spec=spec,
                       **{k: (float(v) if k != "spiking" else v) for k, v in dynamics.items()})


def ring_attractor(n: int = 100, *, sigma1: float = 6.98, sigma2: float = 7.00,
                   a: float = 1.0005, amplitude: float = 1.0, r: float = 2.5e-2,
                   b: float = 1e-3, tau: float = 1e-2, sigma_xi: float = 0.3,
                   g_th: float = 7.35e-4, spiking: str = "threshold", lnp_gain: float = 100.0,
                   input_amplitude: float = 0.0, input_frequency: float = 0.5,
                   input_swing: float = np.pi) -> RingNetwork:
    """The strongly recurrent ring of Yoon (2025, after Das & Fiete 2020).

    Parameters
    ----------
    n : int, default 100
        Neurons on the ring.
    sigma1, sigma2 : float
        Widths of the two Gaussians (neurons).
    a : float
        Weight of the second Gaussian.
    amplitude : float, default 1
        Weight of the first Gaussian.
    r, b, tau, sigma_xi, g_th, spiking, lnp_gain, input_amplitude, input_frequency, input_swing
        Dynamics (see :class:`RingNetwork`; ``tau`` in s, ``input_frequency`` in Hz).

    Returns
    -------
    RingNetwork
        Self-connections are removed (zero diagonal).
    """
    dyn = dict(r=r, b=b, tau=tau, sigma_xi=sigma_xi, g_th=g_th, spiking=spiking,
               lnp_gain=lnp_gain, input_amplitude=input_amplitude,
               input_frequency=input_frequency, input_swing=input_swing)
    return _build(n, sigma1, sigma2, a, amplitude, "ring_attractor", dyn)


def single_bump_ring(n: int = 100, *, sigma1: float = 27.92, sigma2: float = 28.0,
                     a: float = 1.0005, amplitude: float = 1.0, r: float = 2.5e-2,
                     b: float = 1e-3, tau: float = 1e-2, sigma_xi: float = 0.3,
                     g_th: float = 7.35e-4, spiking: str = "threshold",
                     lnp_gain: float = 100.0, input_amplitude: float = 0.0,
                     input_frequency: float = 0.5,
                     input_swing: float = np.pi) -> RingNetwork:
    """Weakly correlated ring with a single activity bump.

    The source gives no parameters for this variant ("local excitation, broad Gaussian
    inhibition"). spikewire's default is the :func:`ring_attractor` profile with both
    widths scaled by 4 (σ1 = 27.92, σ2 = 28), whose pattern period is the whole ring: one
    bump, and a mean |pairwise correlation| of 10 ms counts of about 0.11 (threshold) and
    0.09 (LNP) against 0.14 for the four-bump ring (5 s, seed 1). Profiles with net local
    excitation (``amplitude > a``) are accepted but with these dynamics they saturate
    (threshold) or run away (LNP, refused by the simulator). Arguments as in
    :func:`ring_attractor`.
    """
    dyn = dict(r=r, b=b, tau=tau, sigma_xi=sigma_xi, g_th=g_th, spiking=spiking,
               lnp_gain=lnp_gain, input_amplitude=input_amplitude,
               input_frequency=input_frequency, input_swing=input_swing)
    return _build(n, sigma1, sigma2, a, amplitude, "single_bump_ring", dyn)
