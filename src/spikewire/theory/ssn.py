"""Two-population stabilized supralinear network (SSN): steady states, stability, dynamics.

Model (Ahmadian et al. 2013; Ekelmans et al. 2023)::

    τ_X dν_X/dt = -ν_X + a_X [μ_X - b_X]₊^{n_X},     μ = W ν + h,      X ∈ {E, I}

``W`` is the signed 2 × 2 population coupling (post × pre, columns E then I; units mV·s so
that ``W ν`` is in mV: for a LIF network ``W_XY = K_XY j_XY τ_X``), ``h`` the external input
(mV), ``(a, b, n)`` the power-law transfer parameters (Hz/mVⁿ, mV, –).

Steady states are found without a multi-dimensional solver. For ``W_IE > 0`` the
I-nullcline is an explicit monotone curve: with ``s = (ν_I/a_I)^{1/n_I}``,
``ν_E(s) = (s + b_I + J_II a_I sⁿ - h_I)/J_IE`` (and ``ν_I = 0`` for ``ν_E`` below
``(b_I - h_I)/J_IE``). Along it the E equation becomes a scalar residual
``g = μ_E - (ν_E/a_E)^{1/n_E}``; every sign change of g on a dense log grid brackets one
steady state with ``ν_E > 0``, refined by vectorised bisection to machine precision. The
state with silent E (``ν_E = 0``) is checked separately. All points of a regime map are
solved together, so a 200 × 200 map takes about a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SSN", "SteadyStates", "ssn_steady_states", "ssn_simulate", "ssn_jacobian",
           "classify_fixed_point", "SSNTrajectory"]

_DEFAULT_TAU = (0.020, 0.010)


def _pair(name, value, *, positive=False, unit=""):
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.repeat(arr, 2)
    if arr.shape != (2,):
        raise ValueError(f"{name} must be a scalar or one value per population (E, I), "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite{f' ({unit})' if unit else ''}, got {arr}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0{f' ({unit})' if unit else ''}, got {arr}")
    return arr


def _check_w(W):
    W = np.asarray(W, dtype=np.float64)
    if W.shape != (2, 2):
        raise ValueError(f"W must be a 2 x 2 post x pre population coupling (E, I), got shape "
                         f"{W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("W must be finite")
    if W[0, 0] < 0 or W[1, 0] < 0 or W[0, 1] > 0 or W[1, 1] > 0:
        raise ValueError("W must be signed like a Dale network: column E (W[:, 0]) >= 0 and "
                         f"column I (W[:, 1]) <= 0; got {W.tolist()}. Pass inhibitory "
                         "couplings as negative numbers, e.g. [[J_EE, -J_EI], [J_IE, -J_II]]")
    return W


@dataclass(frozen=True)
class SSN:
    """Parameters of a two-population SSN.

    Attributes
    ----------
    W : ndarray (2, 2)
        Signed coupling, post × pre, (E, I) order, in mV·s (``W ν`` in mV).
    a : ndarray (2,)
        Power-law prefactors in Hz/mVⁿ.
    b : ndarray (2,)
        Input thresholds in mV.
    n : ndarray (2,)
        Exponents (> 0; supralinear for n > 1).
    tau : ndarray (2,)
        Population time constants in s (only enter dynamics and stability).
    """

    W: np.ndarray
    a: np.ndarray
    b: np.ndarray
    n: np.ndarray
    tau: np.ndarray = field(default_factory=lambda: np.array(_DEFAULT_TAU))

    def __post_init__(self):
        object.__setattr__(self, "W", _check_w(self.W))
        object.__setattr__(self, "a", _pair("a", self.a, positive=True, unit="Hz/mV^n"))
        object.__setattr__(self, "b", _pair("b", self.b, unit="mV"))
        object.__setattr__(self, "n", _pair("n", self.n, positive=True))
        object.__setattr__(self, "tau", _pair("tau", self.tau, positive=True, unit="s"))

    @property
    def det(self) -> float:
        """Determinant of the signed coupling, ``J_EI J_IE - J_EE J_II`` (mV²·s²)."""
        return float(np.linalg.det(self.W))

    def transfer(self, mu):
        """Population rates (Hz) for inputs ``mu`` (..., 2) in mV."""
        x = np.maximum(np.asarray(mu, float) - self.b, 0.0)
        return self.a * x ** self.n

    def gain(self, rates):
        """Slopes dν/dμ (Hz/mV) of the transfer function at the given rates (..., 2)."""
        r = np.maximum(np.asarray(rates, float), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = self.n * self.a ** (1.0 / self.n) * r ** ((self.n - 1.0) / self.n)
        return np.where(r > 0, g, 0.0)

    def rhs(self, inputs):
        """``rhs(nu_E, nu_I) -> (dν_E/dt, dν_I/dt)`` (Hz/s) for :func:`plot_phase_plane`."""
        h = _pair("inputs", inputs, unit="mV")

        def f(e, i):
            mu_e = self.W[0, 0] * e + self.W[0, 1] * i + h[0]
            mu_i = self.W[1, 0] * e + self.W[1, 1] * i + h[1]
            re = self.a[0] * np.maximum(mu_e - self.b[0], 0.0) ** self.n[0]
            ri = self.a[1] * np.maximum(mu_i - self.b[1], 0.0) ** self.n[1]
            return (re - e) / self.tau[0], (ri - i) / self.tau[1]

        return f

    def isn_threshold(self) -> float:
        """E rate (Hz) above which the E subnetwork alone is unstable (ISN condition).

        ``f'_E J_EE > 1`` ⇔ ``ν_E > (n_E a_E^{1/n_E} J_EE)^{-n_E/(n_E - 1)}``; ``inf`` when
        ``J_EE = 0`` or ``n_E <= 1`` (the E gain then never exceeds ``1/J_EE`` from below).
        """
        jee, a, n = self.W[0, 0], self.a[0], self.n[0]
        if jee <= 0 or n <= 1:
            return float("inf")
        return float((n * a ** (1 / n) * jee) ** (-n / (n - 1)))


def _as_ssn(W, a, b, n, tau):
    if isinstance(W, SSN):
        return W
    return SSN(W, a, b, n, _DEFAULT_TAU if tau is None else tau)


def classify_fixed_point(eigenvalues, tol: float = 1e-12) -> str:
    """Name a 2-D fixed point from its Jacobian eigenvalues.

    Returns one of "stable node", "stable focus", "unstable focus", "unstable node",
    "saddle", "center" (purely imaginary pair) or "degenerate" (a zero eigenvalue).
    """
    ev = np.asarray(eigenvalues, dtype=complex)
    re, im = ev.real, ev.imag
    scale = max(1.0, float(np.abs(ev).max()))
    if np.any(np.abs(ev) <= tol * scale):
        return "degenerate"
    if np.any(np.abs(im) > tol * scale):
        if np.all(np.abs(re) <= tol * scale):
            return "center"
        return "stable focus" if re[0] < 0 else "unstable focus"
    if re[0] * re[1] < 0:
        return "saddle"
    return "stable node" if re.max() < 0 else "unstable node"


def ssn_jacobian(model: SSN, rates) -> np.ndarray:
    """Jacobian (1/s) of the SSN dynamics at ``rates`` (..., 2): ``T⁻¹(-1 + F' W)``."""
    r = np.asarray(rates, float)
    g = model.gain(r)
    jac = g[..., :, None] * model.W - np.eye(2)
    return jac / model.tau[:, None]


def _eig2(jac):
    tr = jac[..., 0, 0] + jac[..., 1, 1]
    det = jac[..., 0, 0] * jac[..., 1, 1] - jac[..., 0, 1] * jac[..., 1, 0]
    disc = np.sqrt((0.25 * tr * tr - det).astype(complex))
    return np.stack([0.5 * tr + disc, 0.5 * tr - disc], axis=-1)


@dataclass
class SteadyStates:
    """All steady states of an SSN for one input.

    Attributes
    ----------
    rates : ndarray (k, 2)
        (ν_E, ν_I) in Hz, sorted by ν_E; ``k = 0`` when none exists below ``max_rate``.
    jacobians : ndarray (k, 2, 2)
        Jacobian in 1/s.
    eigenvalues : ndarray (k, 2), complex
    stable : ndarray (k,), bool
    kind : list of str
        :func:`classify_fixed_point` of each state.
    isn : ndarray (k,), bool
        Inhibition-stabilised: a stable state whose E subnetwork alone is unstable
        (``f'_E J_EE > 1``).
    inputs : ndarray (2,)
        The external input (mV).
    max_rate : float
        Rates above this (Hz) were not searched.
    """

    rates: np.ndarray
    jacobians: np.ndarray
    eigenvalues: np.ndarray
    stable: np.ndarray
    kind: list
    isn: np.ndarray
    inputs: np.ndarray
    max_rate: float

    @property
    def exists(self) -> bool:
        """True if at least one steady state exists."""
        return self.rates.shape[0] > 0

    @property
    def n_stable(self) -> int:
        return int(self.stable.sum())

    @property
    def stable_rates(self) -> np.ndarray:
        return self.rates[self.stable]

    def summary(self) -> str:
        """A short human-readable description."""
        h = ", ".join(f"{x:g}" for x in self.inputs)
        if not self.exists:
            return (f"no steady state with rates below {self.max_rate:g} Hz for inputs ({h}) mV:"
                    " inhibition cannot stabilise the network and activity grows without bound")
        lines = [f"{len(self.rates)} steady state(s) for inputs ({h}) mV:"]
        for r, k, isn in zip(self.rates, self.kind, self.isn, strict=True):
            lines.append(f"  nu_E = {r[0]:.4g} Hz, nu_I = {r[1]:.4g} Hz: {k}"
                         + (" (inhibition-stabilised)" if isn else ""))
        return "\n".join(lines)

    __str__ = summary


# --------------------------------------------------------------------------- core solver

def _solve_s(c, jii_ai, n_i, iters=80):
    """Solve s + jii_ai s^n = c for s >= 0 (c >= 0), vectorised monotone Newton."""
    c = np.asarray(c, float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        s = np.minimum(c, np.where(jii_ai > 0, (c / np.where(jii_ai > 0, jii_ai, 1.0))
                                   ** (1.0 / n_i), np.inf))
    s = np.where(c > 0, s, 0.0)
    for _ in range(iters):
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            f = s + jii_ai * s**n_i - c
            df = 1.0 + jii_ai * n_i * np.where(s > 0, s ** (n_i - 1.0), 0.0 if n_i >= 1 else 1e300)
            step = f / df
        s_new = np.maximum(s - step, 0.0)
        if np.all(np.abs(s_new - s) <= 1e-15 * np.maximum(s, 1e-300)):
            s = s_new
            break
        s = s_new
    return s


def _batch_states(model: SSN, hE, hI, max_rate=1e4, n_grid=160):
    """All steady states for many inputs at once.

    Returns (point_index, nu_E, nu_I) arrays over all states found.
    """
    hE = np.asarray(hE, float).ravel()
    hI = np.asarray(hI, float).ravel()
    W = model.W
    jee, jei, jie, jii = W[0, 0], -W[0, 1], W[1, 0], -W[1, 1]
    aE, aI = model.a
    bE, bI = model.b
    nE, nI = model.n
    P = hE.size
    cI = hI - bI
    s0 = _solve_s(np.maximum(cI, 0.0), jii * aI, nI)     # I-alone drive when ν_E = 0
    nuI0 = aI * s0**nI

    idx_list, e_list, i_list = [], [], []
    # silent-E state: ν_E = 0 and E input below threshold
    silent = hE - bE - jei * nuI0 <= 0
    idx_list.append(np.flatnonzero(silent))
    e_list.append(np.zeros(silent.sum()))
    i_list.append(nuI0[silent])

    def g_of(nuE, nuI, he):
        with np.errstate(invalid="ignore", over="ignore"):
            return jee * nuE - jei * nuI + he - bE - (nuE / aE) ** (1.0 / nE)

    # Grids reach 1e-30 of their range: near the edge of the active set (an input just
    # above E's switch-on) the E rate can be ~1e-14 Hz while the I rate is ~100 Hz.
    q = np.concatenate([np.geomspace(1e-30, 1e-12, 60, endpoint=False),
                        np.geomspace(1e-12, 1.0, n_grid)])
    # ---- segment A: ν_I fixed (0 when J_IE > 0 and I below threshold; I-alone when J_IE = 0)
    if jie > 0:
        e0 = np.minimum(np.maximum(-cI / jie, 0.0), max_rate)
        nuIA = np.zeros(P)
    else:
        e0 = np.full(P, max_rate)
        nuIA = nuI0
    segA = np.flatnonzero(e0 > 0)
    if segA.size:
        ne = e0[segA, None] * q[None, :]
        g = g_of(ne, nuIA[segA, None], hE[segA, None])
        _brackets_A(g, segA, q, e0, nuIA, hE, g_of, idx_list, e_list, i_list)
    # ---- segment B: along the active I-nullcline, parameter s >= s0
    if jie > 0:
        s_max = (max_rate / aI) ** (1.0 / nI)
        d = np.concatenate([[0.0], np.geomspace(1e-30 * s_max, 1e-10 * s_max, 60,
                                                endpoint=False),
                            np.geomspace(1e-10 * s_max, s_max, n_grid)])
        ctx = _NullclineB(model, s0, hE, hI)
        nuE, nuI, g = ctx.at(np.arange(P)[:, None], d[None, :])
        g = np.where((nuE <= max_rate) & (nuI <= max_rate), g, np.nan)
        _brackets_B(g, d, ctx, idx_list, e_list, i_list)
    idx = np.concatenate(idx_list)
    ne = np.concatenate(e_list)
    ni = np.concatenate(i_list)
    return idx, ne, ni


def _sign_changes(g):
    a, b = g[:, :-1], g[:, 1:]
    with np.errstate(invalid="ignore"):
        return np.nonzero((a > 0) & (b < 0) | (a < 0) & (b > 0))


def _brackets_A(g, rows_map, q, e0, nuIA, hE, g_of, idx_list, e_list, i_list):
    r, k = _sign_changes(g)
    if r.size == 0:
        return
    pts = rows_map[r]
    lo = np.log(q[k])
    hi = np.log(q[k + 1])
    glo = g[r, k]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        gm = g_of(e0[pts] * np.exp(mid), nuIA[pts], hE[pts])
        same = np.sign(gm) == np.sign(glo)
        lo = np.where(same, mid, lo)
        glo = np.where(same, gm, glo)
        hi = np.where(same, hi, mid)
    x = e0[pts] * np.exp(0.5 * (lo + hi))
    idx_list.append(pts)
    e_list.append(x)
    i_list.append(nuIA[pts])


class _NullclineB:
    """Points on the active I-nullcline, ``s = s0 + d``, computed without cancellation.

    Near the edge of the active set the E rate ``ν_E = (s + J_II a_I sⁿ - c_I)/J_IE`` is a
    tiny difference of O(100) terms, and so is the E input ``J_EE ν_E - J_EI ν_I + h_E -
    b_E``. Both are evaluated from increments over the state at ``d = 0``:
    ``Δ(sⁿ) = s0ⁿ expm1(n log1p(d/s0))`` and ``g = J_EE ν_E - J_EI a_I Δ(sⁿ) + g0`` with
    ``g0 = h_E - b_E - J_EI ν_I(s0)`` computed once, so rates down to ~1e-300 Hz keep full
    relative precision.
    """

    def __init__(self, model, s0, hE, hI):
        W = model.W
        self.jee, self.jei, self.jie, self.jii = W[0, 0], -W[0, 1], W[1, 0], -W[1, 1]
        self.aE, self.aI = model.a
        self.bE, self.bI = model.b
        self.nE, self.nI = model.n
        self.s0 = s0
        cI = hI - self.bI
        self.base_e = (np.maximum(cI, 0.0) - cI) / self.jie   # ν_E at d = 0 (>= 0)
        self.s0n = s0 ** self.nI
        self.g0 = hE - self.bE - self.jei * self.aI * self.s0n

    def at(self, rows, d):
        s0 = self.s0[rows]
        s0n = self.s0n[rows]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ds_n = np.where(s0 > 0, s0n * np.expm1(self.nI * np.log1p(d / np.where(s0 > 0, s0,
                                                                                   1.0))),
                            d ** self.nI)
            nuE = self.base_e[rows] + (d + self.jii * self.aI * ds_n) / self.jie
            nuE = np.maximum(nuE, 0.0)
            nuI = self.aI * (s0n + ds_n)
            g = (self.jee * nuE - self.jei * self.aI * ds_n + self.g0[rows]
                 - (nuE / self.aE) ** (1.0 / self.nE))
        return nuE, nuI, g


def _brackets_B(g, d, ctx, idx_list, e_list, i_list):
    r, k = _sign_changes(g)
    if r.size == 0:
        return
    lo, hi = d[k].copy(), d[k + 1].copy()
    glo = g[r, k]
    # bisection in log(d) where the bracket spans decades, linear otherwise
    for _ in range(200):
        geo = (lo > 0) & (hi > 4 * lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            mid = np.where(geo, np.sqrt(lo * hi), 0.5 * (lo + hi))
        _, _, gm = ctx.at(r, mid)
        same = np.sign(gm) == np.sign(glo)
        lo = np.where(same, mid, lo)
        glo = np.where(same, gm, glo)
        hi = np.where(same, hi, mid)
        if np.all((hi - lo) <= 4e-16 * hi):
            break
    ne, ni, _ = ctx.at(r, 0.5 * (lo + hi))
    idx_list.append(r)
    e_list.append(ne)
    i_list.append(ni)


def _analyse(model: SSN, rates):
    jac = ssn_jacobian(model, rates)
    ev = _eig2(jac)
    stable = np.all(ev.real < 0, axis=-1)
    gE = model.gain(rates)[..., 0]
    isn = gE * model.W[0, 0] > 1.0
    return jac, ev, stable, isn


def ssn_steady_states(W, inputs, a=None, b=None, n=None, *, tau=None,
                      max_rate: float = 1e4, n_grid: int = 400) -> SteadyStates:
    """All steady states (stable and unstable) of a two-population SSN.

    Parameters
    ----------
    W : array_like (2, 2) or SSN
        Signed coupling post × pre, (E, I) order, mV·s: ``[[J_EE, -J_EI], [J_IE, -J_II]]``.
        An :class:`SSN` carries a, b, n and tau itself.
    inputs : array_like (2,)
        External input (h_E, h_I) in mV.
    a, b, n : float or array_like (2,)
        Power-law parameters per population (Hz/mVⁿ, mV, –).
    tau : array_like (2,), optional
        Population time constants in s (default 20 ms, 10 ms); enter stability only.
    max_rate : float, default 1e4
        Rates above this (Hz) are not searched: the power law describes a LIF neuron only at
        low rates, and a network without a state below it is reported as having none.
    n_grid : int, default 400
        Grid points per nullcline segment used to bracket roots.

    Returns
    -------
    SteadyStates
        ``.exists`` is False (and ``.summary()`` says so) when there is no steady state.
    """
    model = _as_ssn(W, a, b, n, tau)
    h = _pair("inputs", inputs, unit="mV")
    if not (np.isscalar(max_rate) and max_rate > 0):
        raise ValueError(f"max_rate must be > 0 Hz, got {max_rate!r}")
    _, ne, ni = _batch_states(model, h[0:1], h[1:2], max_rate=max_rate, n_grid=int(n_grid))
    rates = np.stack([ne, ni], axis=-1)
    rates = rates[np.argsort(rates[:, 0], kind="stable")]
    if rates.shape[0] > 1:  # merge duplicates (segment junctions)
        keep = np.ones(len(rates), bool)
        keep[1:] = np.any(np.abs(np.diff(rates, axis=0)) > 1e-9 * (1 + rates[1:]), axis=1)
        rates = rates[keep]
    jac, ev, stable, isn = _analyse(model, rates)
    kinds = [classify_fixed_point(e) for e in ev]
    return SteadyStates(rates, jac, ev, stable, kinds, isn & stable, h, float(max_rate))


@dataclass
class SSNTrajectory:
    """Result of :func:`ssn_simulate`: ``times`` (s), ``rates`` (n_steps, 2) Hz.

    ``diverged`` is True if rates exceeded ``max_rate`` (integration stopped there).
    """

    times: np.ndarray
    rates: np.ndarray
    diverged: bool


def ssn_simulate(W, inputs, a=None, b=None, n=None, *, tau=None, duration: float = 1.0,
                 dt: float = 1e-4, rates0=(0.0, 0.0), max_rate: float = 1e4) -> SSNTrajectory:
    """Integrate the SSN rate dynamics (exponential Euler).

    Parameters
    ----------
    W, a, b, n, tau
        As in :func:`ssn_steady_states`.
    inputs : array_like (2,) or (n_steps, 2) or callable
        External input in mV: constant, one row per step, or ``f(t) -> (2,)``.
    duration, dt : float
        In s; ``dt`` should be well below the smaller time constant.
    rates0 : array_like (2,)
        Initial rates (Hz).
    max_rate : float
        Stop and flag ``diverged`` when a rate exceeds this (Hz).
    """
    model = _as_ssn(W, a, b, n, tau)
    if not (duration > 0 and dt > 0):
        raise ValueError(f"duration and dt must be > 0 s, got {duration!r}, {dt!r}")
    if dt > 0.5 * model.tau.min():
        raise ValueError(f"dt = {dt:g} s is too coarse for tau = {model.tau.min():g} s; "
                         "use dt <= tau/2 (tau/20 for accuracy)")
    n_steps = int(round(duration / dt))
    times = np.arange(n_steps + 1) * dt
    if callable(inputs):
        h_of = inputs
    else:
        arr = np.asarray(inputs, float)
        if arr.shape == (2,):
            def h_of(t, arr=arr):
                return arr
        elif arr.ndim == 2 and arr.shape[1] == 2 and arr.shape[0] >= n_steps:
            def h_of(t, arr=arr):
                return arr[min(int(round(t / dt)), arr.shape[0] - 1)]
        else:
            raise ValueError(f"inputs must be (2,), (n_steps={n_steps}, 2) or callable, got "
                             f"shape {arr.shape}")
    decay = np.exp(-dt / model.tau)
    r = _pair("rates0", rates0, unit="Hz").copy()
    out = np.empty((n_steps + 1, 2))
    out[0] = r
    diverged = False
    for k in range(n_steps):
        target = model.transfer(model.W @ r + np.asarray(h_of(times[k]), float))
        r = target + (r - target) * decay
        out[k + 1] = r
        if not np.all(np.isfinite(r)) or r.max() > max_rate:
            diverged = True
            out = out[:k + 2]
            times = times[:k + 2]
            break
    return SSNTrajectory(times, out, diverged)
