"""Unconnected spike trains with realistic shared structure: null families for calibration.

No unit influences another in any family, so every "link" a method calls is a false
positive, but the trains share what real recordings share: slow common input, network
up/down states, bursts and rates spread over two decades. A calibrated method calls a
fraction α of the pairs at per-pair level α on each family
(tests/infer/test_calibration.py, benchmarks/bench_calibration.py).

Families (:data:`FAMILIES`):

``poisson``
    Independent homogeneous Poisson trains, rates uniform in ``rate_range``.
``heterogeneous``
    Independent Poisson trains with rates log-uniform over ``[0.1, 20]`` Hz.
``comodulated``
    Shared slow multiplicative modulation: unit ``i`` fires at ``r_i · exp(β_i σ u(t) −
    β_i² σ² / 2)`` with ``u`` an Ornstein–Uhlenbeck process (unit variance, 1 s time
    constant), ``σ = 0.8`` and loadings ``β_i`` uniform in [0.5, 1.5].
``updown``
    Shared hidden two-state Markov chain (mean dwell 0.3 s up, 0.5 s down); rates are
    ``r_i · 2.2`` in the up state and ``r_i · 0.28`` in the down state (mean ``r_i``).
``bursting``
    Independent bursty cluster trains: burst onsets are Poisson, each burst has a
    geometric number of spikes (≥ 1, mean 3) separated by ``4 ms + Exp(2 ms)`` intervals.

Spike times lie on the grid ``k · dt`` (like simulated data; the trains' annotations carry
``dt``).
"""

from __future__ import annotations

import numpy as np

from spikewire._validation import check_choice, check_int, check_positive
from spikewire.core.spiketrains import SpikeTrains

__all__ = ["FAMILIES", "null_family"]

FAMILIES = ("poisson", "heterogeneous", "comodulated", "updown", "bursting")

_GRID = 1e-3  # s, resolution of the shared gain processes


def _ou(rng, n, dt, tau):
    a = np.exp(-dt / tau)
    noise = rng.standard_normal(n) * np.sqrt(1 - a * a)
    u = np.empty(n)
    u[0] = rng.standard_normal()
    # AR(1) recursion via scipy's linear filter (fast, exact)
    from scipy.signal import lfilter

    u[1:] = lfilter([1.0], [1.0, -a], noise[1:], zi=[a * u[0]])[0]
    return u


def _modulated_poisson(rng, rates, gain, duration):
    """Inhomogeneous Poisson trains with rate ``rates[i] * gain[i or :, t]`` on the 1 ms grid."""
    n_bins = gain.shape[-1]
    times, ids = [], []
    for i, r in enumerate(rates):
        g = gain[i] if gain.ndim == 2 else gain
        c = rng.poisson(r * g * _GRID)
        b = np.repeat(np.arange(n_bins), c)
        t = (b + rng.random(b.size)) * _GRID
        times.append(t[t < duration])
        ids.append(np.full(times[-1].size, i))
    return np.concatenate(times), np.concatenate(ids)


def null_family(kind: str, n_units: int = 40, duration: float = 300.0, seed: int = 0,
                rate_range: tuple[float, float] = (2.0, 10.0), dt: float = 1e-4
                ) -> SpikeTrains:
    """Spike trains of ``n_units`` unconnected units from a null family.

    Parameters
    ----------
    kind : {"poisson", "heterogeneous", "comodulated", "updown", "bursting"}
        The family (module docstring).
    n_units : int, default 40
        Number of units.
    duration : float, default 300 s
        Length of the recording in s.
    seed : int, default 0
        Seed of the ``numpy.random.Generator``.
    rate_range : (float, float), default (2, 10) Hz
        Range of the units' mean rates (uniform; ignored by ``"heterogeneous"``).
    dt : float, default 0.1 ms
        Time grid of the spike times in s.

    Returns
    -------
    SpikeTrains
        Unit ids ``0 .. n_units − 1``; ``annotations`` hold ``dt``, ``family`` and the
        units' mean ``rates`` (Hz).
    """
    check_choice("kind", kind, set(FAMILIES))
    n = check_int("n_units", n_units, minimum=1)
    T = check_positive("duration", duration, unit="s")
    dt = check_positive("dt", dt, unit="s")
    lo, hi = (float(x) for x in rate_range)
    if not 0 < lo <= hi:
        raise ValueError(f"rate_range must satisfy 0 < low <= high (Hz), got {rate_range!r}")
    rng = np.random.default_rng(seed)
    if kind == "heterogeneous":
        rates = np.exp(rng.uniform(np.log(0.1), np.log(20.0), n))
    else:
        rates = rng.uniform(lo, hi, n)
    n_bins = int(np.ceil(T / _GRID))
    if kind in ("poisson", "heterogeneous"):
        times, ids = _modulated_poisson(rng, rates, np.ones(n_bins), T)
    elif kind == "comodulated":
        sigma = 0.8
        u = _ou(rng, n_bins, _GRID, 1.0)
        beta = rng.uniform(0.5, 1.5, n)
        gain = np.exp(beta[:, None] * sigma * u[None, :] - 0.5 * (beta[:, None] * sigma) ** 2)
        times, ids = _modulated_poisson(rng, rates, gain, T)
    elif kind == "updown":
        t_up, t_down, g_up, g_down = 0.3, 0.5, 2.2, 0.28
        state = np.empty(n_bins, dtype=bool)
        k, up = 0, rng.random() < t_up / (t_up + t_down)
        while k < n_bins:
            d = max(1, int(rng.exponential(t_up if up else t_down) / _GRID))
            state[k:k + d] = up
            k += d
            up = not up
        mean_gain = (g_up * t_up + g_down * t_down) / (t_up + t_down)
        gain = np.where(state, g_up, g_down) / mean_gain
        times, ids = _modulated_poisson(rng, rates, gain, T)
    else:  # bursting
        mean_size = 3.0
        t_list, i_list = [], []
        for i, r in enumerate(rates):
            onsets = np.sort(rng.uniform(0, T, rng.poisson(r / mean_size * T)))
            sizes = rng.geometric(1.0 / mean_size, onsets.size)    # >= 1, mean 3
            total = int(sizes.sum())
            gaps = 4e-3 + rng.exponential(2e-3, total)
            first = np.repeat(np.cumsum(sizes) - sizes, sizes)
            pos = np.arange(total) - first                  # position in the burst
            gaps[pos == 0] = 0.0
            csum = np.cumsum(gaps)
            offset = csum - np.repeat(csum[np.cumsum(sizes) - sizes], sizes)
            t = np.repeat(onsets, sizes) + offset
            t_list.append(t[t < T])
            i_list.append(np.full(t_list[-1].size, i))
        times, ids = np.concatenate(t_list), np.concatenate(i_list)
    times = np.floor(times / dt) * dt
    st = SpikeTrains.from_times(times, ids, t_start=0.0, t_stop=T, units=np.arange(n),
                                sort=True,
                                annotations={"dt": dt, "family": kind, "rates": rates})
    return st
