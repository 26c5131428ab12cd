"""Regime detectors and regime maps for the two-population SSN (Ekelmans et al. 2023).

Definitions used throughout (for a steady state ν* with transfer slopes ``F' = diag(f')``
and ``M = 1 - F'W``):

- **stable**: both Jacobian eigenvalues have negative real part.
- **ISN** (inhibition stabilised): stable and the E subnetwork alone is unstable,
  ``f'_E J_EE > 1`` (equivalently ``ν_E`` above :meth:`SSN.isn_threshold`).
- **paradoxical**: stable and ``∂ν_I/∂h_I < 0`` (``(M⁻¹F')_II < 0``); in a stable 2-D SSN
  this coincides with ISN.
- **supersaturating**: stable and ``∂ν_E/∂μ_ext < 0`` when the input grows along
  ``h = μ_ext (1, r)``.
- **bistable**: two or more stable steady states; **persistent activity**: bistable at
  zero external input.
- **balanced limit**: the N → ∞ solution ``ν = -W⁻¹h`` (rates must be positive to exist);
  it is stable only if ``det W > 0`` (Ekelmans et al., Eq S4; van Vreeswijk & Sompolinsky
  1998). The sign of ``det W`` also fixes the parity of the number of steady states: odd
  for ``det W > 0``, even (possibly zero) for ``det W < 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikewire.theory.ssn import SSN, _as_ssn, _batch_states, _eig2, ssn_jacobian

__all__ = ["RegimeMap", "regime_map", "linear_response", "balanced_rates", "detect_regimes",
           "persistent_activity", "plot_regime_map"]


def linear_response(model: SSN, rates) -> np.ndarray:
    """Steady-state susceptibility ``∂ν/∂h = (1 - F'W)⁻¹ F'`` (Hz/mV), shape (..., 2, 2)."""
    g = model.gain(np.asarray(rates, float))
    M = np.eye(2) - g[..., :, None] * model.W
    det = M[..., 0, 0] * M[..., 1, 1] - M[..., 0, 1] * M[..., 1, 0]
    inv = np.stack([np.stack([M[..., 1, 1], -M[..., 0, 1]], -1),
                    np.stack([-M[..., 1, 0], M[..., 0, 0]], -1)], -2)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = inv / det[..., None, None]
    return inv * g[..., None, :]


def balanced_rates(W, inputs) -> tuple[np.ndarray, bool, bool]:
    """Balanced-state limit ``ν = -W⁻¹ h``.

    Returns ``(rates, exists, stable)``: ``exists`` if both rates are positive, ``stable``
    if moreover ``det W > 0``. For ``det W = 0`` no balanced solution exists.
    """
    W = np.asarray(W.W if isinstance(W, SSN) else W, float)
    h = np.asarray(inputs, float)
    det = W[0, 0] * W[1, 1] - W[0, 1] * W[1, 0]
    if det == 0:
        return np.zeros(2), False, False
    nu = -np.linalg.solve(W, h)
    exists = bool(np.all(nu > 0))
    return nu, exists, exists and det > 0


def detect_regimes(W, inputs, a=None, b=None, n=None, *, tau=None, r: float | None = None,
                   max_rate: float = 1e4) -> dict:
    """Classify the operating point of an SSN for one input.

    Parameters
    ----------
    W, a, b, n, tau
        As in :func:`~spikewire.theory.ssn_steady_states`.
    inputs : array_like (2,)
        (h_E, h_I) in mV.
    r : float, optional
        Direction of input growth for the supersaturation test (``h ∝ (1, r)``); default
        ``h_I / h_E``.

    Returns
    -------
    dict
        ``steady_states`` (the :class:`SteadyStates`), ``exists``, ``n_stable``,
        ``bistable``, ``isn``, ``paradoxical``, ``supersaturating`` (each True if some stable
        state has the property), ``det_W``, ``balanced_rates``, ``balanced_exists``,
        ``balanced_stable``.
    """
    from spikewire.theory.ssn import ssn_steady_states

    model = _as_ssn(W, a, b, n, tau)
    ss = ssn_steady_states(model, inputs, max_rate=max_rate)
    h = ss.inputs
    if r is None:
        r = h[1] / h[0] if h[0] != 0 else 1.0
    chi = linear_response(model, ss.rates) if ss.exists else np.zeros((0, 2, 2))
    direction = np.array([1.0, r])
    dnuE = chi[:, 0, :] @ direction
    st = ss.stable
    nu_bal, bal_exists, bal_stable = balanced_rates(model.W, h)
    return {
        "steady_states": ss,
        "exists": ss.exists,
        "n_stable": ss.n_stable,
        "bistable": ss.n_stable >= 2,
        "isn": bool(np.any(ss.isn & st)),
        "paradoxical": bool(np.any((chi[:, 1, 1] < 0) & st)),
        "supersaturating": bool(np.any((dnuE < 0) & st)),
        "det_W": model.det,
        "balanced_rates": nu_bal,
        "balanced_exists": bal_exists,
        "balanced_stable": bal_stable,
    }


def persistent_activity(W, a=None, b=None, n=None, *, tau=None, max_rate: float = 1e4):
    """Stable states with positive rates at zero external input (persistent activity).

    Returns the array of stable rates (k, 2) other than the silent state; empty if none.
    """
    from spikewire.theory.ssn import ssn_steady_states

    ss = ssn_steady_states(_as_ssn(W, a, b, n, tau), (0.0, 0.0), max_rate=max_rate)
    sr = ss.stable_rates
    return sr[np.any(sr > 0, axis=1)]


@dataclass
class RegimeMap:
    """Regimes over a grid of (μ_ext, r), inputs ``h = μ_ext (1, r)``.

    Arrays have shape ``(len(r), len(mu_ext))`` (rows: r, columns: μ_ext).

    Attributes
    ----------
    mu_ext, r : ndarray
        Grid axes (mV; ratio).
    n_states, n_stable : int arrays
        Number of steady states / stable ones below ``max_rate``.
    no_steady_state, bistable, isn, paradoxical, supersaturating : bool arrays
        See the module docstring; properties hold if some stable state has them.
    balanced_exists, balanced_stable : bool arrays
    rates_low : ndarray (..., 2)
        Rates of the lowest stable state (0 where there is none; see ``n_stable``).
    det_W : float
    """

    mu_ext: np.ndarray
    r: np.ndarray
    n_states: np.ndarray
    n_stable: np.ndarray
    no_steady_state: np.ndarray
    bistable: np.ndarray
    isn: np.ndarray
    paradoxical: np.ndarray
    supersaturating: np.ndarray
    balanced_exists: np.ndarray
    balanced_stable: np.ndarray
    rates_low: np.ndarray
    det_W: float

    def fractions(self) -> dict:
        """Fraction of the map covered by each regime."""
        return {k: float(getattr(self, k).mean()) for k in
                ("no_steady_state", "bistable", "isn", "paradoxical", "supersaturating",
                 "balanced_exists", "balanced_stable")}


def regime_map(W, mu_ext, r, a=None, b=None, n=None, *, tau=None, max_rate: float = 1e4,
               n_grid: int = 160, chunk: int = 4000) -> RegimeMap:
    """Map SSN regimes over external drive μ_ext and I/E input ratio r (Ekelmans Fig 5).

    Parameters
    ----------
    W, a, b, n, tau
        As in :func:`~spikewire.theory.ssn_steady_states`.
    mu_ext : array_like (m,)
        External input to E in mV; I receives ``r · μ_ext``.
    r : array_like (k,)
        Ratios μ_ext,I / μ_ext,E.
    max_rate : float, default 1e4
        Rates above this (Hz) count as unbounded.
    n_grid : int, default 160
        Root-bracketing grid per nullcline segment (log spaced).
    chunk : int, default 4000
        Grid points solved together (memory ~ chunk · n_grid · 80 bytes).

    Returns
    -------
    RegimeMap
    """
    model = _as_ssn(W, a, b, n, tau)
    mu_ext = np.asarray(mu_ext, float).ravel()
    r = np.asarray(r, float).ravel()
    if mu_ext.size == 0 or r.size == 0 or not (np.all(np.isfinite(mu_ext))
                                                and np.all(np.isfinite(r))):
        raise ValueError("mu_ext and r must be non-empty finite 1-D arrays")
    MU, R = np.meshgrid(mu_ext, r)
    hE = MU.ravel()
    hI = (MU * R).ravel()
    P = hE.size
    n_states = np.zeros(P, int)
    n_stable = np.zeros(P, int)
    flags = {k: np.zeros(P, bool) for k in ("isn", "paradoxical", "supersaturating")}
    low = np.full((P, 2), np.inf)
    Rflat = R.ravel()
    for c0 in range(0, P, chunk):
        sl = slice(c0, min(P, c0 + chunk))
        idx, ne, ni = _batch_states(model, hE[sl], hI[sl], max_rate=max_rate,
                                    n_grid=int(n_grid))
        idx = idx + c0
        rates = np.stack([ne, ni], -1)
        # drop duplicates at the segment junction: same point, same rates
        order = np.lexsort((ne, idx))
        idx, rates = idx[order], rates[order]
        if idx.size > 1:
            dup = np.zeros(idx.size, bool)
            dup[1:] = (idx[1:] == idx[:-1]) & np.all(
                np.abs(np.diff(rates, axis=0)) <= 1e-9 * (1 + rates[1:]), axis=1)
            idx, rates = idx[~dup], rates[~dup]
        jac = ssn_jacobian(model, rates)
        ev = _eig2(jac)
        stable = np.all(ev.real < 0, axis=-1)
        chi = linear_response(model, rates)
        dnuE = chi[:, 0, 0] + chi[:, 0, 1] * Rflat[idx]
        gE = model.gain(rates)[:, 0]
        np.add.at(n_states, idx, 1)
        np.add.at(n_stable, idx, stable.astype(int))
        for key, cond in (("isn", gE * model.W[0, 0] > 1), ("paradoxical", chi[:, 1, 1] < 0),
                          ("supersaturating", dnuE < 0)):
            hit = idx[cond & stable]
            flags[key][hit] = True
        si = idx[stable]
        srates = rates[stable]
        # states are sorted by (point, ν_E): the first stable one per point is the lowest
        first_pts, first = np.unique(si, return_index=True)
        low[first_pts] = srates[first]
    low[~np.isfinite(low)] = 0.0
    # balanced limit: ν = -W⁻¹ h = μ_ext · (-W⁻¹ (1, r)); the sign pattern depends on r only
    det = model.det
    if det != 0:
        dirs = -np.linalg.solve(model.W, np.stack([np.ones_like(r), r]))  # (2, k)
        pos_r = np.all(dirs > 0, axis=0)
        bal_exists = pos_r[:, None] & (MU > 0) | (np.all(dirs < 0, axis=0)[:, None] & (MU < 0))
    else:
        bal_exists = np.zeros(MU.shape, bool)
    shape = MU.shape
    return RegimeMap(mu_ext=mu_ext, r=r, n_states=n_states.reshape(shape),
                     n_stable=n_stable.reshape(shape),
                     no_steady_state=(n_states == 0).reshape(shape),
                     bistable=(n_stable >= 2).reshape(shape),
                     isn=flags["isn"].reshape(shape),
                     paradoxical=flags["paradoxical"].reshape(shape),
                     supersaturating=flags["supersaturating"].reshape(shape),
                     balanced_exists=bal_exists, balanced_stable=bal_exists & (det > 0),
                     rates_low=low.reshape(shape + (2,)), det_W=det)


def plot_regime_map(rmap: RegimeMap, ax=None, title: str | None = None):
    """Colour the regimes of a :class:`RegimeMap` (matplotlib; returns the axes).

    Blue: ISN; red: supersaturation; green: bistability; black: no steady state; grey
    hatching: stable balanced limit exists.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    ext = [rmap.mu_ext[0], rmap.mu_ext[-1], rmap.r[0], rmap.r[-1]]
    layers = [(rmap.isn, "tab:blue", "ISN"), (rmap.supersaturating, "tab:red", "supersaturation"),
              (rmap.bistable, "tab:green", "bistable"),
              (rmap.no_steady_state, "black", "no steady state")]
    for mask, color, _ in layers:
        ax.imshow(np.where(mask, 1.0, np.nan), origin="lower", extent=ext, aspect="auto",
                  cmap=ListedColormap([color]), alpha=0.45, interpolation="nearest")
    if rmap.balanced_stable.any():
        ax.contourf(rmap.mu_ext, rmap.r, rmap.balanced_stable.astype(float), levels=[0.5, 1.5],
                    colors="none", hatches=["//"])
    handles = [Patch(color=c, alpha=0.45, label=lab) for _, c, lab in layers]
    handles.append(Patch(facecolor="white", edgecolor="grey", hatch="//",
                         label="stable balanced limit"))
    ax.legend(handles=handles, fontsize=7, loc="upper right")
    ax.set_xlabel("external input μ_ext (mV)")
    ax.set_ylabel("r = μ_ext,I / μ_ext,E")
    ax.set_title(title or f"SSN regimes (det W = {rmap.det_W:.3g})")
    return ax
