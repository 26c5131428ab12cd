"""Asynchronous simulation of binary (σ ∈ {0, 1}) networks.

Each neuron is updated at the event times of its own Poisson process of rate ``1/τ_i``:
``σ_i ← Θ(h_i − θ_i)`` with ``h_i = Σ_j J_ij σ_j + external_i`` and ``Θ(0) = 0``. The
superposition of all neurons' clocks is simulated exactly in continuous time by thinning:
events at total rate ``N / τ_min``, a uniformly chosen neuron, accepted with probability
``τ_min / τ_i``. Inputs are maintained incrementally: when ``σ_j`` changes, the column
``j`` of the weight matrix is added to (or subtracted from) ``h``, so an update costs O(1)
and a state change O(out-degree).

Spike trains of a binary network are its **up-transitions** (0 → 1), the closest analogue
of a spike; down-transitions are kept in :class:`BinaryActivity`. Together with the
initial state they determine the whole state trajectory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

import spikewire.core.jit  # noqa: F401  (numba cache folder, before any @njit)
from spikewire._validation import check_positive
from spikewire.core.rng import new_state, randbelow, uniform
from spikewire.core.seeds import rng as seeded_rng
from spikewire.core.seeds import seed_repr
from spikewire.core.spiketrains import SpikeTrains

__all__ = ["BinaryActivity", "simulate_binary"]

_TIE = 1e-9  # same as spikewire.core.binary.TIE_TOLERANCE


@dataclass(eq=False)
class BinaryActivity:
    """State information of a binary-network run.

    Attributes
    ----------
    sample_times : ndarray (n_samples,)
        Times (s) at which the population activities were sampled.
    mean_activity : ndarray (n_samples, n_populations)
        Fraction of active neurons per population (columns in ``populations`` order).
    populations : tuple of str
        Population labels (``("E", "I")``).
    initial_state, final_state : ndarray of uint8 (N,)
        σ at t = 0 and at the end of the run.
    down : SpikeTrains
        Down-transition (1 → 0) times per neuron.
    n_updates : int
        Number of accepted updates (≈ Σ_i duration / τ_i).
    """

    sample_times: np.ndarray
    mean_activity: np.ndarray
    populations: tuple
    initial_state: np.ndarray
    final_state: np.ndarray
    down: SpikeTrains
    n_updates: int

    def time_average(self, t_min: float = 0.0) -> np.ndarray:
        """Mean activity of each population over samples at times >= ``t_min`` (s)."""
        keep = self.sample_times >= t_min
        if not keep.any():
            raise ValueError(f"no samples at or after t_min = {t_min} s")
        return self.mean_activity[keep].mean(axis=0)

    def state_at(self, t: float, up: SpikeTrains) -> np.ndarray:
        """σ of every neuron at time ``t`` (s), reconstructed from the transitions.

        ``up`` is the SpikeTrains returned by :func:`simulate_binary` for the same run.
        """
        state = self.initial_state.astype(np.int64).copy()
        n_up = np.array([np.searchsorted(up.train(k), t, side="right")
                         for k in range(up.n_units)])
        n_down = np.array([np.searchsorted(self.down.train(k), t, side="right")
                           for k in range(self.down.n_units)])
        return (state + n_up - n_down).astype(np.uint8)


@nb.njit(cache=True, nogil=True)
def _binary_events(t, t_stop, sigma, h, thr, accept, total_rate,
                   col_ptr, row_idx, w, pop, counts,
                   sample_dt, samples, n_samp,
                   rng, up_t, up_i, n_up, down_t, down_i, n_down, n_acc):
    """Process update events from time ``t`` (the next, already drawn event) to ``t_stop``.

    Returns ``(t_next, n_samp, n_up, n_down, n_acc)``; stops early (``t_next < t_stop``)
    when a transition buffer is full.
    """
    N = sigma.shape[0]
    cap_up = up_t.shape[0]
    cap_down = down_t.shape[0]
    n_pop = counts.shape[0]
    while t < t_stop:
        if n_up >= cap_up or n_down >= cap_down:
            return t, n_samp, n_up, n_down, n_acc
        # population samples strictly before this event
        while n_samp < samples.shape[0] and n_samp * sample_dt < t:
            for p in range(n_pop):
                samples[n_samp, p] = counts[p]
            n_samp += 1
        i = randbelow(rng, N)
        ok = True
        if accept[i] < 1.0:
            ok = uniform(rng) < accept[i]
        if ok:
            n_acc += 1
            new = 1 if h[i] - thr[i] > _TIE else 0
            if new != sigma[i]:
                sigma[i] = new
                if new == 1:
                    counts[pop[i]] += 1
                    up_t[n_up] = t
                    up_i[n_up] = i
                    n_up += 1
                    for s in range(col_ptr[i], col_ptr[i + 1]):
                        h[row_idx[s]] += w[s]
                else:
                    counts[pop[i]] -= 1
                    down_t[n_down] = t
                    down_i[n_down] = i
                    n_down += 1
                    for s in range(col_ptr[i], col_ptr[i + 1]):
                        h[row_idx[s]] -= w[s]
        u = uniform(rng)
        t += -math.log(1.0 - u) / total_rate
    while n_samp < samples.shape[0] and n_samp * sample_dt < t_stop:
        for p in range(n_pop):
            samples[n_samp, p] = counts[p]
        n_samp += 1
    return t, n_samp, n_up, n_down, n_acc


def simulate_binary(network, duration: float, *, seed: int | None = 0,
                    initial_state: str | float | np.ndarray = "balanced",
                    sample_interval: float | None = None, return_activity: bool = False):
    """Simulate a binary network with asynchronous Poisson-timed updates.

    Parameters
    ----------
    network : BinaryNetwork
        E.g. from :func:`spikewire.networks.binary_balanced` (weights post × pre,
        per-neuron ``threshold``, ``tau`` (s) and ``external`` input).
    duration : float
        Time to simulate in s.
    seed : int or None, default 0
        Seed of the ``numpy.random.Generator`` behind every random draw (initial state,
        update times, neuron choice). Same network and seed give bit-identical output.
    initial_state : "balanced", float in [0, 1] or array of {0, 1}, default "balanced"
        Each neuron starts active with the given probability: ``"balanced"`` uses the
        network's linear balanced-state prediction ``spec["m_linear"]`` per population
        (clipped to [0.01, 0.99]; 0.5 if absent); a float uses that probability for all; an
        array gives σ(0) directly.
    sample_interval : float, optional
        Sampling interval (s) of the population activities; default ``min(τ)/10``.
    return_activity : bool, default False
        Also return a :class:`BinaryActivity` (population activity time series, initial
        and final states, down-transitions).

    Returns
    -------
    SpikeTrains or (SpikeTrains, BinaryActivity)
        Up-transition (0 → 1) times per neuron (unit id = neuron index) in ``[0,
        duration)``, in continuous time (not on a grid).
    """
    from spikewire.core.binary import BinaryNetwork

    if not isinstance(network, BinaryNetwork):
        raise TypeError("simulate_binary needs a BinaryNetwork (e.g. from "
                        f"spikewire.networks.binary_balanced), got {type(network).__name__}")
    duration = check_positive("duration", duration, unit="s")
    n = network.n_neurons
    tau = network.tau
    tau_min = float(tau.min())
    if sample_interval is None:
        sample_interval = tau_min / 10
    sample_interval = check_positive("sample_interval", sample_interval, unit="s")
    n_samples = int(math.ceil(duration / sample_interval - 1e-9))
    if n_samples > 50_000_000:
        raise ValueError(f"sample_interval = {sample_interval:g} s gives {n_samples} samples; "
                         "use a coarser interval")
    rng = seeded_rng(seed, "simulation")
    is_i = ~network.is_excitatory
    pop = is_i.astype(np.int64)

    if isinstance(initial_state, str):
        if initial_state != "balanced":
            raise ValueError("initial_state must be 'balanced', a probability in [0, 1] or an "
                             f"array of 0/1, got {initial_state!r}")
        m = np.asarray(network.spec.get("m_linear", [0.5, 0.5]), dtype=float)
        p_on = np.clip(np.where(is_i, m[1], m[0]), 0.01, 0.99)
        sigma = (rng.random(n) < p_on).astype(np.uint8)
    elif np.ndim(initial_state) == 0:
        p = float(initial_state)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"initial_state probability must lie in [0, 1], got {p!r}")
        sigma = (rng.random(n) < p).astype(np.uint8)
    else:
        s0 = np.asarray(initial_state)
        if s0.shape != (n,) or not np.all((s0 == 0) | (s0 == 1)):
            raise ValueError(f"initial_state array must hold {n} values in {{0, 1}}")
        sigma = s0.astype(np.uint8)
    init = sigma.copy()

    w = network.weights
    col_ptr = w.indptr.astype(np.int64)
    row_idx = w.indices.astype(np.int32)
    data = w.data.astype(np.float64)
    h = network.external + w @ sigma.astype(np.float64)
    counts = np.bincount(pop[sigma == 1], minlength=2).astype(np.int64)
    accept = tau_min / tau
    total_rate = n / tau_min
    samples = np.zeros((n_samples, 2), dtype=np.int64)
    state = new_state(rng)

    # expected transitions: at most one per accepted update
    cap = int(min(max(1024, 0.6 * n * duration / tau_min + 10 * n), 20_000_000))
    up_t = np.empty(cap)
    up_i = np.empty(cap, dtype=np.int32)
    down_t = np.empty(cap)
    down_i = np.empty(cap, dtype=np.int32)
    n_up = n_down = n_samp = n_acc = 0
    t = -math.log(1.0 - float(rng.random())) / total_rate
    while True:
        t, n_samp, n_up, n_down, n_acc = _binary_events(
            t, duration, sigma, h, network.threshold, accept, total_rate, col_ptr, row_idx,
            data, pop, counts, sample_interval, samples, n_samp, state,
            up_t, up_i, n_up, down_t, down_i, n_down, n_acc)
        if t >= duration:
            break
        if n_up >= up_t.size:
            up_t = np.concatenate([up_t, np.empty_like(up_t)])
            up_i = np.concatenate([up_i, np.empty_like(up_i)])
        if n_down >= down_t.size:
            down_t = np.concatenate([down_t, np.empty_like(down_t)])
            down_i = np.concatenate([down_i, np.empty_like(down_i)])

    ann = {"engine": "binary", "seed": seed_repr(seed), "duration": duration,
           "network": network.name, "events": "up-transitions (0 -> 1)"}
    up = _to_trains(up_t[:n_up], up_i[:n_up], n, duration, ann)
    if not return_activity:
        return up
    sizes = np.array([np.sum(~is_i), np.sum(is_i)], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_act = samples[:n_samp] / np.where(sizes > 0, sizes, np.nan)
    act = BinaryActivity(
        sample_times=np.arange(n_samp) * sample_interval, mean_activity=mean_act,
        populations=("E", "I"), initial_state=init, final_state=sigma.copy(),
        down=_to_trains(down_t[:n_down], down_i[:n_down], n, duration,
                        dict(ann, events="down-transitions (1 -> 0)")),
        n_updates=int(n_acc))
    return up, act


def _to_trains(times, ids, n, duration, ann) -> SpikeTrains:
    ids = ids.astype(np.int64)
    order = np.argsort(ids, kind="stable")  # events are in time order already
    counts = np.bincount(ids, minlength=n)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return SpikeTrains(times[order], indptr, np.arange(n), 0.0, duration, ann)
