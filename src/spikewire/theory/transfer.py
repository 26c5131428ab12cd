"""LIF transfer function under white-noise input (Siegert / Ricciardi) and its power-law fit.

Convention (the engine's :class:`spikewire.WhiteNoiseDrive`)::

    τ_m dV/dt = -(V - V_rest) + μ + σ √τ_m ξ(t),      V_rest = 0

with spike at ``V = θ``, reset to ``V_r`` and an absolute refractory period ``τ_ref``.
The stationary rate is the inverse mean first-passage time (Siegert 1951, Ricciardi 1977,
Brunel 2000)::

    1/ν = τ_ref + τ_m √π ∫_{y_r}^{y_θ} e^{u²} (1 + erf u) du,
    y_θ = (θ - μ)/σ,   y_r = (V_r - μ)/σ.

Numerics. The integrand is ``erfcx(-u)``. Its part on ``u <= 0`` is bounded and smooth; on
``u >= 0`` it is ``2 e^{u²} - erfcx(u)``, whose exponential part integrates in closed form
with Dawson's function, ``∫_a^b e^{u²} du = e^{b²} D(b) - e^{a²} D(a)``. The remaining
bounded integrals ``∫_A^B erfcx(v) dv`` (``0 <= A <= B``) are done by composite
Gauss–Legendre quadrature in ``w = log(1 + v)``, where the integrand ``(1+v) erfcx(v)`` is
nearly constant and entire, so one 5–8 point panel (short intervals) or a few 8-point panels
give ~1e-14 relative accuracy from ``v = 0`` to ``v = 10^8``. For ``y_θ > 0`` everything
is carried scaled by ``e^{-y_θ²}``: no overflow, and rates too small for a double
underflow cleanly to 0 (never NaN). σ = 0 gives the deterministic limit
``1/ν = τ_ref + τ_m log((μ - V_r)/(μ - θ))`` for ``μ > θ``.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numba as nb
import numpy as np
from scipy.special import dawsn, erfcx

EKELMANS_MU_GRID = (-50.0, 0.5)
"""Input grid (start, step) of Ekelmans et al. (2023)'s power-law fits (in the units of the
input axis: mV/s for their Table D, see :data:`EKELMANS_TABLE_D`)."""

EKELMANS_TABLE_D = MappingProxyType({"sigma": 3.0, "theta": 1.0, "v_reset": 0.0,
                                     "tau_ref": 0.0, "mu_grid": EKELMANS_MU_GRID,
                                     "input_kind": "current"})
"""Settings of :func:`fit_power_law` that come closest to Ekelmans et al. (2023), Table D.

``fit_power_law(tau_m, **EKELMANS_TABLE_D)``: voltages in units of the threshold (θ = 1,
reset to rest, V_r = 0), no refractory period, input as a current ``x = μ/τ_m`` (the
paper's "mV/s") on the grid -50, -49.5, ... up to the last point below 10 Hz, noise
``s = 3`` per √s (σ = 3 √τ_m). Found by search (``benchmarks/bench_theory_tabled.py``,
``benchmarks/results/theory2.md``); it reproduces the two published rows (τ = 20 and 10 ms)
to 0.07-0.11 % in a, 0.002 in b and 0.0002 in n, not to every printed digit (8-24, 15-23
and 2 units of the last digit). The gap is in the rates, not the fit: every scipy optimiser
and starting point lands on the same optimum, and the table's values have a higher squared
error on these rates. None of 14 quadrature rules of the Siegert integral brings all six
numbers within 5 units (a fixed-step midpoint sum fixes a and n, not b), and no single
small change of θ, V_r, s, the input scale or τ_ref closes it; triples of changes
of order 1e-4 (e.g. the reset 1.5e-4 θ above rest with the input scale 2.6e-5 lower) match
all six printed numbers to 0.25 of the last digit, but eight different triples do so
equally well, so the digits do not identify the authors' remaining difference
(``benchmarks/results/theory3.md``).
"""

__all__ = ["EKELMANS_MU_GRID", "EKELMANS_TABLE_D", "lif_rate", "lif_rate_derivatives", "lif_cv",
           "fit_power_law", "power_law", "discretization_shift", "colored_noise_shift"]

_SQRT_PI = math.sqrt(math.pi)
# Siegmund's corrected-diffusion constant |ζ(1/2)|/√(2π): a Gaussian random walk with step
# standard deviation s checked only at its steps crosses a barrier as if it were ρ·s higher.
_RHO_DT = 1.4603545088095868 / math.sqrt(2.0 * math.pi)
# Fourcaud & Brunel (2002): α = √2 |ζ(1/2)|, the effective-boundary constant of a LIF
# neuron driven through a fast exponential synapse.
_ALPHA_FB = math.sqrt(2.0) * 1.4603545088095868

# Gauss–Legendre rules with 5..8 nodes (rows, zero-padded). A w-interval of length L uses one
# panel of 5, 6 or 7 nodes when L <= 0.25, 0.5, 0.75, else 8-node panels of width <= 1.25;
# each choice keeps the relative error of ∫ erfcx below ~4e-15 (checked against adaptive
# quadrature in tests/theory/test_transfer.py).
_GL_X = np.zeros((4, 8))
_GL_W = np.zeros((4, 8))
for _row, _k in enumerate((5, 6, 7, 8)):
    _GL_X[_row, :_k], _GL_W[_row, :_k] = np.polynomial.legendre.leggauss(_k)
_PANEL = 1.25


@nb.njit(cache=True, inline="always")
def _erfcx_pos(x):
    """erfcx(x) for x >= 0 (relative error ~1e-14)."""
    if x < 10.0:
        return math.exp(x * x) * math.erfc(x)
    # asymptotic series, 12 terms: error < 1e-17 for x >= 10
    inv = 1.0 / (2.0 * x * x)
    term = 1.0
    s = 1.0
    for k in range(1, 13):
        term *= -(2 * k - 1) * inv
        s += term
    return s / (x * 1.7724538509055159)


@nb.njit(cache=True)
def _int_erfcx(a, b, glx, glw, panel):
    """∫_a^b erfcx(v) dv for 0 <= a <= b by composite Gauss–Legendre in w = log1p(v)."""
    if b <= a:
        return 0.0
    wa = math.log1p(a)
    length = math.log1p((b - a) / (1.0 + a))  # = log1p(b) - log1p(a) without cancellation
    if length <= 0.25:
        row, nodes, n_panels = 0, 5, 1
    elif length <= 0.5:
        row, nodes, n_panels = 1, 6, 1
    elif length <= 0.75:
        row, nodes, n_panels = 2, 7, 1
    else:
        row, nodes = 3, 8
        n_panels = int(math.ceil(length / panel))
    h = length / n_panels
    total = 0.0
    for p in range(n_panels):
        c = wa + (p + 0.5) * h
        for k in range(nodes):
            w = c + 0.5 * h * glx[row, k]
            ew = math.exp(w)
            total += glw[row, k] * ew * _erfcx_pos(ew - 1.0)
    return total * 0.5 * h


@nb.njit(cache=True, inline="always")
def _at(arr, i):
    """Element i of a per-point array, or its only element for a shared parameter."""
    return arr[i] if arr.shape[0] > 1 else arr[0]


@nb.njit(cache=True, parallel=True)
def _prep_kernel(mu, sig, theta, v_reset, yt, y0):
    """y_θ = (θ - μ)/σ and max(y_r, 0) per point (0 where σ = 0)."""
    for i in nb.prange(mu.shape[0]):
        s = sig[i]
        if s > 0.0:
            yt[i] = (_at(theta, i) - mu[i]) / s
            r = (_at(v_reset, i) - mu[i]) / s
            y0[i] = r if r > 0.0 else 0.0
        else:
            yt[i] = 0.0
            y0[i] = 0.0


@nb.njit(cache=True, parallel=True)
def _siegert_kernel(mu, sig, theta, v_reset, tau, tau_ref, d_t, d_0, glx, glw, panel, out_T):
    """Rate per point; ``out_T[i] = (S, S·I)`` with scale ``S = e^{-y_θ²}`` (or 1).

    ``theta, v_reset, tau, tau_ref`` have one entry per point or a single shared entry;
    ``d_t, d_0`` are Dawson's function at y_θ and max(y_r, 0) where y_θ > 0.
    """
    n = mu.shape[0]
    nu = np.empty(n)
    for i in nb.prange(n):
        th = _at(theta, i)
        vr = _at(v_reset, i)
        tm = _at(tau, i)
        tr = _at(tau_ref, i)
        sg = sig[i]
        if sg == 0.0:  # deterministic limit
            m = mu[i]
            nu[i] = 1.0 / (tr + tm * math.log((m - vr) / (m - th))) if m > th else 0.0
            out_T[i, 0] = 1.0
            out_T[i, 1] = np.nan
            continue
        a = (th - mu[i]) / sg
        b = (vr - mu[i]) / sg
        if a <= 0.0:
            s = 1.0
            k = _int_erfcx(-a, -b, glx, glw, panel)
        else:
            s = math.exp(-a * a)
            y0 = b if b > 0.0 else 0.0
            neg = 0.0
            if b < 0.0:
                neg = _int_erfcx(0.0, -b, glx, glw, panel)
            k = 2.0 * (d_t[i] - math.exp((y0 - a) * (y0 + a)) * d_0[i])
            k += s * (neg - _int_erfcx(y0, a, glx, glw, panel))
        out_T[i, 0] = s
        out_T[i, 1] = k
        nu[i] = s / (tr * s + tm * _SQRT_PI * k)
    return nu


def _as_float_array(name, value, unit):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or array of numbers ({unit}), "
                        f"got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite ({unit}); got non-finite values")
    return arr


def _check_lif(mu, sigma, tau_m, theta, v_reset, tau_ref, broadcast=True):
    mu = _as_float_array("mu", mu, "mV")
    sigma = _as_float_array("sigma", sigma, "mV")
    tau_m = _as_float_array("tau_m", tau_m, "s")
    theta = _as_float_array("theta", theta, "mV")
    v_reset = _as_float_array("v_reset", v_reset, "mV")
    tau_ref = _as_float_array("tau_ref", tau_ref, "s")
    if np.any(sigma < 0):
        raise ValueError(f"sigma must be >= 0 mV (noise amplitude), got min {sigma.min():g}; "
                         "pass the standard deviation parameter σ, not a variance")
    if np.any(tau_m <= 0):
        raise ValueError(f"tau_m must be > 0 s, got {tau_m.min():g}")
    if np.any(tau_ref < 0):
        raise ValueError(f"tau_ref must be >= 0 s, got {tau_ref.min():g}")
    if np.any(v_reset >= theta):
        raise ValueError(f"v_reset must be below theta (got v_reset={np.max(v_reset):g} mV, "
                         f"theta={np.min(theta):g} mV); the reset lies under the threshold")
    out = (mu, sigma, tau_m, theta, v_reset, tau_ref)
    if not broadcast:
        np.broadcast_shapes(*(x.shape for x in out))  # raises on incompatible shapes
        return out
    return np.broadcast_arrays(*out)


def discretization_shift(sigma, tau_m, dt):
    """Threshold and reset shift (mV) that maps a time-stepped LIF onto the continuous one.

    A simulation that tests ``V >= θ`` only every ``dt`` misses excursions between steps; to
    leading order it fires like the continuous neuron with θ and V_r raised by
    ``ρ σ √(dt/τ_m)``, where ``σ √(dt/τ_m)`` is the noise per step and
    ``ρ = |ζ(1/2)|/√(2π) ≈ 0.583`` is Siegmund's (1979) overshoot constant of a Gaussian random
    walk (the same correction as in Brunel & Hakim 1999, written in this σ convention).
    Checked against the engine in ``tests/theory/test_transfer.py``.
    """
    return np.asarray(sigma, float) * _RHO_DT * np.sqrt(dt / np.asarray(tau_m, float))


def colored_noise_shift(sigma, tau_m, tau_syn):
    """Threshold and reset shift (mV) for noise filtered by a fast exponential synapse.

    Fourcaud & Brunel (2002): with input current noise low-pass filtered by a synapse of
    time constant ``τ_s << τ_m``, the stationary rate is, to first order in
    ``k = √(τ_s/τ_m)``, the white-noise Siegert rate with threshold and reset both raised by
    ``σ α/2 · √(τ_s/τ_m)``, ``α = √2 |ζ(1/2)| ≈ 2.065``.

    Parameters
    ----------
    sigma : array_like
        Noise amplitude σ (mV) in the convention of :func:`lif_rate`.
    tau_m, tau_syn : array_like
        Membrane and synaptic time constants (s), ``tau_syn >= 0``.

    Returns
    -------
    ndarray
        The shift in mV.
    """
    tau_syn = _as_float_array("tau_syn", tau_syn, "s")
    if np.any(tau_syn < 0):
        raise ValueError(f"tau_syn must be >= 0 s, got {tau_syn.min():g}")
    return (np.asarray(sigma, float) * (_ALPHA_FB / 2.0)
            * np.sqrt(tau_syn / np.asarray(tau_m, float)))


def _evaluate(mu, sigma, tau_m, theta, v_reset, tau_ref, dt, derivatives, tau_syn=None):
    raw = _check_lif(mu, sigma, tau_m, theta, v_reset, tau_ref, broadcast=False)
    mu, sigma, tau_m, theta, v_reset, tau_ref = raw
    shape = np.broadcast_shapes(*(x.shape for x in raw))
    shift_per_sigma = None
    if tau_syn is not None:
        if dt is not None:
            raise ValueError("dt (the white-noise time-step correction) and tau_syn (filtered "
                             "noise, a differentiable membrane potential) do not combine; "
                             "pass only tau_syn for exponential-synapse simulations")
        sh = colored_noise_shift(sigma, tau_m, tau_syn)
        theta = theta + sh
        v_reset = v_reset + sh
        shape = np.broadcast_shapes(shape, sh.shape)
        shift_per_sigma = colored_noise_shift(1.0, tau_m, tau_syn)  # the shift is c·σ
    if dt is not None:
        if not (np.isscalar(dt) or np.ndim(dt) == 0) or not dt > 0:
            raise ValueError(f"dt must be a positive time step in s, got {dt!r}")
        sh = discretization_shift(sigma, tau_m, float(dt))
        theta = theta + sh
        v_reset = v_reset + sh

    def flat(x, shared_ok):
        if shared_ok and x.size == 1:
            return np.ascontiguousarray(x, dtype=np.float64).reshape(1)
        return np.ascontiguousarray(np.broadcast_to(x, shape), dtype=np.float64).reshape(-1)

    shared = not derivatives
    mu, sigma = flat(mu, False), flat(sigma, False)
    tau_m, theta, v_reset, tau_ref = (flat(x, shared) for x in (tau_m, theta, v_reset, tau_ref))
    n = mu.size
    yt = np.empty(n)
    y0 = np.empty(n)
    _prep_kernel(mu, sigma, theta, v_reset, yt, y0)
    d_t = np.zeros(n)
    d_0 = np.zeros(n)
    m = np.flatnonzero(yt > 0)
    if m.size:
        d_t[m] = dawsn(yt[m])
        m0 = np.flatnonzero(y0 > 0)
        d_0[m0] = dawsn(y0[m0])
    scal = np.empty((n, 2))
    nu = _siegert_kernel(mu, sigma, theta, v_reset, tau_m, tau_ref, d_t, d_0, _GL_X, _GL_W,
                         _PANEL, scal)
    if not derivatives:
        return nu.reshape(shape)
    pos = sigma > 0
    safe = np.where(pos, sigma, 1.0)
    yt = np.where(pos, (theta - mu) / safe, 0.0)
    yr = np.where(pos, (v_reset - mu) / safe, 0.0)
    s, k = scal[:, 0], scal[:, 1]
    # f(y) = erfcx(-y); carried as S·f(y) to stay finite: for y > 0, S f(y) = 2 S e^{y²} -
    # S erfcx(y) with S e^{y²} = exp(y² - y_θ²) <= 1 whenever y <= y_θ.
    def s_f(y):
        out = np.empty_like(y)
        neg = y <= 0
        out[neg] = s[neg] * erfcx(-y[neg])
        p = ~neg
        out[p] = 2.0 * np.exp((y[p] - yt[p]) * (y[p] + yt[p])) - s[p] * erfcx(y[p])
        return out

    sft, sfr = s_f(yt), s_f(yr)
    den = tau_ref * s + tau_m * _SQRT_PI * k
    # dν/dμ = ν² τ√π (f(y_θ) - f(y_r))/σ = S (S f_θ - S f_r) τ√π / (σ den²)
    with np.errstate(divide="ignore", invalid="ignore"):
        pref = tau_m * _SQRT_PI / (safe * den * den)
        dmu = pref * s * (sft - sfr)
        dsig2 = pref * s * (yt * sft - yr * sfr) / (2.0 * safe)
    # σ = 0: deterministic derivative in μ; the σ² derivative is not defined there
    if np.any(~pos):
        z = ~pos
        with np.errstate(divide="ignore", invalid="ignore"):
            dT = tau_m[z] * ((theta[z] - v_reset[z]) / ((mu[z] - v_reset[z]) * (mu[z] - theta[z])))
            dmu[z] = np.where(mu[z] > theta[z], nu[z] ** 2 * dT, 0.0)
        dsig2[z] = np.nan
    bad = ~np.isfinite(dmu)
    dmu[bad & pos] = 0.0
    dsig2[~np.isfinite(dsig2) & pos] = 0.0
    if shift_per_sigma is not None:
        # θ and V_r both move by c·σ: raising both by δ is lowering μ by δ, so the chain
        # rule adds -(dδ/dσ²) ∂ν/∂μ = -c/(2σ) ∂ν/∂μ to the σ² derivative
        c = np.broadcast_to(shift_per_sigma, shape).reshape(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            dsig2 = np.where(pos, dsig2 - c / (2.0 * safe) * dmu, dsig2)
    return nu.reshape(shape), dmu.reshape(shape), dsig2.reshape(shape)


def lif_rate(mu, sigma, tau_m=0.020, theta=20.0, v_reset=10.0, tau_ref=0.002, *,
             dt: float | None = None, tau_syn=None) -> np.ndarray:
    """Stationary firing rate of a LIF neuron driven by white noise (Siegert formula).

    Parameters
    ----------
    mu : array_like
        Mean input μ in mV (the free membrane potential relaxes to ``V_rest + μ``,
        ``V_rest = 0``).
    sigma : array_like
        Noise amplitude σ in mV (free-membrane standard deviation ``σ/√2``), ``>= 0``.
        σ = 0 gives the deterministic (noise-free) rate.
    tau_m : array_like, default 0.020
        Membrane time constant in s.
    theta : array_like, default 20.0
        Threshold in mV.
    v_reset : array_like, default 10.0
        Reset potential in mV (< θ).
    tau_ref : array_like, default 0.002
        Absolute refractory period in s.
    dt : float, optional
        Time step (s) of a simulation to compare with: shifts θ and V_r by
        :func:`discretization_shift` so the rate is that of a neuron checked for threshold
        crossings only every ``dt`` (as :func:`spikewire.simulate` does).
    tau_syn : array_like, optional
        Synaptic time constant (s) of an exponential synapse through which the noise
        arrives: applies the Fourcaud & Brunel (2002) colored-noise correction
        (:func:`colored_noise_shift`), first order in ``√(τ_s/τ_m)`` (use ``τ_s`` up to a few
        ms for ``τ_m = 20`` ms). Not combinable with ``dt``.

    Returns
    -------
    ndarray
        Rate in Hz, broadcast shape of the inputs. Finite and >= 0 everywhere (rates below
        ~1e-300 Hz underflow to 0).

    Examples
    --------
    >>> round(float(lif_rate(15.0, 5.0)), 3)   # Brunel's neuron, μ = 15 mV, σ = 5 mV
    9.461
    """
    return _evaluate(mu, sigma, tau_m, theta, v_reset, tau_ref, dt, False, tau_syn)


def lif_rate_derivatives(mu, sigma, tau_m=0.020, theta=20.0, v_reset=10.0, tau_ref=0.002, *,
                         dt: float | None = None, tau_syn=None):
    """Siegert rate and its derivatives with respect to μ and σ².

    Parameters are those of :func:`lif_rate`. With ``tau_syn`` the rate is the
    colored-noise rate of :func:`lif_rate` (threshold and reset raised by
    :func:`colored_noise_shift`, proportional to σ) and the σ² derivative includes the
    shift's dependence on σ: ``∂ν/∂σ² = ∂ν/∂σ²|shifted - (c/2σ) ∂ν/∂μ`` with
    ``c = α/2 √(τ_s/τ_m)``.

    Returns
    -------
    nu : ndarray
        Rate in Hz.
    dnu_dmu : ndarray
        ∂ν/∂μ in Hz/mV.
    dnu_dsigma2 : ndarray
        ∂ν/∂(σ²) in Hz/mV² (NaN where σ = 0, where it is undefined).
    """
    return _evaluate(mu, sigma, tau_m, theta, v_reset, tau_ref, dt, True, tau_syn)


def power_law(mu, a, b, n):
    """Threshold power law ``ν = a [μ - b]₊ⁿ`` (Hz; μ and b in mV, a in Hz/mVⁿ)."""
    x = np.maximum(np.asarray(mu, float) - b, 0.0)
    return a * x ** n


def fit_power_law(tau_m=0.020, sigma=5.0, theta=20.0, v_reset=10.0, tau_ref=0.002, *,
                  rate_range=(0.0, 10.0), n_points=400, return_info=False,
                  dt: float | None = None, mu_grid: tuple | None = None,
                  input_kind: str = "voltage"):
    """Fit ``ν = a [μ - b]₊ⁿ`` to the Siegert rate on its low-rate part (Ekelmans et al. 2023).

    The Siegert curve is sampled at ``n_points`` values of μ, evenly spaced between the μ at
    which the rate is 1e-3 of the upper end of ``rate_range`` and the μ giving that upper
    end (10 Hz by default); ``(a, b, n)`` minimise the squared rate error there.

    Parameters
    ----------
    tau_m, sigma, theta, v_reset, tau_ref : float
        LIF parameters (s, mV) as in :func:`lif_rate`; ``sigma`` > 0 is the external noise.
    rate_range : (float, float), default (0, 10)
        Rates (Hz) covered by the fit.
    n_points : int, default 400
    return_info : bool, default False
        Also return a dict with the fit's root-mean-square and maximal error (Hz) and the
        μ range (mV).
    dt : float, optional
        Fit the rate of a neuron simulated with time step ``dt`` (s) instead of the
        continuous-time rate (see :func:`lif_rate`): predictions for
        :func:`spikewire.simulate` runs, whose threshold is checked only every ``dt``.
    mu_grid : (float, float), optional
        ``(start, step)`` in mV: fit on the input grid ``start, start + step, ...`` up to
        the last point whose rate is below the upper end of ``rate_range``, instead of the
        ``n_points`` window above. ``EKELMANS_MU_GRID = (-50.0, 0.5)`` is the window of
        Ekelmans et al.'s code (μ from -50 mV in 0.5 mV steps, points below 10 Hz), which
        weights the sub-threshold zeros as well.
    input_kind : {"voltage", "current"}, default "voltage"
        What the input axis of the fit is. ``"voltage"``: the mean input μ in mV (the
        convention of :func:`lif_rate`), ``sigma`` in mV. ``"current"``: the input as a rate
        of change of the membrane potential, ``x = μ/τ_m`` in mV/s, with the membrane
        equation ``dV/dt = -V/τ_m + x + s ξ(t)`` and ``sigma`` = s in mV/√s (so that
        σ = s √τ_m in :func:`lif_rate`'s convention); ``mu_grid`` and the returned ``b`` are
        then in mV/s and ``a`` in Hz/(mV/s)ⁿ. This is the input of Ekelmans et al. (2023)'s
        SSN (external inputs in mV/s) and, with :data:`EKELMANS_TABLE_D`, the convention
        that comes closest to their Table D.

    Returns
    -------
    a : float
        Prefactor in Hz/mVⁿ (Hz/(mV/s)ⁿ for ``input_kind="current"``).
    b : float
        Input threshold in mV (mV/s for ``input_kind="current"``; may be negative: firing
        below the rest potential).
    n : float
        Exponent.
    """
    from scipy.optimize import brentq, least_squares

    for name, v in (("tau_m", tau_m), ("sigma", sigma), ("tau_ref", tau_ref)):
        if not np.isscalar(v) or not np.isfinite(v):
            raise TypeError(f"{name} must be a finite scalar, got {v!r}")
    if input_kind not in ("voltage", "current"):
        raise ValueError(f"input_kind must be 'voltage' (μ in mV) or 'current' (μ/τ_m in "
                         f"mV/s), got {input_kind!r}")
    if input_kind == "current":
        # fit in μ = τ_m x with σ = s √τ_m, then map (a, b) back to the x axis: the squared
        # rate errors are the same on both axes, so the optimum is the same fit
        if tau_m <= 0:
            raise ValueError(f"tau_m must be > 0 s, got {tau_m!r}")
        grid = None
        if mu_grid is not None:
            try:
                start, step = (float(x) for x in mu_grid)
            except (TypeError, ValueError):
                raise TypeError(f"mu_grid must be (start, step) in mV/s, got "
                                f"{mu_grid!r}") from None
            grid = (start * tau_m, step * tau_m)
        out = fit_power_law(tau_m, sigma * math.sqrt(tau_m), theta, v_reset, tau_ref,
                            rate_range=rate_range, n_points=n_points, return_info=return_info,
                            dt=dt, mu_grid=grid)
        a, b, n = out[0] * tau_m ** out[2], out[1] / tau_m, out[2]
        if not return_info:
            return a, b, n
        info = dict(out[3])
        info["mu_range"] = tuple(m / tau_m for m in info["mu_range"])
        return a, b, n, info
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0 mV for a power-law fit, got {sigma!r} "
                         "(without noise the LIF curve has no power-law onset)")
    _check_lif(0.0, sigma, tau_m, theta, v_reset, tau_ref)
    lo_rate, hi_rate = map(float, rate_range)
    if not (0 <= lo_rate < hi_rate):
        raise ValueError(f"rate_range must be (low, high) with 0 <= low < high Hz, got "
                         f"{rate_range!r}")
    if hi_rate * tau_ref >= 1:
        raise ValueError(f"upper rate {hi_rate} Hz is above the refractory limit 1/tau_ref")

    def rate(m):
        return float(lif_rate(m, sigma, tau_m, theta, v_reset, tau_ref, dt=dt))

    lo_mu = theta - 50 * sigma - 10.0
    hi_mu = theta + 10 * sigma + 1000.0
    mu_hi = brentq(lambda m: rate(m) - hi_rate, lo_mu, hi_mu, xtol=1e-12)
    if mu_grid is None:
        mu_lo = brentq(lambda m: rate(m) - max(lo_rate, 1e-3 * hi_rate), lo_mu, mu_hi,
                       xtol=1e-12)
        mu = np.linspace(mu_lo, mu_hi, int(n_points))
    else:
        try:
            start, step = (float(x) for x in mu_grid)
        except (TypeError, ValueError):
            raise TypeError(f"mu_grid must be (start, step) in mV, got {mu_grid!r}") from None
        if not (np.isfinite(start) and np.isfinite(step) and step > 0):
            raise ValueError(f"mu_grid must be (start, step) with finite start and step > 0 "
                             f"mV, got {mu_grid!r}")
        if start >= mu_hi:
            raise ValueError(f"mu_grid starts at {start} mV, where the rate already exceeds "
                             f"{hi_rate} Hz; start lower")
        mu = start + step * np.arange(int(np.floor((mu_hi - start) / step)) + 1)
        mu = mu[lif_rate(mu, sigma, tau_m, theta, v_reset, tau_ref, dt=dt) < hi_rate]
        if mu.size < 4:
            raise ValueError(f"mu_grid {mu_grid!r} leaves {mu.size} points below {hi_rate} "
                             "Hz; use a smaller step")
        mu_lo = float(mu[0])
        # start the searches from the rising part, not from the far sub-threshold end
        mu_lo_start = brentq(lambda m: rate(m) - 1e-3 * hi_rate, lo_mu, mu_hi, xtol=1e-12)
    nu = lif_rate(mu, sigma, tau_m, theta, v_reset, tau_ref, dt=dt)
    scale = mu_hi - mu_lo

    def resid(p):
        a, b, n = np.exp(p[0]), p[1], p[2]
        return (power_law(mu, a, b, n) - nu) / hi_rate

    if mu_grid is not None:
        scale = mu_hi - mu_lo_start
    best = None
    for n0 in (1.5, 2.0, 3.0, 4.0):
        b0 = (mu_lo if mu_grid is None else mu_lo_start) - 0.2 * scale
        a0 = hi_rate / (mu_hi - b0) ** n0
        r = least_squares(resid, [np.log(a0), b0, n0], method="lm", x_scale=[1, scale, 1])
        if best is None or r.cost < best.cost:
            best = r
    a, b, n = float(np.exp(best.x[0])), float(best.x[1]), float(best.x[2])
    if not return_info:
        return a, b, n
    err = power_law(mu, a, b, n) - nu
    info = {"rmse": float(np.sqrt(np.mean(err**2))), "max_error": float(np.abs(err).max()),
            "mu_range": (float(mu[0]), float(mu[-1]))}
    return a, b, n, info


def _cv_point(mu, sigma, tau_m, theta, v_reset, tau_ref):
    from scipy.integrate import quad

    if sigma == 0:
        return 0.0
    yt, yr = (theta - mu) / sigma, (v_reset - mu) / sigma
    c = yt * yt if yt > 0 else 0.0
    nu_scaled = _evaluate(mu, sigma, tau_m, theta, v_reset, tau_ref, None, False)
    if yt > 0:
        # ν = S/den with S = e^{-c}; recover den without forming S·(...) twice
        s = math.exp(-c)
        if s == 0.0 or float(nu_scaled) == 0.0:
            return 1.0  # deep sub-threshold: Poisson (Kramers) limit
        den = s / float(nu_scaled)
    else:
        den = 1.0 / float(nu_scaled)

    def inner_integrand(y, x):
        # e^{x² - 2c} e^{y²} (1 + erf y)², written to stay finite for all x, y <= y_θ:
        # for y <= 0, e^{y²}(1 + erf y)² = e^{-y²} erfcx(-y)²
        if y > 0:
            return math.exp(x * x + y * y - 2 * c) * (1.0 + math.erf(y)) ** 2
        e = _erfcx_pos(-y)
        return math.exp(x * x - y * y - 2 * c) * e * e

    def outer(x):
        lo = min(x, 0.0) - 9.0
        return quad(inner_integrand, lo, x, args=(x,), epsabs=0, epsrel=1e-9, limit=200)[0]

    val = quad(outer, yr, yt, epsabs=0, epsrel=1e-8, limit=200)[0]
    return math.sqrt(max(2.0 * math.pi * tau_m**2 * val / den**2, 0.0))


def lif_cv(mu, sigma, tau_m=0.020, theta=20.0, v_reset=10.0, tau_ref=0.002) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals under white noise.

    ``CV² = 2π (ν τ_m)² ∫_{y_r}^{y_θ} e^{x²} ∫_{-∞}^{x} e^{y²} (1 + erf y)² dy dx``
    (Brunel 2000, appendix), evaluated by nested adaptive quadrature in a scaled form that
    does not overflow; 1 (the Poisson limit) where the rate underflows. Tens of ms per
    point: meant for comparisons with simulations, not for large grids.

    Parameters are those of :func:`lif_rate`; returns an array of the broadcast shape.
    """
    mu, sigma, tau_m, theta, v_reset, tau_ref = _check_lif(mu, sigma, tau_m, theta, v_reset,
                                                           tau_ref)
    out = np.empty(mu.shape)
    for idx in np.ndindex(mu.shape):
        out[idx] = _cv_point(float(mu[idx]), float(sigma[idx]), float(tau_m[idx]),
                             float(theta[idx]), float(v_reset[idx]), float(tau_ref[idx]))
    return out
