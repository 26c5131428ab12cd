"""Input design from the SSN: target rates → external inputs, and tracking in spiking networks.

For a target ``(ν_E, ν_I)`` the SSN steady-state equations invert in closed form::

    μ_X = (ν_X / a_X)^{1/n_X} + b_X,        h = μ - W ν

so a slowly varying target trajectory maps to an input trajectory sample by sample
(Ekelmans et al. 2023). The target is a steady state of the SSN under that input; whether
the network settles there depends on its stability (reported) and on the trajectory
varying slowly compared with the population time constants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikewire.theory.mapping import EIPopulations, build_ei_network, lif_to_ssn, scale_populations
from spikewire.theory.ssn import SSN, _analyse, ssn_steady_states

__all__ = ["design_inputs", "PiecewiseInputs", "track_target", "TrackingResult",
           "size_scaling"]


def design_inputs(model: SSN, target_rates) -> dict:
    """External inputs (mV) that make ``target_rates`` SSN steady states.

    Parameters
    ----------
    model : SSN
    target_rates : array_like (T, 2) or (2,)
        Target (ν_E, ν_I) in Hz, >= 0.

    Returns
    -------
    dict
        ``inputs`` (T, 2) mV, ``stable`` (T,) bool: the target is a stable steady state,
        ``unique`` (T,) bool: it is the only stable state (no other attractor to fall into).
    """
    if not isinstance(model, SSN):
        raise TypeError(f"model must be an SSN, got {type(model).__name__}")
    nu = np.atleast_2d(np.asarray(target_rates, float))
    if nu.shape[-1] != 2 or nu.ndim != 2:
        raise ValueError(f"target_rates must have shape (T, 2), got {np.shape(target_rates)}")
    if not np.all(np.isfinite(nu)) or np.any(nu < 0):
        raise ValueError("target rates must be finite and >= 0 Hz")
    mu = (nu / model.a) ** (1.0 / model.n) + model.b
    h = mu - nu @ model.W.T
    _, _, stable, _ = _analyse(model, nu)
    unique = np.array([ssn_steady_states(model, hh, max_rate=1e3).n_stable == 1
                       for hh in h]) & stable
    return {"inputs": h, "stable": stable, "unique": unique}


@dataclass
class PiecewiseInputs:
    """A ``DriveModulation`` for :func:`spikewire.simulate`: input samples held for
    ``sample_dt`` seconds.

    The engine multiplies each neuron's white-noise mean μ by ``gain``; with the network
    built at ``base`` (mV per population), the gain of group X at sample k is
    ``inputs[k, X] / base[X]`` (inputs must keep the sign of ``base``).
    """

    groups: np.ndarray
    inputs: np.ndarray
    base: np.ndarray
    sample_dt: float

    def __post_init__(self):
        g = self.inputs / self.base
        if not np.all(np.isfinite(g)) or np.any(g < 0):
            raise ValueError("designed inputs change sign relative to the base drive; the "
                             "engine can only scale μ by a gain >= 0. Shift b or the target")
        self._gain = g

    def gain(self, step0: int, step1: int, dt: float) -> np.ndarray:
        k = np.minimum((np.arange(step0, step1) * dt / self.sample_dt).astype(np.int64),
                       self._gain.shape[0] - 1)
        return self._gain[k]


@dataclass
class TrackingResult:
    """Outcome of :func:`track_target`.

    ``times`` (s, bin centres), ``target`` and ``measured`` (n_bins, 2) Hz, ``inputs``
    (T, 2) mV, ``rmse`` (2,) Hz, ``relative_error`` (2,) = rmse / mean target,
    ``stable`` fraction of samples where the target is a stable SSN state.
    """

    times: np.ndarray
    target: np.ndarray
    measured: np.ndarray
    inputs: np.ndarray
    rmse: np.ndarray
    relative_error: np.ndarray
    stable: float


def track_target(pops: EIPopulations, target_rates, sample_dt: float, *, bin_width=0.1,
                 transient: float = 0.2, seed: int = 0, dt: float = 1e-4,
                 network=None) -> TrackingResult:
    """Design inputs for a target trajectory, run the spiking network, report the error.

    Parameters
    ----------
    pops : EIPopulations
        The LIF network (its ``mu_ext`` is ignored).
    target_rates : array_like (T, 2)
        Target (ν_E, ν_I) in Hz, one row per ``sample_dt`` seconds.
    sample_dt : float
        Duration (s) each target sample is held; the run lasts ``T · sample_dt``.
    bin_width : float
        Bin (s) over which population rates are measured and compared.
    transient : float
        Initial time (s) excluded from the error.
    network : Network, optional
        A prebuilt network for ``pops`` (built with :func:`build_ei_network` otherwise).
    """
    from spikewire.simulate import simulate

    model = lif_to_ssn(pops)
    target = np.atleast_2d(np.asarray(target_rates, float))
    des = design_inputs(model, target)
    h = des["inputs"]
    base = np.where(np.abs(h).max(axis=0) > 0, h[np.argmax(np.abs(h), axis=0), [0, 1]], 1.0)
    net = network if network is not None else build_ei_network(pops, base, seed=seed, dt=dt)
    groups = (np.asarray(net.cell_type) == "I").astype(np.int64)
    mod = PiecewiseInputs(groups, h, base, float(sample_dt))
    duration = target.shape[0] * sample_dt
    st = simulate(net, duration, dt=dt, seed=seed, modulation=mod)
    counts = st.binned(bin_width)
    counts = counts.toarray() if hasattr(counts, "toarray") else np.asarray(counts)
    ne = pops.n_neurons[0]
    meas = np.stack([counts[:ne].mean(0), counts[ne:].mean(0)], -1) / bin_width
    centers = (np.arange(meas.shape[0]) + 0.5) * bin_width
    k = np.minimum((centers / sample_dt).astype(int), target.shape[0] - 1)
    tgt = target[k]
    keep = centers >= transient
    err = meas[keep] - tgt[keep]
    rmse = np.sqrt(np.mean(err**2, axis=0))
    rel = rmse / np.maximum(tgt[keep].mean(axis=0), 1e-12)
    return TrackingResult(centers, tgt, meas, h, rmse, rel, float(des["stable"].mean()))


def size_scaling(pops: EIPopulations, n_values, mu_ext_bare, *, max_rate: float = 1e3):
    """SSN predictions for network sizes N with 1/√N weights (Ekelmans et al. Fig 6).

    The network ``pops`` (size N₀) is rescaled to each N by :func:`scale_populations`
    (K ∝ N, j ∝ 1/√N) and driven by ``μ_ext = √(N/N₀) · μ_bare`` (feedforward input
    following the same scaling). The balanced limit ``ν = -W⁻¹h`` is N-independent
    because W and h both grow ∝ √N.

    Parameters
    ----------
    n_values : sequence of int
        Network sizes, e.g. ``[4000, 40000, 500000]``.
    mu_ext_bare : array_like (m, 2)
        External inputs before scaling (mV at N₀).

    Returns
    -------
    dict
        ``n`` (k,), ``rates_low`` (k, m, 2) lowest stable SSN rates (0 where none),
        ``n_stable`` (k, m), ``balanced`` (m, 2) balanced-limit rates (0 where they do not
        exist), ``balanced_exists`` (m,), ``balanced_stable`` (bool).
    """
    from spikewire.theory.regimes import balanced_rates

    n0 = sum(pops.n_neurons)
    mu_b = np.atleast_2d(np.asarray(mu_ext_bare, float))
    base = lif_to_ssn(pops)
    out_low = np.zeros((len(n_values), mu_b.shape[0], 2))
    out_n = np.zeros((len(n_values), mu_b.shape[0]), int)
    for i, N in enumerate(n_values):
        p = scale_populations(pops, int(N))
        m = SSN(p.W, base.a, base.b, base.n, base.tau)
        f = np.sqrt(sum(p.n_neurons) / n0)
        for k, h in enumerate(mu_b):
            ss = ssn_steady_states(m, f * h, max_rate=max_rate)
            out_n[i, k] = ss.n_stable
            if ss.n_stable:
                out_low[i, k] = ss.stable_rates[0]
    bal = np.zeros((mu_b.shape[0], 2))
    ex = np.zeros(mu_b.shape[0], bool)
    stable = False
    for k, h in enumerate(mu_b):
        nu, e, s = balanced_rates(base.W, h)
        ex[k] = e
        stable = s or stable
        if e:
            bal[k] = nu
    return {"n": np.asarray(n_values), "rates_low": out_low, "n_stable": out_n,
            "balanced": bal, "balanced_exists": ex, "balanced_stable": bool(base.det > 0)}
