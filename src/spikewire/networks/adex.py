"""Conductance-based AdEx networks with log-normal weights and 1–10 ms delays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from spikewire._validation import (
    check_choice,
    check_fraction,
    check_int,
    check_positive,
)
from spikewire.core.network import Network, PoissonDrive
from spikewire.core.neurons import AdExParams
from spikewire.core.seeds import rng as seeded_rng
from spikewire.networks._connect import as_state, fixed_indegree_csc
from spikewire.networks.izhikevich import _check_range, lognormal_weights
from spikewire.networks.scale_free import scale_free_connectivity

__all__ = ["adex"]

# defaults that give E ≈ 3 Hz, I ≈ 20 Hz at N = 1000, epsilon = 0.1 (asynchronous irregular)
_CALIBRATED = {"RS": {"w_exc": 1.0, "drive_rate": (30.0, 30.0)},
               "bursting": {"w_exc": 0.3, "drive_rate": (6.2, 25.0)}}


def adex(n_neurons: int = 1000, *, excitatory_fraction: float = 0.8, epsilon: float = 0.1,
         connectivity: str = "random", excitatory_model: str = "RS",
         w_exc: float | None = None, g: float = 4.0,
         weight_cv: float = 1.0, delay_range: Sequence[float] = (1e-3, 10e-3),
         delay_step: float = 1e-4, drive_rate: float | Sequence[float] | None = None,
         n_drive: int = 100,
         drive_weight: float = 1.0, seed=0, name: str | None = None) -> Network:
    """Sparse E/I network of conductance-based adaptive exponential IF neurons.

    Parameters
    ----------
    n_neurons : int, default 1000
    excitatory_fraction : float, default 0.8
        E neurons come first.
    epsilon : float, default 0.1
        Connection probability: with ``connectivity="random"`` every neuron receives
        ``ε N_E`` E and ``ε N_I`` I inputs (fixed in-degree, no autapses); with
        ``"scale_free"`` a Barabási–Albert pattern with ``m = ε N`` (random directions).
    connectivity : {"random", "scale_free"}, default "random"
    excitatory_model : {"RS", "bursting"}, default "RS"
        :meth:`AdExParams.preset` of the E cells: Brette & Gerstner's (2005) regular
        spiking cell or Naud et al.'s (2008) regular bursting cell. I cells use the
        ``"FS"`` preset.
    w_exc : float, optional
        Mean E conductance increment in nS; default 1.0 (RS) or 0.3 (bursting).
    g : float, default 4.0
        Mean I increment relative to E (I weights are ``-g w_exc`` on average, in nS of
        inhibitory conductance).
    weight_cv : float, default 1.0
        Coefficient of variation of the log-normal weights (0: constant).
    delay_range : (float, float), default (1e-3, 10e-3)
        Delays in s, uniform on the ``delay_step`` grid (both ends included), E and I.
    delay_step : float, default 1e-4
        Grid of the delays in s (simulate with a ``dt`` dividing it).
    drive_rate : float or (float, float), optional
        Rate in Hz of each of the ``n_drive`` external Poisson inputs per neuron, for all
        neurons or (E, I). Default (30, 30) for RS and (6.2, 25) for bursting E cells:
        with the other defaults both give E ≈ 3 Hz, I ≈ 20 Hz, asynchronous irregular
        firing (measured in ``benchmarks/bench_families.py``).
    n_drive : int, default 100
    drive_weight : float, default 1.0
        External conductance increment in nS.
    seed : int, SeedSequence or Generator, default 0
    name : str, optional

    Returns
    -------
    Network
        With per-cell-type :class:`~spikewire.core.neurons.AdExParams`; weights are
        conductance increments in nS (signed by the presynaptic type: Dale's law).
    """
    n = check_int("n_neurons", n_neurons, minimum=2)
    frac = check_fraction("excitatory_fraction", excitatory_fraction)
    epsilon = check_fraction("epsilon", epsilon)
    check_choice("connectivity", connectivity, {"random", "scale_free"})
    check_choice("excitatory_model", excitatory_model, {"RS", "bursting"})
    calibrated = _CALIBRATED[excitatory_model]
    w_exc = check_positive("w_exc", calibrated["w_exc"] if w_exc is None else w_exc, unit="nS")
    if drive_rate is None:
        drive_rate = calibrated["drive_rate"]
    g = check_positive("g", g, allow_zero=True)
    weight_cv = check_positive("weight_cv", weight_cv, allow_zero=True)
    delay_step = check_positive("delay_step", delay_step, unit="s")
    delay_range = _check_range("delay_range", delay_range, delay_step)
    if isinstance(drive_rate, Sequence):
        if len(drive_rate) != 2:
            raise ValueError(f"drive_rate must be a rate or (rate_E, rate_I) in Hz, got "
                             f"{drive_rate!r}")
        rate_e, rate_i = (check_positive("drive_rate", x, allow_zero=True, unit="Hz")
                          for x in drive_rate)
    else:
        rate_e = rate_i = check_positive("drive_rate", drive_rate, allow_zero=True, unit="Hz")
    n_drive = check_int("n_drive", n_drive, minimum=0)
    drive_weight = check_positive("drive_weight", drive_weight, unit="nS")
    n_e = int(round(frac * n))
    n_i = n - n_e
    if n_e < 2:
        raise ValueError(f"n_neurons={n} with excitatory_fraction={frac} leaves < 2 E neurons")
    rng = seeded_rng(seed, "network")
    if connectivity == "random":
        c_e = min(max(int(round(epsilon * n_e)), 1), n_e - 1)
        c_i = min(int(round(epsilon * n_i)), max(n_i - 1, 0))
        indptr, indices = fixed_indegree_csc(n, [0, n_e], [n_e, n], [c_e, c_i], n,
                                             as_state(rng), False)
        indptr = indptr.astype(np.int64)
    else:
        m = max(int(round(epsilon * n)), 1)
        if m >= n:
            raise ValueError(f"epsilon={epsilon} gives BA m={m} >= n_neurons={n}")
        pattern = scale_free_connectivity(n, m, direction="random", seed=rng)
        indptr, indices = pattern.indptr.astype(np.int64), pattern.indices
    pre = np.repeat(np.arange(n), np.diff(indptr))
    exc_syn = pre < n_e
    data = lognormal_weights(np.where(exc_syn, w_exc, -g * w_exc), weight_cv, rng)
    lo, hi = (int(round(x / delay_step)) for x in delay_range)
    delays = rng.integers(lo, hi + 1, size=data.size) * delay_step
    weights = sp.csc_array((data, np.asarray(indices).copy(), indptr), shape=(n, n))
    params = {"E": AdExParams.preset(excitatory_model)}
    if n_i:
        params["I"] = AdExParams.preset("FS")
    drive = PoissonDrive(rate=np.where(np.arange(n) < n_e, rate_e, rate_i), n_inputs=n_drive,
                         weight=drive_weight)
    spec = dict(builder="adex", n_neurons=n, excitatory_fraction=frac, epsilon=epsilon,
                connectivity=connectivity, excitatory_model=excitatory_model,
                w_exc=w_exc, g=g, weight_cv=weight_cv,
                delay_range=list(delay_range), delay_step=delay_step,
                drive_rate=list(drive_rate) if isinstance(drive_rate, Sequence) else drive_rate,
                n_drive=n_drive, drive_weight=drive_weight,
                seed=seed if isinstance(seed, int | None) else repr(seed))
    return Network(weights=weights, cell_type=np.array(["E"] * n_e + ["I"] * n_i),
                   delays=delays, params=params, drive=drive,
                   name=name or f"adex(N={n}, {excitatory_model}, {connectivity})", spec=spec)
