"""Low-rank recurrent networks (rate units) whose loadings are drawn from a distribution.

A rank-``R`` network of ``N`` rate units has a latent state ``z ∈ R^R`` that evolves as

    z_{t+1} = z_t + α (−z_t + (1/N) Σ_i n_i φ(m_i·z_t + b_i·u_t + d_i)),   φ = tanh,

with α = Δt/τ; unit ``i``'s activity is ``φ(m_i·z_t + b_i·u_t + d_i)`` and the connectivity is
``J = M Nᵀ / N`` (post × pre). The per-unit loadings ``(m_i, n_i, b_i, d_i)`` are samples of
a distribution; *that distribution* is the ground truth the ``lowrank_flow`` method infers
(Kim et al. 2026, arXiv 2603.26506; presets after Mastrogiuseppe & Ostojic 2018 and Beiran
et al. 2021).

For zero-mean Gaussian loadings and ``d = 0``, ``u = 0``, the population sum converges
(N → ∞, Stein's lemma) to the closed-form effective dynamics

    z_{t+1} = z_t + α (−z_t + ⟨φ'⟩(Δ) C z_t),   Δ = zᵀ Σ_m z,
    ⟨φ'⟩(Δ) = E_x[φ'(√Δ x)],  x ~ N(0, 1),  C_{rs} = cov(n_r, m_s),

implemented by :func:`mean_field_velocity`.
"""

from __future__ import annotations

import numpy as np

from spikewire.core.lowrank import LowRankNetwork

__all__ = ["LowRankNetwork", "LOWRANK_PRESETS", "lowrank_network", "lowrank_preset",
           "gain_average", "mean_field_velocity"]

#: Presets (rank 2, Var m = 1, Var n = 4; cov(n_r, m_s) as the matrix C[r, s]).
LOWRANK_PRESETS: dict[str, str] = {
    "bistable": "Gaussian; cov(m1,n1)=1.2, cov(m2,n1)=0.8, cov(m1,n2)=0, cov(m2,n2)=1.6: two "
                "stable fixed points ±z* on C's leading eigenvector",
    "limit_cycle": "Gaussian; C = [[1.6, -0.8], [0.8, 1.6]]: a limit cycle of period "
                   "2π/(0.8 ⟨φ'⟩) = 4π τ",
    "ring": "Gaussian; C = 1.6 I: a continuous ring of fixed points, radius ρ with "
            "1.6 ⟨φ'⟩(ρ²) = 1",
    "quadstable": "mixture of 4 Gaussians × N/4 units, means (m; n) = (±0.87, ±0.87; ±2.31, "
                  "±2.31) with the same signs, covariance 0.25 I, then n = E[n|m] + N(0, 1)",
    "heavy_tailed": "ring-like (cov(m, n) = 1.6 I, Var m = 1, Var n = 4) with Student-t (ν = 3) "
                    "m loadings: tail index 3 of |m|",
}

_GAUSS_C = {
    "bistable": np.array([[1.2, 0.8], [0.0, 1.6]]),
    "limit_cycle": np.array([[1.6, -0.8], [0.8, 1.6]]),
    "ring": np.array([[1.6, 0.0], [0.0, 1.6]]),
}


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def lowrank_network(m, n, b=None, d=None, *, alpha: float = 0.2, dt: float = 0.01,
                    name: str = "lowrank") -> LowRankNetwork:
    """A :class:`LowRankNetwork` from given loadings (see the class for shapes)."""
    return LowRankNetwork(m=m, n=n, b=b, d=d, alpha=alpha, dt=dt, name=name,
                          spec={"preset": None})


def lowrank_preset(name: str, n_neurons: int = 1000, *, seed=0, alpha: float = 0.2,
                   dt: float = 0.01) -> LowRankNetwork:
    """A rank-2 preset network (see :data:`LOWRANK_PRESETS`).

    Parameters
    ----------
    name : {"bistable", "limit_cycle", "ring", "quadstable", "heavy_tailed"}
    n_neurons : int, default 1000
        Number of units N (a multiple of 4 for ``"quadstable"``).
    seed : int, SeedSequence or Generator, default 0
        Seed of the loading draw.
    alpha : float, default 0.2
        Δt/τ.
    dt : float, default 0.01
        Time step in s (τ = dt/alpha = 50 ms by default).

    Returns
    -------
    LowRankNetwork
        Its ``spec`` holds ``"C"`` (cov(n, m), shape (R, R)) and ``"sigma_m"`` (cov(m)) for
        the Gaussian presets, which :func:`mean_field_velocity` uses.
    """
    if name not in LOWRANK_PRESETS:
        raise ValueError(f"unknown low-rank preset {name!r}; choose one of "
                         f"{sorted(LOWRANK_PRESETS)}")
    if not isinstance(n_neurons, int | np.integer) or n_neurons < 4:
        raise ValueError(f"n_neurons={n_neurons!r} must be an integer >= 4")
    rng = _rng(seed)
    N, R = int(n_neurons), 2
    spec: dict = {"preset": name, "seed": None if isinstance(seed, np.random.Generator)
                  else seed}
    if name in _GAUSS_C:
        C = _GAUSS_C[name]
        cov = np.block([[np.eye(R), C.T], [C, 4.0 * np.eye(R)]])   # (m1, m2, n1, n2)
        x = rng.multivariate_normal(np.zeros(2 * R), cov, size=N, method="cholesky")
        m, n = x[:, :R], x[:, R:]
        spec.update(C=C.copy(), sigma_m=np.eye(R), cov=cov)
    elif name == "heavy_tailed":
        nu = 3.0
        m = rng.standard_t(nu, size=(N, R)) / np.sqrt(nu / (nu - 2))   # unit variance
        n = 1.6 * m + np.sqrt(4.0 - 1.6 ** 2) * rng.standard_normal((N, R))
        spec.update(C=1.6 * np.eye(R), sigma_m=np.eye(R), tail_index=nu)
    else:   # quadstable
        if N % 4:
            raise ValueError(f"n_neurons={N} must be a multiple of 4 for 'quadstable'")
        signs = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=float)
        mu_m, mu_n, s2 = 0.87 * signs, 2.31 * signs, 0.25
        comp = np.repeat(np.arange(4), N // 4)
        m = mu_m[comp] + np.sqrt(s2) * rng.standard_normal((N, R))
        # E[n | m] under the mixture (within a component n and m are independent)
        logw = -((m[:, None, :] - mu_m[None]) ** 2).sum(-1) / (2 * s2)
        w = np.exp(logw - logw.max(1, keepdims=True))
        w /= w.sum(1, keepdims=True)
        n = w @ mu_n + rng.standard_normal((N, R))
        spec.update(component=comp, mu_m=mu_m, mu_n=mu_n, cov_within=s2 * np.eye(R))
    return LowRankNetwork(m=m, n=n, b=np.zeros((N, 0)), d=np.zeros(N), alpha=alpha, dt=dt,
                          name=f"lowrank-{name}", spec=spec)


# trapezoid rule on [−10, 10] (step 0.025): for the Gaussian-weighted analytic integrand it
# converges exponentially (error < 1e-10 for Δ ≤ 25); Gauss–Hermite is slower here because
# tanh has poles near the real axis
_GH_X = np.linspace(-10.0, 10.0, 801)
_GH_W = np.exp(-_GH_X ** 2 / 2)
_GH_W = _GH_W / _GH_W.sum()


def gain_average(delta) -> np.ndarray:
    """``⟨φ'⟩(Δ) = E[1 − tanh²(√Δ x)]``, x ~ N(0, 1), by quadrature on an 801-point grid.

    Parameters
    ----------
    delta : float or ndarray
        Variance Δ ≥ 0 of the unit inputs ``m·z``.
    """
    delta = np.asarray(delta, dtype=float)
    if np.any(delta < 0):
        raise ValueError("delta (a variance) must be >= 0")
    x = np.sqrt(delta)[..., None] * _GH_X
    return (1.0 - np.tanh(x) ** 2) @ _GH_W


def mean_field_velocity(z, C, sigma_m=None) -> np.ndarray:
    """Effective latent velocity ``−z + ⟨φ'⟩(zᵀΣ_m z) C z`` (per unit τ) of a network with
    zero-mean Gaussian loadings, ``d = 0`` and no input, in the limit N → ∞.

    Parameters
    ----------
    z : ndarray, shape (..., R)
    C : ndarray, shape (R, R)
        ``C[r, s] = cov(n_r, m_s)``.
    sigma_m : ndarray, shape (R, R), optional
        Covariance of m (default identity).
    """
    z = np.asarray(z, dtype=float)
    C = np.asarray(C, dtype=float)
    S = np.eye(C.shape[0]) if sigma_m is None else np.asarray(sigma_m, dtype=float)
    delta = np.einsum("...r,rs,...s->...", z, S, z)
    return -z + gain_average(delta)[..., None] * (z @ C.T)
