"""Brunel's (2000) sparse E/I network: stationary rates, simulated regimes, spike statistics.

Model A (identical E and I neurons): each neuron receives ``C_E`` excitatory inputs of
weight J, ``C_I = γ C_E`` inhibitory ones of weight ``-gJ`` and ``C_ext = C_E`` external
Poisson inputs at rate ``ν_ext = η ν_thr``, ``ν_thr = θ/(J C_E τ)``. In the diffusion
approximation the stationary rate solves ``ν = Φ(μ(ν), σ(ν))`` with::

    μ = C_E J τ [ν_ext + ν (1 - gγ)],      σ² = C_E J² τ [ν_ext + ν (1 + g²γ)]

(:func:`brunel_stationary_rates`). Whether that state is asynchronous-irregular (AI),
synchronous-irregular (SI) or synchronous-regular (SR) is read off simulations
(:func:`brunel_regime_sweep`) with a spike-count synchrony measure and the ISI CV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikewire.core.spike_stats import isi_cv  # re-exported: the one ISI-CV convention
from spikewire.theory.transfer import lif_rate

__all__ = ["BrunelRates", "brunel_stationary_rates", "synchrony", "isi_cv", "balance_factor",
           "classify_activity", "brunel_regime_sweep", "plot_brunel_diagram"]


@dataclass
class BrunelRates:
    """Stationary solutions of the Brunel self-consistency.

    Attributes
    ----------
    rates : ndarray (..., 3)
        Solutions in Hz, ascending; only the first ``n_solutions`` entries of the last axis
        are solutions (the rest are 0, see ``valid``).
    n_solutions : int ndarray
        Number of solutions (1 or 3; Siegert is bounded so at least one always exists).
    valid : bool ndarray (..., 3)
    stable : bool ndarray (..., 3)
        Stable under the rate dynamics ``τ dν/dt = -ν + Φ`` (slope of Φ - ν negative).
        Oscillatory instabilities of the spiking network are not covered: see
        :func:`brunel_regime_sweep`.
    """

    rates: np.ndarray
    n_solutions: np.ndarray
    valid: np.ndarray
    stable: np.ndarray

    @property
    def low(self) -> np.ndarray:
        """Lowest solution (Hz)."""
        return self.rates[..., 0]

    @property
    def high(self) -> np.ndarray:
        """Highest solution (Hz)."""
        idx = np.maximum(self.n_solutions - 1, 0)
        return np.take_along_axis(self.rates, idx[..., None], -1)[..., 0]


def brunel_stationary_rates(g, eta, *, J: float = 0.1, C_E: int = 1000, gamma: float = 0.25,
                            tau_m: float = 0.020, theta: float = 20.0, v_reset: float = 10.0,
                            tau_ref: float = 0.002, n_grid: int = 200,
                            tau_syn: float | None = None) -> BrunelRates:
    """All stationary rates of Brunel's model A over arrays of g and η = ν_ext/ν_thr.

    Parameters
    ----------
    g : array_like
        Relative inhibition strength (broadcast with ``eta``).
    eta : array_like
        External rate in units of the threshold rate ν_thr (>= 0).
    J : float, default 0.1
        EPSP amplitude in mV.
    C_E : int, default 1000
        Excitatory in-degree (= external in-degree).
    gamma : float, default 0.25
        C_I / C_E.
    tau_m, theta, v_reset, tau_ref
        Neuron parameters (s, mV).
    n_grid : int, default 200
        Log grid over (1e-6 Hz, 1/τ_ref) used to bracket solutions.
    tau_syn : float, optional
        Exponential synapses of time constant τ_s (s), same PSP area as the delta synapses:
        the rates use the colored-noise Siegert rate (:func:`lif_rate` with ``tau_syn``).

    Returns
    -------
    BrunelRates
    """
    g, eta = np.broadcast_arrays(np.asarray(g, float), np.asarray(eta, float))
    if np.any(~np.isfinite(g)) or np.any(g < 0):
        raise ValueError("g must be finite and >= 0")
    if np.any(~np.isfinite(eta)) or np.any(eta < 0):
        raise ValueError("eta must be finite and >= 0 (external rate / threshold rate)")
    if J <= 0 or C_E < 1 or gamma < 0:
        raise ValueError(f"need J > 0 mV, C_E >= 1 and gamma >= 0; got J={J}, C_E={C_E}, "
                         f"gamma={gamma}")
    lif_rate(0.0, 1.0, tau_m, theta, v_reset, tau_ref,
             tau_syn=tau_syn)  # validates neuron parameters
    shape = g.shape
    gf, ef = g.ravel(), eta.ravel()
    nu_thr = theta / (J * C_E * tau_m)
    nu_ext = ef * nu_thr
    cap = 1.0 / tau_ref if tau_ref > 0 else 1e4
    grid = np.concatenate([[0.0], np.geomspace(1e-6, cap, n_grid)])

    def resid(nu, i):
        mu = C_E * J * tau_m * (nu_ext[i] + nu * (1 - gf[i] * gamma))
        s2 = C_E * J * J * tau_m * (nu_ext[i] + nu * (1 + gf[i] ** 2 * gamma))
        return lif_rate(mu, np.sqrt(s2), tau_m, theta, v_reset, tau_ref, tau_syn=tau_syn) - nu

    P = gf.size
    pts = np.repeat(np.arange(P), grid.size)
    H = resid(np.tile(grid, P), pts).reshape(P, grid.size)
    a, b = H[:, :-1], H[:, 1:]
    r, k = np.nonzero((a > 0) & (b <= 0) | (a < 0) & (b >= 0))
    # Φ(μ_ext) can underflow to exactly 0: then ν = 0 is itself a (quiescent) solution
    quiet = np.flatnonzero(H[:, 0] <= 0)
    r, k = np.concatenate([quiet, r]), np.concatenate([np.full(quiet.size, -1), k])
    order = np.lexsort((k, r))
    r, k = r[order], k[order]
    lo = np.where(k >= 0, grid[np.maximum(k, 0)], 0.0)
    hi = np.where(k >= 0, grid[np.maximum(k, 0) + 1], 0.0)
    hlo = np.where(k >= 0, H[r, np.maximum(k, 0)], 1.0)
    for _ in range(55):
        mid = 0.5 * (lo + hi)
        hm = resid(mid, r)
        same = np.sign(hm) == np.sign(hlo)
        lo = np.where(same, mid, lo)
        hlo = np.where(same, hm, hlo)
        hi = np.where(same, hi, mid)
    roots = 0.5 * (lo + hi)
    slope_down = hlo > 0   # Φ - ν goes from + to -: stable under rate dynamics
    rates = np.zeros((P, 3))
    valid = np.zeros((P, 3), bool)
    stable = np.zeros((P, 3), bool)
    count = np.zeros(P, int)
    for pt, x, st in zip(r, roots, slope_down, strict=True):  # at most 3 per point
        c = count[pt]
        if c < 3:
            rates[pt, c], valid[pt, c], stable[pt, c] = x, True, st
        count[pt] += 1
    return BrunelRates(rates.reshape(shape + (3,)), np.minimum(count, 3).reshape(shape),
                       valid.reshape(shape + (3,)), stable.reshape(shape + (3,)))


# ------------------------------------------------------------------ spike statistics

def _spiketrains(spikes):
    from spikewire.core.spiketrains import SpikeTrains

    if not isinstance(spikes, SpikeTrains):
        raise TypeError(f"spikes must be a spikewire SpikeTrains, got {type(spikes).__name__}")
    return spikes


def synchrony(spikes, *, bin_width: float = 2e-3, units=None) -> float:
    """Golomb–Hansel synchrony χ from binned spike counts.

    ``χ² = Var_t(mean_i c_i(t)) / mean_i Var_t(c_i(t))``: about ``1/√N`` for independent
    neurons, 1 for perfect synchrony.
    """
    st = _spiketrains(spikes)
    if units is not None:
        st = st.select(np.asarray(units))
    c = st.binned(bin_width)
    c = c.toarray() if hasattr(c, "toarray") else np.asarray(c)
    c = c.astype(float)
    single = c.var(axis=1)
    denom = single.mean()
    if denom <= 0:
        return 0.0
    return float(np.sqrt(c.mean(axis=0).var() / denom))


def classify_activity(spikes, *, bin_width: float = 2e-3, sync_threshold: float | None = None,
                      cv_threshold: float = 0.5, min_spikes: int = 3) -> dict:
    """Label activity as SR / SI / AI (or "AR", asynchronous regular; "silent").

    Synchronous if χ exceeds ``sync_threshold`` (default ``max(0.1, 5/√N)``, i.e. well above
    the ``1/√N`` of independent neurons); regular if the mean ISI CV is below
    ``cv_threshold``.

    Returns
    -------
    dict with ``rate`` (Hz), ``cv``, ``synchrony``, ``regime``.
    """
    st = _spiketrains(spikes)
    dur = st.t_stop - st.t_start
    counts = st.counts()
    rate = float(counts.mean() / dur) if st.n_units else 0.0
    active = counts >= min_spikes
    if not active.any():
        return {"rate": rate, "cv": 0.0, "synchrony": 0.0, "regime": "silent"}
    cv = float(np.nanmean(isi_cv(st, min_spikes=max(min_spikes, 3))[active]))
    chi = synchrony(st, bin_width=bin_width)
    thr = sync_threshold if sync_threshold is not None else max(0.1, 5 / np.sqrt(st.n_units))
    sync = chi > thr
    regular = cv < cv_threshold
    regime = ("SR" if regular else "SI") if sync else ("AR" if regular else "AI")
    return {"rate": rate, "cv": cv, "synchrony": chi, "regime": regime}


def balance_factor(network, spikes) -> dict:
    """Balance factor per population from a simulation (Ekelmans et al. 2023, Fig 4C).

    For each neuron, ``BF = |mean inhibitory input| / mean excitatory input`` with recurrent
    inputs ``τ_m Σ_j w_ij ν_j`` from the measured rates and the external drive counted as
    excitatory (white-noise μ, or Poisson ``rate · n_inputs · weight · τ_m``). BF → 1 means
    tight E/I balance.

    Returns
    -------
    dict ``{"E": mean BF of E neurons, "I": mean BF of I neurons, "per_neuron": array}``.
    """
    from spikewire.core.network import PoissonDrive, WhiteNoiseDrive

    if getattr(network, "neuron_model", "lif") != "lif":
        raise ValueError(f"balance_factor needs a LIF network (membrane time constants); this "
                         f"network's neurons are {network.neuron_model!r}")
    st = _spiketrains(spikes)
    n = network.n_neurons
    if st.n_units != n:
        raise ValueError(f"spikes have {st.n_units} units but the network {n} neurons")
    rates = st.rates()
    tau = network.neuron_params()["tau_m"]  # per neuron (E and I may differ)
    W = network.weights.tocsr()
    pos = W.multiply(W > 0).tocsr() @ rates * tau
    neg = -(W.multiply(W < 0).tocsr() @ rates) * tau
    drive = network.drive
    ext = np.zeros(n)
    if isinstance(drive, WhiteNoiseDrive):
        ext = np.broadcast_to(np.asarray(drive.mu, float), (n,))
    elif isinstance(drive, PoissonDrive):
        ext = drive.total_rate(n) * drive.weight * tau
    exc = pos + np.maximum(ext, 0)
    inh = neg + np.maximum(-ext, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        bf = np.where(exc > 0, inh / exc, 0.0)
    is_e = np.asarray(network.cell_type) == "E"
    return {"E": float(bf[is_e].mean()) if is_e.any() else 0.0,
            "I": float(bf[~is_e].mean()) if (~is_e).any() else 0.0, "per_neuron": bf}


def brunel_regime_sweep(g_values, eta_values, *, n_neurons: int = 5000, epsilon: float = 0.1,
                        J: float | None = None, delay: float = 1.5e-3,
                        duration: float = 0.5, transient: float = 0.1, dt: float = 1e-4,
                        seed: int = 0, progress: bool = False) -> list[dict]:
    """Simulate Brunel networks on a (g, η) grid and classify each as SR / SI / AI.

    Parameters
    ----------
    g_values, eta_values : sequence of float
        Grid of relative inhibition g and external drive η = ν_ext/ν_thr.
    n_neurons, epsilon, delay
        Network (see :func:`spikewire.networks.brunel`).
    J : float, optional
        EPSP (mV); default ``0.1 · 1000 / C_E`` so recurrent input matters at small N.
    duration, transient : float
        Simulated time and the initial part discarded (s).

    Returns
    -------
    list of dict
        One row per (g, η): ``g, eta, rate, cv, synchrony, regime`` and the Siegert
        prediction ``theory_rate`` (lowest stationary solution, Hz).
    """
    from spikewire.networks import brunel
    from spikewire.simulate import simulate

    c_e = int(round(epsilon * 0.8 * n_neurons))
    if J is None:
        J = 0.1 * 1000 / c_e
    rows = []
    for g in g_values:
        for eta in eta_values:
            net = brunel(n_neurons, epsilon=epsilon, g=float(g), eta=float(eta), J=J,
                         delay=delay, seed=seed)
            st = simulate(net, duration, dt=dt, seed=seed, progress=progress)
            st = st.restrict(transient, duration)
            row = {"g": float(g), "eta": float(eta), **classify_activity(st)}
            th = brunel_stationary_rates(g, eta, J=J, C_E=c_e)
            row["theory_rate"] = float(th.low)
            rows.append(row)
    return rows


def plot_brunel_diagram(g, eta, rates: BrunelRates, sweep: list | None = None, ax=None,
                        hopf: dict | None = None):
    """Brunel (g, ν_ext/ν_thr) diagram: stationary rate (colour, log scale), the region with
    three solutions (hatched) and, optionally, simulated SR/SI/AI labels from
    :func:`brunel_regime_sweep` and the analytic Hopf lines (``hopf``: the dict of
    :func:`~spikewire.theory.brunel_hopf_lines`, drawn as the zero contour of the leading
    growth rate, with the unstable side shaded). ``g`` and ``eta`` are the 1-D axes of a
    ``meshgrid(g, eta)`` on which ``rates`` was computed. Returns the axes.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    low = np.maximum(rates.low, 1e-3)
    im = ax.pcolormesh(g, eta, low, norm=LogNorm(vmin=1e-2, vmax=500), shading="auto",
                       cmap="viridis")
    plt.colorbar(im, ax=ax, label="stationary rate (Hz, lowest solution)")
    multi = (rates.n_solutions >= 3).astype(float)
    if multi.any():
        ax.contourf(g, eta, multi, levels=[0.5, 1.5], colors="none", hatches=["//"])
    if hopf is not None:
        # points where no eigenvalue was found (e.g. a quiescent state whose rate underflows)
        # stay blank rather than being drawn as stable
        gr = np.ma.masked_invalid(np.asarray(hopf["growth_rate"], float))
        ax.contourf(hopf["g"], hopf["eta"], (gr > 0).astype(float), levels=[0.5, 1.5],
                    colors=["white"], alpha=0.3)
        ax.contour(hopf["g"], hopf["eta"], gr, levels=[0.0], colors="red", linewidths=1.5)
    for row in sweep or []:
        ax.annotate(row["regime"], (row["g"], row["eta"]), color="white", ha="center",
                    fontsize=8, weight="bold")
    ax.set_xlabel("g (relative inhibition)")
    ax.set_ylabel("ν_ext / ν_thr")
    return ax
