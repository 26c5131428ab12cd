"""Plumbing shared by the Izhikevich and AdEx engines: drive, inputs, spike buffer, output."""

from __future__ import annotations

import math
import warnings

import numba as nb
import numpy as np

import spikewire.core.jit  # noqa: F401  (numba cache folder, before any @njit)
from spikewire._validation import check_positive, user_stacklevel
from spikewire.core.network import Network, PoissonDrive, WhiteNoiseDrive
from spikewire.core.spiketrains import SpikeTrains
from spikewire.simulate._rng import xo_next

__all__ = ["Drive", "check_run", "drive_arrays", "finish", "gain_chunk", "group_index",
           "stimulation_arrays"]

_MS = 1e-3


def check_run(network: Network, duration: float, dt: float, model: str,
              dt_max: float) -> tuple[float, float, int]:
    """Validate ``network``, ``duration`` and ``dt``; return (duration, dt, n_steps)."""
    if not isinstance(network, Network):
        raise TypeError(f"network must be a spikewire Network, got {type(network).__name__}")
    if network.neuron_model != model:
        raise TypeError(f"this engine simulates {model} networks; the network's params "
                        f"describe {network.neuron_model!r} neurons")
    duration = check_positive("duration", duration, unit="s")
    dt = check_positive("dt", dt, unit="s")
    if dt < 1e-5 - 1e-15 or dt > dt_max + 1e-15:
        raise ValueError(f"dt = {dt:g} s is outside the supported range [1e-5, {dt_max:g}] s "
                         f"for {model} networks")
    n_steps = int(round(duration / dt))
    if abs(n_steps * dt - duration) > 1e-9 * max(1.0, duration) + 1e-12:
        raise ValueError(f"duration {duration:g} s is not a multiple of dt = {dt:g} s")
    return duration, dt, n_steps


class Drive:
    """External drive as arrays for the kernels.

    ``mode`` 0: none; 1: Poisson input (``lam`` = expected count per step, ``w_ext`` its
    weight); 2: noise current (``mu`` + ``sig`` · N(0, 1) per step, ``sig`` already scaled
    so that the current averaged over 1 ms has standard deviation ``sigma``).
    """

    def __init__(self, mode, lam, w_ext, mu, sig):
        self.mode, self.lam, self.w_ext, self.mu, self.sig = mode, lam, w_ext, mu, sig


def drive_arrays(drive, n: int, dt: float) -> Drive:
    """Translate ``network.drive`` into per-neuron arrays (see :class:`Drive`)."""
    zeros = np.zeros(n)
    if drive is None:
        return Drive(0, zeros, 0.0, zeros, zeros)
    if isinstance(drive, PoissonDrive):
        return Drive(1, drive.total_rate(n) * dt, float(drive.weight), zeros, zeros)
    if isinstance(drive, WhiteNoiseDrive):
        mu = np.broadcast_to(np.asarray(drive.mu, float), (n,)).copy()
        sig = np.broadcast_to(np.asarray(drive.sigma, float), (n,)) * math.sqrt(_MS / dt)
        return Drive(2, zeros, 0.0, mu, sig.copy())
    raise TypeError(f"drive must be a PoissonDrive, a WhiteNoiseDrive or None, got "
                    f"{type(drive).__name__}")


def group_index(modulation, n: int) -> np.ndarray:
    """The modulation's group of each neuron (all 0 without modulation)."""
    if modulation is None:
        return np.zeros(n, dtype=np.int64)
    group = np.asarray(modulation.groups, dtype=np.int64)
    if group.shape != (n,):
        raise ValueError(f"modulation.groups must have one entry per neuron ({n}), got shape "
                         f"{group.shape}")
    return group


def gain_chunk(modulation, k0: int, k1: int, dt: float) -> np.ndarray:
    """Gains of steps ``[k0, k1)``, shape (k1 - k0, n_groups); (0, 0) without modulation."""
    if modulation is None:
        return np.zeros((0, 0))
    gain = np.ascontiguousarray(modulation.gain(k0, k1, dt), dtype=np.float64)
    if gain.ndim != 2 or gain.shape[0] != k1 - k0:
        raise ValueError("modulation.gain must return an array (n_steps, n_groups)")
    if not np.all(np.isfinite(gain)) or np.any(gain < 0):
        raise ValueError("modulation gains must be finite and >= 0")
    return gain


def stimulation_arrays(stimulation, n: int, n_steps: int, dt: float):
    """(step, neuron, amplitude) of the pulses, sorted by step; pulses outside the steps
    ``[1, n_steps)`` are dropped with a ``RuntimeWarning`` at the user's call."""
    if stimulation is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    st = np.rint(np.asarray(stimulation.times, float) / dt).astype(np.int64)
    si = np.asarray(stimulation.neurons, np.int64)
    sa = np.asarray(stimulation.amplitudes, float)
    if not (st.shape == si.shape == sa.shape):
        raise ValueError("stimulation times, neurons and amplitudes must have equal length")
    if si.size and (si.min() < 0 or si.max() >= n):
        raise ValueError(f"stimulation targets neuron indices outside [0, {n})")
    order = np.argsort(st, kind="stable")
    st, si, sa = st[order], si[order], sa[order]
    keep = (st >= 1) & (st < n_steps)
    if not keep.all():
        warnings.warn(f"{int((~keep).sum())} stimulation pulse(s) fall outside the simulated "
                      f"steps [dt, duration) = [{dt:g}, {n_steps * dt:g}) s and are not "
                      "delivered", RuntimeWarning, stacklevel=user_stacklevel())
    return st[keep], si[keep], sa[keep]


@nb.njit(inline="always")
def normal_pair(s0, s1, s2, s3):
    """Two independent standard normal deviates (Box–Muller) and the advanced state."""
    x, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
    u1 = ((x >> np.uint64(11)) + np.uint64(1)) * (1.0 / 9007199254740993.0)  # (0, 1]
    x, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
    u2 = (x >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    r = math.sqrt(-2.0 * math.log(u1))
    return r * math.cos(2.0 * math.pi * u2), r * math.sin(2.0 * math.pi * u2), s0, s1, s2, s3


@nb.njit(inline="always")
def poisson_small(lam, exp_neg_lam, s0, s1, s2, s3):
    """Poisson deviate by sequential inversion (normal approximation above lam = 30);
    ``exp_neg_lam`` is ``exp(-lam)``, or a negative number to compute it here."""
    if lam <= 0.0:
        return 0, s0, s1, s2, s3
    if lam < 30.0:
        x, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
        u = (x >> np.uint64(11)) * (1.0 / 9007199254740992.0)
        p = exp_neg_lam if exp_neg_lam >= 0.0 else math.exp(-lam)
        cdf = p
        k = 0
        while u > cdf and k < 1000:
            k += 1
            p *= lam / k
            cdf += p
        return k, s0, s1, s2, s3
    z, _, s0, s1, s2, s3 = normal_pair(s0, s1, s2, s3)
    return max(0, np.int64(math.floor(lam + math.sqrt(lam) * z + 0.5))), s0, s1, s2, s3


def seed_annotation(seed):
    """A JSON-friendly record of the seed."""
    if seed is None or isinstance(seed, int | np.integer):
        return None if seed is None else int(seed)
    return repr(seed)


def finish(spk_step: np.ndarray, spk_idx: np.ndarray, n_spk: int, n: int, dt: float,
           duration: float, ann: dict) -> SpikeTrains:
    """Spike buffers (time-ordered) → :class:`SpikeTrains` with unit id = neuron index."""
    times = spk_step[:n_spk] * dt
    ids = spk_idx[:n_spk].astype(np.int64)
    order = np.argsort(ids, kind="stable")
    counts = np.bincount(ids, minlength=n)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return SpikeTrains(times[order], indptr, np.arange(n), 0.0, duration, ann)
