"""Brunel (2000) sparse balanced E/I network of LIF neurons (model A)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from spikewire._validation import check_fraction, check_int, check_positive
from spikewire.core.network import LIFParams, Network, PoissonDrive
from spikewire.core.seeds import seed_repr
from spikewire.networks._connect import as_state, check_memory, fixed_indegree_csc

__all__ = ["brunel", "brunel_threshold_rate"]


def brunel_threshold_rate(theta: float, J: float, c_e: int, tau_m: float) -> float:
    """ν_thr = θ / (J C_E τ_m) in Hz: the external rate that brings the mean input to θ."""
    return theta / (J * c_e * tau_m)


def brunel(n_neurons: int = 12_500, *, epsilon: float = 0.1, g: float = 5.0, eta: float = 2.0,
           J: float = 0.1, delay: float | None = 1.5e-3, tau_m: float = 0.020,
           theta: float = 20.0, v_reset: float = 10.0, tau_ref: float = 0.002,
           tau_syn: float | None = None, excitatory_fraction: float = 0.8,
           seed: int | None = 0, dtype=np.float32, max_memory: float | None = None,
           name: str | None = None) -> Network:
    """Build Brunel's (2000) sparse E/I network with fixed in-degree.

    Parameters
    ----------
    n_neurons : int, default 12500
        Total number of neurons N; ``N_E = round(excitatory_fraction · N)``, ``N_I = N - N_E``.
    epsilon : float, default 0.1
        Connection probability in (0, 1]: each neuron receives ``C_E = ε N_E`` excitatory
        and ``C_I = ε N_I`` inhibitory inputs, drawn without repetition or autapses.
    g : float, default 5.0
        Relative strength of inhibition: I synapses have weight ``-g J``.
    eta : float, default 2.0
        External rate as a multiple of the threshold rate, ``ν_ext = η ν_thr`` with
        ``ν_thr = θ / (J C_E τ_m)``. Each neuron gets ``C_E`` external Poisson inputs of
        weight ``J``.
    J : float, default 0.1
        Excitatory PSP amplitude in mV.
    delay : float or None, default 1.5e-3
        Transmission delay D in s (None: one simulation time step).
    tau_m, theta, v_reset, tau_ref, tau_syn
        Neuron parameters, see :class:`~spikewire.core.LIFParams` (s and mV).
    excitatory_fraction : float, default 0.8
        Fraction of E neurons (Brunel: N_E = 4 N_I).
    seed : int, SeedSequence, Generator or None, default 0
        Root of the ``"network"`` stream (:mod:`spikewire.core.seeds`) that draws the
        connectivity.
    dtype : numpy dtype, default float32
        Storage type of the weights (float32 halves memory for large networks).
    max_memory : float, optional
        Refuse to build if the estimate exceeds this many bytes (default: 90 % of the
        available memory). The error states the estimate.
    name : str, optional

    Returns
    -------
    Network
    """
    n = check_int("n_neurons", n_neurons, minimum=2)
    epsilon = check_fraction("epsilon", epsilon)
    g = check_positive("g", g, allow_zero=True)
    eta = check_positive("eta", eta, allow_zero=True)
    J = check_positive("J", J, unit="mV")
    frac = check_fraction("excitatory_fraction", excitatory_fraction)
    params = LIFParams(tau_m=tau_m, theta=theta, v_reset=v_reset, tau_ref=tau_ref,
                       tau_syn=tau_syn)
    if delay is not None:
        check_positive("delay", delay, unit="s")
    n_e = int(round(frac * n))
    n_i = n - n_e
    if n_e < 1:
        raise ValueError(f"n_neurons={n} with excitatory_fraction={frac} leaves no E neuron")
    c_e = max(int(round(epsilon * n_e)), 1)
    c_i = int(round(epsilon * n_i)) if n_i else 0
    if c_e > n_e - 1 or (n_i and c_i > n_i - 1 and c_i > 0):
        # without autapses a neuron can take at most N_pop - 1 inputs from its own population
        c_e = min(c_e, n_e - 1)
        c_i = min(c_i, max(n_i - 1, 0))
    n_syn = n * (c_e + c_i)
    check_memory(n, n_syn, max_memory, weight_bytes=np.dtype(dtype).itemsize)
    blocks_lo = np.array([0, n_e], dtype=np.int64)
    blocks_hi = np.array([n_e, n], dtype=np.int64)
    blocks_k = np.array([c_e, c_i], dtype=np.int64)
    indptr, indices = fixed_indegree_csc(n, blocks_lo, blocks_hi, blocks_k, n,
                                         as_state(seed), False)
    out_deg = np.diff(indptr)
    data = np.empty(indices.size, dtype=dtype)
    e_syn = int(indptr[n_e])
    data[:e_syn] = J
    data[e_syn:] = -g * J
    del out_deg
    weights = sp.csc_array((data, indices, indptr), shape=(n, n))
    weights.has_sorted_indices = True
    cell_type = np.array(["E"] * n_e + ["I"] * n_i)
    nu_thr = brunel_threshold_rate(theta, J, c_e, tau_m)
    drive = PoissonDrive(rate=eta * nu_thr, n_inputs=c_e, weight=J)
    spec = dict(builder="brunel", n_neurons=n, epsilon=epsilon, g=g, eta=eta, J=J, delay=delay,
                tau_m=tau_m, theta=theta, v_reset=v_reset, tau_ref=tau_ref, tau_syn=tau_syn,
                excitatory_fraction=frac, seed=seed_repr(seed))
    return Network(weights=weights, cell_type=cell_type, delays=delay, params=params,
                   drive=drive, name=name or f"brunel(N={n}, g={g:g}, eta={eta:g})", spec=spec,
                   check_dale=n_syn < 5_000_000)
