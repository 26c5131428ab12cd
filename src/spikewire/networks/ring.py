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
from spikewire.core.network import Network
from spikewire.core.ring import RingNetwork

__all__ = ["RingNetwork", "lif_ring", "ring_attractor", "ring_distance", "ring_of", "ring_profile",
           "single_bump_ring"]

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


def lif_ring(n_exc: int = 100, n_inh: int = 25, *, sigma: float = 5.0, j_ee: float = 1.5,
             j_ie: float = 0.4, j_ei: float = 0.5, j_ii: float = 0.5, mu: float = 19.5,
             noise: float = 3.0, delay: float = 1.5e-3, tau_ref: float = 2e-3) -> Network:
    """A Dale-compliant spiking ring: an E ring with a Gaussian E→E profile and a global
    inhibitory pool (LIF neurons, simulated by :func:`spikewire.simulate`).

    Neurons ``0 .. n_exc − 1`` are excitatory, at angles ``2π·i/n_exc`` on the ring;
    ``n_exc .. n_exc + n_inh − 1`` are the inhibitory pool. Connections (post × pre, mV):

    - E→E: ``j_ee·exp(−d²/2σ²)`` of the ring distance ``d`` (neurons), no self-connection;
    - E→I: ``j_ie`` from every E to every I neuron; I→E: ``−j_ei``; I→I: ``−j_ii`` (no
      self-connection).

    Local excitation with global inhibition forms one activity bump that wanders around
    the ring by noise. Record only the E ring (``observe`` with ``subsample`` of the first
    ``n_exc`` units) to hide the pool: the E→E profile is then the ground truth and every
    co-active pair at a distance beyond ~3σ is unconnected. ``spec["ring"]`` holds the ring
    (``n`` and the ring units) for :func:`spikewire.score.ring.profile_error` and
    :func:`spikewire.score.score`. Drive: white noise of mean ``mu`` and intensity ``noise``
    (mV, :class:`~spikewire.core.network.WhiteNoiseDrive`); default LIF parameters (θ = 20
    mV, reset 10 mV, τ_m = 20 ms).

    Parameters
    ----------
    n_exc, n_inh : int
        Sizes of the E ring (≥ 3) and of the inhibitory pool (≥ 1).
    sigma : float
        Width of the E→E Gaussian (neurons).
    j_ee, j_ie, j_ei, j_ii : float
        Synaptic amplitudes (mV, ≥ 0; ``j_ee`` is the peak E→E weight).
    mu, noise : float
        White-noise drive (mV).
    delay, tau_ref : float
        Synaptic delay and refractory period (s).

    Returns
    -------
    Network
        ``name="lif_ring"``, ``positions`` (x, y) on a unit circle (E) and at the centre (I).
    """
    from spikewire.core.network import LIFParams, WhiteNoiseDrive
    from spikewire.networks.matrix import from_matrix

    for key, v in (("n_exc", n_exc), ("n_inh", n_inh)):
        if not isinstance(v, int | np.integer) or v < (3 if key == "n_exc" else 1):
            raise ValueError(f"{key}={v!r} must be an integer >= {3 if key == 'n_exc' else 1}")
    check_positive("sigma", sigma)
    for key, v in (("j_ee", j_ee), ("j_ie", j_ie), ("j_ei", j_ei), ("j_ii", j_ii),
                   ("noise", noise)):
        check_positive(key, v, allow_zero=True)
    check_positive("delay", delay, unit="s")
    n_exc, n_inh = int(n_exc), int(n_inh)
    n = n_exc + n_inh
    w = np.zeros((n, n))
    ee = j_ee * np.exp(-ring_distance(n_exc) ** 2 / (2 * sigma ** 2))
    np.fill_diagonal(ee, 0.0)
    w[:n_exc, :n_exc] = ee
    w[n_exc:, :n_exc] = j_ie
    w[:n_exc, n_exc:] = -j_ei
    w[n_exc:, n_exc:] = -j_ii
    w[np.arange(n), np.arange(n)] = 0.0
    ct = np.array(["E"] * n_exc + ["I"] * n_inh)
    ang = 2 * np.pi * np.arange(n_exc) / n_exc
    pos = np.zeros((n, 2))
    pos[:n_exc] = np.column_stack([np.cos(ang), np.sin(ang)])
    net = from_matrix(w, ct, delays=float(delay), params=LIFParams(tau_ref=tau_ref),
                      drive=WhiteNoiseDrive(mu=mu, sigma=noise), positions=pos,
                      name="lif_ring")
    spec = dict(n_exc=n_exc, n_inh=n_inh, sigma=sigma, j_ee=j_ee, j_ie=j_ie, j_ei=j_ei,
                j_ii=j_ii, mu=mu, noise=noise, delay=delay, tau_ref=tau_ref,
                ring={"n": n_exc, "units": list(range(n_exc))})
    return net.replace(spec=spec)


def ring_of(network) -> tuple[np.ndarray, np.ndarray] | None:
    """The ring of a network as ``(weights among the ring units, ring units)``, or None.

    A :class:`RingNetwork` is a ring of all its neurons; a :class:`~spikewire.Network` is
    one if its ``spec["ring"]`` names its ring units (:func:`lif_ring`).
    """
    if isinstance(network, RingNetwork):
        return network.weights, np.arange(network.n_neurons)
    ring = (getattr(network, "spec", None) or {}).get("ring")
    if not ring:
        return None
    units = np.asarray(ring["units"], dtype=np.int64)
    w = network.dense_weights()[np.ix_(units, units)]
    return w, units
