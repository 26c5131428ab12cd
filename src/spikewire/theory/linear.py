"""The threshold-linear E/I rate model and phase-plane figures.

Model (Wilson–Cowan type; seed notes on balanced networks, Strogatz ch. 5–6)::

    τ_E dν_E/dt = -ν_E + [M_EE ν_E + M_EI ν_I + h_E]₊
    τ_I dν_I/dt = -ν_I + [M_IE ν_E + M_II ν_I + h_I]₊

``M`` is dimensionless and signed (M_EI, M_II <= 0 for inhibition), ``h`` is the external
input in Hz (the notes write it as ``-γ``). In the region where both populations are active
the dynamics are linear with Jacobian::

    J = [[(M_EE - 1)/τ_E,  M_EI/τ_E],
         [ M_IE/τ_I,      (M_II - 1)/τ_I]]

(the notes print ``M_IE/τ_E`` in the lower-left entry; the I row is divided by τ_I).
A fixed point is looked for in each of the four activity patterns (both active, only E,
only I, none); a pattern's candidate is valid if its active rates are positive and its
silent populations receive non-positive input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikewire.theory.ssn import _pair, classify_fixed_point

__all__ = ["LinearFixedPoint", "LinearEIResult", "classify_linear_ei", "simulate_linear_ei",
           "plot_phase_plane", "linear_rhs"]


@dataclass
class LinearFixedPoint:
    """One fixed point: ``rates`` (Hz), ``active`` pattern, ``jacobian`` (1/s),
    ``eigenvalues``, ``kind`` (see :func:`~spikewire.theory.classify_fixed_point`) and
    ``stable``."""

    rates: np.ndarray
    active: tuple
    jacobian: np.ndarray
    eigenvalues: np.ndarray
    kind: str
    stable: bool


@dataclass
class LinearEIResult:
    """All fixed points of the threshold-linear E/I model.

    ``primary`` is the fixed point with both populations active if there is one, else the
    first valid one, else None. ``limit_cycle`` is True when the primary point is an
    unstable focus: rectification then bounds the trajectories on a limit cycle (checked
    numerically by :func:`simulate_linear_ei`).
    """

    fixed_points: list
    M: np.ndarray
    inputs: np.ndarray
    tau: np.ndarray

    @property
    def primary(self):
        for fp in self.fixed_points:
            if all(fp.active):
                return fp
        return self.fixed_points[0] if self.fixed_points else None

    @property
    def kind(self) -> str:
        p = self.primary
        return "no fixed point" if p is None else p.kind

    @property
    def limit_cycle(self) -> bool:
        p = self.primary
        return p is not None and p.kind == "unstable focus"

    def summary(self) -> str:
        if not self.fixed_points:
            return "no fixed point: activity grows without bound"
        return "\n".join(f"nu = ({fp.rates[0]:.4g}, {fp.rates[1]:.4g}) Hz "
                         f"[{'E' if fp.active[0] else '-'}{'I' if fp.active[1] else '-'}]: "
                         f"{fp.kind}" for fp in self.fixed_points)

    __str__ = summary


def _check_m(M):
    M = np.asarray(M, dtype=float)
    if M.shape != (2, 2):
        raise ValueError(f"M must be a 2 x 2 post x pre matrix (E, I), got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError("M must be finite")
    return M


def classify_linear_ei(M, inputs, tau=(0.020, 0.010)) -> LinearEIResult:
    """Fixed points, Jacobians, eigenvalues and their classification.

    Parameters
    ----------
    M : array_like (2, 2)
        Signed dimensionless coupling, post × pre, (E, I) order.
    inputs : array_like (2,)
        External inputs (h_E, h_I) in Hz.
    tau : array_like (2,), default (0.020, 0.010)
        Time constants in s.

    Returns
    -------
    LinearEIResult
        ``.primary.kind`` is one of "stable node", "stable focus" (damped oscillations),
        "unstable focus" (limit cycle), "saddle", "unstable node", "center", "degenerate".
    """
    M = _check_m(M)
    h = _pair("inputs", inputs, unit="Hz")
    tau = _pair("tau", tau, positive=True, unit="s")
    fps = []
    for active in ((True, True), (True, False), (False, True), (False, False)):
        D = np.diag(np.array(active, float))
        A = np.eye(2) - D @ M
        rhs = D @ h
        try:
            nu = np.linalg.solve(A, rhs)
        except np.linalg.LinAlgError:
            continue
        drive = M @ nu + h
        ok = all((nu[k] > 0) if active[k] else (drive[k] <= 0 and abs(nu[k]) < 1e-12)
                 for k in range(2))
        if not ok:
            continue
        nu = np.where(active, nu, 0.0)
        jac = (D @ M - np.eye(2)) / tau[:, None]
        ev = np.linalg.eigvals(jac)
        ev = ev[np.argsort(-ev.real)]
        kind = classify_fixed_point(ev)
        fps.append(LinearFixedPoint(nu, active, jac, ev, kind, bool(np.all(ev.real < 0))))
    return LinearEIResult(fps, M, h, tau)


def simulate_linear_ei(M, inputs, tau=(0.020, 0.010), *, rates0=(1.0, 1.0),
                       duration: float = 1.0, dt: float = 1e-4, max_rate: float = 1e6):
    """Integrate the threshold-linear model (exponential Euler).

    Returns ``(times (s), rates (n, 2) Hz, diverged)``.
    """
    M = _check_m(M)
    h = _pair("inputs", inputs, unit="Hz")
    tau = _pair("tau", tau, positive=True, unit="s")
    if not (duration > 0 and 0 < dt <= 0.5 * tau.min()):
        raise ValueError(f"need duration > 0 and 0 < dt <= tau/2, got {duration!r}, {dt!r}")
    n = int(round(duration / dt))
    decay = np.exp(-dt / tau)
    r = _pair("rates0", rates0, unit="Hz").copy()
    out = np.empty((n + 1, 2))
    out[0] = r
    for k in range(n):
        target = np.maximum(M @ r + h, 0.0)
        r = target + (r - target) * decay
        out[k + 1] = r
        if r.max() > max_rate:
            return np.arange(k + 2) * dt, out[:k + 2], True
    return np.arange(n + 1) * dt, out, False


def plot_phase_plane(rhs, *, xlim=(0.0, 20.0), ylim=(0.0, 20.0), trajectories=None,
                     fixed_points=None, ax=None, n=200, labels=("ν_E (Hz)", "ν_I (Hz)"),
                     title=None):
    """Phase plane with nullclines, flow field and trajectories (matplotlib, Agg-safe).

    Parameters
    ----------
    rhs : callable
        ``rhs(nu_E, nu_I) -> (dnu_E/dt, dnu_I/dt)`` on arrays.
    trajectories : list of ndarray (k, 2), optional
        Rate trajectories to draw.
    fixed_points : list of (rates, stable), optional
        Filled markers for stable, open for unstable points.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    x = np.linspace(*xlim, n)
    y = np.linspace(*ylim, n)
    X, Y = np.meshgrid(x, y)
    U, V = rhs(X, Y)
    ax.contour(X, Y, U, levels=[0], colors="tab:blue", linewidths=1.5)
    ax.contour(X, Y, V, levels=[0], colors="tab:red", linewidths=1.5)
    s = slice(None, None, max(1, n // 20))
    speed = np.hypot(U[s, s], V[s, s])
    speed[speed == 0] = 1
    ax.quiver(X[s, s], Y[s, s], U[s, s] / speed, V[s, s] / speed, color="0.7", width=0.003)
    for tr in trajectories or []:
        tr = np.asarray(tr)
        ax.plot(tr[:, 0], tr[:, 1], color="k", lw=0.8)
        ax.plot(tr[0, 0], tr[0, 1], "k.", ms=4)
    for rates, stable in fixed_points or []:
        ax.plot(rates[0], rates[1], "o", color="k", mfc="k" if stable else "white", ms=7)
    ax.plot([], [], color="tab:blue", label="E nullcline")
    ax.plot([], [], color="tab:red", label="I nullcline")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if title:
        ax.set_title(title)
    return ax


def linear_rhs(M, inputs, tau=(0.020, 0.010)):
    """``rhs(nu_E, nu_I)`` of the threshold-linear model for :func:`plot_phase_plane`."""
    M = _check_m(M)
    h = _pair("inputs", inputs)
    tau = _pair("tau", tau, positive=True)

    def rhs(e, i):
        de = (-e + np.maximum(M[0, 0] * e + M[0, 1] * i + h[0], 0)) / tau[0]
        di = (-i + np.maximum(M[1, 0] * e + M[1, 1] * i + h[1], 0)) / tau[1]
        return de, di

    return rhs
