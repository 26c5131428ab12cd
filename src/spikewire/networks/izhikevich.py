"""Izhikevich networks: regular-spiking E, fast-spiking I, heterogeneous axonal delays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from spikewire._validation import (
    check_choice,
    check_finite,
    check_fraction,
    check_int,
    check_positive,
)
from spikewire.core.network import Network, PoissonDrive, WhiteNoiseDrive
from spikewire.core.neurons import IzhikevichParams
from spikewire.core.seeds import rng as seeded_rng
from spikewire.networks.scale_free import scale_free_connectivity

__all__ = ["izhikevich", "izhikevich_params", "lognormal_weights", "random_delays"]


def izhikevich_params(cell_type: np.ndarray, heterogeneous: bool, rng: np.random.Generator
                      ) -> IzhikevichParams:
    """Per-neuron Izhikevich parameters: RS for E, FS for I.

    Without heterogeneity: E a=0.02, b=0.2, c=-65, d=8 and I a=0.1, b=0.2, c=-65, d=2
    (Izhikevich 2006). With it, Izhikevich (2003): with ``r`` uniform in [0, 1) per
    neuron, E c = -65 + 15 r², d = 8 - 6 r² (RS to chattering) and I a = 0.02 + 0.08 r,
    b = 0.25 - 0.05 r (LTS to FS).
    """
    exc = np.asarray(cell_type) == "E"
    n = exc.size
    a = np.where(exc, 0.02, 0.1)
    b = np.full(n, 0.2)
    c = np.full(n, -65.0)
    d = np.where(exc, 8.0, 2.0)
    if heterogeneous:
        r = rng.random(n)
        c = np.where(exc, -65.0 + 15.0 * r**2, -65.0)
        d = np.where(exc, 8.0 - 6.0 * r**2, 2.0)
        a = np.where(exc, 0.02, 0.02 + 0.08 * r)
        b = np.where(exc, 0.2, 0.25 - 0.05 * r)
    return IzhikevichParams(a=a, b=b, c=c, d=d)


def lognormal_weights(mean: np.ndarray, cv: float, rng: np.random.Generator) -> np.ndarray:
    """Log-normal magnitudes with the given means (signed like ``mean``) and coefficient of
    variation ``cv`` (``cv = 0`` returns ``mean``)."""
    mean = np.asarray(mean, dtype=float)
    if cv == 0:
        return mean.copy()
    s2 = np.log1p(cv**2)
    mag = np.abs(mean) * np.exp(rng.normal(-s2 / 2, np.sqrt(s2), size=mean.shape))
    return np.sign(mean) * mag


def random_delays(is_exc_synapse: np.ndarray, delay_range: Sequence[float],
                  inhibitory_delay: float, delay_step: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Per-synapse delays in s: E synapses uniform on the grid ``delay_step`` within
    ``delay_range`` (both ends included), I synapses ``inhibitory_delay``."""
    lo, hi = (int(round(x / delay_step)) for x in delay_range)
    steps = rng.integers(lo, hi + 1, size=is_exc_synapse.size)
    return np.where(is_exc_synapse, steps * delay_step, inhibitory_delay)


def _check_range(name: str, value, step: float) -> tuple[float, float]:
    if not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (min, max) in s, got {value!r}")
    lo, hi = (check_positive(name, x, unit="s") for x in value)
    if hi < lo:
        raise ValueError(f"{name} must be (min, max) with min <= max, got {value!r}")
    for x in (lo, hi):
        if abs(x / step - round(x / step)) > 1e-6 or round(x / step) < 1:
            raise ValueError(f"{name} {value!r} must hold multiples of delay_step = "
                             f"{step:g} s (at least one step)")
    return lo, hi


def izhikevich(n_neurons: int = 1000, *, excitatory_fraction: float = 0.8,
               connectivity: str = "random", out_degree: int = 100,
               inhibitory_targets: str = "E", w_exc: float = 6.0, w_inh: float = -5.0,
               weight_cv: float = 0.0, delay_range: Sequence[float] = (1e-3, 20e-3),
               inhibitory_delay: float = 1e-3, delay_step: float = 1e-3,
               heterogeneous: bool = False, drive: str = "poisson",
               drive_rate: float | None = None, drive_weight: float = 20.0,
               noise_sigma: Sequence[float] = (5.0, 2.0), seed=0,
               name: str | None = None) -> Network:
    """Izhikevich network with RS excitatory, FS inhibitory neurons and 1–20 ms delays.

    Defaults follow Izhikevich's (2006) polychronization network without plasticity:
    1,000 neurons (800 E, 200 I), 100 outgoing synapses per neuron, E synapses onto any
    neuron with delays of 1–20 ms, I synapses onto E neurons only with 1 ms delays, and a
    thalamic input of one random pulse of 20 per ms across the network.

    Parameters
    ----------
    n_neurons : int, default 1000
    excitatory_fraction : float, default 0.8
        E neurons come first (indices ``0 … N_E - 1``).
    connectivity : {"random", "scale_free"}, default "random"
        ``"random"``: each neuron projects to ``out_degree`` distinct random targets (no
        autapses; I only onto E unless ``inhibitory_targets="all"``). ``"scale_free"``:
        Barabási–Albert pattern (:func:`scale_free_connectivity` with ``m = out_degree``,
        random edge directions): mean in- and out-degree ``≈ out_degree``, heavy tails
        (I -> I edges dropped unless ``inhibitory_targets="all"``).
    out_degree : int, default 100
        Outgoing synapses per neuron (random) or BA edges per node (scale-free).
    inhibitory_targets : {"E", "all"}, default "E"
        Targets of I neurons.
    w_exc, w_inh : float, default 6.0 and -5.0
        Mean E (> 0) and I (< 0) weights: current pulses in the model's units (a 1 ms
        pulse; the target's ``v`` jumps by about ``w`` mV).
    weight_cv : float, default 0.0
        Coefficient of variation of log-normal weights around those means (0: constant).
    delay_range : (float, float), default (1e-3, 20e-3)
        E delays in s, uniform on the ``delay_step`` grid, both ends included.
    inhibitory_delay : float, default 1e-3
        Delay of every I synapse in s.
    delay_step : float, default 1e-3
        Grid of the delays in s; simulate with a ``dt`` that divides it.
    heterogeneous : bool, default False
        Izhikevich (2003) per-neuron heterogeneity (see :func:`izhikevich_params`): E
        cells range from regular spiking to chattering (bursting), I cells from LTS to FS.
    drive : {"poisson", "noise"}, default "poisson"
        ``"poisson"``: pulses of ``drive_weight`` at ``drive_rate`` Hz per neuron
        (default ``1000 / N`` Hz: one pulse per ms across the network, Izhikevich 2006).
        ``"noise"``: thalamic noise current with 1 ms standard deviations ``noise_sigma``
        (E, I) = (5, 2) (Izhikevich 2003).
    drive_rate : float, optional
        Poisson pulse rate per neuron in Hz.
    drive_weight : float, default 20.0
        Amplitude of a thalamic pulse (model units ≈ mV jump).
    noise_sigma : (float, float), default (5.0, 2.0)
    seed : int, SeedSequence or Generator, default 0
        Seeds connectivity, weights, delays and heterogeneity.
    name : str, optional

    Returns
    -------
    Network
        With :class:`~spikewire.core.neurons.IzhikevichParams` (per neuron) and
        per-synapse delays; simulate with :func:`spikewire.simulate` (default dt = 1 ms).
    """
    n = check_int("n_neurons", n_neurons, minimum=2)
    frac = check_fraction("excitatory_fraction", excitatory_fraction)
    check_choice("connectivity", connectivity, {"random", "scale_free"})
    check_choice("inhibitory_targets", inhibitory_targets, {"E", "all"})
    check_choice("drive", drive, {"poisson", "noise"})
    k_out = check_int("out_degree", out_degree, minimum=1)
    w_exc = check_positive("w_exc", w_exc)
    w_inh = check_finite("w_inh", w_inh)
    if w_inh > 0:
        raise ValueError(f"w_inh must be <= 0 (Dale's law: I synapses inhibit), got {w_inh}")
    weight_cv = check_positive("weight_cv", weight_cv, allow_zero=True)
    delay_step = check_positive("delay_step", delay_step, unit="s")
    delay_range = _check_range("delay_range", delay_range, delay_step)
    inhibitory_delay = check_positive("inhibitory_delay", inhibitory_delay, unit="s")
    _check_range("inhibitory_delay", (inhibitory_delay, inhibitory_delay), delay_step)
    drive_weight = check_finite("drive_weight", drive_weight)
    n_e = int(round(frac * n))
    n_i = n - n_e
    if n_e < 1:
        raise ValueError(f"n_neurons={n} with excitatory_fraction={frac} leaves no E neuron")
    rng = seeded_rng(seed, "network")
    cell_type = np.array(["E"] * n_e + ["I"] * n_i)

    if connectivity == "random":
        if k_out > n - 1 or (inhibitory_targets == "E" and n_i and k_out > n_e):
            raise ValueError(f"out_degree={k_out} exceeds the available targets "
                             f"(N - 1 = {n - 1}, N_E = {n_e} for I -> E)")
        posts = np.empty((n, k_out), dtype=np.int64)
        for j in range(n):
            if j >= n_e and inhibitory_targets == "E":
                posts[j] = rng.choice(n_e, size=k_out, replace=False)
            else:
                t = rng.choice(n - 1, size=k_out, replace=False)
                posts[j] = t + (t >= j)  # skip the autapse
        posts.sort(axis=1)
        indptr = np.arange(0, n * k_out + 1, k_out, dtype=np.int64)
        pattern = sp.csc_array((np.ones(n * k_out, bool), posts.ravel(), indptr),
                               shape=(n, n))
    else:
        if k_out >= n:
            raise ValueError(f"out_degree (BA m) = {k_out} must be below n_neurons = {n}")
        pattern = scale_free_connectivity(n, k_out, direction="random", seed=rng)
        if inhibitory_targets == "E" and n_i:  # no I -> I synapses, as in random connectivity
            col = np.repeat(np.arange(n), np.diff(pattern.indptr))
            pattern.data[(col >= n_e) & (pattern.indices >= n_e)] = False
            pattern.eliminate_zeros()
    pre = np.repeat(np.arange(n), np.diff(pattern.indptr))
    exc_syn = pre < n_e
    data = lognormal_weights(np.where(exc_syn, w_exc, w_inh), weight_cv, rng)
    delays = random_delays(exc_syn, delay_range, inhibitory_delay, delay_step, rng)
    weights = sp.csc_array((data, pattern.indices.copy(), pattern.indptr.copy()),
                           shape=(n, n))
    params = izhikevich_params(cell_type, heterogeneous, rng)
    if drive == "poisson":
        rate = 1000.0 / n if drive_rate is None else check_positive("drive_rate", drive_rate,
                                                                     allow_zero=True, unit="Hz")
        ext = PoissonDrive(rate=rate, n_inputs=1, weight=drive_weight)
    else:
        if not isinstance(noise_sigma, Sequence) or len(noise_sigma) != 2:
            raise ValueError(f"noise_sigma must be (sigma_E, sigma_I), got {noise_sigma!r}")
        s_e, s_i = (check_positive("noise_sigma", s, allow_zero=True) for s in noise_sigma)
        ext = WhiteNoiseDrive(mu=0.0, sigma=np.where(cell_type == "E", s_e, s_i))
    spec = dict(builder="izhikevich", n_neurons=n, excitatory_fraction=frac,
                connectivity=connectivity, out_degree=k_out,
                inhibitory_targets=inhibitory_targets, w_exc=w_exc, w_inh=w_inh,
                weight_cv=weight_cv, delay_range=list(delay_range),
                inhibitory_delay=inhibitory_delay, delay_step=delay_step,
                heterogeneous=bool(heterogeneous), drive=drive, drive_rate=drive_rate,
                drive_weight=drive_weight, noise_sigma=list(noise_sigma),
                seed=seed if isinstance(seed, int | None) else repr(seed))
    return Network(weights=weights, cell_type=cell_type, delays=delays, params=params,
                   drive=ext, name=name or f"izhikevich(N={n}, {connectivity})", spec=spec)
