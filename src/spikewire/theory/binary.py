"""Finite-K mean field of van Vreeswijk & Sompolinsky's balanced binary network.

The network of :func:`spikewire.networks.binary_balanced`: population ``k`` (E, I) receives
on average ``K`` inputs from each population with weights ``J_kl/√K`` and the constant
external input ``√K E_k m0``; a neuron is active iff its input exceeds ``θ_k``.

In the Gaussian mean-field theory (van Vreeswijk & Sompolinsky 1998, eqs. 4.17-4.18) the
input of a population-``k`` neuron is Gaussian across neurons and time, with mean
``u_k`` and variance ``α_k``::

    m_k = H(-u_k / √α_k),      u_k = √K (E_k m0 + Σ_l J_kl m_l) - θ_k,
    α_k = Σ_l J_kl² m_l                     (Bernoulli synapses, sparse limit K << N)
    α_k = Σ_l J_kl² m_l (1 - m_l)           (exactly K inputs from each population)

with ``H(x) = ∫_x^∞ e^{-t²/2} dt / √(2π)``. For Bernoulli synapses the variance combines
the temporal fluctuations (``J² (m - q)``) and the quenched in-degree disorder
(``J² q``); with a fixed in-degree only the binomial count variance remains.

As ``K → ∞`` the O(√K) mean must vanish: the balance solution ``E_k m0 + Σ_l J_kl m_l = 0``,
``m = -J⁻¹ E m0`` (:func:`vvs_balanced_limit`). Corrections are O(1/√K)
(:func:`vvs_first_order`).

The equations are solved for ``x_k = -u_k/√α_k`` (so ``m_k = H(x_k)``) in the form
``E_k m0 + Σ_l J_kl H(x_l) + (x_k √α_k - θ_k)/√K = 0``, which stays well conditioned at
any K (10^6 and beyond), where the direct form ``m = H(...)`` is infinitely stiff.
Units: dimensionless (activities are fractions of active neurons).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.special import ndtri
from scipy.stats import norm

__all__ = ["vvs_mean_field", "vvs_balanced_limit", "vvs_first_order"]


def _params(J, E, theta, m0):
    J = np.asarray(J, dtype=float)
    if J.shape != (2, 2) or not np.all(np.isfinite(J)):
        raise ValueError(f"J must be a finite 2 x 2 post x pre matrix (E, I), got {J!r}")
    if J[0, 0] < 0 or J[1, 0] < 0 or J[0, 1] > 0 or J[1, 1] > 0:
        raise ValueError("J must be signed like a Dale network: [[J_EE, J_EI], [J_IE, J_II]] "
                         f"with J_EI, J_II <= 0 <= J_EE, J_IE; got {J.tolist()}")
    E = np.asarray(E, dtype=float)
    theta = np.asarray(theta, dtype=float)
    if E.shape != (2,) or theta.shape != (2,):
        raise ValueError(f"E and theta must have one value per population (E, I); got shapes "
                         f"{E.shape}, {theta.shape}")
    if not (np.all(np.isfinite(E)) and np.all(np.isfinite(theta))):
        raise ValueError("E and theta must be finite")
    m0 = float(m0)
    if not 0 < m0 < 1:
        raise ValueError(f"m0 (external activity) must lie in (0, 1), got {m0!r}")
    return J, E, theta, m0


def vvs_balanced_limit(J=((1.0, -2.0), (1.0, -1.8)), E=(1.0, 0.8), *, m0: float = 0.1
                       ) -> np.ndarray:
    """Balanced-state activities ``m = -J⁻¹ E m0`` (the K → ∞ limit).

    Parameters
    ----------
    J : array_like (2, 2)
        Signed couplings ``[[J_EE, J_EI], [J_IE, J_II]]`` before the 1/√K scaling
        (default: van Vreeswijk & Sompolinsky 1998, ``J_E = 2, J_I = 1.8``).
    E : array_like (2,)
        External couplings ``(E, I)`` (default 1, 0.8).
    m0 : float
        External activity.

    Returns
    -------
    ndarray (2,)
        ``(m_E, m_I)``. Raises ValueError when it is not a valid balanced state (outside
        (0, 1), or J singular): the balance conditions of vV&S (``E/I > J_E/J_I > 1`` for the
        paper's parametrisation) are then violated.
    """
    J, E, _, m0 = _params(J, E, (0.0, 0.0), m0)
    det = np.linalg.det(J)
    if abs(det) < 1e-12 * np.abs(J).max() ** 2:
        raise ValueError(f"J = {J.tolist()} is singular: no unique balanced state")
    m = -np.linalg.solve(J, E * m0)
    if not np.all((m > 0) & (m < 1)):
        raise ValueError(f"the balance equations give m = {m.tolist()}, outside (0, 1): no "
                         "balanced state for these couplings (see van Vreeswijk & "
                         "Sompolinsky 1998, the conditions E/I > J_E/J_I > 1)")
    return m


def _alpha(J, m, connectivity):
    var = m if connectivity == "random" else m * (1.0 - m)
    return (J**2) @ var


def vvs_mean_field(K, J=((1.0, -2.0), (1.0, -1.8)), E=(1.0, 0.8), theta=(1.0, 0.7), *,
                   m0: float = 0.1, connectivity: str = "random") -> np.ndarray:
    """Finite-K Gaussian mean-field activities of the binary balanced network.

    Parameters
    ----------
    K : float or array_like
        Mean number of inputs per population (> 0); an array gives one solution per K.
    J, E, m0
        As in :func:`vvs_balanced_limit`.
    theta : array_like (2,), default (1, 0.7)
        Thresholds (θ_E, θ_I).
    connectivity : {"random", "fixed_indegree"}
        Input variance for Bernoulli synapses (sparse limit) or exactly K inputs (as
        :func:`spikewire.networks.binary_balanced`'s option of the same name).

    Returns
    -------
    ndarray (..., 2)
        ``(m_E, m_I)`` for each K.

    Notes
    -----
    The theory assumes ``K << N`` (it neglects the finite-N factor ``1 - K/N`` of the
    Bernoulli count variance and input correlations) and Gaussian inputs (it neglects that
    inputs are multiples of 1/√K); :func:`spikewire.networks.binary_mean_field` keeps both
    for one built network.
    """
    J, E, theta, m0 = _params(J, E, theta, m0)
    if connectivity not in ("random", "fixed_indegree"):
        raise ValueError(f"connectivity must be 'random' or 'fixed_indegree', got "
                         f"{connectivity!r}")
    Ks = np.asarray(K, dtype=float)
    if not np.all(np.isfinite(Ks)) or np.any(Ks <= 0):
        raise ValueError(f"K must be > 0 (mean in-degree), got {K!r}")
    m_inf = vvs_balanced_limit(J, E, m0=m0)
    out = np.empty(Ks.shape + (2,))
    # continuation from large K (near the balance limit) down to the smallest K
    order = np.argsort(-Ks.ravel())
    x = ndtri(1.0 - m_inf)   # m = H(x) = 1 - Φ(x)
    flat = out.reshape(-1, 2)
    for i in order:
        sk = np.sqrt(Ks.ravel()[i])

        def resid(xv, sk=sk):
            m = norm.sf(xv)
            a = _alpha(J, m, connectivity)
            return E * m0 + J @ m + (xv * np.sqrt(a) - theta) / sk

        sol = optimize.root(resid, x, method="hybr", options={"xtol": 1e-13})
        if not np.all(np.isfinite(sol.x)) or np.max(np.abs(resid(sol.x))) > 1e-11:
            raise RuntimeError(f"the mean-field equations did not converge at K = "
                               f"{Ks.ravel()[i]:g} ({sol.message}); at small K the state may "
                               "not be balanced")
        x = sol.x
        flat[i] = norm.sf(x)
    return out


def vvs_first_order(K, J=((1.0, -2.0), (1.0, -1.8)), E=(1.0, 0.8), theta=(1.0, 0.7), *,
                    m0: float = 0.1, connectivity: str = "random") -> np.ndarray:
    """Activities to first order in 1/√K: ``m ≈ m_∞ - J⁻¹ (x_∞ √α_∞ - θ) / √K``.

    ``x_∞ = H⁻¹(m_∞)`` and ``α_∞`` is the input variance at the balance solution ``m_∞``
    (the expansion of :func:`vvs_mean_field`'s equations around K = ∞). Parameters as in
    :func:`vvs_mean_field`; returns an array (..., 2).
    """
    J, E, theta, m0 = _params(J, E, theta, m0)
    Ks = np.asarray(K, dtype=float)
    if not np.all(np.isfinite(Ks)) or np.any(Ks <= 0):
        raise ValueError(f"K must be > 0 (mean in-degree), got {K!r}")
    m_inf = vvs_balanced_limit(J, E, m0=m0)
    x_inf = ndtri(1.0 - m_inf)
    a_inf = _alpha(J, m_inf, connectivity)
    corr = -np.linalg.solve(J, x_inf * np.sqrt(a_inf) - theta)
    return m_inf + corr / np.sqrt(Ks)[..., None]
