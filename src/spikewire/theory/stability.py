"""Linear stability of the asynchronous state of Brunel's (2000) network; LIF linear response.

Linear response. A LIF neuron ``τ dV/dt = -V + μ(t) + σ(t) √τ ξ(t)`` (threshold θ, reset
V_r, refractory period τ_ref) in its stationary state responds to small modulations
``μ(t) = μ0 + μ1 e^{λt}``, ``σ²(t) = σ0² + s1 e^{λt}`` with a rate modulation
``ν1 = A_μ(λ) μ1 + A_s(λ) s1``. The transfer functions ``A_μ`` (Hz/mV) and ``A_s``
(Hz/mV²) are the analytic continuation of the frequency response (``λ = 2πif``) and are
computed here from the linearised Fokker-Planck equation

    ∂P/∂t = -∂J/∂V + ν(t - τ_ref) δ(V - V_r),
    J = ((μ - V) P - (σ²/2) ∂P/∂V) / τ,        P(θ) = 0,   J(θ) = ν,

by threshold integration (Richardson 2007, 2008): the first-order equations are
integrated once from θ down to far below the reset with exponential-integrator steps, for
a unit rate modulation and for unit μ and σ² modulations; the condition that the flux
vanishes at the lower end gives ``A_μ = -J_μ(V_lb)/J_ν(V_lb)`` and likewise ``A_s``. No
special functions are needed and every complex λ costs one O(n_grid) sweep. At λ → 0
``A_μ`` and ``A_s`` are ∂ν/∂μ and ∂ν/∂σ² of the Siegert formula (checked in the tests).

Network (Brunel 2000, model A). A rate perturbation ``ν1 e^{λt}`` of the population changes
the input after the delay ``D``: ``μ1 = C_E J τ (1 - gγ) ν1 e^{-λD}`` and
``s1 = C_E J² τ (1 + g²γ) ν1 e^{-λD}``. Eigenvalues solve

    1 = e^{-λD} [C_E J τ (1 - gγ) A_μ(λ) + C_E J² τ (1 + g²γ) A_s(λ)],

the asynchronous state is unstable if one has ``Re λ > 0``, and a pair crossing the
imaginary axis at ``λ = ±2πi f`` (a Hopf bifurcation) starts a population oscillation near
frequency ``f`` (Brunel & Hakim 1999; Brunel 2000, figs. 2-3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from spikewire.theory.brunel import brunel_stationary_rates
from spikewire.theory.transfer import colored_noise_shift

__all__ = ["lif_transfer_function", "brunel_eigenvalues", "brunel_stability", "BrunelMode",
           "brunel_hopf_lines"]


@nb.njit(cache=True)
def _sweep(lam, mu0, sig2, tau, theta, v_reset, tau_ref, n_top, n_total, out):
    """Threshold integration for each complex λ; out[i] = (J_ν, J_μ, J_s, ∫p0 dV)."""
    d = (theta - v_reset) / n_top
    c = 2.0 / sig2
    # stationary density per unit flux, p0, and its slope, on the grid from θ downward
    p0 = np.zeros(n_total + 1)
    dp0 = np.zeros(n_total + 1)
    p = 0.0
    jf = 1.0
    integral = 0.0
    for k in range(n_total + 1):
        v = theta - k * d
        if k == n_top:
            jf = 0.0  # below the reset no flux in the stationary state
        p0[k] = p
        dp0[k] = c * ((mu0 - v) * p - tau * jf)
        if k == n_total:
            break
        g = c * (mu0 - v)
        x = g * d
        e = math.exp(-x)
        f = (1.0 - e) / g if abs(x) > 1e-12 else d
        jk = 1.0 if k < n_top else 0.0
        p_new = e * p + f * (c * tau * jk)
        integral += 0.5 * (p + p_new) * d
        p = p_new
    for i in range(lam.shape[0]):
        la = lam[i]
        refl = np.exp(-la * tau_ref)
        pn = 0j
        jn = 1.0 + 0j
        pm = 0j
        jm = 0j
        ps = 0j
        js = 0j
        for k in range(n_total):
            v = theta - k * d
            if k == n_top:
                jn -= refl  # re-injection of the modulated rate after τ_ref
            g = c * (mu0 - v)
            x = g * d
            e = math.exp(-x)
            f = (1.0 - e) / g if abs(x) > 1e-12 else d
            # sources of the μ and σ² problems: (2/σ²)(μ1 P0) and (2/σ²)(-s1/2 P0')
            sm = c * p0[k]
            ss = -0.5 * c * dp0[k]
            pn_new = e * pn + f * (c * tau * jn)
            pm_new = e * pm + f * (c * tau * jm - sm)
            ps_new = e * ps + f * (c * tau * js - ss)
            jn = jn + la * 0.5 * (pn + pn_new) * d
            jm = jm + la * 0.5 * (pm + pm_new) * d
            js = js + la * 0.5 * (ps + ps_new) * d
            pn, pm, ps = pn_new, pm_new, ps_new
        out[i, 0] = jn
        out[i, 1] = jm
        out[i, 2] = js
        out[i, 3] = integral


def _responses(lam, mu, sig, tau_m, theta, v_reset, tau_ref, n_grid):
    """(ν0, A_μ, A_s) with Richardson extrapolation over grids n and n/2 (error O(1/n²))."""
    res = []
    for n in (n_grid, n_grid // 2):
        n_top, n_total = _grid(theta, v_reset, mu, sig, n)
        o = np.empty((lam.size, 4), dtype=np.complex128)
        _sweep(lam, mu, sig * sig, tau_m, theta, v_reset, tau_ref, n_top, n_total, o)
        nu0 = 1.0 / (tau_ref + o[0, 3].real)
        # P0 = ν0 p0 (p0: density per unit flux), so the μ and σ² sources carry a factor ν0
        res.append((nu0, -nu0 * o[:, 1] / o[:, 0], -nu0 * o[:, 2] / o[:, 0]))
    (n1, m1, s1), (n2, m2, s2) = res
    # the step is exactly halved only if both grids put V_r on a node: they do (n_top
    # scales with n), up to the rounding of n_top; the first-order error term cancels
    return 2 * n1 - n2, 2 * m1 - m2, 2 * s1 - s2


def _shift_per_sigma(tau_m, tau_syn):
    """c of the colored-noise boundary shift c·σ (0 for white noise); validates tau_syn."""
    if tau_syn is None:
        return 0.0
    if not (np.isscalar(tau_syn) and np.isfinite(tau_syn) and tau_syn >= 0):
        raise ValueError(f"tau_syn must be None or a time constant >= 0 s, got {tau_syn!r}")
    return float(colored_noise_shift(1.0, tau_m, float(tau_syn)))


def _synaptic(lam, a_mu, a_s, c, sigma, tau_syn):
    """Responses to the presynaptic drive: σ-dependent shift and the synaptic low-pass."""
    if tau_syn is None:
        return a_mu, a_s
    filt = 1.0 / (1.0 + lam * float(tau_syn))
    return a_mu * filt, (a_s - c / (2.0 * sigma) * a_mu) * filt


def _grid(theta, v_reset, mu0, sigma, n_grid):
    lb = min(v_reset, mu0) - 7.0 * sigma
    n_top = max(int(math.ceil(n_grid * (theta - v_reset) / (theta - lb))), 20)
    d = (theta - v_reset) / n_top
    n_total = n_top + int(math.ceil((v_reset - lb) / d))
    return n_top, n_total


def lif_transfer_function(lam, mu, sigma, tau_m=0.020, theta=20.0, v_reset=10.0,
                          tau_ref=0.002, *, n_grid: int = 8000, tau_syn: float | None = None):
    """Linear rate response of a white-noise-driven LIF neuron to mean and variance input.

    Parameters
    ----------
    lam : complex array_like
        Complex frequencies λ in 1/s (``2πi f`` for a sinusoid of frequency f in Hz).
    mu, sigma : float
        Stationary mean input (mV) and noise amplitude σ (mV, > 0), convention of
        :func:`~spikewire.theory.lif_rate`.
    tau_m, theta, v_reset, tau_ref : float
        Neuron parameters (s, mV).
    n_grid : int, default 8000
        Voltage grid points between θ and the lower end (min(V_r, μ) - 7σ). Results are
        Richardson-extrapolated from grids of n_grid and n_grid/2 points: error O(1/n_grid²),
        about 1e-5 relative at the default.
    tau_syn : float, optional
        Time constant (s) of an exponential synapse through which the input arrives
        (``None`` or 0: white noise). To first order in ``√(τ_s/τ_m)`` the filtered noise
        acts as white noise with threshold and reset raised by ``c σ``,
        ``c = α/2 √(τ_s/τ_m)`` (Fourcaud & Brunel 2002; for the dynamic response Schuecker
        et al. 2015), and the synapse low-passes the input by ``1/(1 + λ τ_s)``. The
        responses are then to modulations of the presynaptic drive's mean and variance:
        ``A_μ = A_μ^white(θ + cσ, V_r + cσ)/(1 + λτ_s)`` and
        ``A_s = (A_s^white - c/(2σ) A_μ^white)/(1 + λτ_s)`` (the shift moves with σ; the
        filter is exact for the mean and a first-order approximation for the variance).
        At λ = 0 they are the derivatives of :func:`~spikewire.theory.lif_rate_derivatives`
        with the same ``tau_syn``.

    Returns
    -------
    nu0 : float
        Stationary rate (Hz) of the same discretisation.
    a_mu : complex ndarray
        ``A_μ(λ)`` in Hz/mV.
    a_s : complex ndarray
        ``A_s(λ)`` in Hz/mV² (response to the σ² modulation).
    """
    lam_arr = np.atleast_1d(np.asarray(lam, dtype=np.complex128))
    if not np.all(np.isfinite(lam_arr)):
        raise ValueError("lam must be finite complex frequencies (1/s)")
    for name, val in (("mu", mu), ("sigma", sigma), ("tau_m", tau_m), ("theta", theta),
                      ("v_reset", v_reset), ("tau_ref", tau_ref)):
        if not (np.isscalar(val) and np.isfinite(val)):
            raise TypeError(f"{name} must be a finite scalar, got {val!r}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0 mV (the theory is for noisy input), got {sigma!r}")
    if tau_m <= 0 or tau_ref < 0 or v_reset >= theta:
        raise ValueError(f"need tau_m > 0 s, tau_ref >= 0 s and v_reset < theta; got "
                         f"tau_m={tau_m}, tau_ref={tau_ref}, v_reset={v_reset}, theta={theta}")
    if int(n_grid) < 100:
        raise ValueError(f"n_grid must be >= 100, got {n_grid!r}")
    c = _shift_per_sigma(tau_m, tau_syn)
    nu0, a_mu, a_s = _responses(lam_arr, float(mu), float(sigma), float(tau_m),
                                float(theta) + c * sigma, float(v_reset) + c * sigma,
                                float(tau_ref), int(n_grid))
    a_mu, a_s = _synaptic(lam_arr, a_mu, a_s, c, float(sigma), tau_syn)
    shape = np.shape(lam)
    return nu0, a_mu.reshape(shape), a_s.reshape(shape)


def _model_a(g, eta, J, C_E, gamma, tau_m, theta, v_reset, tau_ref, which, tau_syn=None):
    rates = brunel_stationary_rates(g, eta, J=J, C_E=C_E, gamma=gamma, tau_m=tau_m,
                                    theta=theta, v_reset=v_reset, tau_ref=tau_ref,
                                    tau_syn=tau_syn)
    nu = float(rates.low if which == "low" else rates.high)
    nu_thr = theta / (J * C_E * tau_m)
    nu_ext = eta * nu_thr
    mu = C_E * J * tau_m * (nu_ext + nu * (1 - g * gamma))
    sig = math.sqrt(C_E * J * J * tau_m * (nu_ext + nu * (1 + g * g * gamma)))
    k_mu = C_E * J * tau_m * (1 - g * gamma)
    k_s = C_E * J * J * tau_m * (1 + g * g * gamma)
    return nu, mu, sig, k_mu, k_s


@dataclass
class BrunelMode:
    """One eigenvalue of the linearised Brunel network.

    Attributes
    ----------
    eigenvalue : complex
        λ in 1/s.
    frequency : float
        ``Im λ / 2π`` in Hz (the oscillation frequency of the mode).
    growth_rate : float
        ``Re λ`` in 1/s (> 0: unstable).
    """

    eigenvalue: complex

    @property
    def frequency(self) -> float:
        return float(abs(self.eigenvalue.imag) / (2 * np.pi))

    @property
    def growth_rate(self) -> float:
        return float(self.eigenvalue.real)


def brunel_eigenvalues(g: float, eta: float, *, J: float = 0.1, C_E: int = 1000,
                       gamma: float = 0.25, delay: float = 1.5e-3, tau_m: float = 0.020,
                       theta: float = 20.0, v_reset: float = 10.0, tau_ref: float = 0.002,
                       freqs=None, n_grid: int = 4000, state: str = "low",
                       tau_syn: float | None = None) -> list:
    """Eigenvalues of the asynchronous state of Brunel's model A near the imaginary axis.

    Parameters
    ----------
    g, eta : float
        Relative inhibition and external drive ``ν_ext/ν_thr``.
    J, C_E, gamma, delay, tau_m, theta, v_reset, tau_ref
        Network and neuron parameters (mV, s); ``delay`` is the transmission delay D.
    freqs : array_like, optional
        Starting frequencies (Hz) of the Newton searches (default 5 Hz to 1 kHz, 24 values
        log-spaced); each converged root is kept once.
    n_grid : int, default 4000
        Grid of the transfer-function integration (see :func:`lif_transfer_function`).
    state : {"low", "high"}
        Which stationary solution to linearise around (they differ only where
        :func:`brunel_stationary_rates` finds three).
    tau_syn : float, optional
        Exponential synapses of time constant τ_s (s) with the same PSP area as the delta
        synapses of amplitude J: the stationary rate is the colored-noise one
        (:func:`brunel_stationary_rates` with ``tau_syn``) and the rate response is that of
        :func:`lif_transfer_function` with ``tau_syn`` (shifted boundaries and the synaptic
        low-pass ``1/(1 + λτ_s)``), first order in ``√(τ_s/τ_m)`` (the "shift" transfer
        function of Schuecker et al. 2015, as in NNMT). Checked against simulations in
        ``benchmarks/results/theory2.md``: the colored-noise rates agree within 1-13 %,
        but for the fast oscillation (ω τ_s = 0.5-2) the first-order response adds too
        much phase lag: predicted frequencies are 16-29 % below the simulated ones and
        at τ_s = 2 ms the mode is predicted stable while the network still oscillates.
        The cause is the single-neuron response, measured open loop in
        ``benchmarks/results/theory3.md``: at 185 Hz the neurons' response to the
        presynaptic rate lags only 0.13 (τ_s = 0.5 ms) to 0.25 rad (2 ms) more than with
        delta synapses, while this approximation adds 0.52-1.17 rad, about the synaptic
        low-pass's own lag ``atan(ωτ_s)``, which the faster response of a neuron under
        filtered noise almost cancels in the simulations.
        Use it for slow modes or τ_s << 1/ω.

    Returns
    -------
    list of BrunelMode
        Distinct eigenvalues with ``Im λ >= 0``, sorted by decreasing growth rate.
    """
    if delay <= 0:
        raise ValueError(f"delay must be > 0 s, got {delay!r}")
    if state not in ("low", "high"):
        raise ValueError(f"state must be 'low' or 'high', got {state!r}")
    c = _shift_per_sigma(tau_m, tau_syn)
    nu, mu, sig, k_mu, k_s = _model_a(g, eta, J, C_E, gamma, tau_m, theta, v_reset, tau_ref,
                                      state, tau_syn)
    th, vr = theta + c * sig, v_reset + c * sig  # colored-noise boundaries (c = 0: white)
    n_top, n_total = _grid(th, vr, mu, sig, n_grid)

    def F(lam_vec):
        lam_vec = np.asarray(lam_vec, np.complex128)
        o = np.empty((lam_vec.size, 4), dtype=np.complex128)
        _sweep(lam_vec, mu, sig * sig, tau_m, th, vr, tau_ref, n_top, n_total, o)
        nu0 = 1.0 / (tau_ref + o[0, 3].real)
        amu, a_s = _synaptic(lam_vec, -nu0 * o[:, 1] / o[:, 0], -nu0 * o[:, 2] / o[:, 0], c,
                             sig, tau_syn)
        return 1.0 - np.exp(-lam_vec * delay) * (k_mu * amu + k_s * a_s)

    f0 = np.geomspace(5.0, 1000.0, 24) if freqs is None else np.asarray(freqs, float)
    lam = 2j * np.pi * f0 - 1.0
    h = 1e-3
    for _ in range(60):
        fv = F(lam)
        dfv = (F(lam + h) - F(lam - h)) / (2 * h)
        step = fv / dfv
        # damp large steps; keep within a sensible region of the plane
        big = np.abs(step) > 200.0
        step[big] *= 200.0 / np.abs(step[big])
        lam = lam - step
        lam = np.where(np.abs(lam.imag) > 2 * np.pi * 5e3, np.nan, lam)
        lam = np.where(np.abs(lam.real) > 5e3, np.nan, lam)
        ok = np.isfinite(lam)
        if not ok.any():
            break
        lam = lam[ok]
        if np.all(np.abs(step[ok]) < 1e-9 * (1 + np.abs(lam))):
            break
    lam = lam[np.isfinite(lam)]
    if lam.size:
        res = np.abs(F(lam))
        lam = lam[res < 1e-8]
    lam = np.where(lam.imag < 0, np.conj(lam), lam)
    uniq: list = []
    for x in sorted(lam, key=lambda z: -z.real):
        if all(abs(x - y) > 1e-6 * (1 + abs(x)) for y in uniq):
            uniq.append(complex(x))
    return [BrunelMode(x) for x in uniq]


def brunel_stability(g: float, eta: float, **kwargs) -> dict:
    """Stability of the asynchronous state at one (g, η) point.

    Parameters are those of :func:`brunel_eigenvalues`.

    Returns
    -------
    dict
        ``rate`` (Hz, stationary), ``stable`` (bool), ``leading`` (the BrunelMode with the
        largest growth rate, or None), ``frequency`` (Hz of the leading mode),
        ``growth_rate`` (1/s).
    """
    modes = brunel_eigenvalues(g, eta, **kwargs)
    keys = ("J", "C_E", "gamma", "tau_m", "theta", "v_reset", "tau_ref", "tau_syn")
    sub = {k: kwargs[k] for k in keys if k in kwargs}
    rates = brunel_stationary_rates(g, eta, **sub)
    rate = float(rates.low if kwargs.get("state", "low") == "low" else rates.high)
    lead = modes[0] if modes else None
    return {"rate": rate, "stable": lead is None or lead.growth_rate < 0, "leading": lead,
            "frequency": lead.frequency if lead else float("nan"),
            "growth_rate": lead.growth_rate if lead else float("-inf")}


def brunel_hopf_lines(g_values, eta_values, **kwargs) -> dict:
    """Growth rate and frequency of the leading mode on a (g, η) grid (for Hopf lines).

    The Hopf lines are the zero contour of ``growth_rate``; draw them with
    :func:`~spikewire.theory.plot_brunel_diagram` (``hopf=`` argument).

    Returns
    -------
    dict
        ``g`` (n_g,), ``eta`` (n_eta,), ``growth_rate`` (n_eta, n_g) in 1/s and
        ``frequency`` (n_eta, n_g) in Hz of the leading mode (NaN where none was found).
    """
    g_values = np.asarray(g_values, float)
    eta_values = np.asarray(eta_values, float)
    gr = np.full((eta_values.size, g_values.size), np.nan)
    fr = np.full_like(gr, np.nan)
    for i, e in enumerate(eta_values):
        for k, g in enumerate(g_values):
            modes = brunel_eigenvalues(float(g), float(e), **kwargs)
            if modes:
                gr[i, k] = modes[0].growth_rate
                fr[i, k] = modes[0].frequency
    return {"g": g_values, "eta": eta_values, "growth_rate": gr, "frequency": fr}
