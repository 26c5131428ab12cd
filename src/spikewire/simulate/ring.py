"""Discrete-time simulation of ring-attractor rate/threshold networks.

Each step of Δt (default 0.1 ms), for every neuron i::

    g_i = r·Σ_j W_ij s_j + b + I_i(t) + ξ_i
    x_i = Θ(g_i − g_th)                       ("threshold": ξ_i ~ N(0, σ_ξ²·Δt/1 s))
    x_i ~ Poisson(lnp_gain·ReLU(g_i − g_th))  ("lnp": no ξ)
    s_i ← s_i·exp(−Δt/τ) + x_i

with the optional rotating input ``I_i(t) = A·cos(φ_i − θ(t))``. Two choices make the
source's parameters (given without units) form the published patterns and are stated
here: the noise ξ is white noise of intensity σ_ξ sampled per step (standard deviation
σ_ξ·√(Δt / 1 s); σ_ξ = 0.3 unscaled would drown the 1e-3 drive and no pattern forms), and
LNP counts are ``lnp_gain`` (default 100) per unit of ``g − g_th`` per step (with gain 1
every neuron fires below 3 Hz and no pattern forms). Both are parameters of
:class:`~spikewire.networks.ring.RingNetwork`.

The recurrent input ``u = r·W·s`` decays with ``s`` and is updated only by the spikes of
the step (``u ← u·exp(−Δt/τ) + r·Σ_spiking W[:, j]·x_j``), so a step costs O(n·spikes).
The compiled kernel draws from spikewire's xoshiro256** stream seeded from ``seed``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from spikewire._validation import check_positive
from spikewire.core.ring import RingNetwork
from spikewire.core.rng import new_state, normal, poisson
from spikewire.core.seeds import rng as seeded_rng
from spikewire.core.seeds import seed_repr
from spikewire.core.spiketrains import SpikeTrains

__all__ = ["simulate_ring"]


@nb.njit(cache=True)
def _ring_kernel(w_r, b, g_th, dec, noise_sd, lnp, lnp_gain, inp_amp, cos_p, sin_p,
                 cos_t, sin_t, steps, skip, state, u):
    n = w_r.shape[0]
    cap = 1024
    t_idx = np.empty(cap, dtype=np.int64)
    who = np.empty(cap, dtype=np.int32)
    count = 0
    x = np.zeros(n, dtype=np.int64)
    for k in range(steps):
        for i in range(n):
            g = u[i] + b
            if inp_amp != 0.0:
                g += inp_amp * (cos_p[i] * cos_t[k] + sin_p[i] * sin_t[k])
            if lnp:
                lam = lnp_gain * (g - g_th)
                if lam > 50.0:   # runaway excitation: stop, the caller raises
                    return t_idx[:0], who[:0], k
                x[i] = poisson(state, lam, math.exp(-lam)) if lam > 0.0 else 0
            else:
                if noise_sd > 0.0:
                    g += noise_sd * normal(state)
                x[i] = 1 if g > g_th else 0
        for i in range(n):
            u[i] *= dec
        for j in range(n):
            c = x[j]
            if c == 0:
                continue
            for i in range(n):
                u[i] += c * w_r[i, j]
            if k >= skip:
                for _ in range(c):
                    if count == cap:
                        cap *= 2
                        t2 = np.empty(cap, dtype=np.int64)
                        w2 = np.empty(cap, dtype=np.int32)
                        t2[:count] = t_idx[:count]
                        w2[:count] = who[:count]
                        t_idx = t2
                        who = w2
                    t_idx[count] = k - skip
                    who[count] = j
                    count += 1
    return t_idx[:count], who[:count], -1


def simulate_ring(network, duration: float, *, dt: float = 1e-4, seed=0,
                  warmup: float = 0.2) -> SpikeTrains:
    """Simulate a :class:`~spikewire.networks.ring.RingNetwork` (see the module docstring).

    Parameters
    ----------
    network : RingNetwork
    duration : float
        Recorded time (s), after ``warmup``.
    dt : float, default 1e-4
        Time step Δt (s); spike times lie on the grid k·dt.
    seed : int, SeedSequence or Generator
    warmup : float, default 0.2
        Simulated but not recorded time (s) in which the pattern forms from s = 0.

    Returns
    -------
    SpikeTrains
        Unit id = neuron index; LNP steps with several spikes repeat the time.
        ``annotations`` hold ``engine="ring"``, ``dt`` and the seed.
    """
    if not isinstance(network, RingNetwork):
        raise TypeError(f"network must be a RingNetwork (spikewire.networks.ring), got "
                        f"{type(network).__name__}")
    duration = check_positive("duration", duration, unit="s")
    dt = check_positive("dt", dt, unit="s")
    warmup = check_positive("warmup", warmup, allow_zero=True, unit="s")
    steps_rec = int(round(duration / dt))
    if steps_rec < 1:
        raise ValueError(f"duration={duration!r} s is shorter than one step dt={dt!r} s")
    skip = int(round(warmup / dt))
    steps = steps_rec + skip
    gen = seeded_rng(seed, "ring")
    state = new_state(gen)
    n = network.n_neurons
    w_r = np.ascontiguousarray(network.r * network.weights, dtype=np.float64)
    u = np.zeros(n)
    inp = float(network.input_amplitude)
    if inp != 0.0:
        theta = network.theta((np.arange(steps) - skip) * dt)
        cos_t, sin_t = np.cos(theta), np.sin(theta)
    else:
        cos_t = sin_t = np.zeros(1)
    phases = network.phases
    t_idx, who, failed = _ring_kernel(w_r, float(network.b), float(network.g_th),
                              math.exp(-dt / network.tau), network.sigma_xi * math.sqrt(dt),
                              network.spiking == "lnp", float(network.lnp_gain), inp,
                              np.cos(phases), np.sin(phases), cos_t, sin_t, steps, skip,
                              state, u)
    if failed >= 0:
        raise RuntimeError(
            f"ring activity ran away at t = {(failed - skip) * dt:g} s: an LNP neuron's mean "
            f"count exceeded 50 per step of {dt:g} s (rate {50 / dt:g} Hz); the recurrent "
            "excitation is too strong for these parameters: lower the excitatory amplitude, "
            "r or lnp_gain")
    return SpikeTrains.from_times(t_idx * dt, who, t_start=0.0, t_stop=steps_rec * dt,
                                  units=np.arange(n), sort=True,
                                  annotations={"engine": "ring", "dt": dt,
                                               "seed": seed_repr(seed),
                                               "network": network.name})
