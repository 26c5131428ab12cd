"""Simulation and observation of low-rank rate networks
(:class:`spikewire.networks.lowrank.LowRankNetwork`).

Trials start from a grid of initial latents; observations are the noise-free activities,
noisy activities, or Poisson spikes whose rate is ``rate_offset + rate_gain · φ`` (Hz) in
bins of the network's ``dt`` (10 ms by default). Trials are concatenated in the returned
:class:`~spikewire.Recording`; its last history step records ``trial_steps`` (samples per
trial) so that the low-rank methods can cut them apart again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikewire.core.lowrank import LowRankNetwork
from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains

__all__ = ["LowRankActivity", "initial_grid", "simulate_lowrank", "observe_rates",
           "observe_spikes", "rates_to_activity", "rate_noise", "rate_spikes"]


@dataclass
class LowRankActivity:
    """Latent trajectories of a low-rank network.

    Attributes
    ----------
    network : LowRankNetwork
    latents : ndarray, shape (n_trials, n_steps, R)
        ``z_t`` for t = 0 … n_steps − 1 of every trial.
    inputs : ndarray, shape (n_trials, n_steps, U) or None
    """

    network: LowRankNetwork
    latents: np.ndarray
    inputs: np.ndarray | None = None

    @property
    def n_trials(self) -> int:
        return int(self.latents.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.latents.shape[1])

    def activity(self) -> np.ndarray:
        """Noise-free unit activities φ(m·z + b·u + d), shape (n_trials, n_steps, N)."""
        return self.network.activity(self.latents, self.inputs)


def initial_grid(n_per_axis: int = 20, extent: float = 2.4, rank: int = 2) -> np.ndarray:
    """Initial latents on a regular grid over ``[−extent, extent]^rank``.

    Returns
    -------
    ndarray, shape (n_per_axis**rank, rank)
    """
    if not isinstance(n_per_axis, int | np.integer) or n_per_axis < 1:
        raise ValueError(f"n_per_axis={n_per_axis!r} must be a positive integer")
    if not extent > 0:
        raise ValueError(f"extent={extent!r} must be > 0")
    axis = np.linspace(-extent, extent, int(n_per_axis))
    mesh = np.meshgrid(*([axis] * int(rank)), indexing="ij")
    return np.stack([g.ravel() for g in mesh], axis=1)


def simulate_lowrank(network: LowRankNetwork, z0, n_steps: int = 100,
                     inputs=None) -> LowRankActivity:
    """Iterate the latent dynamics from each initial condition.

    Parameters
    ----------
    network : LowRankNetwork
    z0 : ndarray, shape (n_trials, R)
        Initial latents (e.g. :func:`initial_grid`).
    n_steps : int, default 100
        Samples per trial (including z0).
    inputs : ndarray, shape (n_trials, n_steps, U), optional
        External inputs ``u_t``.

    Returns
    -------
    LowRankActivity
    """
    if not isinstance(network, LowRankNetwork):
        raise TypeError(f"network must be a LowRankNetwork, got {type(network).__name__}")
    z0 = np.atleast_2d(np.asarray(z0, dtype=float))
    if z0.shape[1] != network.rank:
        raise ValueError(f"z0 must have shape (n_trials, R={network.rank}), got {z0.shape}")
    if not isinstance(n_steps, int | np.integer) or n_steps < 2:
        raise ValueError(f"n_steps={n_steps!r} must be an integer >= 2")
    if inputs is not None:
        inputs = np.asarray(inputs, dtype=float)
        want = (z0.shape[0], int(n_steps), network.n_inputs)
        if inputs.shape != want:
            raise ValueError(f"inputs must have shape {want}, got {inputs.shape}")
    z = np.empty((z0.shape[0], int(n_steps), network.rank))
    z[:, 0] = z0
    for t in range(int(n_steps) - 1):
        z[:, t + 1] = network.step(z[:, t], None if inputs is None else inputs[:, t])
    return LowRankActivity(network=network, latents=z, inputs=inputs)


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_rate_map(rate_offset: float, rate_gain: float) -> None:
    if not rate_gain > 0:
        raise ValueError(f"rate_gain={rate_gain!r} must be > 0 Hz")
    if rate_offset - rate_gain < 0:
        raise ValueError(f"rate_offset={rate_offset!r} Hz and rate_gain={rate_gain!r} Hz give "
                         f"negative rates (rate = offset + gain·φ, φ ∈ (−1, 1)); use "
                         f"rate_offset >= rate_gain")


def observe_rates(activity: LowRankActivity, *, noise_sd: float = 0.0, rate_offset: float = 10.0,
                  rate_gain: float = 10.0, seed=0) -> Recording:
    """Activities as rate signals (Hz): ``rate_offset + rate_gain · (φ + noise_sd · ξ)``.

    Parameters
    ----------
    activity : LowRankActivity
    noise_sd : float, default 0
        Standard deviation of additive white noise, in units of φ.
    rate_offset, rate_gain : float, default 10, 10
        Map from φ ∈ (−1, 1) to Hz.
    seed : int or Generator, default 0

    Returns
    -------
    Recording
        ``signals`` (N, n_trials·n_steps), ``signal_kind="rate"``, ``signal_rate = 1/dt``;
        the history step ``"lowrank_rates"`` records ``trial_steps``; ``hidden_truth``
        holds the latents.
    """
    if not noise_sd >= 0:
        raise ValueError(f"noise_sd={noise_sd!r} must be >= 0")
    _check_rate_map(rate_offset, rate_gain)
    phi = activity.activity()
    if noise_sd > 0:
        phi = phi + noise_sd * _rng(seed).standard_normal(phi.shape)
    net = activity.network
    sig = rate_offset + rate_gain * phi.reshape(-1, net.n_neurons).T
    step = {"step": "lowrank_rates", "trial_steps": activity.n_steps, "noise_sd": noise_sd,
            "rate_offset": rate_offset, "rate_gain": rate_gain, "dt": net.dt}
    return Recording(spikes=None, true_index=np.arange(net.n_neurons), signals=sig,
                     signal_rate=1.0 / net.dt, signal_kind="rate", history=[step],
                     hidden_truth={"latents": activity.latents, "network": net})


def observe_spikes(activity: LowRankActivity, *, rate_offset: float = 10.0,
                   rate_gain: float = 10.0, seed=0) -> Recording:
    """Poisson spikes with rate ``rate_offset + rate_gain · φ`` (Hz), constant within each
    bin of ``dt``; spike times uniform within their bin.

    Returns
    -------
    Recording
        Spike trains over ``n_trials · n_steps · dt`` s (trials back to back); the history
        step ``"lowrank_spikes"`` records ``trial_steps``, the bin and the rate map.
    """
    _check_rate_map(rate_offset, rate_gain)
    rng = _rng(seed)
    net = activity.network
    phi = activity.activity().reshape(-1, net.n_neurons)          # (n_bins, N)
    counts = rng.poisson((rate_offset + rate_gain * phi) * net.dt)
    b_idx, unit = np.nonzero(counts)
    reps = counts[b_idx, unit]
    b_idx, unit = np.repeat(b_idx, reps), np.repeat(unit, reps)
    times = (b_idx + rng.random(b_idx.size)) * net.dt
    T = phi.shape[0] * net.dt
    st = SpikeTrains.from_times(times, unit, t_start=0.0, t_stop=T, units=np.arange(net.n_neurons),
                                sort=True)
    st.annotations.update({"engine": "lowrank", "time_resolution": net.dt})
    step = {"step": "lowrank_spikes", "trial_steps": activity.n_steps, "bin_width": net.dt,
            "rate_offset": rate_offset, "rate_gain": rate_gain}
    return Recording(spikes=st, true_index=np.arange(net.n_neurons), history=[step],
                     hidden_truth={"latents": activity.latents, "network": net})


def rates_to_activity(rates, rate_offset: float = 10.0, rate_gain: float = 10.0) -> np.ndarray:
    """Invert the rate map: ``φ = (rate − rate_offset) / rate_gain``.

    Raises
    ------
    ValueError
        If an activity falls outside φ's range (−1, 1) (the rate map does not match the
        data: adjust ``rate_offset``/``rate_gain``).
    """
    _check_rate_map(rate_offset, rate_gain)
    phi = (np.asarray(rates, dtype=float) - rate_offset) / rate_gain
    # tanh of a large input is exactly ±1 in floating point (|x| > 19; the heavy_tailed
    # preset's largest loadings reach it): values within rounding of ±1 are saturated
    # activity, not a wrong rate map, and are moved just inside the range
    bad = ~(np.abs(phi) <= 1 + 1e-9)
    if np.any(bad):
        worst = float(np.nanmax(np.abs(np.where(np.isfinite(phi), phi, np.inf))))
        raise ValueError(f"{int(bad.sum())} rate samples map outside φ = tanh's range (−1, 1) "
                         f"(largest |φ| = {worst:.3g}) with rate_offset={rate_offset} Hz and "
                         f"rate_gain={rate_gain} Hz; choose rate_offset/rate_gain so that "
                         f"offset ± gain brackets every rate")
    return np.clip(phi, -1 + 1e-9, 1 - 1e-9)


def _rate_map(rec: Recording) -> tuple[float, float]:
    """``(rate_offset, rate_gain)`` recorded by :func:`observe_rates` in the history."""
    for h in reversed(rec.history):
        if isinstance(h, dict) and h.get("step") == "lowrank_rates":
            return float(h["rate_offset"]), float(h["rate_gain"])
    raise ValueError("the recording has no 'lowrank_rates' step in its history: rate_noise "
                     "and rate_spikes read rate signals made by observe_rates")


def rate_noise(rec: Recording, noise_sd: float, *, seed=0) -> Recording:
    """Add white noise to the rate signals of a low-rank recording (:func:`observe_rates`).

    The noise has standard deviation ``noise_sd`` in units of φ (``noise_sd · rate_gain``
    Hz); the result is clipped to φ ∈ [−0.999, 0.999] (rates inside ``offset ± gain``: a
    rate stays non-negative and inside the range the low-rank methods invert), and the
    fraction of clipped samples is recorded in the history.

    Parameters
    ----------
    rec : Recording
        Rate signals (Hz) with a ``"lowrank_rates"`` history step (possibly subsampled).
    noise_sd : float
        Noise standard deviation in units of φ (≥ 0).
    seed : int, SeedSequence or Generator, default 0
    """
    if not noise_sd >= 0:
        raise ValueError(f"noise_sd={noise_sd!r} must be >= 0 (units of φ)")
    if rec.signals is None:
        raise ValueError("rate_noise needs rate signals (the recording holds none)")
    off, gain = _rate_map(rec)
    phi = (np.asarray(rec.signals, dtype=float) - off) / gain
    phi = phi + float(noise_sd) * _rng(seed).standard_normal(phi.shape)
    clipped = float(np.mean(np.abs(phi) > 0.999))
    sig = off + gain * np.clip(phi, -0.999, 0.999)
    return rec.with_step({"step": "lowrank_noise", "noise_sd": float(noise_sd),
                          "clipped_fraction": clipped}, signals=sig)


def rate_spikes(rec: Recording, *, seed=0) -> Recording:
    """Poisson spikes from the rate signals (Hz) of a low-rank recording, the rate constant
    within each sample (bin of ``1/signal_rate`` s), spike times uniform within their bin.

    Returns
    -------
    Recording
        Spike trains of the same units (``true_index`` kept), no signals; the history
        step ``"lowrank_spikes"`` records the bin.
    """
    if rec.signals is None or rec.signal_rate is None:
        raise ValueError("rate_spikes needs rate signals (the recording holds none)")
    rates = np.asarray(rec.signals, dtype=float)
    if np.any(rates < 0) or not np.all(np.isfinite(rates)):
        raise ValueError("rate signals must be finite and >= 0 Hz")
    rng = _rng(seed)
    dt = 1.0 / float(rec.signal_rate)
    counts = rng.poisson(rates.T * dt)                            # (n_bins, n_units)
    b_idx, unit = np.nonzero(counts)
    reps = counts[b_idx, unit]
    b_idx, unit = np.repeat(b_idx, reps), np.repeat(unit, reps)
    times = (b_idx + rng.random(b_idx.size)) * dt
    n = rates.shape[0]
    st = SpikeTrains.from_times(times, unit, t_start=0.0, t_stop=rates.shape[1] * dt,
                                units=np.arange(n), sort=True)
    st.annotations.update({"engine": "lowrank", "time_resolution": dt})
    return rec.with_step({"step": "lowrank_spikes", "bin_width": dt}, spikes=st, signals=None,
                         signal_rate=None, signal_kind=None)
